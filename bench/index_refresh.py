"""Benchmark: the stored-index refresh that runs inside every readings load, against the former implementation.

Run from the repository root (see bench/README.md, "Refreshing stored indices"):

    python bench/index_refresh.py                                   # 100 stations x 6 pollutants x 695 days
    python bench/index_refresh.py --stations 20 --days 70 --files 2 # quick trial
    python bench/index_refresh.py --reuse --keep --new-only         # the new refresh alone, on a kept database

Data: the readings of ``bench/load_readings.py`` (``ingest.sample_readings.air_readings``, seed 20250701 + first
station of each file, ~1 % missing hours, last hour 2025-06-30 17:00 UTC), COPY'd straight into ``measurements``
of two scratch databases with the same rows, every station present: ``geo_idx_bench`` at the current schema and
``geo_idx_bench_old`` at migration 0019 (the stored-index tables as the former implementation wrote them: jsonb
``detail``, a foreign key per row). Both are created and dropped unless ``--keep``.

What it measures, per file of stations (what one load of ``bench/load_readings.py`` touches: its stations over the
whole span), in ONE run, interleaved (old, new, old, new, ...) so that both see the same machine load:
  (a) new: ``ingest.indices.refresh_touched`` as shipped;
  (b) old: the same function of the former implementation, read from git (``git show <rev>:ingest/indices.py``
      and ``ingest/index_store.py``, default: the last commit before this work, 096adcb) and imported as a module
      of its own, on the old-schema database;
each in its own transaction that is rolled back after the stored rows have been read back. Both results are
compared row by row and column by column: aqi_hourly and aqi_daily (every column but computed_at, ``detail`` as
jsonb text), qcvn_exceedances and qcvn_summaries (every column). Each file's refresh is committed, as a load's is.
Then two incremental refreshes on the loaded data (one day of one station, one hour of every station of the
first file; the readings are unchanged) are timed (best of ``--rounds``, rolled back), and each method's rows are
compared with what its own first loads stored: a refresh that changes nothing must store the same rows.
Reported: wall seconds, µs per loaded reading (readings = the rows of the touched spans, missing hours included,
as a load counts them) and the ratio old / new. A benchmark, not a timed test.
"""
from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
OUT = HERE / "out"
DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432"
SCRATCH_DB = "geo_idx_bench"
END = pd.Timestamp("2025-06-30 17:00", tz="UTC")      # the last hour of bench/load_readings.py
BBOX = (106.40, 10.90, 106.90, 11.40)
SEED = 20250701
POLLUTANTS = 6
OLD_SCHEMA = "0019_obs_bulk_load"     # the last migration before the stored indices moved to typed store tables
# The last commit with the former ingest/indices.py and ingest/index_store.py (the baseline).
BASELINE = "096adcbc52ed063864a6f36a8306d41239ea9363"
TABLES = {
    "aqi_hourly": ("station_code, scheme, hour_end, aqi, category, dominant, provisional, beyond_scale, "
                   "detail::text", "station_code, scheme, hour_end"),
    "aqi_daily": ("station_code, scheme, day, aqi, category, dominant, provisional, beyond_scale, detail::text",
                  "station_code, scheme, day"),
    "qcvn_exceedances": ("station_code, parameter, period, period_end, value, limit_value, regulation, n_hours, "
                         "provisional", "station_code, parameter, period, period_end"),
    "qcvn_summaries": ("station_code, parameter, period, freq, period_start, regulation, limit_value, n_valid, "
                       "n_exceeding, share, max_value, n_provisional",
                       "station_code, parameter, period, freq, period_start, regulation"),
}


# ---------------------------------------------------------------------------------------------------- helpers
def loadavg() -> str:
    try:
        return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "load average n/a"


def machine() -> str:
    import numpy
    import psycopg

    return (f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy "
            f"{numpy.__version__}, pandas {pd.__version__}, psycopg {psycopg.__version__}")


def old_modules(rev: str) -> types.ModuleType:
    """The former ingest.indices (with its own ingest.index_store), from git, as modules of their own."""
    def source(path: str) -> str:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                              text=True).stdout

    store = types.ModuleType("old_index_store")
    store.__file__ = f"git:{rev}:ingest/index_store.py"
    sys.modules["old_index_store"] = store
    exec(compile(source("ingest/index_store.py"), store.__file__, "exec"), store.__dict__)
    text = source("ingest/indices.py").replace("from ingest.index_store import", "from old_index_store import")
    module = types.ModuleType("old_indices")
    module.__file__ = f"git:{rev}:ingest/indices.py"
    sys.modules["old_indices"] = module
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module


def new_module() -> types.ModuleType:
    from ingest import indices

    return indices


# ----------------------------------------------------------------------------------------------------- data
def station_codes(n: int) -> list[str]:
    return [f"BENCH-{i:03d}" for i in range(1, n + 1)]


def scratch_database(admin: str, name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{admin}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def engine_for(url: str):  # noqa: ANN201
    from geo.db import make_engine
    from geo.settings import DatabaseSettings

    return make_engine(DatabaseSettings(database_url=url))


def load_stations(engine, codes: list[str], folder: Path) -> None:  # noqa: ANN001
    from geo.settings import AreaSettings, IngestSettings
    from ingest.pipeline import LoadOptions, ingest_file
    from layers import REGISTRY

    rng = np.random.default_rng(7)
    frame = pd.DataFrame({
        "code": codes, "name_vi": [f"Trạm đo thử {c}" for c in codes],
        "name_en": [f"Benchmark station {c}" for c in codes],
        "medium": "air", "mode": "automatic", "status": "active", "source": "bench (synthetic)",
        "lon": rng.uniform(BBOX[0], BBOX[2], len(codes)).round(6),
        "lat": rng.uniform(BBOX[1], BBOX[3], len(codes)).round(6)})
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "idx_stations.csv"
    frame.to_csv(path, index=False)
    result = ingest_file(engine, REGISTRY.get("monitoring_stations"), path, LoadOptions(),
                         ingest_settings=IngestSettings(reports_dir=folder / "reports", user="bench"),
                         area=AreaSettings())
    if not result.ok:
        raise SystemExit(f"stations load failed: {result.status}: {result.error}")


def load_readings(engines: list, groups: list[list[str]], days: int) -> int:  # noqa: ANN001
    """Every group's readings (as bench/load_readings.py makes them) COPY'd into measurements of each database."""
    from geo.db import raw_connection
    from ingest import ledger
    from ingest.sample_readings import air_readings

    hours = pd.date_range(end=END, periods=days * 24, freq="h", tz="UTC")
    runs = []
    for engine in engines:
        with raw_connection(engine) as conn:
            runs.append(ledger.start(conn, ledger.RunStart("load", "measurements", "bench", {"synthetic": True})))
            conn.execute("SELECT ensure_measurement_partitions(%s, %s)", (hours[0].to_pydatetime(),
                                                                          hours[-1].to_pydatetime()))
            conn.commit()
    total = 0
    for k, group in enumerate(groups):
        frame = air_readings(group, END, days=days, seed=SEED + k * len(group))
        text = pd.DataFrame({"s": frame["station"], "p": frame["parameter"],
                             "t": frame["time"].dt.strftime("%Y-%m-%d %H:%M:%S+00"), "period": "1h",
                             "v": frame["value"], "f": frame["flag"]})
        for engine, run in zip(engines, runs):
            buffer = io.StringIO()
            text.assign(r=run).to_csv(buffer, index=False, header=False, float_format="%.1f", na_rep="")
            with raw_connection(engine) as conn:
                with conn.cursor() as cur, cur.copy("COPY measurements (station_code, parameter, measured_at, "
                                                    "period, value, qc_flag, ingest_run_id) FROM STDIN "
                                                    "(FORMAT csv)") as cp:
                    cp.write(buffer.getvalue().encode())
                conn.commit()
        total += len(frame)
        print(f"  readings of {group[0]}..{group[-1]}: {len(frame):,} rows", flush=True)
    for engine, run in zip(engines, runs):
        with raw_connection(engine) as conn:
            ledger.finish(conn, run, "succeeded", n_inserted=total)
            conn.commit()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.exec_driver_sql("VACUUM ANALYZE")
            c.exec_driver_sql("CHECKPOINT")
    return total


# ------------------------------------------------------------------------------------------------- measuring
def dump(conn, stations: list[str] | None = None) -> dict[str, list[bytes]]:  # noqa: ANN001
    """Every stored index row (text form, in key order) of ``stations`` (all when None), table by table."""
    out = {}
    where = ""
    if stations is not None:
        where = "WHERE station_code IN (" + ", ".join("'" + c.replace("'", "''") + "'" for c in stations) + ")"
    for table, (columns, order) in TABLES.items():
        buffer = io.BytesIO()
        with conn.cursor() as cur, cur.copy(f"COPY (SELECT {columns} FROM {table} {where} ORDER BY {order}) "
                                            "TO STDOUT") as cp:
            for chunk in cp:
                buffer.write(chunk)
        out[table] = buffer.getvalue().splitlines()
    return out


def compare(old: dict[str, list[bytes]], new: dict[str, list[bytes]], names: tuple[str, str] = ("old", "new")
            ) -> list[str]:
    """One line per table: rows, and differing rows/columns if any (with the largest relative difference)."""
    lines = []
    for table in TABLES:
        a, b = old[table], new[table]
        if a == b:
            lines.append(f"{table} {len(a):,} rows identical")
            continue
        columns = [c.strip() for c in TABLES[table][0].split(",")]
        keys = len(TABLES[table][1].split(","))
        rows_a = {tuple(r.split(b"\t")[:keys]): r.split(b"\t") for r in a}
        rows_b = {tuple(r.split(b"\t")[:keys]): r.split(b"\t") for r in b}
        only_a, only_b = rows_a.keys() - rows_b.keys(), rows_b.keys() - rows_a.keys()
        differ: dict[str, int] = {}
        worst: dict[str, float] = {}
        example = None
        for key in sorted(rows_a.keys() & rows_b.keys()):
            for name, x, y in zip(columns, rows_a[key], rows_b[key]):
                if x != y:
                    differ[name] = differ.get(name, 0) + 1
                    example = example or (key, name, x, y)
                    try:
                        rel = abs(float(x) - float(y)) / max(abs(float(x)), 1e-300)
                        worst[name] = max(worst.get(name, 0.0), rel)
                    except ValueError:
                        worst[name] = float("inf")
        what = ", ".join(f"{k} in {v:,} rows (max relative difference {worst[k]:.1e})" for k, v in differ.items())
        x, y = names
        lines.append(f"{table} {x} {len(a):,} / {y} {len(b):,} rows: DIFFERENT (only {x} {len(only_a)}, only {y} "
                     f"{len(only_b)}; {what}; e.g. {example or sorted(only_a or only_b)[:1]})")
    return lines


def readings_in(conn, touched) -> int:  # noqa: ANN001
    """Rows of the touched spans (every flag): what a load of those hours counts as its readings."""
    n = 0
    for station, (lo, hi) in touched.air.items():
        n += conn.execute("SELECT count(*) FROM measurements WHERE station_code = %s AND period = '1h' "
                          "AND measured_at BETWEEN %s AND %s", (station, lo, hi)).fetchone()[0]
    conn.rollback()
    return n


STORES = {"old": "aqi_hourly, aqi_daily, qcvn_exceedances, qcvn_summaries",
          "new": "aqi_hourly_store, aqi_daily_store, qcvn_exceedances, qcvn_summaries, qcvn_monthly_sums"}


def run_refresh(module: types.ModuleType, conn, touched, keep: bool,  # noqa: ANN001
                stations: list[str], empty: str | None = None) -> tuple[float, dict[str, list[bytes]]]:
    """One timed refresh in its own transaction; committed (``keep``) or rolled back after reading the rows.

    ``empty``: tables to TRUNCATE first, inside the transaction (not timed): the rows are then new again, as in a
    first load, although the readings were just read (the warm repetition of a file).
    """
    conn.rollback()
    if empty:
        conn.execute(f"TRUNCATE {empty}")
    t = time.perf_counter()
    module.refresh_touched(conn, touched)
    seconds = time.perf_counter() - t
    if keep:
        conn.commit()
    stored = dump(conn, stations)
    conn.rollback()
    return seconds, stored


def scenario(name: str, conns: dict, modules: dict[str, types.ModuleType], touched, rounds: int,  # noqa: ANN001
             keep: bool, results: dict, empty: bool = False) -> dict[str, dict]:
    """Time one refresh with each method (interleaved); return each method's stored rows of the touched stations."""
    stations = sorted(touched.air)
    n = readings_in(conns["new"], touched)
    stored: dict[str, dict] = {}
    line = f"    {name}: {n:,} readings"
    for k in range(rounds):
        for label, module in modules.items():
            seconds, rows = run_refresh(module, conns[label], touched, keep, stations,
                                        STORES[label] if empty else None)
            stored[label] = rows
            r = results.setdefault(name, {}).setdefault(label, {"readings": n, "seconds": []})
            r["seconds"].append(seconds)
            line += f"  {label} {seconds:.2f} s"
    print(line + f"  ({loadavg()})", flush=True)
    return stored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, default=100)
    parser.add_argument("--days", type=int, default=695)
    parser.add_argument("--files", type=int, default=10, help="groups of stations, one refresh each")
    parser.add_argument("--rev", default=BASELINE, help="git revision of the former implementation")
    parser.add_argument("--new-only", action="store_true", help="time the new refresh alone")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds of each incremental refresh")
    parser.add_argument("--admin-url", default=DEFAULT_ADMIN)
    parser.add_argument("--db", default=SCRATCH_DB)
    parser.add_argument("--reuse", action="store_true", help="use the databases as they are (made by --keep)")
    parser.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    parser.add_argument("--setup-only", action="store_true", help="build the databases, keep them, stop")
    args = parser.parse_args()
    args.keep = args.keep or args.setup_only

    from geo import migrate
    from geo.db import raw_connection

    print(f"command: python bench/index_refresh.py {' '.join(sys.argv[1:])}".rstrip())
    print("machine:", machine(), f"({loadavg()} at start)")
    codes = station_codes(args.stations)
    groups = [list(g) for g in np.array_split(np.array(codes, dtype=object), args.files)]
    names = {"new": args.db} if args.new_only else {"old": f"{args.db}_old", "new": args.db}
    engines = {}
    try:
        for label, name in names.items():
            if not args.reuse:
                scratch_database(args.admin_url, name, create=True)
            engines[label] = engine_for(f"{args.admin_url}/{name}")
        if not args.reuse:
            t0 = time.perf_counter()
            for label, engine in engines.items():
                migrate.upgrade(engine, "head" if label == "new" else OLD_SCHEMA)
                load_stations(engine, codes, OUT)
            n = load_readings(list(engines.values()), groups, args.days)
            print(f"data:    {n:,} readings = {args.stations} stations x {POLLUTANTS} pollutants x {args.days} days x "
                  f"24 h in {', '.join(names.values())} ({time.perf_counter() - t0:.0f} s to load, not timed)",
                  flush=True)
        if args.setup_only:
            return
        for label, engine in engines.items():
            with engine.begin() as c:       # the stored indices start empty, as before a first load
                c.exec_driver_sql("TRUNCATE qcvn_exceedances, qcvn_summaries" +
                                  (", aqi_hourly_store, aqi_daily_store, qcvn_monthly_sums" if label == "new"
                                   else ", aqi_hourly, aqi_daily"))
            print(f"db {label}: {names[label]} at {migrate.current(engine)}")
        modules = {"new": new_module()}
        if not args.new_only:
            modules = {"old": old_modules(args.rev), **modules}
            print(f"old:     git show {args.rev}:ingest/indices.py (+ ingest/index_store.py)")
        results: dict = {}
        problems: list[str] = []
        consistency: list[str] = []
        with raw_connection(engines["new"]) as conn_new, raw_connection(engines.get("old", engines["new"])) as conn_old:
            conns = {"new": conn_new, "old": conn_old}
            print(f"  first loads: one refresh per file of stations over its whole span, committed, interleaved "
                  f"({loadavg()})", flush=True)
            for k, group in enumerate(groups):
                touched = touched_span(conn_new, group, modules["new"])
                stored = scenario(f"file {k:02d}", conns, modules, touched, 1, True, results)
                if "old" in stored:
                    problems += [f"file {k:02d}: {c}" for c in compare(stored["old"], stored["new"])
                                 if "DIFFERENT" in c]
            print(f"  file 00 again, warm: its readings were just read, the stores emptied in the transaction "
                  f"(best of {args.rounds}, rolled back) ({loadavg()})", flush=True)
            touched = touched_span(conn_new, groups[0], modules["new"])
            stored = scenario("file 00 again, warm", conns, modules, touched, args.rounds, False, results, empty=True)
            if "old" in stored:
                problems += [f"file 00 again: {c}" for c in compare(stored["old"], stored["new"]) if "DIFFERENT" in c]
            print(f"  incremental refreshes (best of {args.rounds}, rolled back) ({loadavg()})", flush=True)
            for name, touched in incremental_cases(conn_new, groups[0], modules["new"]):
                stations = sorted(touched.air)
                loaded = {label: dump(conn, stations) for label, conn in conns.items() if label in modules}
                for conn in conns.values():
                    conn.rollback()
                stored = scenario(name, conns, modules, touched, args.rounds, False, results)
                for label in stored:
                    lines = [c for c in compare(loaded[label], stored[label], ("first load", "incremental"))
                             if "DIFFERENT" in c]
                    consistency.append(f"{name}, {label}: " + ("same rows as its first loads stored" if not lines
                                                               else "; ".join(lines)))
        report(results, problems, consistency)
        print(f"({loadavg()} at the end)")
    finally:
        for engine in engines.values():
            engine.dispose()
        if not args.keep:
            for name in names.values():
                scratch_database(args.admin_url, name, create=False)


def touched_span(conn, group: list[str], module: types.ModuleType):  # noqa: ANN001, ANN201
    """What a first load of the group's file touches: per station the span of its air hours."""
    rows = conn.execute("SELECT station_code, min(measured_at), max(measured_at) FROM measurements "
                        "WHERE station_code = ANY(%s) AND period = '1h' GROUP BY 1 ORDER BY 1", (group,)).fetchall()
    conn.rollback()
    return module.Touched(air={s: (lo, hi) for s, lo, hi in rows})


def incremental_cases(conn, group: list[str], module: types.ModuleType):  # noqa: ANN001, ANN201
    """Loads of a few hours in the middle of the data (60 % into the span): a day of one station, an hour of all."""
    lo, hi = conn.execute("SELECT min(measured_at), max(measured_at) FROM measurements WHERE station_code = %s",
                          (group[0],)).fetchone()
    conn.rollback()
    mid = pd.Timestamp(lo + (hi - lo) * 0.6).floor("h").to_pydatetime()
    yield "one day, one station", module.Touched(air={group[0]: (mid - pd.Timedelta(hours=23), mid)})
    yield f"one hour, {len(group)} stations", module.Touched(air={s: (mid, mid) for s in group})


def report(results: dict, problems: list[str], consistency: list[str]) -> None:
    print()
    print(f"  {'refresh':<40}{'method':>8}{'readings':>12}{'wall s':>10}{'us/reading':>12}")
    first = {"old": [0, 0.0], "new": [0, 0.0]}
    for name, by in results.items():
        for label, r in by.items():
            best = min(r["seconds"])
            print(f"  {name:<40}{label:>8}{r['readings']:>12,}{best:>10.2f}{best / max(r['readings'], 1) * 1e6:>12.2f}")
            if name.startswith("file") and not name.endswith("warm"):
                first[label][0] += r["readings"]
                first[label][1] += best
    print()
    for label, (n, s) in first.items():
        if n:
            print(f"  first loads, all files: {label} {n:,} readings in {s:.1f} s = {s / n * 1e6:.2f} us/reading")
    if first["old"][0] and first["new"][0]:
        ratio = (first["old"][1] / first["old"][0]) / (first["new"][1] / first["new"][0])
        print(f"  ratio old / new, first loads = {ratio:.1f}x   (goal: new <= ~2 us/reading, 20-30x)")
    for name, by in results.items():
        if not name.startswith("file 0") or name.endswith("warm"):
            if "old" not in by or "new" not in by:
                continue
            n = by["new"]["readings"]
            print(f"  {name}: old / new = {min(by['old']['seconds']) / min(by['new']['seconds']):.1f}x "
                  f"(new {min(by['new']['seconds']) / max(n, 1) * 1e6:.2f} us/reading)")
    if first["old"][0]:
        print("  old vs new (first loads, warm repetition): " + ("every row and column identical" if not problems
                                                                 else "DIFFERENCES"))
        for p in problems:
            print("    " + p)
    print("  incremental refresh of unchanged readings vs the rows the first loads stored:")
    for line in consistency:
        print("    " + line)


if __name__ == "__main__":
    main()
