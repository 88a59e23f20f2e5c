"""The PostGIS queries behind /ogc: extents, filtered pages of features and single features of one layer.

Every statement is built with SQLAlchemy Core from the registry's names (table, fields, derived columns), so
identifiers are quoted by the dialect and every value a user sends is a bound parameter; no user text is ever
part of the SQL string.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from layers import LayerSpec

# Seven decimals of a degree is about 1 cm: enough for every source the platform loads, half the bytes of 15.
COORD_DECIMALS = 7


@dataclass(frozen=True)
class ItemQuery:
    """A validated request for a page of features (values already converted to their field's type)."""

    limit: int = 100
    offset: int = 0
    bbox: tuple[float, float, float, float] | None = None
    start: datetime | None = None  # on updated_at, inclusive; None = open
    end: datetime | None = None
    equals: dict[str, Any] = field(default_factory=dict)


def property_names(spec: LayerSpec) -> tuple[str, ...]:
    """What a feature carries: the registry's fields and the measures derived from its geometry."""
    return spec.field_names + spec.derived_columns


def _table(spec: LayerSpec) -> sa.TableClause:
    cols = ("id", *property_names(spec), "geom", "updated_at")
    return sa.table(spec.table, *(sa.column(c) for c in cols))


def _where(t: sa.TableClause, q: ItemQuery) -> list[sa.ColumnElement[bool]]:
    conds: list[sa.ColumnElement[bool]] = [t.c[name] == sa.bindparam(f"eq_{name}", value)
                                           for name, value in q.equals.items()]
    if q.bbox is not None:
        minx, miny, maxx, maxy = q.bbox
        # && on the GiST index first; ST_Intersects then drops the envelope-only candidates.
        conds.append(sa.func.ST_Intersects(t.c.geom, sa.func.ST_MakeEnvelope(minx, miny, maxx, maxy, 4326)))
    if q.start is not None:
        conds.append(t.c.updated_at >= q.start)
    if q.end is not None:
        conds.append(t.c.updated_at <= q.end)
    return conds


def _feature(spec: LayerSpec, row: sa.Row) -> dict[str, Any]:
    m = row._mapping
    props = {name: _jsonable(m[name]) for name in property_names(spec)}
    props["updated_at"] = _jsonable(m["updated_at"])
    return {"type": "Feature", "id": m["id"], "geometry": json.loads(m["geometry"]), "properties": props}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def _columns(spec: LayerSpec, t: sa.TableClause) -> list[sa.ColumnElement[Any]]:
    return [t.c.id, *(t.c[n] for n in property_names(spec)), t.c.updated_at,
            sa.func.ST_AsGeoJSON(t.c.geom, COORD_DECIMALS).label("geometry")]


def items(engine: Engine, spec: LayerSpec, q: ItemQuery) -> tuple[list[dict[str, Any]], int]:
    """One page of features (ordered by id, so pages are stable) and how many match in all."""
    t = _table(spec)
    conds = _where(t, q)
    page = sa.select(*_columns(spec, t)).where(*conds).order_by(t.c.id).limit(q.limit).offset(q.offset)
    count = sa.select(sa.func.count()).select_from(t).where(*conds)
    with engine.connect() as conn:
        rows = conn.execute(page).all()
        matched = conn.execute(count).scalar_one()
    return [_feature(spec, r) for r in rows], int(matched)


def item(engine: Engine, spec: LayerSpec, fid: int) -> dict[str, Any] | None:
    t = _table(spec)
    with engine.connect() as conn:
        row = conn.execute(sa.select(*_columns(spec, t)).where(t.c.id == fid)).first()
    return None if row is None else _feature(spec, row)


def extent(engine: Engine, spec: LayerSpec) -> dict[str, Any] | None:
    """Spatial (CRS84) and temporal (updated_at) extent, or None for an empty layer."""
    t = _table(spec)
    box = sa.func.ST_Extent(t.c.geom).label("box")
    inner = sa.select(box, sa.func.min(t.c.updated_at).label("t0"), sa.func.max(t.c.updated_at).label("t1")
                      ).select_from(t).subquery()
    stmt = sa.select(sa.func.ST_XMin(inner.c.box), sa.func.ST_YMin(inner.c.box), sa.func.ST_XMax(inner.c.box),
                     sa.func.ST_YMax(inner.c.box), inner.c.t0, inner.c.t1)
    with engine.connect() as conn:
        row = conn.execute(stmt).one()
    if row[0] is None:
        return None
    return {"spatial": {"bbox": [[float(v) for v in row[:4]]], "crs": CRS84},
            "temporal": {"interval": [[row[4].isoformat(), row[5].isoformat()]], "trs": GREGORIAN}}


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
GREGORIAN = "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"
