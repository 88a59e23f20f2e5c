"""Feature history: what a run changed (diff) and undoing it exactly (revert), itself recorded as a run."""
from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from geo.errors import RevertConflict, RunError
from ingest import ledger
from layers import REGISTRY
from layers.spec import LayerSpec

_LINEAGE = {"id", "ingest_run_id", "created_at", "updated_at"}


@dataclass
class Change:
    op: str
    layer: str
    key: dict
    fields: list[str]
    geom_changed: bool | None


def diff(conn: psycopg.Connection, run_id: int) -> list[Change]:
    """The features a run inserted, updated or deleted, with the fields an update changed.

    History rows and insert spans come in one order: by ``history_id`` (both draw it from the same sequence),
    a span's features by id — as the per-feature 'insert' rows the span stands for would have come.
    """
    ledger.get(conn, run_id)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT history_id, op, layer, feature_key, old_attrs, new_attrs, geom_changed "
                           "FROM feature_history WHERE run_id = %s ORDER BY history_id", (run_id,)).fetchall()
        spans = cur.execute("SELECT history_id, layer, first_id, last_id FROM feature_insert_spans "
                            "WHERE run_id = %s ORDER BY history_id", (run_id,)).fetchall()
    out: list[tuple[int, int, Change]] = []
    for r in rows:
        fields: list[str] = []
        if r["op"] == "update" and r["old_attrs"] and r["new_attrs"]:
            fields = sorted(k for k in r["new_attrs"] if k not in _LINEAGE
                            and r["old_attrs"].get(k) != r["new_attrs"].get(k))
            if r["geom_changed"]:
                fields.append("geom")
        out.append((r["history_id"], 0, Change(r["op"], r["layer"], r["feature_key"], fields, r["geom_changed"])))
    for s in spans:
        out.extend((s["history_id"], fid, Change("insert", s["layer"], key, [], None))
                   for fid, key in _span_keys(conn, REGISTRY.get(s["layer"]), s))
    out.sort(key=lambda e: (e[0], e[1]))
    return [c for _hid, _fid, c in out]


def _span_keys(conn: psycopg.Connection, spec: LayerSpec, span: dict) -> list[tuple[int, dict]]:
    """(feature id, natural key) of every feature of an insert span, by id.

    The key of a feature id never changes: it is the live row's or — once a later run deleted the feature —
    the one on the first later history row of that id (the delete's).
    """
    q = sql.SQL("""SELECT f.id, coalesce(CASE WHEN t.id IS NOT NULL THEN {keyjson} END, d.feature_key,
                         jsonb_build_object('id', f.id))
FROM generate_series(%(first)s::bigint, %(last)s::bigint) AS f (id)
LEFT JOIN {tbl} t ON t.id = f.id
LEFT JOIN LATERAL (SELECT h.feature_key FROM feature_history h
                   WHERE t.id IS NULL AND h.layer = %(layer)s AND h.feature_id = f.id AND h.history_id > %(hid)s
                   ORDER BY h.history_id LIMIT 1) d ON true
ORDER BY f.id""").format(keyjson=_key_json(spec, "t"), tbl=sql.Identifier(spec.table))
    params = {"first": span["first_id"], "last": span["last_id"], "layer": spec.name, "hid": span["history_id"]}
    return conn.execute(q, params).fetchall()


def _conflicts(conn: psycopg.Connection, run_id: int) -> list[dict]:
    """Features of the run that a later run changed again: reverting would overwrite that work.

    The run's changes are its history rows and its insert spans; a later change is a history row (or, to be
    safe, a span) of the same layer and feature id with a greater ``history_id`` and another run.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("""
SELECT layer, feature_key, min(later_run) AS later_run FROM (
  SELECT h.layer, h.feature_key, l.run_id AS later_run FROM feature_history h
  JOIN feature_history l ON l.layer = h.layer AND l.feature_id = h.feature_id
   AND l.history_id > h.history_id AND l.run_id <> h.run_id
  WHERE h.run_id = %(run)s
  UNION ALL
  SELECT h.layer, h.feature_key, l.run_id FROM feature_history h
  JOIN feature_insert_spans l ON l.layer = h.layer AND h.feature_id BETWEEN l.first_id AND l.last_id
   AND l.history_id > h.history_id AND l.run_id <> h.run_id
  WHERE h.run_id = %(run)s
  UNION ALL
  SELECT s.layer, l.feature_key, l.run_id FROM feature_insert_spans s
  JOIN feature_history l ON l.layer = s.layer AND l.feature_id BETWEEN s.first_id AND s.last_id
   AND l.history_id > s.history_id AND l.run_id <> s.run_id
  WHERE s.run_id = %(run)s
  UNION ALL
  SELECT s.layer, jsonb_build_object('id_from', greatest(s.first_id, l.first_id), 'id_to', least(s.last_id, l.last_id)),
         l.run_id FROM feature_insert_spans s
  JOIN feature_insert_spans l ON l.layer = s.layer AND l.first_id <= s.last_id AND l.last_id >= s.first_id
   AND l.history_id > s.history_id AND l.run_id <> s.run_id
  WHERE s.run_id = %(run)s
) c GROUP BY layer, feature_key ORDER BY later_run, feature_key::text""", {"run": run_id}).fetchall()


def revert(conn: psycopg.Connection, run_id: int, who: str) -> int:
    """Undo every change of ``run_id`` in one transaction; returns the new (revert) run's id."""
    target = ledger.get(conn, run_id)
    if target["reverted_by_run_id"] is not None:
        raise RunError(f"lần nạp {run_id} đã được hoàn tác / run {run_id} was already reverted by run "
                       f"{target['reverted_by_run_id']}")
    if target["status"] not in ledger.FINAL_OK:
        raise RunError(f"lần nạp {run_id} không ghi dữ liệu / run {run_id} wrote nothing (status "
                       f"{target['status']}); there is nothing to revert")
    conflicts = _conflicts(conn, run_id)
    if conflicts:
        listed = "; ".join(f"{c['layer']} {c['feature_key']} (run {c['later_run']})" for c in conflicts[:10])
        raise RevertConflict(f"không thể hoàn tác / cannot revert run {run_id}: {len(conflicts)} feature(s) were "
                             f"changed again later: {listed}. Revert the later runs first.")
    new_run = ledger.start(conn, ledger.RunStart("revert", target["layer"], who, {"reverts": run_id},
                                                 reverts_run_id=run_id))
    try:
        counts = _undo(conn, REGISTRY.get(target["layer"]), run_id, new_run)
        ledger.finish(conn, new_run, "succeeded", n_inserted=counts["insert"], n_updated=counts["update"],
                      n_deleted=counts["delete"])
        conn.execute("UPDATE ingest_runs SET reverted_by_run_id = %s WHERE run_id = %s", (new_run, run_id))
        conn.commit()
    except BaseException:
        conn.rollback()
        ledger.finish(conn, new_run, "failed", error="revert failed; nothing was changed")
        conn.commit()
        raise
    return new_run


def _undo(conn: psycopg.Connection, spec: LayerSpec, run_id: int, new_run: int) -> dict[str, int]:
    """Inserted → deleted, updated → previous version restored, deleted → re-inserted with its old id.

    A run's inserts are its 'insert' history rows and every id of its insert spans; each deleted feature gets a
    'delete' history row (its key, attributes and geometry), whichever way its insert was recorded.
    """
    tbl = sql.Identifier(spec.table)
    cols = ["id", *spec.field_names, *spec.derived_columns, "ingest_run_id", "created_at", "updated_at"]
    colsql = sql.SQL(", ").join(sql.Identifier(c) for c in cols)
    rcols = sql.SQL(", ").join(sql.SQL("r.{}").format(sql.Identifier(c)) for c in cols)
    hist = ("INSERT INTO feature_history (run_id, layer, feature_id, feature_key, op, old_attrs, old_geom, "
            "new_attrs, geom_changed) ")
    params = {"run": run_id, "new": new_run, "layer": spec.name}
    steps = [
        ("delete", sql.SQL("""WITH x AS (DELETE FROM {tbl} t USING feature_history h
  WHERE h.run_id = %(run)s AND h.op = 'insert' AND t.id = h.feature_id RETURNING t.*, h.feature_key AS fk)
""" + hist + "SELECT %(new)s, %(layer)s, x.id, x.fk, 'delete', to_jsonb(x) - 'geom' - 'fk', x.geom, NULL, NULL "
                           "FROM x").format(tbl=tbl)),
        ("delete", sql.SQL("""WITH x AS (DELETE FROM {tbl} t USING feature_insert_spans s
  WHERE s.run_id = %(run)s AND s.layer = %(layer)s AND t.id BETWEEN s.first_id AND s.last_id RETURNING t.*)
""" + hist + "SELECT %(new)s, %(layer)s, x.id, {keyjson}, 'delete', to_jsonb(x) - 'geom', x.geom, NULL, NULL "
                           "FROM x").format(tbl=tbl, keyjson=_key_json(spec))),
        ("update", sql.SQL("""WITH cur AS (SELECT t.* FROM {tbl} t JOIN feature_history h ON t.id = h.feature_id
  WHERE h.run_id = %(run)s AND h.op = 'update'),
x AS (UPDATE {tbl} t SET ({cols}, geom) = ({rcols}, h.old_geom)
  FROM feature_history h, jsonb_populate_record(NULL::{tbl}, h.old_attrs) r
  WHERE h.run_id = %(run)s AND h.op = 'update' AND t.id = h.feature_id RETURNING t.*, h.feature_key AS fk)
""" + hist + "SELECT %(new)s, %(layer)s, x.id, x.fk, 'update', to_jsonb(c) - 'geom', c.geom, "
                           "to_jsonb(x) - 'geom' - 'fk', NOT (c.geom = x.geom) "
                           "FROM x JOIN cur c ON c.id = x.id").format(tbl=tbl, cols=colsql, rcols=rcols)),
        ("insert", sql.SQL("""WITH x AS (INSERT INTO {tbl} ({cols}, geom)
  SELECT {rcols}, h.old_geom FROM feature_history h, jsonb_populate_record(NULL::{tbl}, h.old_attrs) r
  WHERE h.run_id = %(run)s AND h.op = 'delete' RETURNING *)
""" + hist + "SELECT %(new)s, %(layer)s, x.id, {keyjson}, 'insert', NULL, NULL, NULL, NULL FROM x").format(
            tbl=tbl, cols=colsql, rcols=rcols, keyjson=_key_json(spec))),
    ]
    counts = {"insert": 0, "update": 0, "delete": 0}
    for op, q in steps:
        counts[op] += conn.execute(q, params).rowcount
    return counts


def _key_json(spec: LayerSpec, alias: str = "x") -> sql.Composed:
    parts = [sql.SQL("{}, {}.{}").format(sql.Literal(k), sql.Identifier(alias), sql.Identifier(k))
             for k in spec.natural_key]
    return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(parts))


def record_insert_span(conn: psycopg.Connection, layer: str, run_id: int, first_id: int, last_id: int) -> None:
    """Record that ``run_id`` inserted every feature of ``layer`` whose id is in ``first_id``..``last_id``.

    One row for a whole first load instead of one 'insert' history row per feature: an insert has no previous
    version, and the key of each id is the live row's (or, once deleted, on the delete's history row).
    """
    conn.execute("INSERT INTO feature_insert_spans (run_id, layer, first_id, last_id) VALUES (%s, %s, %s, %s)",
                 (run_id, layer, first_id, last_id))
