"""The load of one observation file (read → check → binary COPY → insert or upsert by key) and its exact revert.

One file is one transaction. Its rows go straight into ``measurements`` by binary COPY when none of its keys can
exist yet (no stored reading of its stations and parameters inside the file's time span): every row is then an
insert, and the ledger's run id on each row is all a revert needs. Otherwise (a re-load, a correction, a file
overlapping earlier ones) the rows go through a temporary stage and one upsert statement that writes only the
rows that really differ and logs their previous versions in ``measurement_changes``.

Loads of different stations run concurrently (``load_observations_many``): a load holds transaction-scoped
advisory locks on its stations' codes, not a table lock. Foreign keys are checked here, as sets, under the row
locks an RI trigger would take (migration 0019 has the triggers on the parents' side).
"""
from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
from psycopg.copy import QueuedLibpqWriter
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from geo.aqi import POLLUTANTS
from geo.db import raw_connection
from geo.errors import DatabaseError, InputError, RevertConflict, RunError
from geo.settings import IngestSettings
from ingest import indices, ledger, pgcopy
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
# Advisory lock keys (pg_advisory_xact_lock(int4, int4)): one per station code (hashtext), one for partitions.
STATION_LOCK = 0x0B5_0001
PARTITION_LOCK = (0x0B5_0002, 0)
PARTITION_LOCK_TIMEOUT = "2s"     # creating a partition waits for running loads; readers must not queue behind it
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


def _distinct_text(values: pd.Series) -> list[str]:
    """The distinct stripped texts of a column (per distinct value: a Categorical is not expanded)."""
    cats = values.cat.categories if isinstance(values.dtype, pd.CategoricalDtype) else values.dropna().unique()
    return sorted({str(c).strip() for c in cats})


def load_observations(engine: Engine, kind: str, path: Path, options: ObsOptions, *,
                      ingest_settings: IngestSettings, who: str | None = None,
                      progress: Progress | None = None,
                      prepare_gate: AbstractContextManager | None = None) -> LoadResult:
    """Load one observation file; any failure writes nothing but the ledger row (and the rejects report).

    ``prepare_gate`` (used by ``load_observations_many``) is held while the file is read and checked.
    """
    say = progress or (lambda _msg: None)
    path = Path(path)
    sha, size = ledger.sha256_of(path) if path.is_file() else (None, None)
    result = LoadResult(None, "running", LAYER, path.name)
    with raw_connection(engine) as conn:
        if not options.dry_run:
            run = ledger.RunStart("load", LAYER, ledger.who(who or ingest_settings.user),
                                  {"kind": kind, **options.as_json()}, path.name, str(path.resolve()), sha, size)
            result.run_id = ledger.start(conn, run)
        gate = prepare_gate or nullcontext()
        run_guarded(conn, result, lambda: _load(conn, kind, path, options, result, say, gate),
                    lambda: _close_run(conn, result, ingest_settings))
    say(f"xong / done: {result.status}")
    return result


def default_jobs(n_files: int) -> int:
    """Files loaded at once by default: one per usable core, at most one per file."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(n_files, cores))


def load_observations_many(engine: Engine, kind: str, paths: Sequence[Path], options: ObsOptions, *,
                           ingest_settings: IngestSettings, who: str | None = None, jobs: int | None = None,
                           progress: Callable[[Path, str], None] | None = None) -> list[LoadResult]:
    """Load several files, up to ``jobs`` at a time (default: one per core), each exactly as ``load_observations``.

    Every file has its own connection, transaction, ledger row and rejects report; results come back in the
    order of ``paths``. Files of different stations load in parallel (each PostgreSQL backend on its own core
    while this process reads and checks the next file); files sharing a station wait for each other.
    """
    paths = [Path(p) for p in paths]
    jobs = default_jobs(len(paths)) if jobs is None else max(1, int(jobs))
    # One file at a time is read and checked (Python work, under the GIL) while the others' PostgreSQL backends
    # write: the loads fall into step instead of all reading at once and then all waiting on the server.
    gate = threading.Lock()

    def one(path: Path) -> LoadResult:
        say = (lambda msg: progress(path, msg)) if progress else None
        return load_observations(engine, kind, path, options, ingest_settings=ingest_settings, who=who,
                                 progress=say, prepare_gate=gate)

    if jobs == 1 or len(paths) <= 1:
        return [one(p) for p in paths]
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="obs-load") as pool:
        return list(pool.map(one, paths))


def _load(conn: psycopg.Connection, kind: str, path: Path, options: ObsOptions, result: LoadResult,
          say: Progress, gate: AbstractContextManager) -> None:
    with gate:
        say("đọc tệp / reading")
        raw = read_observations(kind, path, options.mapping, options.station)
        if raw.empty:
            raise InputError("tệp không có số liệu nào / the file has no readings", file=path.name)
        say(f"kiểm tra {len(raw)} dòng / checking {len(raw)} rows")
        stations = known_stations(conn, _distinct_text(raw["station"]))
        conn.commit()
        checked = check_observations(raw, load_parameters(conn), stations, pd.Timestamp.now(tz="UTC"),
                                     MEDIUM.get(kind))
        conn.commit()
        del raw
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


# ------------------------------------------------------------------------------------------------ writing
def _write(conn: psycopg.Connection, checked: CheckedObservations, options: ObsOptions, result: LoadResult,
           say: Progress) -> None:
    """From the station locks to COMMIT (in _close_run) is one transaction: a kill leaves the table as it was."""
    rows = checked.rows
    ledger.set_backend(conn, result.run_id, conn.info.backend_pid)
    conn.commit()
    ensure_partitions(conn, rows["measured_at"])
    stations = [str(c) for c in rows["station_code"].cat.categories]
    parameters = [str(c) for c in rows["parameter"].cat.categories]
    say(f"khoá {len(stations)} trạm / locking {len(stations)} station(s)")
    lock_stations(conn, stations)
    # Conflicts with a revert (SHARE ROW EXCLUSIVE), never with another load: those wait on the station locks.
    conn.execute("LOCK TABLE measurements IN ROW EXCLUSIVE MODE")
    check_parents(conn, stations, parameters)
    spans = _spans(rows)
    record_spans(conn, result.run_id, spans)
    if not overlaps(conn, spans):
        say(f"ghi {len(rows)} dòng mới / writing {len(rows)} new rows (binary COPY)")
        try:
            with conn.transaction():       # a savepoint: a key written meanwhile by a writer that takes no
                copy_new(conn, rows, options.status, result.run_id)   # station lock sends us to the upsert
            merged = Merged(len(rows), 0, touched_of(rows))
        except psycopg.errors.UniqueViolation:
            merged = _stage_and_merge(conn, rows, options.status, result.run_id, say)
    else:
        merged = _stage_and_merge(conn, rows, options.status, result.run_id, say)
    result.inserted, result.updated = merged.inserted, merged.updated
    result.unchanged = len(rows) - merged.inserted - merged.updated
    # Before the ledger's final update, in this transaction: the data_versions bump its trigger makes then
    # covers the new indices too, and a failed refresh rolls the readings back with it.
    say("làm mới chỉ số / refreshing stored indices")
    counts = indices.refresh_touched(conn, merged.touched)
    result.notes.append(record_indices(conn, result.run_id, counts))
    result.status = "succeeded_with_rejects" if result.rejected else "succeeded"


def _stage_and_merge(conn: psycopg.Connection, rows: pd.DataFrame, status: str, run_id: int | None,
                     say: Progress) -> Merged:
    say(f"nạp tạm {len(rows)} dòng / staging {len(rows)} rows (binary COPY)")
    stage(conn, rows, status)
    say("hợp nhất / merging")
    return merge(conn, run_id)


def ensure_partitions(conn: psycopg.Connection, times: pd.Series) -> int:
    """Create the monthly partitions the rows need, in a short transaction of its own (committed).

    Creating a partition locks ``measurements`` exclusively, which waits for running loads; doing it inside the
    load would hold that lock (and block every reader) until the load commits. An empty partition left by a
    load that fails later is harmless. Returns the number of partitions created.
    """
    us = _utc_us(times)
    months = np.unique(us.astype("datetime64[us]").astype("datetime64[M]"))
    names = [f"measurements_y{str(m)[:4]}m{str(m)[5:7]}" for m in months]
    have = conn.execute("SELECT n FROM unnest(%s::text[]) n WHERE to_regclass(n) IS NOT NULL", (names,)).fetchall()
    missing = [m for m, n in zip(months.tolist(), names) if n not in {r[0] for r in have}]
    conn.commit()
    if not missing:
        return 0
    starts = [datetime(m.year, m.month, 1, tzinfo=timezone.utc) for m in missing]
    while True:
        try:
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", PARTITION_LOCK)
            conn.execute(f"SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT}'")
            created = conn.execute("SELECT coalesce(sum(ensure_measurement_partitions(m, m)), 0) FROM "
                                   "unnest(%s::timestamptz[]) m", (starts,)).fetchone()[0]
            conn.commit()
            return int(created)
        except psycopg.errors.LockNotAvailable:
            conn.rollback()        # a running load holds measurements: let readers through, then try again
            time.sleep(0.5)


def lock_stations(conn: psycopg.Connection, stations: list[str]) -> None:
    """Transaction-scoped advisory locks on the stations' codes, in one global order (no deadlock)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, h) FROM (SELECT DISTINCT hashtext(s) AS h "
                 "FROM unnest(%s::text[]) s ORDER BY 1) x", (STATION_LOCK, stations))


def check_parents(conn: psycopg.Connection, stations: list[str], parameters: list[str]) -> None:
    """The foreign keys, as sets: every station and parameter exists, and stays until this load commits.

    ``FOR KEY SHARE`` is the lock an RI trigger takes: a concurrent delete or rename of one of these rows waits
    for this load (and is then refused by the guard trigger, since the readings exist).
    """
    for table, codes, what in (("monitoring_stations", stations, "trạm / station(s)"),
                               ("parameters", parameters, "thông số / parameter(s)")):
        found = {r[0] for r in conn.execute(f"SELECT code FROM {table} WHERE code = ANY(%s) ORDER BY code "
                                            "FOR KEY SHARE", (codes,)).fetchall()}
        gone = sorted(set(codes) - found)
        if gone:
            raise InputError(f"{what} {', '.join(gone)} không còn trong {table} / no longer in {table} (deleted or "
                             "renamed while the file was being checked); nothing was written")


def _utc_us(times: pd.Series) -> np.ndarray:
    """µs since 1970 (UTC) of a tz-aware datetime Series."""
    return times.array.tz_convert("UTC").tz_localize(None).as_unit("us").asi8


def _spans(rows: pd.DataFrame) -> pd.DataFrame:
    """Per (station, parameter, period) of the rows, the first and last time."""
    us = _utc_us(rows["measured_at"])
    frame = pd.DataFrame({"s": rows["station_code"].cat.codes.to_numpy(), "p": rows["parameter"].cat.codes.to_numpy(),
                          "r": rows["period"].cat.codes.to_numpy(), "t": us})
    g = frame.groupby(["s", "p", "r"], sort=False)["t"].agg(["min", "max"]).reset_index()
    cats = {c: rows[name].cat.categories for c, name in (("s", "station_code"), ("p", "parameter"), ("r", "period"))}
    for c in ("s", "p", "r"):
        g[c] = np.asarray(cats[c], dtype=object)[g[c].to_numpy()]
    return g


def _as_datetimes(us: np.ndarray) -> list[datetime]:
    return pd.to_datetime(np.asarray(us, dtype=np.int64), unit="us", utc=True).to_pydatetime().tolist()


def record_spans(conn: psycopg.Connection, run_id: int | None, spans: pd.DataFrame) -> None:
    """Where this run may write (``measurement_run_spans``): its revert finds the run's rows through these."""
    if run_id is None:
        return
    conn.execute("INSERT INTO measurement_run_spans (run_id, station_code, parameter, period, first_at, last_at) "
                 "SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], "
                 "%s::timestamptz[])", (run_id, spans["s"].tolist(), spans["p"].tolist(), spans["r"].tolist(),
                                        _as_datetimes(spans["min"]), _as_datetimes(spans["max"])))


def overlaps(conn: psycopg.Connection, spans: pd.DataFrame) -> bool:
    """Whether any stored reading has a station, parameter and period of the file inside the file's time span.

    Asked under the station locks, so no other load can add such a reading before this one commits.
    """
    g = spans
    return bool(conn.execute(
        "SELECT EXISTS (SELECT 1 FROM unnest(%s::text[], %s::text[], %s::text[], %s::timestamptz[], "
        "%s::timestamptz[]) AS f(s, p, r, lo, hi) WHERE EXISTS (SELECT 1 FROM measurements m WHERE "
        "m.station_code = f.s AND m.parameter = f.p AND m.period = f.r AND m.measured_at BETWEEN f.lo AND f.hi))",
        (g["s"].tolist(), g["p"].tolist(), g["r"].tolist(), _as_datetimes(g["min"]), _as_datetimes(g["max"]))
    ).fetchone()[0])


def _columns(rows: pd.DataFrame, status: str, run_id: int | None) -> list[pgcopy.Column]:
    n = len(rows)
    value = rows["value"].to_numpy(dtype=np.float64)
    original = rows["original_value"].to_numpy(dtype=np.float64)
    return [pgcopy.text("station_code", rows["station_code"]), pgcopy.text("parameter", rows["parameter"]),
            pgcopy.timestamptz("measured_at", rows["measured_at"]), pgcopy.text("period", rows["period"]),
            pgcopy.float8("value", value, null=np.isnan(value)),
            pgcopy.float8("original_value", original, null=np.isnan(original)),
            pgcopy.text("original_unit", rows["original_unit"]), pgcopy.text("qc_flag", rows["qc_flag"]),
            pgcopy.constant("status", status, n), pgcopy.text("instrument_status", rows["instrument_status"]),
            pgcopy.constant("ingest_run_id", run_id, n, "int8")]


def key_order(rows: pd.DataFrame) -> np.ndarray:
    """Row order for the COPY: by month partition, then as the primary key sorts (station, parameter, time,
    period), so that each partition's key index is filled from left to right (mostly at its right edge)."""
    us = _utc_us(rows["measured_at"])
    first, last = (np.array([us.min(), us.max()], dtype="datetime64[us]").astype("datetime64[M]"))
    bounds = np.arange(first, last + 2).astype("datetime64[us]").astype(np.int64)
    month = np.searchsorted(bounds, us, side="right") - 1
    ranks = []
    for name in ("station_code", "parameter", "period"):
        cats = [str(c) for c in rows[name].cat.categories]
        rank = np.empty(len(cats), dtype=np.int64)
        rank[np.argsort(np.array(cats, dtype=object), kind="stable")] = np.arange(len(cats))
        ranks.append((rank[rows[name].cat.codes.to_numpy()], len(cats)))
    (s, ns), (p, np_), (r, nr) = ranks
    small = (month * ns + s) * np_ + p
    t = us - us.min()
    # Keys are unique (duplicates were rejected), so an unstable sort gives the same order.
    if float(small.max() + 1) * float(t.max() + 1) * nr < 2 ** 62:
        return np.argsort((small * (int(t.max()) + 1) + t) * nr + r)
    return np.lexsort((r, t, small))


def copy_new(conn: psycopg.Connection, rows: pd.DataFrame, status: str, run_id: int | None) -> None:
    """Binary COPY of rows whose keys are all new straight into ``measurements`` (sorted by partition and key).

    The encoder runs in this thread while psycopg's writer thread sends the previous chunks, so encoding overlaps
    the server's work.
    """
    # An all-NULL column is left out of the COPY (NULL is its default): less for the server to parse per row.
    columns = [c for c in _columns(rows, status, run_id)
               if not (c.name == "instrument_status" and rows["instrument_status"].isna().all())]
    with conn.cursor() as cur, cur.copy(f"COPY measurements ({pgcopy.names(columns)}) FROM STDIN (FORMAT BINARY)",
                                        writer=QueuedLibpqWriter(cur)) as copy:
        for chunk in pgcopy.encode(columns, key_order(rows)):
            copy.write(chunk)


def touched_of(rows: pd.DataFrame) -> indices.Touched:
    """What inserted rows touch, as ``merge`` reports it: per station the span of its hourly air readings,
    and each (station, time) of water samples."""
    touched = indices.Touched()
    period = rows["period"].astype(object).to_numpy()
    us = _utc_us(rows["measured_at"])
    station = rows["station_code"].cat.codes.to_numpy()
    names = np.asarray(rows["station_code"].cat.categories, dtype=object)
    air = (period == "1h") & rows["parameter"].isin(AIR).to_numpy()
    if air.any():
        g = pd.DataFrame({"s": station[air], "t": us[air]}).groupby("s")["t"].agg(["min", "max"])
        for s, lo, hi in zip(g.index.tolist(), _as_datetimes(g["min"]), _as_datetimes(g["max"])):
            touched.air[str(names[s])] = (lo, hi)
    water = period == "sample"
    if water.any():
        pairs = pd.DataFrame({"s": station[water], "t": us[water]}).drop_duplicates().sort_values(["s", "t"])
        for s, t in zip(pairs["s"].tolist(), _as_datetimes(pairs["t"])):
            touched.water.append((str(names[s]), t))
    return touched


def stage(conn: psycopg.Connection, rows: pd.DataFrame, status: str) -> None:
    """Temporary staging table filled by binary COPY (for the upsert path), then ANALYZEd for the merge's plan."""
    conn.execute(f"CREATE TEMP TABLE {STAGE} (rec int4, station_code text, parameter text, measured_at timestamptz, "
                 "period text, value float8, original_value float8, original_unit text, qc_flag text, "
                 "status text, instrument_status text) ON COMMIT DROP")
    columns = [pgcopy.int4("rec", rows["line"].to_numpy()), *_columns(rows, status, None)[:-1]]
    with conn.cursor() as cur:
        pgcopy.copy_columns(cur, STAGE, columns)
    conn.execute(f"ANALYZE {STAGE}")


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
            _refuse_conflicts(conn, run_id)    # again under the lock: a load may have committed in between
            deleted, restored = _undo(conn, run_id, new_run)
            # The indices follow the readings back, in the same transaction, before the ledger's final update.
            counts = indices.refresh_touched(conn, touched_by_run(conn, new_run))
            record_indices(conn, new_run, counts)
            ledger.finish(conn, new_run, "succeeded", n_deleted=deleted, n_updated=restored)
            conn.execute("UPDATE ingest_runs SET reverted_by_run_id = %s WHERE run_id = %s", (new_run, run_id))
            # No reading carries the run's id any more (inserted rows deleted, updated ones restored).
            conn.execute("DELETE FROM measurement_run_spans WHERE run_id = %s", (run_id,))
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
    # The run's rows lie inside its spans (primary-key range scans); a run without spans is found by a scan.
    has_spans = conn.execute("SELECT EXISTS (SELECT 1 FROM measurement_run_spans WHERE run_id = %s)",
                             (run_id,)).fetchone()[0]
    within = ("USING measurement_run_spans s WHERE s.run_id = %(run)s AND m.station_code = s.station_code AND "
              "m.parameter = s.parameter AND m.period = s.period AND m.measured_at BETWEEN s.first_at AND s.last_at "
              "AND" if has_spans else "WHERE")
    deleted = conn.execute(f"""
WITH del AS (
  DELETE FROM measurements m {within} m.ingest_run_id = %(run)s AND NOT EXISTS (
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
