"""Staging by binary COPY and the idempotent merge (upsert + history) of one file, inside one transaction."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from geo.crs import STORAGE_EPSG
from geo.geometry import metric_measures, storage_wkb
from ingest import arrow_copy, history
from ingest.arrow_copy import Field
from layers.spec import FieldType, LayerSpec

STAGE = "ingest_stage"
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
    attrs = attrs.reset_index(drop=True)
    wkb = storage_wkb(geoms)
    arrow_copy.copy(conn, sql.Identifier(STAGE), [
        Field("rec", "int4", pa.array(np.asarray(records, dtype=np.int32))),
        *(Field(f.name, _ARROW_KIND[f.type], _arrow_column(f.type, attrs[f.name])) for f in spec.fields),
        Field("geom_wkb", "bytes", wkb)])
    return len(records)


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


# ------------------------------------------------------------------------------------------ first-load fast path
def is_empty(conn: psycopg.Connection, spec: LayerSpec) -> bool:
    q = sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(sql.Identifier(spec.table))
    return bool(conn.execute(q).fetchone()[0])


def keys_exist(conn: psycopg.Connection, spec: LayerSpec, attrs: pd.DataFrame) -> bool:
    """Whether any of these natural keys is already in the table (asked under the load's table lock)."""
    if is_empty(conn, spec):
        return False
    fields = {f.name: f for f in spec.fields}
    arrays = sql.SQL(", ").join(sql.SQL("%s::{}[]").format(sql.SQL(fields[k].type.sql)) for k in spec.natural_key)
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM unnest({arrays}) AS k ({names}) JOIN {tbl} t ON {on})").format(
        arrays=arrays, names=_ident(*spec.natural_key), tbl=sql.Identifier(spec.table),
        on=_key_join(spec, "k", "t"))
    return bool(conn.execute(q, [_column_values(attrs[k], fields[k].type) for k in spec.natural_key]).fetchone()[0])


def _column_values(s: pd.Series, ftype: FieldType) -> list:
    if ftype is FieldType.INTEGER:
        return [None if v is pd.NA else int(v) for v in s.astype(object)]
    if ftype is FieldType.NUMBER:
        return [None if v != v else float(v) for v in s.astype("float64").tolist()]
    if ftype is FieldType.BOOLEAN:
        return [None if v is pd.NA else bool(v) for v in s.astype(object)]
    return s.astype(object).where(s.notna(), None).tolist()


def insert_new(conn: psycopg.Connection, spec: LayerSpec, attrs: pd.DataFrame, geoms: np.ndarray,
               run_id: int) -> MergeCounts:
    """Write features none of whose keys is in the table yet: what ``merge`` would write, more cheaply."""
    return insert_stream(conn, spec, run_id, [(attrs, geoms, None)], expected=len(attrs))


# typed attributes (as checks.check or checks.check_arrow give them), geometries, source WKB (see storage_wkb)
Batch = tuple["pd.DataFrame | pa.Table", np.ndarray, "pa.Array | None"]


def insert_stream(conn: psycopg.Connection, spec: LayerSpec, run_id: int, batches: Iterable[Batch], *,
                  expected: int | None, progress: Callable[[str], None] | None = None) -> MergeCounts:
    """COPY batches of new features (typed attributes, checked WGS 84 geometries) straight into the layer.

    Every row is an insert with no previous version (the caller has made sure no key is in the table, under
    the load's table lock), so there is nothing to stage, join or compare: ids continue the table's identity
    sequence, derived measures are computed here (UTM 48N, as the SQL path), and each batch is encoded as
    binary COPY rows by Arrow's kernels and queued to a writer thread, so that the next batch is read and
    checked while the server stores this one. The history records the run's block of ids once
    (``feature_insert_spans``). Into an empty table the spatial index is built once at the end instead of being
    grown row by row (as pg_restore and ogr2ogr do); that drop/create holds an exclusive lock until commit,
    which only makes readers of an empty table wait. ``batches`` may raise to abandon the load: the COPY is
    cancelled and the caller rolls back.
    """
    seq = conn.execute("SELECT pg_get_serial_sequence(%s, 'id')", (spec.table,)).fetchone()[0]
    rebuild = _spatial_indexes(conn, spec.table) if is_empty(conn, spec) and (
        expected is None or expected >= _REBUILD_MIN_ROWS) else []
    for name, _ddl in rebuild:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    # Ids are numbered here from one nextval, and the sequence is moved past them after the COPY. Safe because
    # every writer of a layer table is a load holding the table lock (a stray nextval from elsewhere in between
    # could only make this load fail on the primary key, never share an id).
    first = next_id = conn.execute("SELECT nextval(%s)", (seq,)).fetchone()[0]
    names = ["id", *spec.field_names, "geom", *spec.derived_columns, "ingest_run_id"]
    q = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(sql.Identifier(spec.table), _ident(*names))
    with conn.cursor() as cur, cur.copy(q, writer=QueuedLibpqWriter(cur)) as cp:
        cp.write(arrow_copy.HEADER)
        for attrs, geoms, wkb in batches:
            for lo in range(0, len(attrs), _ENCODE_ROWS):
                part = attrs.slice(lo, _ENCODE_ROWS) if isinstance(attrs, pa.Table) else \
                    attrs.iloc[lo:lo + _ENCODE_ROWS].reset_index(drop=True)
                fields = _row_fields(spec, part, geoms[lo:lo + _ENCODE_ROWS], run_id, next_id,
                                     None if wkb is None else wkb.slice(lo, _ENCODE_ROWS))
                cp.write(memoryview(arrow_copy.encode(fields)))
                next_id += len(part)
        cp.write(arrow_copy.TRAILER)
    n = next_id - first
    if n:
        conn.execute("SELECT setval(%s, %s)", (seq, next_id - 1))
        history.record_insert_span(conn, spec.name, run_id, first, next_id - 1)
    if rebuild and progress is not None:
        progress(f"dựng chỉ mục không gian cho {n:,} đối tượng / building the spatial index of {n:,} features")
    if rebuild:
        # A sorted GiST build of a large layer is ~20 % faster when its sort fits in memory.
        conn.execute("SELECT set_config('maintenance_work_mem', '256MB', true) WHERE "
                     "pg_size_bytes(current_setting('maintenance_work_mem')) < pg_size_bytes('256MB')")
    for _name, ddl in rebuild:
        conn.execute(ddl)
    return MergeCounts(inserted=n)


_ENCODE_ROWS = 50_000  # rows per encoded COPY block (Arrow's 32-bit offsets cap a block at 2 GB)


def _row_fields(spec: LayerSpec, attrs: pd.DataFrame | pa.Table, geoms: np.ndarray, run_id: int, first_id: int,
                wkb: pa.Array | None) -> list[Field]:
    n = len(attrs)
    area, length = metric_measures(geoms)
    derived = {"area_ha": area, "length_m": length}
    return [Field("id", "int8", pa.array(np.arange(first_id, first_id + n, dtype=np.int64))),
            *(Field(f.name, _ARROW_KIND[f.type], attrs.column(f.name) if isinstance(attrs, pa.Table) else
                    _arrow_column(f.type, attrs[f.name])) for f in spec.fields),
            Field("geom", "bytes", storage_wkb(geoms, STORAGE_EPSG, source=wkb)),
            *(Field(d, "float8", pa.array(derived[d], from_pandas=True)) for d in spec.derived_columns),
            Field("ingest_run_id", "int8", pa.array(np.full(n, run_id, dtype=np.int64)))]


_ARROW_KIND = {FieldType.TEXT: "text", FieldType.INTEGER: "int8", FieldType.NUMBER: "float8",
               FieldType.DATE: "date", FieldType.BOOLEAN: "bool"}


def _arrow_column(ftype: FieldType, s: pd.Series) -> pa.Array:
    if ftype is FieldType.DATE:
        return pa.array(s.astype(object).where(s.notna(), None).tolist(), type=pa.date32())
    if ftype is FieldType.TEXT:
        return pa.array(s.astype(object).where(s.notna(), None) if s.dtype == object else s, type=pa.string(),
                        from_pandas=True)
    return pa.array(s, from_pandas=True)


_REBUILD_MIN_ROWS = 10_000  # below this, growing the index row by row costs less than a drop and a build


def _spatial_indexes(conn: psycopg.Connection, table: str) -> list[tuple[str, str]]:
    return conn.execute(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "JOIN pg_am am ON am.oid = c.relam WHERE i.indrelid = %s::regclass AND am.amname = 'gist' "
        "AND NOT i.indisprimary AND NOT i.indisunique", (table,)).fetchall()
