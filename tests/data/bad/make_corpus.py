"""Write the bad-input corpus (tests/data/bad/): tiny files, each with one deliberate defect.

Deterministic: running it twice gives byte-identical files (fixed zip timestamps, fixed DBF header date), so
the committed output can be checked against a fresh run (tests/ingest/test_bad_inputs.py does).

    python tests/data/bad/make_corpus.py [OUT_DIR]      # default: the folder of this script
"""
from __future__ import annotations

import json
import shutil
import sys
import unicodedata
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pyogrio
import shapely
from pyproj import Transformer

HERE = Path(__file__).resolve().parent
ZIP_TIME = (2025, 1, 1, 0, 0, 0)
# Combining tone marks of Vietnamese: cp1258 stores them as separate bytes after the (precomposed) vowel.
TONE_MARKS = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
BUILDERS: list[tuple[str, Callable[[Path], None]]] = []

# ---------------------------------------------------------------------------------------------- features

def box(x0: float, y0: float, x1: float, y1: float) -> dict:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def point(x: float, y: float) -> dict:
    return {"type": "Point", "coordinates": [x, y]}


# Real parks of former Bình Dương, drawn as simple rectangles near their real location.
VSIP1 = {"code": "KCN-VSIP1", "name_vi": "Khu công nghiệp Việt Nam – Singapore I",
         "developer": "Công ty Liên doanh TNHH KCN Việt Nam – Singapore", "area_declared_ha": 500.0,
         "established_on": "1996-05-02", "occupancy_pct": 100.0, "operating_status": "operating"}
MYPHUOC = {"code": "KCN-MP1", "name_vi": "Khu công nghiệp Mỹ Phước", "developer": "Becamex IDC",
           "area_declared_ha": 377.0, "established_on": "2002-06-20", "occupancy_pct": 98.5,
           "operating_status": "operating"}
BAUBANG = {"code": "KCN-BB", "name_vi": "Khu công nghiệp Bàu Bàng", "developer": "Becamex IDC",
           "area_declared_ha": 997.7, "established_on": "2013-08-05", "occupancy_pct": 72.0,
           "operating_status": "operating"}
GEOM_VSIP1 = box(106.700, 10.925, 106.715, 10.940)
GEOM_MYPHUOC = box(106.590, 11.120, 106.605, 11.135)
GEOM_BAUBANG = box(106.620, 11.250, 106.640, 11.265)

STATION_TDM = {"code": "QT-KK-01", "name_vi": "Trạm quan trắc không khí Thủ Dầu Một", "medium": "air",
               "mode": "automatic", "operator": "Sở Tài nguyên và Môi trường", "status": "active"}
STATION_DIAN = {"code": "QT-NN-02", "name_vi": "Điểm quan trắc nước dưới đất Dĩ An", "medium": "groundwater",
                "mode": "periodic", "operator": "Sở Tài nguyên và Môi trường", "status": "active"}
LONLAT_TDM = (106.6519, 10.9805)
LONLAT_DIAN = (106.7690, 10.9060)


def feature(props: dict, geom: dict | None) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geom}


def collection(features: list[dict], crs: str | None = None) -> dict:
    fc: dict = {"type": "FeatureCollection"}
    if crs:
        # The legacy (GeoJSON 2008) "crs" member, still written by many desktop tools.
        fc["crs"] = {"type": "name", "properties": {"name": crs}}
    fc["features"] = features
    return fc


def write_json(path: Path, obj: dict) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def write_text(path: Path, text: str, encoding: str = "utf-8") -> None:
    path.write_bytes(text.encode(encoding))


def to_cp1258(text: str) -> bytes:
    """Encode Vietnamese as Windows-1258 does: base letters precomposed, tone marks as combining bytes."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        decomposed = unicodedata.normalize("NFD", ch)
        base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in TONE_MARKS))
        tones = "".join(c for c in decomposed if c in TONE_MARKS)
        out.append((base + tones).encode("cp1258"))
    return b"".join(out)


def fixed_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    """A zip whose bytes depend only on its content (fixed timestamps and attributes)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def short(park: dict) -> dict:
    """A park as shapefiles carry it: DBF names of at most 10 characters (the layer's aliases)."""
    return {"code": park["code"], "name_vi": park["name_vi"], "chu_dau_tu": park["developer"],
            "dien_tich": park["area_declared_ha"], "occupancy": park["occupancy_pct"],
            "status": park["operating_status"]}


def write_shapefile(folder: Path, stem: str, records: list[dict], geoms: list[dict], *,
                    encoding: str = "UTF-8", keep: tuple[str, ...] = (".shp", ".shx", ".dbf", ".prj", ".cpg"),
                    crs: int | None = 4326) -> list[Path]:
    """Write a shapefile with GDAL, then drop the sidecars not in ``keep`` and pin the DBF header date."""
    folder.mkdir(parents=True, exist_ok=True)
    records = [short(r) if "operating_status" in r else r for r in records]
    frame = gpd.GeoDataFrame(records, geometry=[shapely.geometry.shape(g) for g in geoms], crs=crs)
    target = folder / f"{stem}.shp"
    pyogrio.write_dataframe(frame, target, driver="ESRI Shapefile", encoding=encoding)
    dbf = folder / f"{stem}.dbf"
    raw = bytearray(dbf.read_bytes())
    raw[1:4] = bytes([125, 1, 1])  # last-update date YY-1900, MM, DD: GDAL writes today's date
    dbf.write_bytes(bytes(raw))
    files = []
    for f in sorted(folder.glob(f"{stem}.*")):
        if f.suffix.lower() in keep:
            files.append(f)
        else:
            f.unlink()
    return files


def case(name: str) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    def register(fn: Callable[[Path], None]) -> Callable[[Path], None]:
        BUILDERS.append((name, fn))
        return fn
    return register

# ---------------------------------------------------------------------------------------------- file level

@case("truncated.geojson")
def _truncated(out: Path) -> None:
    text = json.dumps(collection([feature(VSIP1, GEOM_VSIP1)]), ensure_ascii=False)
    write_text(out / "truncated.geojson", text[: len(text) // 2])


@case("not_json.geojson")
def _not_json(out: Path) -> None:
    # What a download script saves when the server answers with an error page.
    write_text(out / "not_json.geojson", "<!DOCTYPE html><html><body><h1>502 Bad Gateway</h1></body></html>\n")


@case("empty.geojson")
def _empty(out: Path) -> None:
    write_text(out / "empty.geojson", "")


@case("no_features.geojson")
def _no_features(out: Path) -> None:
    write_json(out / "no_features.geojson", collection([]))


@case("shp_no_prj/parks.shp")
def _shp_no_prj(out: Path) -> None:
    write_shapefile(out / "shp_no_prj", "parks", [VSIP1], [GEOM_VSIP1], keep=(".shp", ".shx", ".dbf", ".cpg"))


@case("shp_no_prj.zip")
def _shp_no_prj_zip(out: Path) -> None:
    tmp = out / "_tmp_no_prj"
    files = write_shapefile(tmp, "parks", [VSIP1], [GEOM_VSIP1], keep=(".shp", ".shx", ".dbf", ".cpg"))
    fixed_zip(out / "shp_no_prj.zip", [(f.name, f.read_bytes()) for f in files])
    shutil.rmtree(tmp)


@case("shp_no_dbf/parks.shp")
def _shp_no_dbf(out: Path) -> None:
    write_shapefile(out / "shp_no_dbf", "parks", [VSIP1], [GEOM_VSIP1], keep=(".shp", ".shx", ".prj"))


@case("two_shapefiles.zip")
def _two_shapefiles(out: Path) -> None:
    tmp = out / "_tmp_two"
    files = write_shapefile(tmp, "kcn_thuan_an", [VSIP1], [GEOM_VSIP1])
    files += write_shapefile(tmp, "kcn_ben_cat", [MYPHUOC], [GEOM_MYPHUOC])
    fixed_zip(out / "two_shapefiles.zip", [(f.name, f.read_bytes()) for f in files])
    shutil.rmtree(tmp)


@case("corrupted.zip")
def _corrupted_zip(out: Path) -> None:
    tmp = out / "_tmp_corrupt"
    files = write_shapefile(tmp, "parks", [VSIP1], [GEOM_VSIP1])
    fixed_zip(out / "_whole.zip", [(f.name, f.read_bytes()) for f in files])
    whole = (out / "_whole.zip").read_bytes()
    # An interrupted download: the central directory at the end is missing.
    (out / "corrupted.zip").write_bytes(whole[: len(whole) // 2])
    (out / "_whole.zip").unlink()
    shutil.rmtree(tmp)


def _vn2000_bd(lon: float, lat: float) -> tuple[float, float]:
    # The Bình Dương 3° zone (lon_0 105°45′, k 0.9999) on the VN-2000 datum, as geo.crs defines it.
    from geo.crs import vn2000_binh_duong
    x, y = Transformer.from_crs(4326, vn2000_binh_duong(), always_xy=True).transform(lon, lat)
    return round(x, 2), round(y, 2)


@case("vn2000_metres_as_wgs84.geojson")
def _vn2000_as_wgs84(out: Path) -> None:
    # GeoJSON is WGS84 by definition; these are VN-2000 metres pasted in without a CRS change.
    x0, y0 = _vn2000_bd(106.700, 10.925)
    x1, y1 = _vn2000_bd(106.715, 10.940)
    write_json(out / "vn2000_metres_as_wgs84.geojson", collection([feature(VSIP1, box(x0, y0, x1, y1))]))


@case("metres_in_lonlat.csv")
def _metres_in_lonlat(out: Path) -> None:
    rows = ["code,name_vi,medium,mode,status,lon,lat"]
    for st, (lon, lat) in ((STATION_TDM, LONLAT_TDM), (STATION_DIAN, LONLAT_DIAN)):
        x, y = _vn2000_bd(lon, lat)
        rows.append(f"{st['code']},{st['name_vi']},{st['medium']},{st['mode']},{st['status']},{x},{y}")
    write_text(out / "metres_in_lonlat.csv", "\n".join(rows) + "\n")


@case("degrees_as_3405.geojson")
def _degrees_as_3405(out: Path) -> None:
    write_json(out / "degrees_as_3405.geojson",
               collection([feature(VSIP1, GEOM_VSIP1)], crs="urn:ogc:def:crs:EPSG::3405"))


@case("cp1258.csv")
def _cp1258_csv(out: Path) -> None:
    rows = ["code,name_vi,medium,mode,status,lon,lat"]
    for st, (lon, lat) in ((STATION_TDM, LONLAT_TDM), (STATION_DIAN, LONLAT_DIAN)):
        rows.append(f"{st['code']},{st['name_vi']},{st['medium']},{st['mode']},{st['status']},{lon},{lat}")
    (out / "cp1258.csv").write_bytes(to_cp1258("\n".join(rows) + "\n"))


@case("shp_cp1258/parks.shp")
def _shp_cp1258(out: Path) -> None:
    # Written through GDAL's cp1258 recoding, then the .cpg that would say so is dropped.
    write_shapefile(out / "shp_cp1258", "parks", [VSIP1, MYPHUOC], [GEOM_VSIP1, GEOM_MYPHUOC],
                    encoding="CP1258", keep=(".shp", ".shx", ".dbf", ".prj"))


@case("missing_required_column.geojson")
def _missing_required_column(out: Path) -> None:
    props = {k: v for k, v in VSIP1.items() if k != "operating_status"}
    write_json(out / "missing_required_column.geojson", collection([feature(props, GEOM_VSIP1)]))


@case("csv_no_coordinates.csv")
def _csv_no_coordinates(out: Path) -> None:
    write_text(out / "csv_no_coordinates.csv",
               "code,name_vi,medium,mode,status,dia_chi\n"
               "QT-KK-01,Trạm quan trắc không khí Thủ Dầu Một,air,automatic,active,"
               "\"Phường Phú Cường, Thủ Dầu Một\"\n")


@case("csv_wkt_no_crs.csv")
def _csv_wkt_no_crs(out: Path) -> None:
    write_text(out / "csv_wkt_no_crs.csv",
               "code,name_vi,medium,mode,status,wkt\n"
               f"QT-KK-01,Trạm quan trắc không khí Thủ Dầu Một,air,automatic,active,"
               f"POINT ({LONLAT_TDM[0]} {LONLAT_TDM[1]})\n")


@case("two_layers.gpkg")
def _two_layers(out: Path) -> None:
    target = out / "two_layers.gpkg"
    target.unlink(missing_ok=True)
    # GDAL stamps gpkg_contents.last_change with the current time unless told otherwise.
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2025-01-01T00:00:00.000Z"})
    try:
        for i, (name, props, geom) in enumerate((("kcn_thuan_an", VSIP1, GEOM_VSIP1),
                                                 ("kcn_ben_cat", MYPHUOC, GEOM_MYPHUOC))):
            frame = gpd.GeoDataFrame([props], geometry=[shapely.geometry.shape(geom)], crs=4326)
            pyogrio.write_dataframe(frame, target, layer=name, driver="GPKG", append=i > 0)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


KML_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'


def _placemark(st: dict, coords: str) -> str:
    data = "".join(f'<Data name="{k}"><value>{v}</value></Data>' for k, v in st.items() if k != "name_vi")
    return (f"<Placemark><name>{st['name_vi']}</name><ExtendedData>{data}</ExtendedData>"
            f"<Point><coordinates>{coords}</coordinates></Point></Placemark>\n")


@case("bad_coordinates.kml")
def _bad_coordinates_kml(out: Path) -> None:
    # Second placemark: "lon lat" separated by a space instead of a comma (GDAL reads it as 0,0).
    body = _placemark(STATION_TDM, f"{LONLAT_TDM[0]},{LONLAT_TDM[1]},0")
    body += _placemark(STATION_DIAN, f"{LONLAT_DIAN[0]} {LONLAT_DIAN[1]}")
    write_text(out / "bad_coordinates.kml", KML_HEAD + body + "</Document></kml>\n")


@case("not_xml.kml")
def _not_xml_kml(out: Path) -> None:
    write_text(out / "not_xml.kml", "Placemark: Trạm quan trắc không khí Thủ Dầu Một; 106.6519, 10.9805\n")

# ---------------------------------------------------------------------------------------------- feature level

def _parks(name: str, features: list[dict], out: Path, crs: str | None = None) -> None:
    write_json(out / name, collection(features, crs))


@case("bowtie_polygon.geojson")
def _bowtie(out: Path) -> None:
    bowtie = {"type": "Polygon", "coordinates": [[[106.590, 11.120], [106.605, 11.135], [106.605, 11.120],
                                                  [106.590, 11.135], [106.590, 11.120]]]}
    _parks("bowtie_polygon.geojson", [feature(VSIP1, GEOM_VSIP1), feature(MYPHUOC, bowtie)], out)


@case("collapsed_polygon.geojson")
def _collapsed(out: Path) -> None:
    # Zero-area sliver: all vertices on one line (a digitising slip). Repair would leave nothing.
    sliver = {"type": "Polygon", "coordinates": [[[106.590, 11.120], [106.600, 11.120], [106.610, 11.120],
                                                  [106.590, 11.120]]]}
    _parks("collapsed_polygon.geojson", [feature(VSIP1, GEOM_VSIP1), feature(MYPHUOC, sliver)], out)


@case("degenerate_river_line.geojson")
def _degenerate_line(out: Path) -> None:
    # A river "line" whose two vertices coincide: repair turns it into a Point, a change of type.
    rivers = [feature({"code": "SONG-SG", "name_vi": "Sông Sài Gòn", "kind": "river", "basin": "Đồng Nai"},
                      {"type": "LineString", "coordinates": [[106.650, 10.960], [106.640, 11.000],
                                                             [106.600, 11.050]]}),
              feature({"code": "RACH-BC", "name_vi": "Rạch Bà Cô", "kind": "stream", "basin": "Đồng Nai"},
                      {"type": "LineString", "coordinates": [[106.700, 10.950], [106.700, 10.950]]})]
    write_json(out / "degenerate_river_line.geojson", collection(rivers))


@case("empty_geometry.geojson")
def _empty_geometry(out: Path) -> None:
    _parks("empty_geometry.geojson", [feature(VSIP1, GEOM_VSIP1), feature(MYPHUOC, None)], out)


@case("point_in_polygon_layer.geojson")
def _point_in_polygon_layer(out: Path) -> None:
    _parks("point_in_polygon_layer.geojson",
           [feature(VSIP1, GEOM_VSIP1), feature(MYPHUOC, point(106.597, 11.127))], out)


@case("line_in_point_layer.geojson")
def _line_in_point_layer(out: Path) -> None:
    line = {"type": "LineString", "coordinates": [[106.760, 10.900], [106.769, 10.906]]}
    write_json(out / "line_in_point_layer.geojson",
               collection([feature(STATION_TDM, point(*LONLAT_TDM)), feature(STATION_DIAN, line)]))


@case("mixed_geometry.geojson")
def _mixed(out: Path) -> None:
    line = {"type": "LineString", "coordinates": [[106.590, 11.120], [106.605, 11.135]]}
    _parks("mixed_geometry.geojson", [feature(VSIP1, GEOM_VSIP1), feature(MYPHUOC, line),
                                      feature(BAUBANG, point(106.630, 11.257))], out)


@case("multipoint_station.geojson")
def _multipoint(out: Path) -> None:
    mp = {"type": "MultiPoint", "coordinates": [[106.7690, 10.9060], [106.7700, 10.9070]]}
    write_json(out / "multipoint_station.geojson",
               collection([feature(STATION_TDM, point(*LONLAT_TDM)), feature(STATION_DIAN, mp)]))


@case("duplicate_keys.geojson")
def _duplicate_keys(out: Path) -> None:
    copy = dict(MYPHUOC, code="KCN-VSIP1")
    _parks("duplicate_keys.geojson", [feature(VSIP1, GEOM_VSIP1), feature(BAUBANG, GEOM_BAUBANG),
                                      feature(copy, GEOM_MYPHUOC)], out)


@case("outside_area_hanoi.geojson")
def _outside(out: Path) -> None:
    thang_long = {"code": "KCN-TL-HN", "name_vi": "Khu công nghiệp Thăng Long (Hà Nội)",
                  "developer": "Sumitomo", "area_declared_ha": 274.0, "occupancy_pct": 100.0,
                  "operating_status": "operating"}
    _parks("outside_area_hanoi.geojson", [feature(VSIP1, GEOM_VSIP1),
                                          feature(thang_long, box(105.780, 21.090, 105.800, 21.105))], out)


@case("required_value_empty.geojson")
def _required_empty(out: Path) -> None:
    _parks("required_value_empty.geojson", [feature(VSIP1, GEOM_VSIP1),
                                            feature(dict(MYPHUOC, operating_status=""), GEOM_MYPHUOC)], out)


@case("value_not_allowed.geojson")
def _not_allowed(out: Path) -> None:
    _parks("value_not_allowed.geojson", [feature(VSIP1, GEOM_VSIP1),
                                         feature(dict(MYPHUOC, operating_status="open"), GEOM_MYPHUOC)], out)


@case("number_is_text.geojson")
def _number_text(out: Path) -> None:
    _parks("number_is_text.geojson", [feature(VSIP1, GEOM_VSIP1),
                                      feature(dict(MYPHUOC, area_declared_ha="abc"), GEOM_MYPHUOC)], out)


@case("negative_area.geojson")
def _negative_area(out: Path) -> None:
    _parks("negative_area.geojson", [feature(VSIP1, GEOM_VSIP1),
                                     feature(dict(MYPHUOC, area_declared_ha=-377.0), GEOM_MYPHUOC)], out)


@case("occupancy_150.geojson")
def _occupancy(out: Path) -> None:
    _parks("occupancy_150.geojson", [feature(VSIP1, GEOM_VSIP1),
                                     feature(dict(MYPHUOC, occupancy_pct=150.0), GEOM_MYPHUOC)], out)


@case("bad_date.geojson")
def _bad_date(out: Path) -> None:
    _parks("bad_date.geojson", [feature(VSIP1, GEOM_VSIP1),
                                feature(dict(MYPHUOC, established_on="2024-13-45"), GEOM_MYPHUOC)], out)


@case("admin_valid_to_before_from.geojson")
def _admin_period(out: Path) -> None:
    ward = {"level": "commune", "parent_code": "718", "source": "NQ 1330/NQ-UBTVQH (thử)"}
    units = [feature(dict(ward, code="25741", name_vi="Phường Phú Cường", valid_from="2019-01-01",
                          valid_to="2025-07-01"), box(106.645, 10.975, 106.660, 10.990)),
             feature(dict(ward, code="25747", name_vi="Phường Hiệp Thành", valid_from="2025-07-01",
                          valid_to="2019-01-01"), box(106.660, 10.975, 106.675, 10.990))]
    write_json(out / "admin_valid_to_before_from.geojson", collection(units))


@case("lake_as_line.geojson")
def _lake_line(out: Path) -> None:
    bodies = [feature({"code": "HO-DT", "name_vi": "Hồ Dầu Tiếng (phần Bình Dương)", "kind": "reservoir",
                       "basin": "Sài Gòn"}, box(106.460, 11.250, 106.480, 11.270)),
              feature({"code": "HO-BB", "name_vi": "Hồ Bàu Bàng", "kind": "lake", "basin": "Thị Tính"},
                      {"type": "LineString", "coordinates": [[106.630, 11.270], [106.635, 11.272],
                                                             [106.640, 11.270]]})]
    write_json(out / "lake_as_line.geojson", collection(bodies))


@case("landfill_without_status.geojson")
def _landfill(out: Path) -> None:
    sites = [feature({"code": "XL-NTL", "name_vi": "Khu liên hợp xử lý chất thải rắn Nam Bình Dương",
                      "kind": "treatment_plant", "capacity_t_per_day": 4000, "operator": "Biwase"},
                     point(106.5880, 11.1280)),
             feature({"code": "BCL-CT", "name_vi": "Bãi chôn lấp Chánh Tú", "kind": "landfill",
                      "capacity_t_per_day": 300}, point(106.6050, 11.1150))]
    write_json(out / "landfill_without_status.geojson", collection(sites))


POLLUTED = {"code": "ONĐ-BC-01", "name_vi": "Khu đất tồn lưu nhà máy thuốc trừ sâu cũ (Bến Cát)",
            "pollutant_group": "pesticides", "severity": "high", "pollution_source": "industrial"}
GEOM_POLLUTED = box(106.570, 11.100, 106.573, 11.103)


@case("polluted_status_1_suspected.geojson")
def _polluted_1(out: Path) -> None:
    # Not bad by itself: the first load of the pair (the state the second file may not jump from).
    write_json(out / "polluted_status_1_suspected.geojson",
               collection([feature(dict(POLLUTED, status="suspected", status_changed_on="2023-03-01"),
                                   GEOM_POLLUTED)]))


@case("polluted_status_2_remediated.geojson")
def _polluted_2(out: Path) -> None:
    write_json(out / "polluted_status_2_remediated.geojson",
               collection([feature(dict(POLLUTED, status="remediated", status_changed_on="2024-06-30"),
                                   GEOM_POLLUTED)]))

# ---------------------------------------------------------------------------------------------- main

def build(out: Path) -> list[str]:
    """Write every corpus file into ``out``; return the case names in order."""
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, fn in BUILDERS:
            target = out / name
            if target.parent != out and target.parent.exists():
                shutil.rmtree(target.parent)
            fn(out)
    return [name for name, _ in BUILDERS]


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[2]))  # geo.crs, when run from a checkout without installing
    names = build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print(f"{len(names)} cases written")
