"""Staging by binary COPY and the idempotent merge (upsert + history) of one file, inside one transaction."""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from layers.spec import FieldType, LayerSpec

STAGE = "ingest_stage"
_COPY_TYPES = {FieldType.TEXT: "text", FieldType.INTEGER: "int8", FieldType.NUMBER: "float8",
               FieldType.DATE: "date", FieldType.BOOLEAN: "bool"}
# Derived measures are computed in a metric CRS (UTM 48N), never in degrees.
_DERIVED_SQL = {
    "area_ha": "CASE WHEN GeometryType(g) = 'MULTIPOLYGON' THEN ST_Area(ST_Transform(g, 32648)) / 10000.0 END",
    "length_m": "CASE WHEN GeometryType(g) = 'MULTILINESTRING' THEN ST_Length(ST_Transform(g, 32648)) END",
}


@dataclass
class MergeCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0


def _ident(*names: str) -> sql.Composed:
    return sql.SQL(", ").join(sql.Identifier(n) for n in names)


def stage(conn: psycopg.Connection, spec: LayerSpec, attrs: pd.DataFrame, geoms: np.ndarray,
          records: np.ndarray) -> int:
    """Create the temporary staging table and binary-COPY the accepted records into it."""
    cols = [sql.SQL("{} {}").format(sql.Identifier(f.name), sql.SQL(f.type.sql)) for f in spec.fields]
    conn.execute(sql.SQL("CREATE TEMP TABLE {} (rec integer, {}, geom_wkb bytea) ON COMMIT DROP").format(
        sql.Identifier(STAGE), sql.SQL(", ").join(cols)))
    copy_sql = sql.SQL("COPY {} (rec, {}, geom_wkb) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(STAGE), _ident(*spec.field_names))
    types = ["int4", *(_COPY_TYPES[f.type] for f in spec.fields), "bytea"]
    with conn.cursor() as cur, cur.copy(copy_sql) as copy:
        copy.set_types(types)
        for row in _rows(spec, attrs, geoms, records):
            copy.write_row(row)
    return len(records)


def _rows(spec: LayerSpec, attrs: pd.DataFrame, geoms: np.ndarray, records: np.ndarray) -> Iterator[tuple]:
    columns = [records.tolist()]
    for f in spec.fields:
        s = attrs[f.name]
        if f.type is FieldType.INTEGER:
            columns.append([None if v is pd.NA else int(v) for v in s.astype(object)])
        elif f.type is FieldType.NUMBER:
            columns.append([None if v != v else float(v) for v in s.astype("float64").tolist()])
        elif f.type is FieldType.BOOLEAN:
            columns.append([None if v is pd.NA else bool(v) for v in s.astype(object)])
        else:
            columns.append(s.astype(object).where(s.notna(), None).tolist())
    columns.append(shapely.to_wkb(geoms, output_dimension=2).tolist())
    return zip(*columns)


def transition_conflicts(conn: psycopg.Connection, spec: LayerSpec) -> list[tuple[int, str, str, str]]:
    """(record, field, old, new) for staged rows whose status change the spec does not allow."""
    out: list[tuple[int, str, str, str]] = []
    for fname in spec.transitions:
        q = sql.SQL("SELECT s.rec, t.{f}, s.{f} FROM {stage} s JOIN {tbl} t ON {on} "
                    "WHERE t.{f} IS DISTINCT FROM s.{f}").format(
            f=sql.Identifier(fname), stage=sql.Identifier(STAGE), tbl=sql.Identifier(spec.table),
            on=_key_join(spec, "s", "t"))
        for rec, old, new in conn.execute(q):
            if not spec.allowed_transition(fname, old, new):
                out.append((rec, fname, old, new))
    return out


def drop_records(conn: psycopg.Connection, records: list[int]) -> None:
    conn.execute(sql.SQL("DELETE FROM {} WHERE rec = ANY(%s)").format(sql.Identifier(STAGE)), [records])


def _key_join(spec: LayerSpec, a: str, b: str) -> sql.Composed:
    return sql.SQL(" AND ").join(
        sql.SQL("{}.{} = {}.{}").format(sql.Identifier(a), sql.Identifier(k), sql.Identifier(b), sql.Identifier(k))
        for k in spec.natural_key)


def _key_json(spec: LayerSpec, alias: str) -> sql.Composed:
    parts = [sql.SQL("{}, {}.{}").format(sql.Literal(k), sql.Identifier(alias), sql.Identifier(k))
             for k in spec.natural_key]
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(parts))


def _any_existing(conn: psycopg.Connection, spec: LayerSpec) -> bool:
    """Whether any staged key is already in the table (asked under the load's table lock, so it holds)."""
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {tbl} t JOIN {stage} src ON {on})").format(
        tbl=sql.Identifier(spec.table), stage=sql.Identifier(STAGE), on=_key_join(spec, "t", "src"))
    return bool(conn.execute(q).fetchone()[0])


def _src_sql(spec: LayerSpec) -> sql.Composed:
    """The staged rows as table rows: geometry parsed once ('OFFSET 0' keeps the subquery from being
    flattened, which would parse the WKB again for every use of g) and derived measures computed."""
    derived_sql = sql.SQL("").join(sql.SQL(", {} AS {}").format(sql.SQL(_DERIVED_SQL[d]), sql.Identifier(d))
                                   for d in spec.derived_columns)
    return sql.SQL("""src AS (
  SELECT {fields}, g AS geom{derived}
  FROM (SELECT s.*, ST_GeomFromWKB(s.geom_wkb, 4326) AS g FROM {stage} s OFFSET 0) s
)""").format(fields=_ident(*spec.field_names), derived=derived_sql, stage=sql.Identifier(STAGE))


def _upsert_sql(spec: LayerSpec) -> sql.Composed:
    """Insert new keys, update existing ones that really differ; history of both with the previous version.

    'before' joins the staging table (same keys as src), so src is used once and streams into the INSERT
    instead of being materialised.
    """
    values = [*spec.field_names, "geom", *spec.derived_columns]
    changing = [c for c in values if c not in spec.natural_key]
    return sql.SQL("""
WITH {src}, before AS (
  SELECT t.* FROM {tbl} t JOIN {stage} src ON {on}
), up AS (
  INSERT INTO {tbl} AS t ({values}, ingest_run_id)
  SELECT {values}, %(run)s FROM src
  ON CONFLICT ({key}) DO UPDATE SET {sets}, ingest_run_id = EXCLUDED.ingest_run_id, updated_at = now()
  WHERE ({old}) IS DISTINCT FROM ({new})
  RETURNING t.*
), h AS (
  INSERT INTO feature_history (run_id, layer, feature_id, feature_key, op, old_attrs, old_geom, new_attrs,
                               geom_changed)
  SELECT %(run)s, %(layer)s, up.id, {keyjson}, CASE WHEN b.id IS NULL THEN 'insert' ELSE 'update' END,
         to_jsonb(b) - 'geom', b.geom, CASE WHEN b.id IS NULL THEN NULL ELSE to_jsonb(up) - 'geom' END,
         CASE WHEN b.id IS NULL THEN NULL ELSE NOT (b.geom = up.geom) END
  FROM up LEFT JOIN before b ON b.id = up.id
  RETURNING op
)
SELECT op, count(*) FROM h GROUP BY op""").format(
        src=_src_sql(spec), stage=sql.Identifier(STAGE), tbl=sql.Identifier(spec.table),
        on=_key_join(spec, "t", "src"), values=_ident(*values), key=_ident(*spec.natural_key),
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in changing),
        old=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in changing),
        new=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in changing),
        keyjson=_key_json(spec, "up"))


def _insert_sql(spec: LayerSpec) -> sql.Composed:
    """What _upsert_sql does when no staged key exists yet: every row an insert with no previous version."""
    values = [*spec.field_names, "geom", *spec.derived_columns]
    return sql.SQL("""
WITH {src}, up AS (
  INSERT INTO {tbl} AS t ({values}, ingest_run_id)
  SELECT {values}, %(run)s FROM src
  RETURNING t.id, {keys}
), h AS (
  INSERT INTO feature_history (run_id, layer, feature_id, feature_key, op, old_attrs, old_geom, new_attrs,
                               geom_changed)
  SELECT %(run)s, %(layer)s, up.id, {keyjson}, 'insert', NULL, NULL, NULL, NULL
  FROM up
  RETURNING op
)
SELECT op, count(*) FROM h GROUP BY op""").format(
        src=_src_sql(spec), tbl=sql.Identifier(spec.table), values=_ident(*values),
        keys=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(k)) for k in spec.natural_key),
        keyjson=_key_json(spec, "up"))


def merge(conn: psycopg.Connection, spec: LayerSpec, run_id: int) -> MergeCounts:
    """Upsert staged rows by natural key; only rows that really differ are written, each with history."""
    # JIT off: the planner's guess for the never-analysed staging table makes it compile for ~1 s, which
    # cannot speed up PostGIS functions. When no staged key is in the table yet (a first load), the plain
    # INSERT writes exactly what the upsert would (every row an insert, ids taken in the same order) without
    # the upsert's per-row speculative insertion, its join with the (empty) previous versions, and carrying
    # whole rows to the history; the table lock keeps other loads from adding keys meanwhile.
    conn.execute("SET LOCAL jit = off")
    q = _upsert_sql(spec) if _any_existing(conn, spec) else _insert_sql(spec)
    counts = dict(conn.execute(q, {"run": run_id, "layer": spec.name}).fetchall())
    staged = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STAGE))).fetchone()[0]
    ins, upd = counts.get("insert", 0), counts.get("update", 0)
    return MergeCounts(inserted=ins, updated=upd, unchanged=staged - ins - upd)


def delete_missing(conn: psycopg.Connection, spec: LayerSpec, run_id: int) -> int:
    """Sync mode: delete features of the layer that the file no longer has (kept in history)."""
    q = sql.SQL("""
WITH del AS (
  DELETE FROM {tbl} t WHERE NOT EXISTS (SELECT 1 FROM {stage} s WHERE {on}) RETURNING t.*
), h AS (
  INSERT INTO feature_history (run_id, layer, feature_id, feature_key, op, old_attrs, old_geom)
  SELECT %(run)s, %(layer)s, del.id, {keyjson}, 'delete', to_jsonb(del) - 'geom', del.geom FROM del
  RETURNING 1
)
SELECT count(*) FROM h""").format(tbl=sql.Identifier(spec.table), stage=sql.Identifier(STAGE),
                                  on=_key_join(spec, "s", "t"), keyjson=_key_json(spec, "del"))
    return conn.execute(q, {"run": run_id, "layer": spec.name}).fetchone()[0]
