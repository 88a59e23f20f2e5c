"""Write the good reader fixtures (tests/data/readers/): the same monitoring stations in every supported format.

Self-made: positions are approximate real locations in former Bình Dương; projected coordinates are computed
here with pyproj from the WGS84 truth in STATIONS (VN-2000 Bình Dương zone from geo.crs). Deterministic: fixed
zip timestamps, a fixed DBF header date, a fixed GeoPackage timestamp and fixed XLSX document dates.

    python tests/data/readers/make_fixtures.py [OUT_DIR]      # default: the folder of this script
"""
from __future__ import annotations

import json
import re
import shutil
import sys
import warnings
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

import geopandas as gpd
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

HERE = Path(__file__).resolve().parent
ZIP_TIME = (2025, 1, 1, 0, 0, 0)
FIXED_DATE = "2025-01-01T00:00:00Z"

# code, name, medium, mode, status, park_code, commissioned_on, lon, lat
STATIONS = [
    ("QT-KK-01", "Trạm quan trắc không khí tự động Thủ Dầu Một", "air", "automatic", "active", None,
     "2019-07-15", 106.6519, 10.9805),
    ("QT-NM-02", "Trạm quan trắc nước mặt sông Sài Gòn – cầu Phú Cường", "surface_water", "automatic", "active",
     None, "2020-03-01", 106.6460, 10.9890),
    ("QT-NT-03", "Trạm quan trắc nước thải KCN Việt Nam – Singapore I", "wastewater", "automatic", "active",
     "KCN-VSIP1", "2018-11-20", 106.7105, 10.9290),
    ("QT-NN-04", "Điểm quan trắc nước dưới đất Dĩ An", "groundwater", "periodic", "active", None,
     "2016-05-10", 106.7690, 10.9060),
    ("QT-KK-05", "Điểm quan trắc không khí Bàu Bàng", "air", "periodic", "planned", None, None, 106.6300, 11.2570),
]
OPERATOR = "Trung tâm Quan trắc Tài nguyên và Môi trường Bình Dương"
AIR = [s for s in STATIONS if s[2] == "air"]
WATER = [s for s in STATIONS if s[2] != "air"]


def record(s: tuple) -> dict:
    code, name, medium, mode, status, park, since, _lon, _lat = s
    return {"code": code, "name_vi": name, "medium": medium, "mode": mode, "status": status,
            "operator": OPERATOR, "park_code": park, "commissioned_on": since}


def frame(stations: list[tuple], short: bool = False) -> gpd.GeoDataFrame:
    rows = [record(s) for s in stations]
    if short:  # DBF field names hold at most 10 characters
        rows = [{k: v for k, v in r.items() if k != "commissioned_on"} for r in rows]
    return gpd.GeoDataFrame(rows, geometry=[shapely.Point(s[7], s[8]) for s in stations], crs=4326)


def projected(stations: list[tuple], crs: object) -> list[tuple[float, float]]:
    t = Transformer.from_crs(4326, crs, always_xy=True)
    return [tuple(round(v, 2) for v in t.transform(s[7], s[8])) for s in stations]


def fixed_zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    df = pd.DataFrame(rows, columns=header)
    path.write_text(df.to_csv(index=False, lineterminator="\n"), encoding="utf-8")


def geojson(out: Path) -> None:
    fc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": record(s), "geometry": {"type": "Point", "coordinates": [s[7], s[8]]}}
        for s in STATIONS[:3]]}
    (out / "stations.geojson").write_text(json.dumps(fc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def geojson_3405(out: Path) -> None:
    xy = projected(STATIONS[:3], "EPSG:3405")
    fc = {"type": "FeatureCollection",
          "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3405"}},
          "features": [{"type": "Feature", "properties": record(s), "geometry": {"type": "Point", "coordinates": p}}
                       for s, p in zip(STATIONS[:3], xy, strict=True)]}
    (out / "stations_epsg3405.geojson").write_text(json.dumps(fc, ensure_ascii=False, indent=1) + "\n",
                                                   encoding="utf-8")


def gpkg(out: Path) -> None:
    target = out / "stations.gpkg"
    target.unlink(missing_ok=True)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2025-01-01T00:00:00.000Z"})
    try:
        pyogrio.write_dataframe(frame(AIR), target, layer="tram_khong_khi", driver="GPKG")
        pyogrio.write_dataframe(frame(WATER), target, layer="tram_nuoc", driver="GPKG", append=True)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})


def shapefile(folder: Path, stem: str) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pyogrio.write_dataframe(frame(STATIONS[:3], short=True), folder / f"{stem}.shp", driver="ESRI Shapefile",
                            encoding="UTF-8")
    dbf = folder / f"{stem}.dbf"
    raw = bytearray(dbf.read_bytes())
    raw[1:4] = bytes([125, 1, 1])  # GDAL writes today's date into the DBF header
    dbf.write_bytes(bytes(raw))
    return sorted(folder.glob(f"{stem}.*"))


def shapefiles(out: Path) -> None:
    shutil.rmtree(out / "stations_shp", ignore_errors=True)
    shapefile(out / "stations_shp", "stations")
    tmp = out / "_tmp_zip"
    files = shapefile(tmp, "tram_quan_trac")
    fixed_zip(out / "stations_shp.zip", [(f.name, f.read_bytes()) for f in files])
    shutil.rmtree(tmp)


def kml_text() -> str:
    def placemark(s: tuple) -> str:
        data = "".join(f'<Data name="{k}"><value>{escape(str(v))}</value></Data>'
                       for k, v in record(s).items() if k != "name_vi" and v is not None)
        return (f"   <Placemark><name>{escape(s[1])}</name><ExtendedData>{data}</ExtendedData>"
                f"<Point><coordinates>{s[7]},{s[8]},0</coordinates></Point></Placemark>\n")
    # Two folders, as people organise them in Google Earth; the reader takes both.
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>\n'
            "  <name>Trạm quan trắc</name>\n"
            "  <Folder><name>Không khí</name>\n" + "".join(placemark(s) for s in AIR) + "  </Folder>\n"
            "  <Folder><name>Nước</name>\n" + "".join(placemark(s) for s in WATER[:1]) + "  </Folder>\n"
            "</Document></kml>\n")


def kml(out: Path) -> None:
    text = kml_text()
    (out / "stations.kml").write_text(text, encoding="utf-8")
    fixed_zip(out / "stations.kmz", [("doc.kml", text.encode("utf-8"))])


def csvs(out: Path) -> None:
    three = STATIONS[:3]
    # Vietnamese column names that the layer knows as aliases (ma, ten, thanh_phan, kinh_do, vi_do...).
    write_csv(out / "stations_lonlat.csv",
              ["ma", "ten", "thanh_phan", "hinh_thuc", "trang_thai", "ma_kcn", "kinh_do", "vi_do"],
              [[s[0], s[1], s[2], s[3], s[4], s[5], s[7], s[8]] for s in three])
    utm = projected(three, "EPSG:32648")
    write_csv(out / "stations_wkt_utm48.csv", ["code", "name_vi", "medium", "mode", "status", "wkt"],
              [[s[0], s[1], s[2], s[3], s[4], f"POINT ({x:.2f} {y:.2f})"] for s, (x, y) in zip(three, utm,
                                                                                           strict=True)])
    from geo.crs import vn2000_binh_duong
    bd = projected(three, vn2000_binh_duong())
    write_csv(out / "stations_vn2000_bd.csv", ["code", "name_vi", "medium", "mode", "status", "x", "y"],
              [[s[0], s[1], s[2], s[3], s[4], f"{x:.2f}", f"{y:.2f}"] for s, (x, y) in zip(three, bd,
                                                                                       strict=True)])
    # Column names nobody could guess: loaded with --map.
    write_csv(out / "stations_mapped.csv",
              ["Mã trạm", "Tên trạm", "Thành phần MT", "Hình thức QT", "Tình trạng", "lon", "lat"],
              [[s[0], s[1], s[2], s[3], s[4], s[7], s[8]] for s in three])
    # Only code, name and position: medium/mode/status come from --set.
    write_csv(out / "stations_set.csv", ["code", "name_vi", "lon", "lat"],
              [[s[0], s[1], s[7], s[8]] for s in AIR])


def xlsx(out: Path) -> None:
    target = out / "stations.xlsx"
    target.unlink(missing_ok=True)
    rows = [{**record(s), "lon": s[7], "lat": s[8]} for s in STATIONS[:3]]
    pyogrio.write_dataframe(pd.DataFrame(rows), target, driver="XLSX", layer="tram")
    # GDAL stamps the document with the current time (and the zip entries too): pin both.
    with zipfile.ZipFile(target) as zf:
        members = [(n, zf.read(n)) for n in zf.namelist()]
    stamp = re.compile(rb"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
    members = [(n, stamp.sub(FIXED_DATE.encode(), d) if n.startswith("docProps/") else d) for n, d in members]
    fixed_zip(target, members)


def build(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for step in (geojson, geojson_3405, gpkg, shapefiles, kml, csvs, xlsx):
            step(out)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE.parents[2]))  # geo.crs, when run from a checkout without installing
    build(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    print("reader fixtures written")
