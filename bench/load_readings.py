"""Benchmark: loading hourly readings through the observations pipeline against pandas ``DataFrame.to_sql``.

Run from the repository root (see bench/README.md):

    python bench/load_readings.py                      # 10,008,000 readings: 100 stations x 6 pollutants x 695 days
    python bench/load_readings.py --rows 1000000 --files 2 --schedule all   # quick trial, both files at once
    python bench/load_readings.py --rows 1000000 --profile   # cProfile of one pipeline file load, no timing
    python bench/load_readings.py --rows 1000000 --files 2 --phases   # one file's phases, each path timed apart

The readings come from ``ingest.sample_readings.air_readings`` (deterministic seed, ~1 % missing hours) and are written
ONCE into generic long CSV files in ``bench/out/`` (station, parameter, time with +07:00, value, unit, flag). The
pipeline loads one file per transaction, so the readings are split into ``--files`` files by station (default 10 files
of 10 stations = ~1 M rows each; a "one export per group of stations" shape). The stations are created first in
``monitoring_stations`` through ``ingest_file`` (the layer pipeline).

In ONE run, against ONE scratch database, each batch of files in its own forked child (its own peak RSS):
  (a) pipeline : ``ingest.obs_pipeline.load_observations_many(kind="long", jobs=--jobs)`` on the batch: every file
                 in its own connection and transaction (read -> checks -> binary COPY straight into the
                 month-partitioned ``measurements`` when its keys are new, else staged upsert with the change
                 log -> stored AQI/QCVN indices of what changed -> ledger row), up to --jobs files at once
                 (default: one per core), into an initially empty ``measurements``;
  (b) to_sql   : for every file of the batch, one after the other, ``pd.read_csv(path, parse_dates=["time"])`` then
                 ``df.to_sql("measurements_tosql", engine, if_exists="append", index=False, chunksize=10_000)``
                 (method=None, i.e. executemany through SQLAlchemy + psycopg 3: what the pandas docs show and
                 what most users write; ``--tosql-method multi`` for multi-row VALUES) into a plain table with
                 no key, no constraint, no index (this favours to_sql: the pipeline also validates every row,
                 converts units, keeps a ledger and history, enforces the primary key and refreshes indices).
``--schedule`` says how the two alternate on this shared machine: ``halves`` (pipeline on the first half of the files,
to_sql on the same half, then the second half likewise), ``files`` (file by file, the pipeline one file at a time)
or ``all`` (the pipeline on all files, then to_sql on all files); the default ``auto`` is ``halves`` when each half
has at least --jobs files (the default 10 files), else ``all`` (e.g. ``--files 2``). ``--max-minutes`` (default 40) stops
after the batch during which the budget ran out and reports the files both methods loaded. It prints wall time,
rows/s, peak RSS of each child, where the pipeline's time went, and the ratio to_sql / pipeline. A benchmark, not
a timed test.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import resource
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = HERE / "out"
DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432"
SCRATCH_DB = "geo_bench_obs"
TOSQL_TABLE = "measurements_tosql"
POLLUTANTS = 6
# A fixed last hour (UTC), so that the files are reproducible and never "in the future".
END = pd.Timestamp("2025-06-30 17:00", tz="UTC")
BBOX = (106.40, 10.90, 106.90, 11.40)   # inside the default AOI of former Bình Dương
CODE = ("ingest/obs_pipeline.py", "ingest/obs_checks.py", "ingest/obs_readers.py", "ingest/pgcopy.py",
        "ingest/indices.py", "ingest/index_store.py", "geo/aqi.py", "geo/qcvn.py")


# ----------------------------------------------------------------------------------------------------- data
def station_codes(n: int) -> list[str]:
    return [f"BENCH-{i:03d}" for i in range(1, n + 1)]


def write_stations(codes: list[str], path: Path, seed: int = 7) -> Path:
    """A monitoring_stations CSV (lon/lat) of automatic air stations spread over the province."""
    rng = np.random.default_rng(seed)
    lon = rng.uniform(BBOX[0], BBOX[2], len(codes))
    lat = rng.uniform(BBOX[1], BBOX[3], len(codes))
    frame = pd.DataFrame({
        "code": codes, "name_vi": [f"Trạm đo thử {c}" for c in codes], "name_en": [f"Benchmark station {c}" for c in codes],
        "medium": "air", "mode": "automatic", "operator": "Benchmark (tổng hợp / synthetic)", "status": "active",
        "park_code": "", "commissioned_on": "2015-01-01", "source": "bench (synthetic)", "notes": "",
        "lon": lon.round(6), "lat": lat.round(6)})
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


def days_for(rows: int, stations: int) -> int:
    return max(1, math.ceil(rows / (stations * POLLUTANTS * 24)))


def write_readings(stations: int, days: int, files: int, seed: int = 20250701) -> tuple[list[Path], Path, int]:
    """Write (once; reused when present) the long CSV files; return them, the stations CSV and the row count."""
    from ingest.sample_readings import air_readings

    folder = OUT / f"readings_{stations}st_{days}d_{files}f_{seed}"
    manifest = folder / "manifest.json"
    if manifest.exists():
        meta = json.loads(manifest.read_text())
        return [folder / f for f in meta["files"]], folder / "stations.csv", int(meta["rows"])
    folder.mkdir(parents=True, exist_ok=True)
    codes = station_codes(stations)
    write_stations(codes, folder / "stations.csv")
    groups = np.array_split(np.arange(stations), files)
    names, total = [], 0
    hours = pd.date_range(end=END, periods=days * 24, freq="h", tz="UTC")
    # The same text the platform's own sample writer produces, built once per hour instead of once per row.
    texts = np.asarray(hours.tz_convert("Asia/Ho_Chi_Minh").strftime("%Y-%m-%dT%H:%M:%S+07:00"), dtype=object)
    for k, group in enumerate(groups):
        frame = air_readings([codes[i] for i in group], END, days=days, seed=seed + int(group[0]))
        position = np.tile(np.arange(len(hours)), len(frame) // len(hours))
        frame["time"] = texts[position]
        name = f"readings_{k:02d}.csv"
        frame[["station", "parameter", "time", "value", "unit", "flag"]].to_csv(
            folder / name, index=False, float_format="%.1f", na_rep="")
        names.append(name)
        total += len(frame)
        print(f"  wrote {name}: {len(frame):,} rows", flush=True)
    manifest.write_text(json.dumps({"files": names, "rows": total, "days": days, "stations": stations}))
    return [folder / n for n in names], folder / "stations.csv", total


# ------------------------------------------------------------------------------------------------- database
def scratch_database(admin: str, name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{admin}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def engine_for(url: str, **kwargs: object):  # noqa: ANN201
    from geo.db import make_engine
    from geo.settings import DatabaseSettings

    return make_engine(DatabaseSettings(database_url=url), **kwargs)


def load_stations(engine, path: Path, reports: Path) -> int:  # noqa: ANN001
    from geo.settings import AreaSettings, IngestSettings
    from ingest.pipeline import LoadOptions, ingest_file
    from layers import REGISTRY

    result = ingest_file(engine, REGISTRY.get("monitoring_stations"), path, LoadOptions(),
                         ingest_settings=IngestSettings(reports_dir=reports, user="bench"), area=AreaSettings())
    if not result.ok:
        raise SystemExit(f"stations load failed: {result.status}: {result.error}")
    return result.inserted + result.unchanged


def _reset(url: str) -> None:
    engine = engine_for(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE measurements, measurement_changes, measurement_run_spans")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TOSQL_TABLE}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()


# -------------------------------------------------------------------------------------------------- methods
PHASES = (("đọc tệp", "read"), ("kiểm tra", "check"), ("khoá", "partitions, locks, key checks"),
          ("dòng mới", "COPY into measurements"), ("nạp tạm", "COPY into the stage"), ("hợp nhất", "upsert merge"),
          ("làm mới", "stored indices + commit"))


def backends_cpu(url: str) -> float | None:
    """CPU seconds used so far by the server processes connected to this database (None if not readable here)."""
    import psycopg

    from geo.db import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
        pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                                           "AND pid <> pg_backend_pid()")]
    total = 0.0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
    return total


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_pipeline(url: str, paths: list[Path], reports: Path, jobs: int) -> dict:
    """The batch through ``load_observations_many`` (each file its own transaction); rows and phase times."""
    from geo.settings import IngestSettings
    from ingest.obs_pipeline import ObsOptions, load_observations_many

    engine = engine_for(url, pool_size=max(5, jobs))
    marks: dict[str, list[tuple[float, str]]] = {}

    def progress(path: Path, msg: str) -> None:
        marks.setdefault(path.name, []).append((time.perf_counter(), msg))

    results = load_observations_many(engine, "long", paths, ObsOptions(), jobs=jobs, progress=progress,
                                     ingest_settings=IngestSettings(reports_dir=reports, user="bench"))
    end = time.perf_counter()
    cpu = {"python": own_cpu(), "server": backends_cpu(url)}
    engine.dispose()
    bad = [f"{r.file}: {r.status}: {r.error}" for r in results if r.status != "succeeded"]
    if bad:
        raise RuntimeError("; ".join(bad))
    phases = {label: 0.0 for _key, label in PHASES}
    for name, steps in marks.items():
        # Each step lasts until the file's next message; the last message ("done") closes the file.
        ends = [t for t, _m in steps[1:]] + [end]
        for (t, msg), t_next in zip(steps, ends):
            if msg.startswith("xong / done"):
                continue
            label = next((lab for key, lab in PHASES if key in msg), msg)
            phases[label] = phases.get(label, 0.0) + (t_next - t)
    return {"rows": sum(r.inserted + r.updated + r.unchanged for r in results), "phases": phases, "cpu": cpu,
            "paths": {r.file: "direct COPY" if any("dòng mới" in m for _t, m in marks[r.file]) else "staged upsert"
                      for r in results}}


def run_tosql(url: str, paths: list[Path], method: str | None, chunksize: int) -> dict:
    """The batch the obvious pandas way, file after file: read_csv, then to_sql appending to a plain table."""
    engine = engine_for(url)
    rows = 0
    for path in paths:
        frame = pd.read_csv(path, parse_dates=["time"])
        frame.to_sql(TOSQL_TABLE, engine, if_exists="append", index=False, chunksize=chunksize, method=method)
        rows += len(frame)
        del frame
    cpu = {"python": own_cpu(), "server": backends_cpu(url)}
    engine.dispose()
    return {"rows": rows, "cpu": cpu}


def _child(queue, fn, args) -> None:  # noqa: ANN001
    t0 = time.perf_counter()
    try:
        out = fn(*args)
        out["seconds"] = time.perf_counter() - t0
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        queue.put(out)
    except BaseException as exc:  # report, do not hang the parent
        queue.put({"error": repr(exc)})
        raise


def in_child(fn, *args) -> dict:  # noqa: ANN001
    """Run ``fn`` in a forked child; its wall time and its own peak RSS come back."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(queue, fn, args))
    proc.start()
    out = queue.get()
    proc.join()
    if "error" in out:
        raise SystemExit(f"{fn.__name__} failed: {out['error']}")
    return out


def profile_pipeline(url: str, path: Path, reports: Path, top: int = 30) -> None:
    prof = cProfile.Profile()
    prof.enable()
    run_pipeline(url, [path], reports, 1)
    prof.disable()
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
        print(f"--- sorted by {key} ---")
        print(buf.getvalue())


def phases(url: str, path: Path) -> None:
    """One file's steps timed apart, with the pipeline's own functions, into an empty ``measurements``.

    Each write is done in a transaction that is rolled back: the direct COPY (and the index refresh after it),
    the staged upsert of the same rows instead, and the staged re-load of rows already there (0 changes).
    """
    from geo.db import raw_connection
    from ingest import indices
    from ingest import obs_pipeline as op
    from ingest.obs_checks import check_observations
    from ingest.obs_readers import read_observations

    engine = engine_for(url)
    out: list[tuple[str, float]] = []

    def timed(label: str, fn):  # noqa: ANN001, ANN202
        t = time.perf_counter()
        value = fn()
        out.append((label, time.perf_counter() - t))
        return value

    with raw_connection(engine) as conn:
        run = conn.execute("SELECT max(run_id) FROM ingest_runs").fetchone()[0]
        raw = timed("read_observations (Arrow CSV -> raw frame)", lambda: read_observations("long", path))
        checked = timed("check_observations (+ known stations, parameters)", lambda: check_observations(
            raw, op.load_parameters(conn), op.known_stations(conn, op._distinct_text(raw["station"])),
            pd.Timestamp.now(tz="UTC"), None))
        rows = checked.rows
        conn.commit()
        timed("ensure_partitions (once per new month)", lambda: op.ensure_partitions(conn, rows["measured_at"]))
        stations = [str(c) for c in rows["station_code"].cat.categories]

        def prepare() -> None:
            op.lock_stations(conn, stations)
            conn.execute("LOCK TABLE measurements IN ROW EXCLUSIVE MODE")
            op.check_parents(conn, stations, [str(c) for c in rows["parameter"].cat.categories])
            spans = op._spans(rows)
            op.record_spans(conn, run, spans)
            assert not op.overlaps(conn, spans)
        timed("station locks, set-wise key checks, spans, overlap query", prepare)
        timed("copy_new: encode + binary COPY into measurements", lambda: op.copy_new(conn, rows, "provisional", run))
        timed("indices.refresh_touched (after the direct COPY)",
              lambda: indices.refresh_touched(conn, op.touched_of(rows)))
        timed("staged re-load of the same rows: stage (COPY + ANALYZE)", lambda: op.stage(conn, rows, "provisional"))
        merged = timed("staged re-load: merge (0 changes)", lambda: op.merge(conn, run))
        assert merged.inserted == merged.updated == 0
        conn.rollback()
        timed("staged path into the empty table: stage", lambda: op.stage(conn, rows, "provisional"))
        timed("staged path into the empty table: merge (all inserts)", lambda: op.merge(conn, run))
        conn.rollback()
    engine.dispose()
    n = len(rows)
    print(f"\nphases of one file, {path.name} ({n:,} rows; writes rolled back):")
    print(f"  {'step':<70}{'s':>8}{'us/row':>9}")
    for label, t in out:
        print(f"  {label:<70}{t:>8.2f}{t / n * 1e6:>9.2f}")


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def check_same(url: str) -> str:
    """Both tables hold the same readings (count, non-null values and their sum)."""
    engine = engine_for(url)
    with engine.connect() as conn:
        a = conn.exec_driver_sql("SELECT count(*), count(value), round(sum(value)::numeric, 1) FROM measurements").one()
        b = conn.exec_driver_sql(f"SELECT count(*), count(value), round(sum(value)::numeric, 1) "
                                 f"FROM {TOSQL_TABLE}").one()
        sizes = conn.exec_driver_sql(
            "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'measurements'::regclass").scalar()
        tosql = conn.exec_driver_sql(f"SELECT pg_size_pretty(pg_total_relation_size('{TOSQL_TABLE}'))").scalar()
    engine.dispose()
    same = tuple(a) == tuple(b)
    return (f"check: measurements {a[0]:,} rows / {a[1]:,} values / sum {a[2]}; {TOSQL_TABLE} {b[0]:,} / {b[1]:,} / "
            f"sum {b[2]} -> {'IDENTICAL' if same else 'DIFFERENT'}; on disk {sizes} (partitions + PK) vs {tosql}")


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    avail = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return (f"{platform.machine()}, {os.cpu_count()} cores ({avail} usable), {mem:.0f} GiB RAM, {cpu}, "
            f"Python {platform.python_version()}, pandas {pd.__version__}")


def server_line(engine) -> str:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.exec_driver_sql(
            "SELECT split_part(version(), ' on ', 1) || ', PostGIS ' || postgis_lib_version() || "
            "', shared_buffers ' || current_setting('shared_buffers') || ', max_wal_size ' || "
            "current_setting('max_wal_size') || ', synchronous_commit ' || current_setting('synchronous_commit')"
        ).scalar()


def report(res: dict[str, dict], n: int, method: str | None, chunksize: int, jobs: int) -> None:
    labels = {"pipeline": f"(a) pipeline load_observations_many (long CSV, {jobs} at once)",
              "to_sql": f"(b) read_csv + to_sql(method={method!r}, chunksize={chunksize:,})"}
    print(f"\n{'method':<60}{'rows':>12}{'wall s':>10}{'rows/s':>12}{'us/row':>8}{'peak RSS MB':>13}")
    for key, label in labels.items():
        r = res[key]
        print(f"{label:<60}{r['rows']:>12,}{r['seconds']:>10.1f}{r['rows'] / r['seconds']:>12,.0f}"
              f"{r['seconds'] / r['rows'] * 1e6:>8.2f}{r['peak_rss_mb']:>13,.0f}")
    print("\nCPU time (this machine's cores, whatever else runs on them; server = the PostgreSQL backends of the "
          "method's connections):")
    for key, label in labels.items():
        r = res[key]
        server = "?" if r["server"] is None else f"{r['server']:.1f} s"
        total = "?" if r["server"] is None else f"{(r['python'] + r['server']) / r['rows'] * 1e6:.2f} us/row"
        print(f"  {label:<60} python {r['python']:.1f} s + server {server} = {total}")
    ratio = res["to_sql"]["seconds"] / res["pipeline"]["seconds"]
    print(f"\nratio to_sql / pipeline = {ratio:.2f}x   (goal >= 6x: {'met' if ratio >= 6 else 'NOT met'})")


def batches(files: list[Path], schedule: str) -> list[list[Path]]:
    if schedule == "files":
        return [[f] for f in files]
    if schedule == "all" or len(files) < 2:
        return [files]
    half = (len(files) + 1) // 2
    return [files[:half], files[half:]]


def main(argv: list[str] | None = None) -> None:
    from ingest.obs_pipeline import default_jobs

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="readings wanted (rounded up to whole days)")
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--files", type=int, default=10, help="split the readings by station into this many files")
    ap.add_argument("--jobs", type=int, default=default_jobs(10 ** 6),
                    help="files the pipeline loads at once (default: one per usable core)")
    ap.add_argument("--schedule", choices=["auto", "halves", "files", "all"], default="auto",
                    help="how pipeline and to_sql alternate (see the module docstring); auto = halves when each "
                         "half has at least --jobs files, else all")
    ap.add_argument("--tosql-method", choices=["none", "multi"], default="none")
    ap.add_argument("--chunksize", type=int, default=10_000)
    ap.add_argument("--only", choices=["pipeline", "to_sql"], help="time one method only (no ratio)")
    ap.add_argument("--profile", action="store_true", help="cProfile one pipeline file load instead of timing")
    ap.add_argument("--phases", action="store_true",
                    help="time the steps of one file's load (both write paths) on the first file instead")
    ap.add_argument("--admin-url", default=DEFAULT_ADMIN, help="server for the scratch database")
    ap.add_argument("--db", default=SCRATCH_DB, help="name of the scratch database (created and dropped here)")
    ap.add_argument("--keep", action="store_true", help="do not drop the scratch database at the end")
    ap.add_argument("--max-minutes", type=float, default=40.0,
                    help="stop after the batch during which this much loading time has passed; the table then "
                         "covers the files both methods loaded")
    args = ap.parse_args(argv)
    method = None if args.tosql_method == "none" else args.tosql_method
    if args.schedule == "auto":
        args.schedule = "halves" if args.files >= 2 * args.jobs else "all"

    from geo import migrate

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print("machine:", machine(), f"({loadavg()} at start)")
    days = days_for(args.rows, args.stations)
    t0 = time.perf_counter()
    files, stations_csv, n = write_readings(args.stations, days, args.files)
    size = sum(p.stat().st_size for p in files) / 1e6
    print(f"data:    {n:,} readings = {args.stations} stations x {POLLUTANTS} pollutants x {days} days x 24 h, in "
          f"{len(files)} files of ~{n // len(files):,} rows ({size:,.0f} MB) under "
          f"{files[0].parent.relative_to(ROOT)} ({time.perf_counter() - t0:.1f} s to make or find)")
    url = f"{args.admin_url}/{args.db}"
    scratch_database(args.admin_url, args.db, create=True)
    engine = engine_for(url)
    reports = OUT / "reports"
    try:
        migrate.upgrade(engine)
        print(f"db:      {url} ({server_line(engine)})")
        print(f"stations: {load_stations(engine, stations_csv, reports)} loaded through ingest_file")
        engine.dispose()
        if args.profile:
            profile_pipeline(url, files[0], reports)
            return
        if args.phases:
            phases(url, files[0])
            return
        # Import the pipeline once, here: every forked child then runs this same version of the code, even if
        # the files change on disk during a long run (they did once: a run straddled two versions).
        import hashlib

        import ingest.indices
        import ingest.obs_pipeline  # noqa: F401

        digest = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in CODE)).hexdigest()[:12]
        print(f"code:    sha256 {digest} of {', '.join(CODE)}", flush=True)
        _reset(url)
        # Each batch of each method in its own forked child: both methods see the same machine load (this machine
        # is shared), and each child's peak RSS is its own.
        methods = [m for m in ("pipeline", "to_sql") if args.only in (None, m)]
        res = {m: {"rows": 0, "seconds": 0.0, "peak_rss_mb": 0.0, "python": 0.0, "server": 0.0} for m in methods}
        phase_sums: dict[str, float] = {}
        paths_taken: dict[str, str] = {}
        plan = batches(files, args.schedule)
        print(f"  schedule {args.schedule}: {len(plan)} batch(es); pipeline with --jobs {args.jobs}, then to_sql, "
              f"per batch ({loadavg()})", flush=True)
        started = time.monotonic()
        done_files = 0
        for k, batch in enumerate(plan):
            if k and time.monotonic() - started > args.max_minutes * 60:
                print(f"  STOPPED by --max-minutes {args.max_minutes:g} after {done_files} of {len(files)} files: "
                      f"the table below covers those files", flush=True)
                break
            line = f"    {batch[0].name}" + (f" .. {batch[-1].name}" if len(batch) > 1 else "") + ":"
            for m in methods:
                out = (in_child(run_pipeline, url, batch, reports, min(args.jobs, len(batch))) if m == "pipeline"
                       else in_child(run_tosql, url, batch, method, args.chunksize))
                r = res[m]
                r["rows"] += out["rows"]
                r["seconds"] += out["seconds"]
                r["peak_rss_mb"] = max(r["peak_rss_mb"], out["peak_rss_mb"])
                r["python"] += out["cpu"]["python"]
                r["server"] = None if out["cpu"]["server"] is None or r["server"] is None else (
                    r["server"] + out["cpu"]["server"])
                for label, t in out.get("phases", {}).items():
                    phase_sums[label] = phase_sums.get(label, 0.0) + t
                paths_taken.update(out.get("paths", {}))
                line += f"  {m} {out['rows']:,} rows {out['seconds']:.1f} s"
            done_files += len(batch)
            print(line + f"  ({loadavg()})", flush=True)
        if phase_sums:
            total = sum(phase_sums.values())
            print("  pipeline phases, summed over files (files overlap with --jobs > 1, so the sum can exceed the "
                  "wall time): " + ", ".join(f"{label} {t:.1f} s ({t / total:.0%})"
                                             for label, t in phase_sums.items() if t > 0))
            print("  write path per file: " + ", ".join(f"{f} {p}" for f, p in sorted(paths_taken.items())))
        if args.only:
            for k, r in res.items():
                print(f"{k}: {r['rows']:,} rows, {r['seconds']:.1f} s, {r['rows'] / r['seconds']:,.0f} rows/s, "
                      f"peak RSS {r['peak_rss_mb']:,.0f} MB")
            return
        print("  " + check_same(url))
        report(res, n, method, args.chunksize, min(args.jobs, max(len(b) for b in plan)))
        print(f"({loadavg()} at the end)")
    finally:
        engine.dispose()
        if not args.keep:
            scratch_database(args.admin_url, args.db, create=False)


if __name__ == "__main__":
    main()
