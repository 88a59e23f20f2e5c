"""Benchmark: loading hourly readings through the observations pipeline against pandas ``DataFrame.to_sql``.

Run from the repository root (see bench/README.md):

    python bench/load_readings.py                      # 10,008,000 readings: 100 stations x 6 pollutants x 695 days
    python bench/load_readings.py --rows 600000        # quick trial
    python bench/load_readings.py --rows 1000000 --profile   # cProfile of one pipeline file load, no timing
    python bench/load_readings.py --rows 120000 --stations 20 --files 2 --variants   # phases + merge SQL variants

The readings come from ``ingest.sample_readings.air_readings`` (deterministic seed, ~1 % missing hours) and are written
ONCE into generic long CSV files in ``bench/out/`` (station, parameter, time with +07:00, value, unit, flag). The
pipeline loads one file per call and one transaction per file, so the readings are split into ``--files`` files by
station (default 10 files of 10 stations = ~1 M rows each; a "one export per group of stations" shape). The stations
are created first in ``monitoring_stations`` through ``ingest_file`` (the layer pipeline).

In ONE run, against ONE scratch database, each in its own forked child (so that each peak RSS is its own):
  (a) pipeline : ``ingest.obs_pipeline.load_observations(kind="long")`` for every file, sequentially
                 (read -> checks -> binary COPY into a temp stage -> upsert into the month-partitioned
                 ``measurements`` with the change log -> ledger row), into an empty ``measurements``;
  (b) to_sql   : for every file ``pd.read_csv(path, parse_dates=["time"])`` then
                 ``df.to_sql("measurements_tosql", engine, if_exists="append", index=False, chunksize=10_000)``
                 (method=None, i.e. executemany through SQLAlchemy + psycopg 3: what the pandas docs show and
                 what most users write; ``--tosql-method multi`` for multi-row VALUES) into a plain table with
                 no key, no constraint, no index (this favours to_sql: the pipeline also validates every row,
                 converts units, keeps a ledger and enforces the primary key and foreign keys).
The two are interleaved file by file (pipeline file k, to_sql file k, ...), so both see the same load on a shared
machine; ``--max-minutes`` (default 40) bounds the run: it stops after the file during which the budget ran out and
reports the files both methods loaded. It prints wall time, rows/s, peak RSS of each child, and the ratio
to_sql / pipeline. A benchmark, not a timed test.
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
CODE = ("ingest/obs_pipeline.py", "ingest/obs_checks.py", "ingest/obs_readers.py", "ingest/indices.py", "geo/aqi.py")


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
        conn.exec_driver_sql("TRUNCATE measurements, measurement_changes")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {TOSQL_TABLE}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
        conn.exec_driver_sql("CHECKPOINT")
    engine.dispose()


# -------------------------------------------------------------------------------------------------- methods
def run_pipeline(url: str, path: Path, reports: Path) -> dict:
    """One file through ``load_observations`` (its own transaction); the rows it inserted."""
    from geo.settings import IngestSettings
    from ingest.obs_pipeline import ObsOptions, load_observations

    engine = engine_for(url)
    result = load_observations(engine, "long", path, ObsOptions(),
                               ingest_settings=IngestSettings(reports_dir=reports, user="bench"))
    engine.dispose()
    if result.status != "succeeded":
        raise RuntimeError(f"{path.name}: {result.status}: {result.error}")
    return {"rows": result.inserted}


def run_tosql(url: str, path: Path, method: str | None, chunksize: int) -> dict:
    """One file the obvious pandas way: read_csv, then to_sql appending to a plain table."""
    engine = engine_for(url)
    frame = pd.read_csv(path, parse_dates=["time"])
    frame.to_sql(TOSQL_TABLE, engine, if_exists="append", index=False, chunksize=chunksize, method=method)
    engine.dispose()
    return {"rows": len(frame)}


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
    run_pipeline(url, path, reports)
    prof.disable()
    for key in ("cumulative", "tottime"):
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(top)
        print(f"--- sorted by {key} ---")
        print(buf.getvalue())


def phases_and_variants(url: str, path: Path) -> None:
    """Where one file's time goes: the pipeline's phases, then the merge's SQL variants (server side only).

    Runs the pipeline's own functions step by step, in one transaction that is rolled back each time. The
    variants with ``session_replication_role = replica`` switch the per-row foreign-key triggers off: a
    MEASUREMENT ONLY (superuser), to show what the foreign keys cost; never a thing for the pipeline to do.
    """
    from geo.db import raw_connection
    from ingest import obs_pipeline as op
    from ingest.obs_checks import check_observations
    from ingest.obs_readers import read_observations

    engine = engine_for(url)
    key, values = ", ".join(op.KEY), ", ".join(op.VALUES)
    cols = f"{key}, {values}, ingest_run_id"
    with raw_connection(engine) as conn:
        run = conn.execute("SELECT max(run_id) FROM ingest_runs").fetchone()[0]
        t0 = time.perf_counter()
        raw = read_observations("long", path)
        t1 = time.perf_counter()
        stations = op.known_stations(conn, sorted(raw["station"].unique().tolist()))
        checked = check_observations(raw, op.load_parameters(conn), stations, pd.Timestamp.now(tz="UTC"), None)
        t2 = time.perf_counter()
        n = len(checked.rows)

        def fresh() -> float:
            conn.rollback()
            conn.execute("TRUNCATE measurements, measurement_changes")
            conn.commit()
            t = time.perf_counter()
            op.stage(conn, checked.rows, "provisional")
            spent = time.perf_counter() - t
            conn.execute("ANALYZE obs_stage")
            return spent

        refreshed: list[float] = []
        t_stage = fresh()
        print(f"\nphases of one pipeline load, {path.name} ({n:,} rows):")
        print(f"  {'phase':<70}{'s':>8}{'us/row':>9}")
        for name, t in (("read_observations (CSV -> raw frame)", t1 - t0), ("check_observations", t2 - t1),
                        ("stage(): rows -> Python lists -> binary COPY into temp table", t_stage)):
            print(f"  {name:<70}{t:>8.2f}{t / n * 1e6:>9.1f}")
        variants = [
            ("merge() as shipped (upsert + change-log CTE)", None, None),
            ("INSERT .. ON CONFLICT DO NOTHING, no change-log CTE", f"INSERT INTO measurements ({cols}) SELECT "
             f"{key}, {values}, %s FROM {op.STAGE} ON CONFLICT ({key}) DO NOTHING", None),
            ("plain INSERT .. SELECT (no ON CONFLICT)", f"INSERT INTO measurements ({cols}) SELECT {key}, {values}, "
             f"%s FROM {op.STAGE}", None),
            ("  same, FK triggers off (measure only)", f"INSERT INTO measurements ({cols}) SELECT {key}, {values}, "
             f"%s FROM {op.STAGE}", "SET LOCAL session_replication_role = replica"),
            ("ON CONFLICT DO NOTHING, FK triggers off (measure only)", f"INSERT INTO measurements ({cols}) SELECT "
             f"{key}, {values}, %s FROM {op.STAGE} ON CONFLICT ({key}) DO NOTHING",
             "SET LOCAL session_replication_role = replica"),
        ]
        for name, sql, pre in variants:
            best = math.inf
            for _ in range(2):
                fresh()
                if pre:
                    conn.execute(pre)
                t = time.perf_counter()
                merged = op.merge(conn, run) if sql is None else conn.execute(sql, (run,))
                best = min(best, time.perf_counter() - t)
                if sql is None and hasattr(merged, "touched") and not refreshed:
                    # The shipped pipeline then refreshes the stored indices of what the merge touched.
                    from ingest import indices

                    t = time.perf_counter()
                    indices.refresh_touched(conn, merged.touched)
                    refreshed.append(time.perf_counter() - t)
            print(f"  {'merge variant: ' + name:<70}{best:>8.2f}{best / n * 1e6:>9.1f}", flush=True)
            if refreshed and sql is None:
                print(f"  {'indices.refresh_touched() after merge() (pipeline phase)':<70}{refreshed[0]:>8.2f}"
                      f"{refreshed[0] / n * 1e6:>9.1f}", flush=True)
        conn.rollback()
        conn.execute("TRUNCATE measurements, measurement_changes")
        conn.commit()
    engine.dispose()


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


def report(res: dict[str, dict], n: int, method: str | None, chunksize: int) -> None:
    labels = {"pipeline": "(a) pipeline load_observations (long CSV)",
              "to_sql": f"(b) read_csv + to_sql(method={method!r}, chunksize={chunksize:,})"}
    print(f"\n{'method':<58}{'rows':>12}{'wall s':>10}{'rows/s':>12}{'peak RSS MB':>13}")
    for key, label in labels.items():
        r = res[key]
        print(f"{label:<58}{r['rows']:>12,}{r['seconds']:>10.1f}{r['rows'] / r['seconds']:>12,.0f}"
              f"{r['peak_rss_mb']:>13,.0f}")
    ratio = res["to_sql"]["seconds"] / res["pipeline"]["seconds"]
    print(f"\nratio to_sql / pipeline = {ratio:.2f}x   (goal >= 6x: {'met' if ratio >= 6 else 'NOT met'})")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="readings wanted (rounded up to whole days)")
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--files", type=int, default=10, help="split the readings by station into this many files")
    ap.add_argument("--tosql-method", choices=["none", "multi"], default="none")
    ap.add_argument("--chunksize", type=int, default=10_000)
    ap.add_argument("--only", choices=["pipeline", "to_sql"], help="time one method only (no ratio)")
    ap.add_argument("--profile", action="store_true", help="cProfile one pipeline file load instead of timing")
    ap.add_argument("--variants", action="store_true",
                    help="time the pipeline's phases and SQL variants of its merge on the first file instead")
    ap.add_argument("--admin-url", default=DEFAULT_ADMIN, help="server for the scratch database")
    ap.add_argument("--db", default=SCRATCH_DB, help="name of the scratch database (created and dropped here)")
    ap.add_argument("--keep", action="store_true", help="do not drop the scratch database at the end")
    ap.add_argument("--max-minutes", type=float, default=40.0,
                    help="stop after the file during which this much loading time has passed; the table then "
                         "covers the files both methods loaded")
    args = ap.parse_args(argv)
    method = None if args.tosql_method == "none" else args.tosql_method

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
        if args.variants:
            phases_and_variants(url, files[0])
            return
        # Import the pipeline once, here: every forked child then runs this same version of the code, even if
        # the files change on disk during a long run (they did once: a run straddled two versions).
        import hashlib

        import ingest.indices
        import ingest.obs_pipeline  # noqa: F401

        digest = hashlib.sha256(b"".join((ROOT / f).read_bytes() for f in CODE)).hexdigest()[:12]
        print(f"code:    sha256 {digest} of {', '.join(CODE)}", flush=True)
        _reset(url)
        # Interleaved file by file, each load in its own forked child: both methods see the same machine load
        # (this machine is shared), and each child's peak RSS is its own.
        methods = [m for m in ("pipeline", "to_sql") if args.only in (None, m)]
        res = {m: {"rows": 0, "seconds": 0.0, "peak_rss_mb": 0.0} for m in methods}
        print(f"  loading file by file, pipeline then to_sql ({loadavg()})", flush=True)
        started = time.monotonic()
        for k, path in enumerate(files):
            if k and time.monotonic() - started > args.max_minutes * 60:
                print(f"  STOPPED by --max-minutes {args.max_minutes:g} after {k} of {len(files)} files: the table "
                      f"below covers {k} files, the check the rows loaded so far", flush=True)
                break
            line = f"    {path.name}:"
            for m in methods:
                out = (in_child(run_pipeline, url, path, reports) if m == "pipeline"
                       else in_child(run_tosql, url, path, method, args.chunksize))
                r = res[m]
                r["rows"] += out["rows"]
                r["seconds"] += out["seconds"]
                r["peak_rss_mb"] = max(r["peak_rss_mb"], out["peak_rss_mb"])
                line += f"  {m} {out['rows']:,} rows {out['seconds']:.1f} s"
            print(line + f"  ({loadavg()})", flush=True)
        if args.only:
            for k, r in res.items():
                print(f"{k}: {r['rows']:,} rows, {r['seconds']:.1f} s, {r['rows'] / r['seconds']:,.0f} rows/s, "
                      f"peak RSS {r['peak_rss_mb']:,.0f} MB")
            return
        print("  " + check_same(url))
        report(res, n, method, args.chunksize)
        print(f"({loadavg()} at the end)")
    finally:
        engine.dispose()
        if not args.keep:
            scratch_database(args.admin_url, args.db, create=False)


if __name__ == "__main__":
    main()
