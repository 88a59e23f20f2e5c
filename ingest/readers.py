"""Readers for the vector files people have: GeoJSON, GeoPackage, Shapefile (plain/zipped), KML/KMZ, CSV, XLSX."""
from __future__ import annotations

import codecs
import unicodedata
import warnings
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely
from pyogrio.errors import DataLayerError, DataSourceError, FieldError
from pyproj import CRS

from geo.crs import STORAGE_EPSG
from geo.errors import InputError

TEXT_SUFFIXES = {".geojson", ".json", ".csv", ".kml", ".txt"}
TABLE_SUFFIXES = {".csv", ".txt", ".xlsx"}
LON_NAMES = ("lon", "lng", "long", "longitude", "kinh_do", "kinhdo", "kinh độ")
LAT_NAMES = ("lat", "latitude", "vi_do", "vido", "vĩ độ")
X_NAMES = ("x", "easting", "toa_do_x")
Y_NAMES = ("y", "northing", "toa_do_y")
WKT_NAMES = ("wkt", "geometry", "geom", "the_geom", "shape")


@dataclass
class SourceData:
    """What a reader found: the features, their CRS (None when the file has none) and notes."""

    frame: gpd.GeoDataFrame
    path: Path
    layer: str | None
    crs: CRS | None
    driver: str
    notes: list[str] = field(default_factory=list)
    wkb: pa.Array | None = None  # the WKB each geometry was read from, when the reader had it


def read_vector(path: Path, *, layer: str | None = None, encoding: str | None = None) -> SourceData:
    """Read one file into a GeoDataFrame; raise InputError naming the file for anything unusable."""
    path = Path(path)
    name = path.name
    if not path.exists():
        raise InputError("không tìm thấy tệp / file not found", file=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("tệp rỗng / the file is empty", file=name)
    if encoding is not None:
        _check_encoding_name(encoding, name)
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES and encoding is None:
        _check_utf8(path)
    if suffix in TABLE_SUFFIXES:
        return _read_table(path, layer=layer, encoding=encoding)
    target, notes = _ogr_target(path, layer)
    return _read_ogr(path, target, layer=layer, encoding=encoding, notes=notes)


def _check_encoding_name(encoding: str, name: str) -> None:
    try:
        codecs.lookup(encoding)
    except LookupError as exc:
        raise InputError(f"không biết bảng mã / unknown encoding '{encoding}' (e.g. utf-8, cp1258, latin-1)",
                         file=name) from exc


def _is_legacy(encoding: str | None) -> bool:
    return encoding is not None and codecs.lookup(encoding).name != "utf-8"


def _nfc(value: object) -> object:
    """Legacy Vietnamese encodings (cp1258) store tone marks as combining characters: compose them."""
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


def _recode(frame: gpd.GeoDataFrame, encoding: str, name: str) -> gpd.GeoDataFrame:
    """Undo a byte-exact ISO-8859-1 read: back to the DBF's bytes, decoded by Python's codec, composed."""
    def fix(value: object) -> object:
        return _nfc(value.encode("latin-1").decode(encoding)) if isinstance(value, str) else value
    try:
        frame = frame.rename(columns={c: fix(c) for c in frame.columns if c != "geometry"})
        for c in frame.columns:
            if c != "geometry" and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c].dtype)):
                frame[c] = frame[c].map(fix)
    except UnicodeError as exc:
        raise InputError(f"thuộc tính không đọc được bằng bảng mã {encoding} / attributes are not valid "
                         f"{encoding}: {exc.reason}", file=name) from exc
    return frame


def _check_utf8(path: Path) -> None:
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(f"văn bản không phải UTF-8 / text is not UTF-8 (byte 0x{data[exc.start]:02x} at "
                         f"offset {exc.start}); save the file as UTF-8 or give --encoding (e.g. cp1258)",
                         file=path.name, row=line) from exc


def _ogr_target(path: Path, layer: str | None) -> tuple[str, list[str]]:
    """The GDAL path to open (zip members through /vsizip/) and notes about sidecar files."""
    suffix = path.suffix.lower()
    notes: list[str] = []
    if suffix == ".zip":
        return _zip_target(path, layer)
    if suffix == ".shp":
        notes += _shapefile_sidecars(path, {p.suffix.lower() for p in path.parent.glob(path.stem + ".*")})
    return str(path), notes


def _zip_target(path: Path, layer: str | None) -> tuple[str, list[str]]:
    try:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/") and "__MACOSX" not in m]
    except zipfile.BadZipFile as exc:
        raise InputError("tệp zip hỏng / not a readable zip archive", file=path.name) from exc
    shps = [m for m in members if m.lower().endswith(".shp")]
    others = [m for m in members if m.lower().endswith((".gpkg", ".geojson", ".json", ".kml"))]
    if layer and len(shps) > 1:
        shps = [m for m in shps if Path(m).stem == layer] or shps
    if len(shps) > 1:
        raise InputError(f"tệp zip chứa nhiều shapefile / the zip holds several shapefiles "
                         f"({', '.join(shps)}); choose one with --layer NAME", file=path.name)
    if shps:
        stem = shps[0][:-4]
        sidecars = {Path(m).suffix.lower() for m in members if m[:-len(Path(m).suffix)] == stem}
        return f"/vsizip/{path}/{shps[0]}", _shapefile_sidecars(Path(shps[0]), sidecars)
    if len(others) == 1:
        return f"/vsizip/{path}/{others[0]}", []
    raise InputError("tệp zip không chứa dữ liệu vector đọc được / the zip holds no readable vector file "
                     f"(found: {', '.join(members) or 'nothing'})", file=path.name)


def _shapefile_sidecars(shp: Path, present: set[str]) -> list[str]:
    for needed in (".shx", ".dbf"):
        if needed not in present:
            raise InputError(f"thiếu tệp {needed} đi kèm / the shapefile's {needed} file is missing",
                             file=shp.name)
    notes = []
    if ".prj" not in present:
        notes.append("no .prj: the shapefile has no CRS")
    if ".cpg" not in present:
        notes.append("no .cpg: attribute encoding assumed UTF-8")
    return notes


def _read_ogr(path: Path, target: str, *, layer: str | None, encoding: str | None,
              notes: list[str]) -> SourceData:
    name = path.name
    try:
        layers = pyogrio.list_layers(target)
    except (DataSourceError, DataLayerError) as exc:
        raise InputError(f"không đọc được tệp / cannot read the file: {_gdal_reason(exc)}", file=name) from exc
    names = [str(n) for n in layers[:, 0]]
    driver = pyogrio.read_info(target, layer=names[0] if names else None).get("driver", "?") if names else "?"
    chosen = _choose_layer(name, names, layer, driver)
    if encoding is None and any(n.startswith("no .cpg") for n in notes):
        encoding = "UTF-8"
    # GDAL recodes shapefile attributes with iconv, whose CP1258 decoder drops the last character of every
    # value and field name ('code' → 'cod'). Read the bytes losslessly as ISO-8859-1 and decode in Python.
    legacy = driver == "ESRI Shapefile" and _is_legacy(encoding)
    frames = [_read_layer(name, target, n, "ISO-8859-1" if legacy else encoding, driver) for n in chosen]
    if legacy:
        frames = [_recode(f, str(encoding), name) for f in frames]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    if driver in ("KML", "LIBKML"):
        _check_kml_coordinates(frame, name)
    crs = CRS.from_user_input(frames[0].crs) if frames[0].crs is not None else None
    if "no .prj: the shapefile has no CRS" in notes:
        crs = None
    return SourceData(gpd.GeoDataFrame(frame, geometry="geometry", crs=None), path,
                      ",".join(chosen) if chosen else None, crs, driver, notes)


def _check_kml_coordinates(frame: gpd.GeoDataFrame, name: str) -> None:
    """GDAL's KML readers turn a coordinate string they cannot parse ('106.7 10.9', 'abc') into 0,0."""
    geoms = np.asarray(frame.geometry.array, dtype=object)
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad = np.unique(index[(coords[:, 0] == 0) & (coords[:, 1] == 0)]) + 1
    if bad.size:
        raise InputError(f"tọa độ KML không đọc được / KML coordinates could not be parsed in placemark(s) "
                         f"{', '.join(map(str, bad[:10].tolist()))} (GDAL read them as 0,0); write each point as "
                         "lon,lat[,alt] with spaces only between points", file=name, row=int(bad[0]))


def _choose_layer(name: str, names: list[str], layer: str | None, driver: str) -> list[str]:
    if not names:
        raise InputError("tệp không có lớp dữ liệu nào / the file has no layers", file=name)
    if layer is not None:
        if layer not in names:
            raise InputError(f"không có lớp '{layer}' / no layer '{layer}'; layers: {', '.join(names)}",
                             file=name)
        return [layer]
    if len(names) == 1:
        return names
    if driver in ("KML", "LIBKML"):
        return names  # KML folders are one dataset split for display; read them all
    raise InputError(f"tệp có nhiều lớp / the file has several layers ({', '.join(names)}); "
                     "choose one with --layer NAME", file=name)


# Drivers read through GDAL's Arrow interface; the others (KML's parser among them, whose unreadable
# coordinates then arrive as empty geometries instead of the 0,0 we detect) feature by feature.
_ARROW_DRIVERS = {"GPKG", "GeoJSON", "ESRI Shapefile", "FlatGeobuf", "GeoJSONSeq"}


def _read_layer(name: str, target: str, layer: str, encoding: str | None, driver: str) -> gpd.GeoDataFrame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if driver in _ARROW_DRIVERS:
                return _read_arrow(target, layer, encoding)
            return pyogrio.read_dataframe(target, layer=layer, encoding=encoding)
    except UnicodeDecodeError as exc:
        raise InputError("thuộc tính không phải UTF-8 / attributes are not UTF-8; give --encoding "
                         "(e.g. cp1258) or add a .cpg file", file=name) from exc
    except (DataSourceError, DataLayerError, FieldError) as exc:
        raise InputError(f"không đọc được tệp / cannot read the file: {_gdal_reason(exc)}", file=name) from exc


def _read_arrow(target: str, layer: str, encoding: str | None) -> gpd.GeoDataFrame:
    """The layer through GDAL's columnar (Arrow) interface: 4–6× faster than feature by feature."""
    meta, table = pyogrio.read_arrow(target, layer=layer, encoding=encoding)
    return _arrow_frame(meta, table)[0]


def _arrow_frame(meta: dict, table: pa.Table) -> tuple[gpd.GeoDataFrame, pa.Array | None]:
    """A GeoDataFrame from Arrow data read by GDAL, typed like the feature-by-feature read: dates become
    datetime64 (not Python date objects), the geometry comes from its WKB column (also returned), the CRS from
    the metadata. Text that is not valid UTF-8 raises UnicodeDecodeError (GDAL hands legacy bytes through)."""
    attrs, wkb, geoms = _arrow_parts(meta, table)
    return _frame_of(meta, attrs, geoms), wkb


def _arrow_parts(meta: dict, table: pa.Table) -> tuple[pa.Table, pa.Array | None, np.ndarray]:
    """(attribute columns with their text checked as UTF-8, the WKB column, the parsed geometries)."""
    geom_name = meta.get("geometry_name") or "wkb_geometry"
    wkb = None
    if geom_name in table.column_names:
        wkb = table.column(geom_name).combine_chunks()
        table = table.drop_columns([geom_name])
        geoms = shapely.from_wkb(wkb.to_numpy(zero_copy_only=False))
    else:
        geoms = np.full(table.num_rows, None, dtype=object)
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            try:
                column.validate(full=True)
            except pa.ArrowInvalid as exc:
                raise UnicodeDecodeError("utf-8", b"", 0, 1, str(exc)) from exc
    return table, wkb, geoms


def _frame_of(meta: dict, attrs: pa.Table, geoms: np.ndarray) -> gpd.GeoDataFrame:
    frame = attrs.to_pandas(date_as_object=False)
    frame.index = pd.RangeIndex(len(frame))
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, index=frame.index), crs=meta.get("crs"))


@dataclass
class StreamBatch:
    """Consecutive features of a streamed layer: attribute columns as Arrow, the WKB and parsed geometries; the
    same as ``read_vector``'s SourceData (``source()``, built on demand) for these features."""

    attrs: pa.Table
    wkb: pa.Array | None
    geoms: np.ndarray
    path: Path
    layer: str
    crs: CRS | None
    driver: str
    notes: list[str]
    meta: dict

    def source(self) -> SourceData:
        frame = _frame_of(self.meta, self.attrs, self.geoms)
        return SourceData(gpd.GeoDataFrame(frame, geometry="geometry", crs=None), self.path, self.layer, self.crs,
                          self.driver, self.notes, self.wkb)


@dataclass
class VectorStream:
    """A vector layer read batch by batch (consecutive features, file order)."""

    path: Path
    layer: str
    crs: CRS | None
    driver: str
    notes: list[str]
    count: int | None  # features in the layer when the driver knows it cheaply
    batches: Iterator[StreamBatch]


@contextmanager
def open_stream(path: Path, *, layer: str | None = None, encoding: str | None = None,
                batch_size: int = 20_000) -> Iterator[VectorStream | None]:
    """The file as a stream of batches when it can be read that way (one layer of a GeoPackage, GeoJSON,
    Shapefile or FlatGeobuf in UTF-8), else None (and None for anything ``read_vector`` would refuse: that
    reader gives the message). Batches are what ``read_vector`` would give for the same features."""
    path = Path(path)
    suffix = path.suffix.lower()
    if (not path.is_file() or path.stat().st_size == 0 or suffix in TABLE_SUFFIXES
            or (encoding is not None and not _known_utf8(encoding))):
        yield None
        return
    try:
        if suffix in TEXT_SUFFIXES:
            _check_utf8(path)
        target, notes = _ogr_target(path, layer)
        names = [str(n) for n in pyogrio.list_layers(target)[:, 0]]
        info = pyogrio.read_info(target, layer=names[0]) if names else {}
        driver = info.get("driver", "?")
        chosen = _choose_layer(path.name, names, layer, driver)
    except (InputError, DataSourceError, DataLayerError, FieldError):
        yield None
        return
    if driver not in _ARROW_DRIVERS or len(chosen) != 1:
        yield None
        return
    if chosen[0] != names[0]:
        info = pyogrio.read_info(target, layer=chosen[0])
    read_encoding = "UTF-8" if encoding is None and any(n.startswith("no .cpg") for n in notes) else encoding
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pyogrio.open_arrow(target, layer=chosen[0], encoding=read_encoding, batch_size=batch_size,
                                use_pyarrow=True) as (meta, reader):
            crs = None if "no .prj: the shapefile has no CRS" in notes or meta.get("crs") is None \
                else CRS.from_user_input(meta["crs"])
            count = info.get("features")

            def batches() -> Iterator[StreamBatch]:
                try:
                    for batch in reader:
                        attrs, wkb, geoms = _arrow_parts(meta, pa.Table.from_batches([batch]))
                        yield StreamBatch(attrs, wkb, geoms, path, chosen[0], crs, driver, notes, meta)
                except UnicodeDecodeError as exc:
                    raise InputError("thuộc tính không phải UTF-8 / attributes are not UTF-8; give --encoding "
                                     "(e.g. cp1258) or add a .cpg file", file=path.name) from exc
                except (DataSourceError, DataLayerError, FieldError, pa.ArrowException) as exc:
                    raise InputError(f"không đọc được tệp / cannot read the file: {_gdal_reason(exc)}",
                                     file=path.name) from exc

            yield VectorStream(path, chosen[0], crs, driver, notes,
                               int(count) if count is not None and count >= 0 else None, batches())


def _known_utf8(encoding: str) -> bool:
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def _gdal_reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:300]


def _read_table(path: Path, *, layer: str | None, encoding: str | None) -> SourceData:
    """CSV/XLSX with lon/lat, x/y or WKT columns; values are kept as text for the checks to parse."""
    name = path.name
    try:
        if path.suffix.lower() == ".xlsx":
            df = pyogrio.read_dataframe(path, layer=layer, read_geometry=False)
            df = df.astype(object).where(df.notna(), None)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], encoding=encoding,
                             sep=None, engine="python")
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, DataSourceError) as exc:
        raise InputError(f"không đọc được bảng / cannot parse the table: {exc}", file=name) from exc
    if _is_legacy(encoding):
        df = df.map(_nfc)
    df.columns = [str(_nfc(str(c))).strip() for c in df.columns]
    geoms, crs, note = _table_geometry(df, name)
    return SourceData(gpd.GeoDataFrame(df, geometry=geoms, crs=None), path, layer, crs,
                      "XLSX" if path.suffix.lower() == ".xlsx" else "CSV", [note])


def _find(columns: list[str], names: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _table_geometry(df: pd.DataFrame, name: str) -> tuple[np.ndarray, CRS | None, str]:
    cols = list(df.columns)
    wkt = _find(cols, WKT_NAMES)
    lon, lat = _find(cols, LON_NAMES), _find(cols, LAT_NAMES)
    x, y = _find(cols, X_NAMES), _find(cols, Y_NAMES)
    if wkt:
        with np.errstate(all="ignore"):
            geoms = shapely.from_wkt(df[wkt].astype(object).where(df[wkt].notna(), None).to_numpy(),
                                     on_invalid="ignore")
        del df[wkt]
        return geoms, None, f"geometry from WKT column '{wkt}'"
    if lon and lat:
        geoms = _points(df, lon, lat, name)
        # Columns named lon/lat state degrees on WGS84: that is the file's own declaration, not a guess.
        return geoms, CRS.from_epsg(STORAGE_EPSG), f"points from columns '{lon}', '{lat}' (WGS84)"
    if x and y:
        return _points(df, x, y, name), None, f"points from columns '{x}', '{y}'"
    raise InputError("không tìm thấy cột tọa độ / no coordinate columns: expected lon/lat, x/y or WKT "
                     f"(columns are: {', '.join(cols)})", file=name)


def _points(df: pd.DataFrame, xcol: str, ycol: str, name: str) -> np.ndarray:
    xs = pd.to_numeric(df[xcol].astype(str).str.replace(",", ".", regex=False), errors="coerce")
    ys = pd.to_numeric(df[ycol].astype(str).str.replace(",", ".", regex=False), errors="coerce")
    ok = xs.notna() & ys.notna()
    geoms = np.full(len(df), None, dtype=object)
    geoms[ok.to_numpy()] = shapely.points(xs[ok].to_numpy(), ys[ok].to_numpy())
    del df[xcol], df[ycol]  # the coordinates now live in the geometry
    return geoms
