"""The load of one observation file (read → check → binary COPY stage → upsert by key) and its exact revert."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple
from pathlib import Path

import pandas as pd
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from geo.aqi import POLLUTANTS
from geo.db import raw_connection
from geo.errors import DatabaseError, InputError, RevertConflict, RunError
from geo.settings import IngestSettings
from ingest import indices, ledger
from ingest.obs_checks import CheckedObservations, Parameter, check_observations
from ingest.obs_readers import read_observations
from ingest.pipeline import LoadResult, run_guarded
from ingest.report import write_rejects

LAYER = "measurements"
STAGE = "obs_stage"
KEY = ("station_code", "parameter", "measured_at", "period")
VALUES = ("value", "original_value", "original_unit", "qc_flag", "status", "instrument_status")
MEDIUM = {"stateair": "air", "openaq": "air", "water": "water", "long": None}
AIR = list(POLLUTANTS)   # the parameters whose hourly readings feed the AQI and QCVN tables
_COPY_TYPES = ("int4", "text", "text", "timestamptz", "text", "float8", "float8", "text", "text", "text", "text")
Progress = Callable[[str], None]


@dataclass
class ObsOptions:
    station: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    status: str = "provisional"
    dry_run: bool = False
    skip_invalid: bool = False

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False, {}, [])}


def load_parameters(conn: psycopg.Connection) -> dict[str, Parameter]:
    rows = conn.execute("SELECT code, medium, unit, molecular_weight, min_value, max_value, aliases "
                        "FROM parameters").fetchall()
    return {r[0]: Parameter(r[0], r[1], r[2], r[3], r[4], r[5], tuple(r[6])) for r in rows}


def known_stations(conn: psycopg.Connection, codes: list[str]) -> set[str]:
    rows = conn.execute("SELECT code FROM monitoring_stations WHERE code = ANY(%s)", (codes,)).fetchall()
    return {r[0] for r in rows}


def load_observations(engine: Engine, kind: str, path: Path, options: ObsOptions, *,
                      ingest_settings: IngestSettings, who: str | None = None,
                      progress: Progress | None = None) -> LoadResult:
    """Load one observation file; any failure writes nothing but the ledger row (and the rejects report)."""
    say = progress or (lambda _msg: None)
    path = Path(path)
    sha, size = ledger.sha256_of(path) if path.is_file() else (None, None)
    result = LoadResult(None, "running", LAYER, path.name)
    with raw_connection(engine) as conn:
        if not options.dry_run:
            run = ledger.RunStart("load", LAYER, ledger.who(who or ingest_settings.user),
                                  {"kind": kind, **options.as_json()}, path.name, str(path.resolve()), sha, size)
            result.run_id = ledger.start(conn, run)
        run_guarded(conn, result, lambda: _load(conn, kind, path, options, result, say),
                    lambda: _close_run(conn, result, ingest_settings))
    return result


def _load(conn: psycopg.Connection, kind: str, path: Path, options: ObsOptions, result: LoadResult,
          say: Progress) -> None:
    say("đọc tệp / reading")
    raw = read_observations(kind, path, options.mapping, options.station)
    if raw.empty:
        raise InputError("tệp không có số liệu nào / the file has no readings", file=path.name)
    say(f"kiểm tra {len(raw)} dòng / checking {len(raw)} rows")
    stations = known_stations(conn, sorted(raw["station"].dropna().astype(str).str.strip().unique().tolist()))
    checked = check_observations(raw, load_parameters(conn), stations, pd.Timestamp.now(tz="UTC"), MEDIUM.get(kind))
    result.n_read, result.problems, result.rejected = checked.n_read, checked.problems, checked.n_rejected
    if checked.unknown_stations:
        result.notes.append(f"stations not in monitoring_stations (rows rejected): "
                            f"{', '.join(checked.unknown_stations)}")
    if options.dry_run:
        result.status = "dry_run"
        return
    if checked.n_rejected and not options.skip_invalid:
        result.status = "rejected"
        result.error = (f"{checked.n_rejected} of {checked.n_read} row(s) failed the checks; nothing was written "
                        "(see the rejects report, or load the valid rows with --skip-invalid)")
        return
    if checked.rows.empty:
        raise InputError("no row passed the checks; nothing was written", file=path.name)
    _write(conn, checked, options, result, say)


def _write(conn: psycopg.Connection, checked: CheckedObservations, options: ObsOptions, result: LoadResult,
           say: Progress) -> None:
    """Everything from here to COMMIT (in _close_run) is one transaction: a kill leaves the table as it was."""
    ledger.set_backend(conn, result.run_id, conn.info.backend_pid)
    conn.commit()
    # Serialise loads into measurements so that two files cannot interleave their upserts of the same hours.
    conn.execute("LOCK TABLE measurements IN SHARE ROW EXCLUSIVE MODE")
    say(f"nạp tạm {len(checked.rows)} dòng / staging {len(checked.rows)} rows (binary COPY)")
    stage(conn, checked.rows, options.status)
    conn.execute(f"SELECT ensure_measurement_partitions(m, m) FROM (SELECT DISTINCT "
                 f"date_trunc('month', measured_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS m FROM {STAGE}) x")
    say("hợp nhất / merging")
    merged = merge(conn, result.run_id)
    result.inserted, result.updated = merged.inserted, merged.updated
    result.unchanged = len(checked.rows) - merged.inserted - merged.updated
    # Before the ledger's final update, in this transaction: the data_versions bump its trigger makes then
    # covers the new indices too, and a failed refresh rolls the readings back with it.
    say("làm mới chỉ số / refreshing stored indices")
    counts = indices.refresh_touched(conn, merged.touched)
    result.notes.append(record_indices(conn, result.run_id, counts))
    result.status = "succeeded_with_rejects" if result.rejected else "succeeded"


def stage(conn: psycopg.Connection, rows: pd.DataFrame, status: str) -> None:
    """Temporary staging table filled by binary COPY (about 10× faster than INSERTs of the same rows)."""
    conn.execute(f"CREATE TEMP TABLE {STAGE} (rec int4, station_code text, parameter text, measured_at timestamptz, "
                 "period text, value float8, original_value float8, original_unit text, qc_flag text, "
                 "status text, instrument_status text) ON COMMIT DROP")
    def text(s: pd.Series) -> list:
        return s.astype(object).where(s.notna(), None).tolist()

    def number(s: pd.Series) -> list:
        return [None if v != v else v for v in s.astype("float64").tolist()]

    n = len(rows)
    columns = [rows["line"].astype(int).tolist(), text(rows["station_code"]), text(rows["parameter"]),
               list(rows["measured_at"].dt.to_pydatetime()), text(rows["period"]), number(rows["value"]),
               number(rows["original_value"]), text(rows["original_unit"]), text(rows["qc_flag"]), [status] * n,
               text(rows["instrument_status"])]
    with conn.cursor() as cur, cur.copy(f"COPY {STAGE} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(list(_COPY_TYPES))
        for row in zip(*columns):
            copy.write_row(row)


class Merged(NamedTuple):
    inserted: int
    updated: int
    touched: indices.Touched


def record_indices(conn: psycopg.Connection, run_id: int | None, counts: indices.RefreshCounts) -> str:
    """Keep the refresh counts in the run's options (the ledger) and return the line the CLI shows."""
    if run_id is not None:
        conn.execute("UPDATE ingest_runs SET options = options || jsonb_build_object('indices_refreshed', "
                     "%s::jsonb) WHERE run_id = %s", (Jsonb(counts.as_json()), run_id))
    return f"chỉ số đã làm mới / stored indices refreshed: {counts.describe()}"


def _touched(rows: list[tuple]) -> indices.Touched:
    touched = indices.Touched()
    for what, station, lo, hi in rows:
        if what == "air":
            touched.air[station] = (lo, hi)
        else:
            touched.water.append((station, lo))
    return touched


# Per station the span of the air hours, and each water sample set, among rows ``src`` changed.
_TOUCHED_SQL = """
SELECT 'air', station_code, min(measured_at), max(measured_at) FROM {src}
WHERE period = '1h' AND parameter = ANY(%(air)s) GROUP BY station_code
UNION ALL
SELECT 'water', station_code, measured_at, measured_at FROM {src} WHERE period = 'sample'
GROUP BY station_code, measured_at"""


def touched_by_run(conn: psycopg.Connection, run_id: int) -> indices.Touched:
    """What a revert run changed, from its change log (every row it deleted or restored is logged there)."""
    src = "(SELECT * FROM measurement_changes WHERE run_id = %(run)s) c"
    return _touched(conn.execute(_TOUCHED_SQL.format(src=src), {"run": run_id, "air": AIR}).fetchall())


def merge(conn: psycopg.Connection, run_id: int | None) -> Merged:
    """Upsert by key; only rows that really differ are written, each with its previous version logged.

    Also returns what the written rows touched (for the index refresh): rows left unchanged touch nothing.
    """
    key, values = ", ".join(KEY), ", ".join(VALUES)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in VALUES)
    old = ", ".join(f"t.{c}" for c in VALUES)
    new = ", ".join(f"EXCLUDED.{c}" for c in VALUES)
    # All parts of one statement see the same snapshot, so joining `up` with measurements yields the rows as
    # they were before this statement: exactly the previous versions of the updated rows.
    q = f"""
WITH up AS (
  INSERT INTO measurements AS t ({key}, {values}, ingest_run_id)
  SELECT {key}, {values}, %(run)s FROM {STAGE}
  ON CONFLICT ({key}) DO UPDATE SET {sets}, ingest_run_id = EXCLUDED.ingest_run_id
  WHERE ({old}) IS DISTINCT FROM ({new})
  RETURNING {", ".join("t." + k for k in KEY)}
), ch AS (
  INSERT INTO measurement_changes (run_id, {key}, op, old_row, old_run_id)
  SELECT %(run)s, {", ".join("b." + k for k in KEY)}, 'update', to_jsonb(b), b.ingest_run_id
  FROM up JOIN measurements b USING ({key})
  RETURNING 1
)
SELECT 'count', NULL::text, NULL::timestamptz, NULL::timestamptz, (SELECT count(*) FROM up), (SELECT count(*) FROM ch)
UNION ALL
SELECT what, station_code, lo, hi, NULL::bigint, NULL::bigint
FROM ({_TOUCHED_SQL.format(src="up")}) AS touched (what, station_code, lo, hi)"""
    rows = conn.execute(q, {"run": run_id, "air": AIR}).fetchall()
    written, updated = next((int(r[4]), int(r[5])) for r in rows if r[0] == "count")
    return Merged(written - updated, updated, _touched([r[:4] for r in rows if r[0] != "count"]))


def _close_run(conn: psycopg.Connection, result: LoadResult, ingest_settings: IngestSettings) -> None:
    """Write the rejects report and the ledger row; the data (if any) commits with the ledger update."""
    result.rejects_path = write_rejects(result.problems, ingest_settings.reports_dir, result.run_id, result.file)
    if result.run_id is None:
        return
    try:
        ledger.finish(conn, result.run_id, result.status, error=result.error, n_read=result.n_read,
                      n_inserted=result.inserted, n_updated=result.updated, n_unchanged=result.unchanged,
                      n_rejected=result.rejected,
                      rejects_path=str(result.rejects_path) if result.rejects_path else None)
        conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        raise DatabaseError(f"could not record run {result.run_id}: {str(exc).splitlines()[0]}") from exc


def revert(engine: Engine, run_id: int, who: str) -> int:
    """Undo a measurements load exactly, in one transaction, recorded as a new 'revert' run; returns its id."""
    with raw_connection(engine) as conn:
        target = ledger.get(conn, run_id)
        if target["layer"] != LAYER or target["kind"] != "load":
            raise RunError(f"run {run_id} is not a load of {LAYER} (it is a {target['kind']} of {target['layer']})")
        if target["reverted_by_run_id"] is not None:
            raise RunError(f"lần nạp {run_id} đã được hoàn tác / run {run_id} was already reverted by run "
                           f"{target['reverted_by_run_id']}")
        if target["status"] not in ledger.FINAL_OK:
            raise RunError(f"run {run_id} wrote nothing (status {target['status']}); there is nothing to revert")
        _refuse_conflicts(conn, run_id)
        new_run = ledger.start(conn, ledger.RunStart("revert", LAYER, who, {"reverts": run_id},
                                                     reverts_run_id=run_id))
        try:
            conn.execute("LOCK TABLE measurements IN SHARE ROW EXCLUSIVE MODE")
            deleted, restored = _undo(conn, run_id, new_run)
            # The indices follow the readings back, in the same transaction, before the ledger's final update.
            counts = indices.refresh_touched(conn, touched_by_run(conn, new_run))
            record_indices(conn, new_run, counts)
            ledger.finish(conn, new_run, "succeeded", n_deleted=deleted, n_updated=restored)
            conn.execute("UPDATE ingest_runs SET reverted_by_run_id = %s WHERE run_id = %s", (new_run, run_id))
            conn.commit()
        except BaseException:
            conn.rollback()
            ledger.finish(conn, new_run, "failed", error="revert failed; nothing was changed")
            conn.commit()
            raise
    return new_run


def _refuse_conflicts(conn: psycopg.Connection, run_id: int) -> None:
    """A later run that overwrote a row of this run logged that row with old_run_id = this run.

    Changes of runs that were themselves reverted no longer count: their effect is gone.
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT run_id, count(*) AS n FROM measurement_changes WHERE old_run_id = %s "
                           "AND run_id <> %s AND run_id NOT IN (SELECT run_id FROM ingest_runs WHERE reverted_by_run_id IS NOT NULL) "
                           "GROUP BY run_id ORDER BY run_id", (run_id, run_id)).fetchall()
    if rows:
        listed = ", ".join(f"run {r['run_id']} ({r['n']} rows)" for r in rows)
        raise RevertConflict(f"không thể hoàn tác / cannot revert run {run_id}: later runs changed its rows "
                             f"again: {listed}. Revert those first.")


def _undo(conn: psycopg.Connection, run_id: int, new_run: int) -> tuple[int, int]:
    """Rows the run inserted are deleted; rows it updated get their previous version back. Both are logged."""
    key = ", ".join(KEY)
    on = " AND ".join(f"c.{k} = m.{k}" for k in KEY)
    cols = ", ".join((*KEY, *VALUES, "ingest_run_id"))
    deleted = conn.execute(f"""
WITH del AS (
  DELETE FROM measurements m WHERE m.ingest_run_id = %(run)s AND NOT EXISTS (
    SELECT 1 FROM measurement_changes c WHERE c.run_id = %(run)s AND c.op = 'update' AND {on})
  RETURNING m.*
)
INSERT INTO measurement_changes (run_id, {key}, op, old_row, old_run_id)
SELECT %(new)s, {key}, 'delete', to_jsonb(del), del.ingest_run_id FROM del""",
                           {"run": run_id, "new": new_run}).rowcount
    restored = conn.execute(f"""
WITH up AS (
  UPDATE measurements m SET ({cols}) = ({", ".join("r." + c for c in (*KEY, *VALUES, "ingest_run_id"))})
  FROM measurement_changes c, jsonb_populate_record(NULL::measurements, c.old_row) r
  WHERE c.run_id = %(run)s AND c.op = 'update' AND {on}
  RETURNING {", ".join("m." + k for k in KEY)}
)
INSERT INTO measurement_changes (run_id, {key}, op, old_row, old_run_id)
SELECT %(new)s, {", ".join("b." + k for k in KEY)}, 'update', to_jsonb(b), b.ingest_run_id
FROM up JOIN measurements b USING ({key})""", {"run": run_id, "new": new_run}).rowcount
    return deleted, restored
