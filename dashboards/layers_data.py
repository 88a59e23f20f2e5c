"""Queries behind the department map and downloads: display features, identify, safe filters, history, runs."""
from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import geopandas as gpd
from sqlalchemy import Connection, Engine, text

from geo.errors import GeoError
from layers import REGISTRY
from layers.spec import FieldSpec, FieldType, LayerSpec

# Operators come only from this map: the request names a key, never SQL.
OPERATORS: dict[str, str] = {"eq": "=", "ne": "<>", "lt": "<", "gt": ">", "contains": "ILIKE", "in": "= ANY"}
OPERATOR_SYMBOLS = {"eq": "=", "ne": "≠", "lt": "<", "gt": ">", "contains": "∋", "in": "∈"}
MAX_VALUE_CHARS = 200
MAX_IN_ITEMS = 100
MAX_IDENTIFY = 20
MAX_DRAW = 20_000
_LINEAGE = {"id", "ingest_run_id", "created_at", "updated_at"}
# MapLibre draws 512-px tiles: one pixel at zoom z spans this many metres at the equator.
_M_PER_PX_Z0 = 40_075_016.686 / 512
_M_PER_DEG = 111_320.0
PROVINCE_BBOX = (106.30, 10.82, 107.00, 11.52)


class FilterError(GeoError):
    """A filter or download parameter refused; ``key``/``values`` name the catalogue message to show."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key, self.values = key, {k: str(v)[:60] for k, v in values.items()}


@dataclass(frozen=True)
class AttrFilter:
    """A validated filter: the field is the registry's, the value already converted to the field's type."""

    layer: str
    field: str
    op: str
    value: Any


def _q(name: str) -> str:
    """Quote an identifier; only registry names reach here, quoting is a second fence."""
    return '"' + name.replace('"', '""') + '"'


@contextmanager
def _connect(bind: Engine | Connection) -> Iterator[Connection]:
    """Accept an engine (normal use) or an open connection (tests that roll back)."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn


def _coerce(spec: FieldSpec, raw: str) -> Any:
    raw = raw.strip()
    if not raw:
        raise FilterError("dept.filter.empty")
    try:
        if spec.type is FieldType.INTEGER:
            return int(raw)
        if spec.type is FieldType.NUMBER:
            value = float(raw.replace(",", ".")) if raw.count(",") == 1 and "." not in raw else float(raw)
            if not math.isfinite(value):
                raise ValueError(raw)
            return value
        if spec.type is FieldType.DATE:
            return date.fromisoformat(raw)
        if spec.type is FieldType.BOOLEAN:
            low = raw.lower()
            if low in ("true", "1", "yes", "có", "co", "đúng"):
                return True
            if low in ("false", "0", "no", "không", "khong", "sai"):
                return False
            raise ValueError(raw)
    except ValueError as exc:
        raise FilterError("dept.filter.bad_value", value=raw, field=spec.name, type=spec.type.value) from exc
    return raw


def parse_filter(layer: str, field: str | None, op: str | None, value: str | None) -> AttrFilter:
    """Check a filter against the registry; anything not known there is refused with a message key."""
    if layer not in REGISTRY:
        raise FilterError("dept.filter.bad_layer")
    spec = REGISTRY.get(layer)
    if field not in spec.field_names:
        raise FilterError("dept.filter.bad_field", field=field or "", layer=layer)
    if op not in OPERATORS:
        raise FilterError("dept.filter.bad_op", op=op or "")
    fspec = spec.field(field)
    if fspec.type is FieldType.BOOLEAN and op in ("lt", "gt", "contains"):
        raise FilterError("dept.filter.op_type", op=OPERATOR_SYMBOLS[op], field=field)
    raw = value if isinstance(value, str) else ("" if value is None else str(value))
    if len(raw) > MAX_VALUE_CHARS:
        raise FilterError("dept.filter.too_long", n=MAX_VALUE_CHARS)
    if any(ord(ch) < 32 for ch in raw):
        # PostgreSQL text cannot hold NUL, and no attribute holds control characters: refuse, don't crash.
        raise FilterError("dept.filter.bad_value", value=raw.encode("unicode_escape").decode(), field=field,
                          type=fspec.type.value)
    if op == "contains":
        if not raw.strip():
            raise FilterError("dept.filter.empty")
        return AttrFilter(layer, field, op, raw.strip())
    if op == "in":
        items = [part for part in raw.split(",") if part.strip()]
        if not items:
            raise FilterError("dept.filter.empty")
        if len(items) > MAX_IN_ITEMS:
            raise FilterError("dept.filter.too_many", n=MAX_IN_ITEMS)
        return AttrFilter(layer, field, op, [_coerce(fspec, part) for part in items])
    return AttrFilter(layer, field, op, _coerce(fspec, raw))


def filter_sql(flt: AttrFilter | None, params: dict[str, Any]) -> str:
    """The WHERE fragment of a validated filter; its value goes into ``params``, never into the SQL text."""
    if flt is None:
        return "TRUE"
    fspec = REGISTRY.get(flt.layer).field(flt.field)
    col, sqltype = _q(flt.field), fspec.type.sql
    if flt.op == "contains":
        # LIKE wildcards typed by the user are data: escape them so '%' matches a percent sign.
        escaped = flt.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        params["fv"] = f"%{escaped}%"
        return f"CAST({col} AS text) ILIKE :fv ESCAPE '\\'"
    params["fv"] = flt.value
    if flt.op == "in":
        return f"{col} = ANY(CAST(:fv AS {sqltype}[]))"
    return f"{col} {OPERATORS[flt.op]} CAST(:fv AS {sqltype})"


def parse_bbox(raw: str | None) -> tuple[float, float, float, float] | None:
    """``west,south,east,north`` in degrees, or None; anything else is refused."""
    if raw is None or raw == "":
        return None
    parts = raw.split(",")
    if len(parts) != 4:
        raise FilterError("dept.error.bbox")
    try:
        w, s, e, n = (float(p) for p in parts)
    except ValueError as exc:
        raise FilterError("dept.error.bbox") from exc
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise FilterError("dept.error.bbox")
    return (w, s, e, n)


def has_validity(spec: LayerSpec) -> bool:
    return {"valid_from", "valid_to"} <= set(spec.field_names)


def _where(spec: LayerSpec, flt: AttrFilter | None, bbox: tuple | None, on: date | None,
           params: dict[str, Any]) -> str:
    parts = [filter_sql(flt if flt is not None and flt.layer == spec.name else None, params)]
    if bbox is not None:
        params.update(w=bbox[0], s=bbox[1], e=bbox[2], n=bbox[3])
        parts.append("geom && ST_MakeEnvelope(:w, :s, :e, :n, 4326)")
    if on is not None and has_validity(spec):
        # Boundary versions: validity is half-open [valid_from, valid_to).
        params["on"] = on
        parts.append("valid_from <= :on AND (valid_to IS NULL OR valid_to > :on)")
    return " AND ".join(parts)


def metres_per_pixel(zoom: float, lat: float) -> float:
    return _M_PER_PX_Z0 * math.cos(math.radians(lat)) / 2 ** max(0.0, min(24.0, zoom))


def tolerance_m(zoom: float, lat: float, pixels: int = 6) -> float:
    """How far from a click a feature still counts as clicked: a few pixels, in metres at this zoom."""
    return max(1.0, pixels * metres_per_pixel(zoom, lat))


def feature_count(bind: Engine | Connection, layer: str) -> int:
    spec = REGISTRY.get(layer)
    with _connect(bind) as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {_q(spec.table)}")).scalar() or 0)


def count_matching(bind: Engine | Connection, layer: str, flt: AttrFilter | None = None,
                   on: date | None = None) -> int:
    spec = REGISTRY.get(layer)
    params: dict[str, Any] = {}
    where = _where(spec, flt, None, on, params)
    with _connect(bind) as conn:
        return int(conn.execute(text(f"SELECT count(*) FROM {_q(spec.table)} WHERE {where}"), params).scalar() or 0)


def display_geojson(bind: Engine | Connection, layer: str, bbox: tuple | None, zoom: float,
                    flt: AttrFilter | None = None, on: date | None = None, limit: int = MAX_DRAW) -> dict:
    """Features in the view, simplified to about half a pixel at ``zoom`` (enough for display, far lighter)."""
    spec = REGISTRY.get(layer)
    params: dict[str, Any] = {"lim": limit}
    where = _where(spec, flt, bbox, on, params)
    params["tol"] = 0.5 * metres_per_pixel(zoom, 11.0) / _M_PER_DEG
    label = "code" if "code" in spec.field_names else spec.natural_key[0]
    sql = (f"SELECT json_build_object('type', 'Feature', 'id', id, 'properties', "
           f"json_build_object('id', id, 'label', CAST({_q(label)} AS text)), 'geometry', "
           f"CAST(ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, :tol), 6) AS json)) "
           f"FROM {_q(spec.table)} WHERE {where} ORDER BY id LIMIT :lim")
    with _connect(bind) as conn:
        features = [row[0] for row in conn.execute(text(sql), params)]
    return {"type": "FeatureCollection", "features": features}


def identify(bind: Engine | Connection, layers: list[str], lon: float, lat: float, tol_m: float,
             flt: AttrFilter | None = None, on: date | None = None, limit: int = MAX_IDENTIFY) -> list[dict]:
    """Features of ``layers`` within ``tol_m`` metres of the point, nearest first, with every attribute."""
    hits: list[dict] = []
    for layer in layers:
        spec = REGISTRY.get(layer)
        params: dict[str, Any] = {"lon": lon, "lat": lat, "tol": tol_m, "lim": limit,
                                  # Index prefilter in degrees (a degree of longitude is shortest: use it).
                                  "deg": tol_m / (_M_PER_DEG * max(0.1, math.cos(math.radians(lat))))}
        where = _where(spec, flt, None, on, params)
        cols = ", ".join(_q(c) for c in ("id", *spec.field_names, *spec.derived_columns, "ingest_run_id"))
        sql = (f"WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS pt) "
               f"SELECT {cols}, ST_AsGeoJSON(geom, 6) AS geojson, "
               f"ST_Distance(CAST(geom AS geography), CAST(p.pt AS geography)) AS distance_m, "
               f"CASE WHEN GeometryType(geom) LIKE '%POLYGON' THEN ST_Area(CAST(geom AS geography)) END AS area_m2 "
               f"FROM {_q(spec.table)}, p WHERE geom && ST_Expand(p.pt, :deg) "
               f"AND ST_DWithin(CAST(geom AS geography), CAST(p.pt AS geography), :tol) AND {where} "
               f"ORDER BY distance_m, id LIMIT :lim")
        with _connect(bind) as conn:
            for row in conn.execute(text(sql), params).mappings():
                attrs = dict(row)
                hits.append({"layer": layer, "id": attrs.pop("id"), "run": attrs.pop("ingest_run_id"),
                             "geometry": json.loads(attrs.pop("geojson")),
                             "distance_m": attrs.pop("distance_m"), "area_m2": attrs.pop("area_m2"),
                             "attributes": attrs})
    # Most specific first: points and lines by distance, then the polygons under the click, smallest first
    # (a park before its district, the district before the province).
    hits.sort(key=lambda h: (0, h["distance_m"]) if h["area_m2"] is None else (1, h["area_m2"]))
    return hits[:limit]


def history(bind: Engine | Connection, layer: str, feature_id: int) -> list[dict]:
    """The feature's recorded changes, oldest first: operation, run, time, file and the fields changed.

    An insert by a first load is recorded by the run's span of ids (``feature_insert_spans``), which shares the
    history's order (``history_id``).
    """
    sql = ("SELECT h.history_id, h.op, h.run_id, h.recorded_at, h.old_attrs, h.new_attrs, h.geom_changed, "
           "r.file_name, r.kind FROM feature_history h JOIN ingest_runs r ON r.run_id = h.run_id "
           "WHERE h.layer = :layer AND h.feature_id = :fid "
           "UNION ALL "
           "SELECT s.history_id, 'insert', s.run_id, s.recorded_at, NULL, NULL, NULL, r.file_name, r.kind "
           "FROM feature_insert_spans s JOIN ingest_runs r ON r.run_id = s.run_id "
           "WHERE s.layer = :layer AND s.first_id <= :fid AND s.last_id >= :fid "
           "ORDER BY history_id")
    with _connect(bind) as conn:
        rows = conn.execute(text(sql), {"layer": layer, "fid": feature_id}).mappings().all()
    out = []
    for r in rows:
        changed: list[str] = []
        if r["op"] == "update" and r["old_attrs"] and r["new_attrs"]:
            changed = sorted(k for k in r["new_attrs"] if k not in _LINEAGE
                             and r["old_attrs"].get(k) != r["new_attrs"].get(k))
            if r["geom_changed"]:
                changed.append("geom")
        out.append({"op": r["op"], "run": r["run_id"], "at": r["recorded_at"], "file_name": r["file_name"],
                    "kind": r["kind"], "changed": changed})
    return out


def source_run(bind: Engine | Connection, run_id: int | None) -> dict | None:
    """The ledger row a feature came from: file, checksum, who and when."""
    if run_id is None:
        return None
    sql = ("SELECT run_id, kind, file_name, sha256, who, started_at, finished_at, status "
           "FROM ingest_runs WHERE run_id = :r")
    with _connect(bind) as conn:
        row = conn.execute(text(sql), {"r": run_id}).mappings().first()
    return dict(row) if row else None


def download_frame(bind: Engine | Connection, layer: str, flt: AttrFilter | None = None,
                   bbox: tuple | None = None, on: date | None = None) -> gpd.GeoDataFrame:
    """Every attribute and the full geometry (no simplification) of the matching features."""
    spec = REGISTRY.get(layer)
    params: dict[str, Any] = {}
    where = _where(spec, flt, bbox, on, params)
    cols = ", ".join(_q(c) for c in ("id", *spec.field_names, *spec.derived_columns, "ingest_run_id"))
    sql = text(f"SELECT {cols}, geom FROM {_q(spec.table)} WHERE {where} ORDER BY id")
    with _connect(bind) as conn:
        return gpd.read_postgis(sql, conn, geom_col="geom", params=params, crs="EPSG:4326")
