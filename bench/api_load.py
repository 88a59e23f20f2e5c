"""Benchmark: the open data API under load on loopback, cached against uncached, at 50 concurrent clients.

Run from the repository root (see bench/README.md):

    python bench/api_load.py                          # 100 stations x 365 days, 15 s per scenario, 50 clients
    python bench/api_load.py --days 30 --duration 5   # quick trial
    python bench/api_load.py --reuse                  # keep the scratch database of an earlier --keep run

Setup (timed, not part of the comparison), in the scratch database ``geo_bench_api`` (created and dropped here):
100 automatic air stations loaded through ``ingest_file``; a year of hourly readings per station and pollutant from
``ingest.sample_readings.air_readings`` (ending at the last complete hour, so the stations are "current"),
binary-COPYed into ``measurements`` under a ledger run (which bumps ``data_versions``, like every load);
then the stored indices computed by ``ingest.indices.refresh`` (aqi_hourly, aqi_daily, QCVN 05 exceedances).

Two app servers, each ``dashboards.serve.serve(AppSettings)`` (waitress, WebSettings.threads worker threads) in
its own process on 127.0.0.1: one with the default response cache (``WebSettings.cache_entries=2048``), one built
with ``cache_entries=0`` (every request computed: the honest "uncached"; no cache-busting query strings).
The load generator is this process: 50 threads, each with its own keep-alive HTTP/1.1 connection (http.client),
issuing requests back to back for ``--duration`` seconds per scenario after a short warm-up (which also fills the
cache of the cached server). Scenarios, interleaved uncached/cached so both see the same machine load:
  GET /api/v1/stations
  GET /api/v1/stations/<code>/aqi/hourly?start=..&end=..   (7 days; the 100 stations in turn)
It prints requests/s, p50/p95/p99 latency, errors (any non-200 or failed request) and the ratios cached/uncached.
It is a benchmark, not a timed test.
"""
from __future__ import annotations

import argparse
import http.client
import json
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load_readings import (DEFAULT_ADMIN, OUT, engine_for, load_stations, loadavg,  # noqa: E402
                                 machine, scratch_database, server_line, station_codes, write_stations)

SCRATCH_DB = "geo_bench_api"


# -------------------------------------------------------------------------------------------------- setup
def store_readings(engine, frame) -> int:  # noqa: ANN001
    """Binary COPY of the readings under one ledger run (as tests/dashboards/conftest.py does, but binary)."""
    from geo.db import raw_connection
    from ingest import ledger

    with raw_connection(engine) as conn:
        run = ledger.start(conn, ledger.RunStart("load", "measurements", "bench", {"synthetic": True}))
        conn.execute("SELECT ensure_measurement_partitions(%s, %s)",
                     (frame["time"].min().to_pydatetime(), frame["time"].max().to_pydatetime()))
        values = [None if v != v else v for v in frame["value"].tolist()]
        times = frame["time"].dt.to_pydatetime()
        with conn.cursor() as cur, cur.copy("COPY measurements (station_code, parameter, measured_at, period, "
                                            "value, qc_flag, ingest_run_id) FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(["text", "text", "timestamptz", "text", "float8", "text", "int8"])
            for row in zip(frame["station"].tolist(), frame["parameter"].tolist(), times,
                           ["1h"] * len(frame), values, frame["flag"].tolist(), [run] * len(frame)):
                cp.write_row(row)
        ledger.finish(conn, run, "succeeded", n_inserted=len(frame))
        conn.commit()
    return len(frame)


def refresh_indices(engine, codes: list[str], start, end, batch: int) -> tuple[int, int]:  # noqa: ANN001
    """ingest.indices.refresh in batches of stations (one transaction each); rows written."""
    from geo.db import raw_connection
    from ingest import indices

    hourly = daily = 0
    for i in range(0, len(codes), batch):
        part = codes[i:i + batch]
        t = time.perf_counter()
        with raw_connection(engine) as conn:
            counts = indices.refresh(conn, part, start, end)
            conn.commit()
        hourly, daily = hourly + counts.hourly, daily + counts.daily
        print(f"    refresh stations {i + 1}-{i + len(part)}: {counts.hourly:,} hourly + {counts.daily:,} daily rows "
              f"in {time.perf_counter() - t:.1f} s", flush=True)
    return hourly, daily


def setup(url: str, stations: int, days: int, batch: int, index_days: int | None) -> None:
    from geo import migrate
    from ingest.sample_readings import air_readings, end_hour

    engine = engine_for(url)
    migrate.upgrade(engine)
    print(f"db:      {url} ({server_line(engine)})")
    codes = station_codes(stations)
    path = write_stations(codes, OUT / f"api_stations_{stations}.csv")
    print(f"  stations: {load_stations(engine, path, OUT / 'reports')} loaded through ingest_file", flush=True)
    t = time.perf_counter()
    frame = air_readings(codes, end_hour(), days=days)
    print(f"  readings: {len(frame):,} generated in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    store_readings(engine, frame)
    print(f"  readings: COPYed in {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    start, end = frame["time"].min().to_pydatetime(), frame["time"].max().to_pydatetime()
    if index_days is not None:
        start = max(start, end - timedelta(days=index_days))
    del frame
    hourly, daily = refresh_indices(engine, codes, start, end, batch)
    took = time.perf_counter() - t
    print(f"  indices: {hourly:,} hourly + {daily:,} daily rows by ingest.indices.refresh in {took:.1f} s "
          f"({hourly / took:,.0f} hourly rows/s)", flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def data_window(url: str) -> tuple[list[str], str, str]:
    """Station codes with indices, and a 7-day window ending at the newest stored hour (ISO, +07:00)."""
    engine = engine_for(url)
    with engine.connect() as conn:
        codes = [r[0] for r in conn.exec_driver_sql(
            "SELECT DISTINCT station_code FROM aqi_hourly ORDER BY 1")]
        last = conn.exec_driver_sql("SELECT max(hour_end) FROM aqi_hourly WHERE aqi IS NOT NULL").scalar()
    engine.dispose()
    if not codes or last is None:
        raise SystemExit("the database has no stored indices (run without --reuse)")
    import pandas as pd

    end = pd.Timestamp(last).tz_convert("Asia/Ho_Chi_Minh")
    return codes, (end - timedelta(days=7)).isoformat(), end.isoformat()


def db_contents(url: str) -> str:
    engine = engine_for(url)
    with engine.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT (SELECT count(*) FROM monitoring_stations), (SELECT count(*) FROM measurements), "
            "(SELECT count(*) FROM aqi_hourly), (SELECT count(*) FROM aqi_daily), "
            "(SELECT min(hour_end) FROM aqi_hourly), (SELECT max(hour_end) FROM aqi_hourly)").one()
    engine.dispose()
    return (f"{row[0]} stations, {row[1]:,} measurements, {row[2]:,} aqi_hourly rows ({row[4]:%Y-%m-%d} .. "
            f"{row[5]:%Y-%m-%d %H:%M} UTC, both schemes), {row[3]:,} aqi_daily rows")


# ------------------------------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_main(url: str, port: int, threads: int, cache_entries: int) -> None:
    """Child process: the platform's own production server path."""
    from dashboards.context import AppSettings
    from dashboards.serve import serve
    from geo.settings import DatabaseSettings, WebSettings

    serve(AppSettings(database=DatabaseSettings(database_url=url),
                      web=WebSettings(host="127.0.0.1", port=port, threads=threads, cache_entries=cache_entries,
                                      basemap="blank")))


def start_server(url: str, threads: int, cache_entries: int, log: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--serve", url, str(port), str(threads), str(cache_entries)]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/v1/openapi.json")
            if conn.getresponse().status == 200:
                conn.close()
                return proc, port
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise SystemExit(f"server did not answer within 120 s; see {log}")


def stop_server(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ----------------------------------------------------------------------------------------------- load generator
def run_load(port: int, paths: list[str], clients: int, duration: float, warmup: float) -> dict:
    """``clients`` threads with keep-alive connections, back-to-back GETs; latencies after the warm-up only."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors = [0] * clients
    sizes = [0] * clients
    samples: dict[int, str] = {}
    t_start = time.perf_counter()
    t_measure = t_start + warmup
    t_end = t_measure + duration

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        i = k
        while True:
            now = time.perf_counter()
            if now >= t_end:
                break
            path = paths[i % len(paths)]
            i += 1
            try:
                conn.request("GET", path)
                resp = conn.getresponse()
                body = resp.read()
                ok = resp.status == 200
                if not ok and k not in samples:
                    samples[k] = f"{resp.status} {body[:200]!r}"
            except (OSError, http.client.HTTPException) as exc:
                ok = False
                samples.setdefault(k, repr(exc))
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                body = b""
            done = time.perf_counter()
            if now >= t_measure:
                latencies[k].append(done - now)
                sizes[k] += len(body)
                errors[k] += not ok
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_measure
    lat = sorted(x for per in latencies for x in per)
    n = len(lat)

    def pct(q: float) -> float:
        return lat[min(n - 1, int(q * n))] * 1000 if n else float("nan")

    return {"requests": n, "seconds": wall, "rps": n / wall, "p50": pct(0.50), "p95": pct(0.95), "p99": pct(0.99),
            "mean_ms": statistics.fmean(lat) * 1000 if n else float("nan"), "errors": sum(errors),
            "kb": sum(sizes) / max(n, 1) / 1024, "samples": list(samples.values())[:3]}


# ---------------------------------------------------------------------------------------------------- main
def report(results: dict[tuple[str, str], dict], clients: int) -> None:
    print(f"\n{'endpoint':<46}{'server':<10}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'errors':>8}{'KB/resp':>9}")
    for (name, kind), r in results.items():
        print(f"{name:<46}{kind:<10}{r['requests']:>9,}{r['rps']:>9,.0f}{r['p50']:>9.1f}{r['p95']:>9.1f}"
              f"{r['p99']:>9.1f}{r['errors']:>8}{r['kb']:>9.1f}")
        for s in r["samples"]:
            print(f"    error sample: {s}")
    print()
    for name in dict.fromkeys(n for n, _ in results):
        c, u = results[(name, "cached")], results[(name, "uncached")]
        print(f"{name}: cached/uncached throughput = {c['rps'] / u['rps']:.1f}x, p95 uncached/cached = "
              f"{u['p95'] / c['p95']:.1f}x   (goal >= 5x: {'met' if c['rps'] / u['rps'] >= 5 else 'NOT met'})")
    total_errors = sum(r["errors"] for r in results.values())
    print(f"errors in all scenarios: {total_errors} (goal 0); {clients} concurrent clients")


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        url, port, threads, cache = argv[1:5]
        serve_main(url, int(port), int(threads), int(cache))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--duration", type=float, default=15.0, help="measured seconds per scenario")
    ap.add_argument("--warmup", type=float, default=3.0, help="seconds of load before measuring, per scenario")
    ap.add_argument("--threads", type=int, default=None, help="waitress threads (default: WebSettings().threads)")
    ap.add_argument("--refresh-batch", type=int, default=10, help="stations per indices.refresh transaction")
    ap.add_argument("--index-days", type=int, default=None,
                    help="store indices for the last N days only (default: every day of readings)")
    ap.add_argument("--setup-only", action="store_true", help="build the database and stop (implies --keep)")
    ap.add_argument("--admin-url", default=DEFAULT_ADMIN)
    ap.add_argument("--reuse", action="store_true", help=f"reuse an existing {SCRATCH_DB} (from a --keep run)")
    ap.add_argument("--keep", action="store_true", help=f"do not drop {SCRATCH_DB} at the end")
    args = ap.parse_args(argv)

    from geo.settings import WebSettings

    threads = args.threads or WebSettings().threads
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print("machine:", machine(), f"({loadavg()} at start)")
    url = f"{args.admin_url}/{SCRATCH_DB}"
    t0 = time.perf_counter()
    if not args.reuse:
        scratch_database(args.admin_url, SCRATCH_DB, create=True)
        print(f"setup: {args.stations} stations x {args.days} days x 6 pollutants", flush=True)
        setup(url, args.stations, args.days, args.refresh_batch, args.index_days)
    codes, start, end = data_window(url)
    print(f"setup done in {time.perf_counter() - t0:.0f} s; {len(codes)} stations with indices; 7-day window "
          f"{start} .. {end}", flush=True)
    print(f"db contents: {db_contents(url)}", flush=True)
    if args.setup_only:
        return
    q = f"start={quote(start)}&end={quote(end)}"
    scenarios = {
        "GET /api/v1/stations": ["/api/v1/stations"],
        "GET /api/v1/stations/<code>/aqi/hourly (7 d)": [f"/api/v1/stations/{quote(c)}/aqi/hourly?{q}"
                                                           for c in codes],
    }
    servers = {}
    try:
        for kind, entries in (("uncached", 0), ("cached", WebSettings().cache_entries)):
            proc, port = start_server(url, threads, entries, OUT / f"api_server_{kind}.log")
            servers[kind] = (proc, port)
            print(f"server {kind}: dashboards.serve.serve on 127.0.0.1:{port}, waitress threads={threads}, "
                  f"cache_entries={entries} (pid {proc.pid})", flush=True)
        results: dict[tuple[str, str], dict] = {}
        for name, paths in scenarios.items():
            for kind in ("uncached", "cached"):
                r = run_load(servers[kind][1], paths, args.clients, args.duration, args.warmup)
                results[(name, kind)] = r
                print(f"  {name} [{kind}]: {r['rps']:,.0f} req/s, p95 {r['p95']:.1f} ms, errors {r['errors']}  "
                      f"({loadavg()})", flush=True)
        report(results, args.clients)
        print(f"({loadavg()} at the end)")
        (OUT / "api_load_results.json").write_text(json.dumps(
            {f"{n} [{k}]": {kk: vv for kk, vv in r.items() if kk != "samples"} for (n, k), r in results.items()},
            indent=1))
    finally:
        for proc, _ in servers.values():
            stop_server(proc)
        if not args.keep and not args.setup_only:
            scratch_database(args.admin_url, SCRATCH_DB, create=False)


if __name__ == "__main__":
    main()
