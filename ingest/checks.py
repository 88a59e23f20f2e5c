"""Feature checks against a layer spec: fields, types, allowed values, geometry, area of interest, duplicates."""
from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from numpy.typing import NDArray
from pyproj import CRS

from geo.crs import STORAGE_EPSG, check_plausible, describe
from geo.errors import CrsError, InputError
from geo.geometry import family, invalid_reasons, repair
from ingest.aoi import AreaOfInterest
from ingest.coerce import arrow_text_is_clean, coerce_column
from ingest.readers import SourceData
from layers.spec import FieldSpec, FieldType, LayerSpec

ERROR, WARNING = "error", "warning"


@dataclass
class Problem:
    """One finding about one feature: record number (1-based, file order), field and reason."""

    record: int
    key: str | None
    field: str | None
    reason: str
    severity: str = ERROR


@dataclass
class Checked:
    """The result of checking a file: typed attributes and geometries of all records, and the findings."""

    attrs: pd.DataFrame
    geoms: NDArray[np.object_]
    ok: NDArray[np.bool_]
    problems: list[Problem] = field(default_factory=list)
    source_crs: str | None = None
    ignored_columns: list[str] = field(default_factory=list)
    wkb: pa.Array | None = None  # the source WKB of each geometry that is stored as read (NULL where changed)

    @property
    def n_rejected(self) -> int:
        return int((~self.ok).sum())

    @property
    def n_warnings(self) -> int:
        return sum(p.severity == WARNING for p in self.problems)


class _Collector:
    """Accumulates per-record errors without building messages for records that are fine."""

    def __init__(self, n: int, keys: pd.Series) -> None:
        self.ok = np.ones(n, dtype=bool)
        self.keys = keys
        self.problems: list[Problem] = []

    def add(self, mask: NDArray[np.bool_], field_name: str | None, reasons: object,
            severity: str = ERROR) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        per_row = isinstance(reasons, (pd.Series, np.ndarray, list))
        values = np.asarray(reasons, dtype=object) if per_row else None
        for i in idx:
            reason = str(values[i]) if values is not None else str(reasons)
            self.problems.append(Problem(int(i) + 1, self.keys.iloc[i], field_name, reason, severity))
        if severity == ERROR:
            self.ok[idx] = False


def map_columns(frame: pd.DataFrame, spec: LayerSpec, mapping: dict[str, str] | None,
                file: str, constants: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Rename source columns to field names (explicit mapping first, then the spec's aliases).

    ``constants`` give a field one value for every record (e.g. valid_from of a boundary version).
    """
    mapping = dict(mapping or {})
    constants = dict(constants or {})
    unknown_targets = [t for t in [*mapping, *constants] if t not in spec.field_names]
    if unknown_targets:
        raise InputError(f"--map/--set name fields that '{spec.name}' does not have: {', '.join(unknown_targets)}",
                         file=file)
    missing_sources = [s for s in mapping.values() if s not in frame.columns]
    if missing_sources:
        raise InputError(f"--map names columns the file does not have: {', '.join(missing_sources)} "
                         f"(columns: {', '.join(map(str, frame.columns))})", file=file)
    rename = {src: tgt for tgt, src in mapping.items()}
    aliases = spec.alias_map()
    # A column already named like a field keeps that field: an alias (KML's empty 'id' → code) must not
    # produce a second column of the same name. A --map target replaces a same-named column.
    exact = {c for c in frame.columns if c in spec.field_names and c not in rename}
    taken = set(rename.values()) | exact
    for col in frame.columns:
        if col in rename or col in exact or col == "geometry":
            continue
        target = aliases.get(str(col).strip().lower())
        if target and target not in taken:
            rename[col] = target
            taken.add(target)
    shadowed = [c for c in exact if c in mapping]
    attrs = frame.drop(columns=["geometry", *shadowed]).rename(columns=rename)
    attrs = attrs.drop(columns=[c for c in constants if c in attrs.columns])
    for name, value in constants.items():
        attrs[name] = value
    ignored = [str(c) for c in attrs.columns if c not in spec.field_names]
    missing = [f.name for f in spec.fields if f.required and f.name not in attrs.columns]
    if missing:
        raise InputError(f"thiếu trường bắt buộc / required field(s) missing: {', '.join(missing)}; the file's "
                         f"columns are: {', '.join(map(str, frame.columns.drop('geometry')))}; map them with "
                         "--map FIELD=COLUMN", file=file)
    attrs = attrs.loc[:, [c for c in spec.field_names if c in attrs.columns]]
    for f in spec.fields:
        if f.name not in attrs.columns:
            attrs[f.name] = None
    return attrs[list(spec.field_names)], ignored


def _key_labels(attrs: pd.DataFrame, spec: LayerSpec) -> pd.Series:
    parts = [attrs[k].astype(object).where(attrs[k].notna(), "∅").astype(str) for k in spec.natural_key]
    label = parts[0]
    for p in parts[1:]:
        label = label + "|" + p
    return label.reset_index(drop=True)


def check(source: SourceData, spec: LayerSpec, *, aoi: AreaOfInterest | None,
          crs_override: CRS | None = None, mapping: dict[str, str] | None = None,
          constants: dict[str, str] | None = None, duplicates: bool = True) -> Checked:
    """Check every record; file-level problems raise InputError, record-level ones become Problems.

    ``duplicates=False`` leaves out the duplicate-key test, for a caller checking a file part by part.
    """
    file = source.path.name
    if len(source.frame) == 0:
        raise InputError("tệp không có đối tượng nào / the file has no features", file=file)
    raw, ignored = map_columns(source.frame, spec, mapping, file, constants)
    raw = raw.reset_index(drop=True)
    attrs = pd.DataFrame(index=raw.index)
    col = _Collector(len(raw), _key_labels(raw, spec))
    for f in spec.fields:
        values, reasons = coerce_column(raw[f.name], f)
        attrs[f.name] = values
        col.add(reasons.notna().to_numpy(), f.name, reasons)
        if f.required:
            col.add((values.isna() & reasons.isna()).to_numpy(), f.name,
                    "thiếu giá trị bắt buộc / required value is missing")
    geoms, fams, source_crs, as_read = _geometry(source, spec, crs_override, col, file)
    attrs["geom_type"] = fams
    for rc in spec.row_checks:
        reasons = rc.rule(attrs)
        col.add(reasons.notna().to_numpy() & col.ok, rc.field, reasons)
    attrs = attrs.drop(columns=["geom_type"])
    if aoi is not None:
        _check_aoi(geoms, aoi, col)
    if duplicates:
        _check_duplicates(attrs, spec, col)
    wkb = None
    if source.wkb is not None and as_read is not None and len(source.wkb) == len(geoms):
        wkb = source.wkb if as_read.all() else pc.if_else(pa.array(as_read), source.wkb,
                                                          pa.nulls(len(geoms), source.wkb.type))
    return Checked(attrs, geoms, col.ok, col.problems, source_crs, ignored, wkb)


def _geometry(source: SourceData, spec: LayerSpec, crs_override: CRS | None, col: _Collector,
              file: str) -> tuple[NDArray[np.object_], NDArray[np.object_], str, NDArray[np.bool_] | None]:
    return check_geometry(np.asarray(source.frame.geometry.array, dtype=object), source.crs, spec, crs_override,
                          col, file)


def check_geometry(geoms: NDArray[np.object_], source_crs: CRS | None, spec: LayerSpec, crs_override: CRS | None,
                   col: _Collector, file: str
                   ) -> tuple[NDArray[np.object_], NDArray[np.object_], str, NDArray[np.bool_] | None]:
    """Checked geometries in WGS 84, their storage family, the source CRS's description, and which geometries
    are exactly as read (None when all were reprojected)."""
    crs = crs_override or source_crs
    if crs is None:
        raise CrsError("tệp không có hệ tọa độ / the file has no CRS; name it with --crs "
                       "(e.g. --crs EPSG:4326, --crs VN2000-BD, --crs EPSG:3405)", file=file)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    present = ~missing
    if present.any():
        check_plausible(tuple(shapely.total_bounds(geoms[present])), crs, file)
    col.add(missing, "geometry", "hình học rỗng / empty or missing geometry")
    reprojected = not crs.equals(CRS.from_epsg(STORAGE_EPSG)) and present.any()
    if reprojected:
        series = gpd.GeoSeries(geoms, crs=crs).to_crs(STORAGE_EPSG)
        geoms = np.asarray(series.array, dtype=object)
    fixed, repaired = repair(geoms)
    fams_before = family(geoms)
    fams = family(fixed) if repaired.any() else fams_before
    allowed = {k.value for k in spec.geometry}
    # keep_collapsed=False: a zero-area polygon or a zero-length line repairs to an EMPTY geometry of the
    # same family; that is a change of type too (nothing would be stored), not a repair.
    collapsed = repaired & shapely.is_empty(fixed)
    changed = repaired & ((fams != fams_before) | collapsed)
    if changed.any():
        why = invalid_reasons(geoms)
        col.add(changed, "geometry", [f"hình học không hợp lệ, sửa sẽ đổi kiểu / invalid geometry ({r}) and "
                                      "repair would change its type" + (" (it collapses to nothing)" if c else "")
                                      for r, c in zip(why, collapsed, strict=True)])
        fixed = fixed.copy()
        fixed[changed] = None  # rejected: never promoted or stored
        fams = family(fixed)
    kept = repaired & ~changed
    if kept.any():
        why = invalid_reasons(geoms)
        col.add(kept, "geometry", [f"đã sửa hình học không hợp lệ / invalid geometry repaired ({r})"
                                   for r in why], severity=WARNING)
    wrong = present & ~changed & ~np.isin(fams.astype(str), list(allowed))
    if wrong.any():
        types = shapely.get_type_id(fixed)
        names = np.array(["Point", "LineString", "LinearRing", "Polygon", "MultiPoint", "MultiLineString",
                          "MultiPolygon", "GeometryCollection"], dtype=object)
        col.add(wrong, "geometry", [f"sai kiểu hình học / wrong geometry type {names[t] if t >= 0 else '?'}; "
                                    f"'{spec.name}' takes {' or '.join(sorted(allowed))}" for t in types])
    # Polygon → MultiPolygon etc. happens when the geometries are written (geo.geometry.storage_wkb).
    return fixed, fams, describe(crs), None if reprojected else ~repaired


def _check_aoi(geoms: NDArray[np.object_], aoi: AreaOfInterest, col: _Collector) -> None:
    candidates = col.ok.copy()
    outside = np.zeros(len(geoms), dtype=bool)
    outside[candidates] = ~aoi.contains(geoms[candidates])
    if outside.any():
        km = aoi.distance_km(geoms[outside])
        reasons = np.full(len(geoms), None, dtype=object)
        reasons[outside] = [f"nằm ngoài vùng quan tâm / outside the area of interest ({aoi.label}), "
                            f"{d:.1f} km away" for d in km]
        col.add(outside, "geometry", reasons)


def _check_duplicates(attrs: pd.DataFrame, spec: LayerSpec, col: _Collector) -> None:
    keys = attrs[list(spec.natural_key)]
    complete = keys.notna().all(axis=1).to_numpy()
    dup = keys.duplicated(keep=False).to_numpy() & complete
    if not dup.any():
        return
    label = col.keys
    groups = pd.Series(np.flatnonzero(dup) + 1).groupby(label[dup].to_numpy()).agg(list)
    reasons = np.full(len(attrs), None, dtype=object)
    for i in np.flatnonzero(dup):
        others = [r for r in groups[label.iloc[i]] if r != i + 1]
        reasons[i] = (f"trùng khóa / duplicate key {'+'.join(spec.natural_key)}={label.iloc[i]} "
                      f"(also record {', '.join(map(str, others))})")
    col.add(dup, "+".join(spec.natural_key), reasons)


# ------------------------------------------------------------------------- batches certified clean from Arrow
@dataclass
class CleanBatch:
    """A batch ``check`` would pass without an error, found so from its Arrow columns: the typed value of every
    field (Arrow, as ``check`` would give them), the checked geometries, and the warnings (repairs)."""

    attrs: pa.Table
    geoms: NDArray[np.object_]
    wkb: pa.Array | None
    problems: list[Problem]
    source_crs: str
    ignored_columns: list[str]


_ARROW_TYPE = {FieldType.TEXT: pa.string(), FieldType.INTEGER: pa.int64(), FieldType.NUMBER: pa.float64(),
               FieldType.DATE: pa.date32(), FieldType.BOOLEAN: pa.bool_()}


def check_arrow(table: pa.Table, geoms: NDArray[np.object_], wkb: pa.Array | None, source_crs: CRS | None,
                file: str, spec: LayerSpec, *, aoi: AreaOfInterest | None, crs_override: CRS | None = None
                ) -> CleanBatch | None:
    """What ``check`` concludes for a batch read as Arrow columns, when that is certain without pandas: every
    value already of its field's type, text already stripped, nothing required missing, outside its set or its
    range, and no geometry rejected. None as soon as any of that is not plainly so — and for layers with row
    checks —: the caller then runs ``check``, which decides and words each problem. (Duplicate keys are the
    caller's, as with ``check(..., duplicates=False)``.)"""
    n = table.num_rows
    if n == 0 or spec.row_checks:
        return None
    # Which column feeds which field: map_columns itself, on one row holding the column names.
    probe = pd.DataFrame([list(table.column_names)], columns=table.column_names, dtype=object)
    probe["geometry"] = None
    mapped, ignored = map_columns(probe, spec, None, file, None)
    sources = {f.name: mapped.at[0, f.name] for f in spec.fields}
    values: dict[str, pa.Array] = {}
    for f in spec.fields:
        src = sources[f.name]
        column = table.column(src).combine_chunks() if src is not None else pa.nulls(n, _ARROW_TYPE[f.type])
        typed = _clean_arrow_values(column, f)
        if typed is None:
            return None
        values[f.name] = typed
    keys = _LazyLabels(lambda: _key_labels(pd.DataFrame(
        {k: table.column(sources[k]).to_pandas() for k in spec.natural_key}), spec))
    col = _Collector(n, keys)
    fixed, _fams, crs_text, as_read = check_geometry(geoms, source_crs, spec, crs_override, col, file)
    if col.ok.all() and aoi is not None:
        _check_aoi(fixed, aoi, col)
    if not col.ok.all():
        return None
    if wkb is not None and as_read is not None:
        wkb = wkb if as_read.all() else pc.if_else(pa.array(as_read), wkb, pa.nulls(n, wkb.type))
    else:
        wkb = None
    return CleanBatch(pa.table(values), fixed, wkb, col.problems, crs_text, ignored)


class _LazyLabels:
    """Record labels computed only when a problem needs one (``.iloc[i]`` like the Series it stands for)."""

    def __init__(self, make) -> None:  # noqa: ANN001
        self._make, self._labels = make, None

    @property
    def iloc(self):  # noqa: ANN201 - the labels' positional indexer
        if self._labels is None:
            self._labels = self._make()
        return self._labels.iloc


def _clean_arrow_values(column: pa.Array, f: FieldSpec) -> pa.Array | None:
    """The field's values from an Arrow column when ``coerce_column`` would take them as they are with no
    reason to give, else None."""
    t = column.type
    present = len(column) - column.null_count
    if f.type is FieldType.TEXT:
        if not (pa.types.is_string(t) or pa.types.is_large_string(t)) or f.minimum is not None \
                or f.maximum is not None:
            return None
        if present and not arrow_text_is_clean(column):
            return None
        if f.allowed is not None and present and not pc.all(
                pc.is_in(column.drop_null(), value_set=pa.array(f.allowed, type=t))).as_py():
            return None
        out = column.cast(pa.string())
    elif f.type in (FieldType.NUMBER, FieldType.INTEGER):
        numeric = pa.types.is_integer(t) or (f.type is FieldType.NUMBER and pa.types.is_floating(t))
        if not numeric or f.allowed is not None:
            return None
        if f.type is FieldType.INTEGER and len(column) - column.null_count and \
                max(abs(v) for v in pc.min_max(column).as_py().values()) > 2 ** 53:
            return None  # the pandas path goes through float64: only the exactly representable integers agree
        out = column.cast(_ARROW_TYPE[f.type])
        if pa.types.is_floating(out.type):  # pandas reads NaN as missing
            out = pc.if_else(pc.is_nan(out), pa.scalar(None, out.type), out)
        if (f.minimum is not None or f.maximum is not None) and len(out) - out.null_count:
            bounds = pc.min_max(out).as_py()
            if (f.minimum is not None and bounds["min"] < f.minimum) or \
                    (f.maximum is not None and bounds["max"] > f.maximum):
                return None
    elif f.type is FieldType.DATE:
        if f.allowed is not None or f.minimum is not None or f.maximum is not None:
            return None
        if pa.types.is_timestamp(t) and t.tz in (None, "UTC", "+00:00", "Etc/UTC") and present and pc.all(
                pc.equal(pc.floor_temporal(column, unit="day"), column)).as_py():
            # a date written as a date-time at midnight (a GeoPackage DateTime, read in UTC as pandas does)
            column = column.cast(pa.timestamp(t.unit)).cast(pa.date32())
        if not pa.types.is_date32(column.type):
            return None
        out = column
    else:
        if not pa.types.is_boolean(t) or f.allowed is not None:
            return None
        out = column
    if f.required and out.null_count:
        return None
    return out
