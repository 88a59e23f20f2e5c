"""Benchmark: the platform's vector-tile route, cached versus uncached, and versus tipg on the same table.

Run from the repository root (see bench/README.md):

    python bench/tiles.py                          # 200,000 polygons, scratch DB geo_bench_tiles, 32 clients
    python bench/tiles.py --rows 20000 --per-zoom 16 --cached-passes 5   # a quick look

In ONE run, against ONE database (a 200,000-polygon ``industrial_parks`` layer loaded by the real pipeline):
  cached   : our route in its own process (waitress), cache primed by one unmeasured pass
  uncached : our route with WebSettings(cache_entries=0): every tile is built by PostGIS
  tipg     : tipg 1.6.1 under uvicorn, /collections/public.industrial_parks/tiles/WebMercatorQuad/{z}/{x}/{y}
             with the same buffer (64), extent (4096), attributes (?properties=registry fields), no feature cap
Each phase requests the same deterministic list of tiles at zooms 8–14 (all tiles over the data, sampled to
--per-zoom per zoom) from --clients concurrent keep-alive connections on loopback, bounded by --max-seconds.
It prints tiles/s, p50/p95 latency, errors, the ratios, and a check that both servers return the same features.
It is a benchmark, not a timed test.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import math
import os
import platform
import random
import shlex
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SEED = 20250701
ADMIN = "postgresql://postgres@127.0.0.1:5432"
SCRATCH_DB = "geo_bench_tiles"
LAYER = "industrial_parks"
# Small polygons (lots of 20–60 m radius) spread over the former province's bounding box.
LON, LAT = (106.36, 106.95), (10.88, 11.47)
ZOOMS = range(8, 15)


# ----------------------------------------------------------------------------------------------- data
def make_lots(n: int, seed: int = SEED):  # -> gpd.GeoDataFrame
    """``n`` small star-shaped polygons with industrial-park attributes (those of bench/ingest_vector.py)."""
    import shapely

    sys.path.insert(0, str(HERE))
    from ingest_vector import make_parks  # the attribute generator; its polygons are too large (170–900 m)

    frame = make_parks(n, seed, code_prefix="LOT")
    rng = np.random.default_rng(seed + 1)
    k = rng.integers(5, 13, n)
    r = rng.uniform(0.00018, 0.00055, n)                # degrees of latitude: ~20–60 m
    coslat = math.cos(math.radians(sum(LAT) / 2))
    cx, cy = rng.uniform(LON[0], LON[1], n), rng.uniform(LAT[0], LAT[1], n)
    owner = np.repeat(np.arange(n), k)
    j = np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
    # Strictly increasing angles and positive radii: a star-shaped, hence simple (valid), ring.
    ang = (j + rng.uniform(0.1, 0.9, owner.size)) * (2 * np.pi / k[owner])
    rad = rng.uniform(0.55, 1.0, owner.size)
    xy = np.column_stack([cx[owner] + rad * r[owner] / coslat * np.cos(ang),
                          cy[owner] + rad * r[owner] * np.sin(ang)])
    polys = shapely.polygons(shapely.linearrings(xy, indices=owner))
    frame = frame.set_geometry(polys, crs="EPSG:4326")
    frame["area_declared_ha"] = np.round(shapely.area(polys) * 111_320.0 ** 2 * coslat / 1e4, 3)
    return frame


def write_lots(n: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"tile_lots_{n}_{SEED}.gpkg"
    if not path.exists():
        tmp = path.with_suffix(".tmp.gpkg")
        tmp.unlink(missing_ok=True)
        make_lots(n).to_file(tmp, layer=LAYER, driver="GPKG", engine="pyogrio", use_arrow=True)
        tmp.rename(path)
    return path


def prepare_database(admin: str, db: str, n: int) -> str:
    """A fresh scratch database, migrated, with the polygons loaded by the platform's own pipeline."""
    import psycopg

    from geo import migrate
    from geo.db import make_engine
    from geo.settings import AreaSettings, DatabaseSettings, IngestSettings
    from ingest.pipeline import LoadOptions, ingest_file
    from layers import REGISTRY

    path = write_lots(n)
    with psycopg.connect(f"{admin}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db}"')
    url = f"{admin.replace('postgresql://', 'postgresql+psycopg://')}/{db}"
    engine = make_engine(DatabaseSettings(database_url=url))
    migrate.upgrade(engine)
    t0 = time.perf_counter()
    result = ingest_file(engine, REGISTRY.get(LAYER), path, LoadOptions(),
                         ingest_settings=IngestSettings(reports_dir=OUT / "reports", user="bench"),
                         area=AreaSettings())
    if not result.ok or result.inserted != n:
        raise SystemExit(f"load failed: {result.status} {result.error} inserted={result.inserted}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {LAYER}")
    print(f"loaded {n:,} polygons through ingest_file in {time.perf_counter() - t0:.1f} s", flush=True)
    engine.dispose()
    return url


def tile_list(url: str, per_zoom: int) -> list[tuple[int, int, int]]:
    """Every tile over the data's extent at zooms 8–14, sampled (deterministically) to ``per_zoom`` per zoom."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        west, south, east, north = conn.execute(
            f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM {LAYER}) s"
        ).fetchone()
    rng, tiles = random.Random(SEED), []
    for z in ZOOMS:
        x0, y0 = _tile_xy(west, north, z)
        x1, y1 = _tile_xy(east, south, z)
        every = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        tiles += sorted(rng.sample(every, per_zoom)) if len(every) > per_zoom else every
    return tiles


def _tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


# -------------------------------------------------------------------------------------------- servers
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_ours(url: str, port: int, threads: int, cache_entries: int) -> None:
    """(Child process) the platform app under waitress, as `geo serve` runs it."""
    import logging

    from waitress import serve

    from dashboards.app import create_app
    from dashboards.context import AppSettings
    from geo.settings import DatabaseSettings, SecuritySettings, WebSettings

    settings = AppSettings(database=DatabaseSettings(database_url=url),
                           web=WebSettings(basemap="blank", threads=threads, cache_entries=cache_entries),
                           security=SecuritySettings(secure_cookies=False))
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" is the point of the bench
    serve(create_app(settings).server, host="127.0.0.1", port=port, threads=threads, connection_limit=200,
          channel_timeout=300)


def start_server(kind: str, url: str, threads: int) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    env = dict(os.environ)
    if kind == "tipg":
        env.update({"DATABASE_URL": url.replace("+psycopg", ""), "TIPG_DB_TABLES": f'["public.{LAYER}"]',
                    "TIPG_TILE_BUFFER": "64", "TIPG_TILE_RESOLUTION": "4096",
                    "TIPG_MAX_FEATURES_PER_TILE": "1000000",  # ours has no cap: do not let tipg truncate
                    "DB_MIN_CONN_SIZE": str(threads), "DB_MAX_CONN_SIZE": str(threads)})
        cmd = [sys.executable, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log"]
    else:
        entries = "0" if kind == "uncached" else "100000"
        cmd = [sys.executable, __file__, "--serve", url, "--port", str(port), "--server-threads", str(threads),
               "--cache-entries", entries]
    proc = subprocess.Popen(cmd, env=env, cwd=HERE.parent, stdout=subprocess.DEVNULL)
    probe = f"/collections/public.{LAYER}" if kind == "tipg" else f"/tiles/{LAYER}.json"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{kind} server exited with {proc.returncode}")
        try:
            status, _, _ = _get(http.client.HTTPConnection("127.0.0.1", port, timeout=5), probe)
            if status == 200:
                return proc, port
        except OSError:
            pass
        time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"{kind} server did not answer {probe} within 60 s")


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, bytes, float]:
    t0 = time.perf_counter()
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    return resp.status, body, time.perf_counter() - t0


# -------------------------------------------------------------------------------------------- clients
@dataclass
class Phase:
    name: str
    planned: int
    latencies: list[float] = field(default_factory=list)
    zooms: list[int] = field(default_factory=list)
    errors: int = 0
    nbytes: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.elapsed if self.elapsed else 0.0

    def ms(self, q: float, zoom: int | None = None) -> float:
        values = [dt for z, dt in zip(self.zooms, self.latencies) if zoom is None or z == zoom]
        return float(np.percentile(values, q)) * 1000 if values else float("nan")


def run_phase(name: str, port: int, paths: list[tuple[int, str]], clients: int, max_seconds: float) -> Phase:
    """``clients`` keep-alive connections take the next (zoom, path) from one shared list until done or timed out."""
    phase, lock, counter = Phase(name, len(paths)), threading.Lock(), itertools.count()
    deadline = time.perf_counter() + max_seconds

    def connect() -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", port, timeout=max_seconds + 60)

    def worker() -> None:
        conn = connect()
        while (i := next(counter)) < len(paths) and time.perf_counter() < deadline:
            zoom, path = paths[i]
            try:
                status, body, dt = _get(conn, path)
                ok = status in (200, 204)
            except (OSError, http.client.HTTPException):
                conn.close()
                conn, ok, body, dt = connect(), False, b"", 0.0
            with lock:
                if ok:
                    phase.latencies.append(dt)
                    phase.zooms.append(zoom)
                    phase.nbytes += len(body)
                else:
                    phase.errors += 1
        conn.close()

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.elapsed = time.perf_counter() - t0
    return phase


# ------------------------------------------------------------------------------------------- checks
def compare_content(ours: int, tipg: int, tiles: list[tuple[int, int, int]], query: str) -> list[str]:
    """Decode the same tiles from both servers (z12–z14, a few each): feature ids and attribute names."""
    import mapbox_vector_tile

    lines, rng = [], random.Random(SEED)
    for z in (12, 13, 14):
        for tz, x, y in rng.sample([t for t in tiles if t[0] == z], 3):
            a = _get(http.client.HTTPConnection("127.0.0.1", ours), f"/tiles/{LAYER}/{tz}/{x}/{y}.pbf")[1]
            b = _get(http.client.HTTPConnection("127.0.0.1", tipg), _tipg_path(tz, x, y, query))[1]
            fa = mapbox_vector_tile.decode(a).get(LAYER, {}).get("features", []) if a else []
            fb = next(iter(mapbox_vector_tile.decode(b).values()), {}).get("features", []) if b else []
            ids_a = {f["id"] for f in fa}
            ids_b = {f["properties"].get("id") for f in fb}
            keys_a = set().union(*(f["properties"] for f in fa)) | {"id"} if fa else set()
            keys_b = set().union(*(f["properties"] for f in fb)) if fb else set()
            lines.append(f"  z{tz}/{x}/{y}: ours {len(fa)} features {len(a):,} B, tipg {len(fb)} features "
                         f"{len(b):,} B; tipg's ids within ours: {ids_b <= ids_a}; attributes only in ours: "
                         f"{sorted(keys_a - keys_b) or '-'}, only in tipg: {sorted(keys_b - keys_a) or '-'}")
    return lines


def _tipg_path(z: int, x: int, y: int, query: str) -> str:
    return f"/collections/public.{LAYER}/tiles/WebMercatorQuad/{z}/{x}/{y}?{query}"


def version_check_costs(url: str, clients: int, calls: int = 2000) -> list[str]:
    """What the per-tile version check costs: a pooled query (VersionedCache) versus the shared VersionClock."""
    from sqlalchemy import create_engine

    from dashboards.cache import VersionedCache
    from dashboards.tiles import VersionClock

    engine = create_engine(url, pool_size=clients, max_overflow=10, pool_pre_ping=True)  # as AppContext.build
    clock = VersionClock(url.replace("+psycopg", ""))
    checks = {"pooled query": lambda: VersionedCache(engine).versions((LAYER,)),
              "VersionClock": lambda: clock.current().get(LAYER)}
    lines = []
    for label, check in checks.items():
        check()
        t0 = time.perf_counter()
        for _ in range(calls):
            check()
        one = (time.perf_counter() - t0) / calls * 1e6
        reads_before = clock.reads
        t0 = time.perf_counter()
        workers = [threading.Thread(target=lambda: [check() for _ in range(calls // clients)]) for _ in range(clients)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        many = (time.perf_counter() - t0) / (calls // clients * clients) * 1e6
        shared = f", {clock.reads - reads_before} reads for {calls // clients * clients} checks" \
            if label == "VersionClock" else ""
        lines.append(f"  {label:<13} 1 thread {one:7.0f} µs/check; {clients} threads {many:7.0f} µs/check{shared}")
    engine.dispose()
    return lines


# --------------------------------------------------------------------------------------------- report
def report(phases: dict[str, Phase]) -> None:
    print(f"\n{'server':<10}{'requests':>10}{'errors':>8}{'seconds':>9}{'tiles/s':>10}{'p50 ms':>9}"
          f"{'p95 ms':>9}{'MB/s':>8}")
    for ph in phases.values():
        done = f"{len(ph.latencies)}" + ("" if len(ph.latencies) + ph.errors >= ph.planned else "*")
        print(f"{ph.name:<10}{done:>10}{ph.errors:>8}{ph.elapsed:>9.1f}{ph.rate:>10.1f}{ph.ms(50):>9.1f}"
              f"{ph.ms(95):>9.1f}{ph.nbytes / ph.elapsed / 1e6:>8.1f}")
    print("\np95 ms per zoom  " + "".join(f"{'z' + str(z):>8}" for z in ZOOMS))
    for ph in phases.values():
        print(f"{ph.name:<17}" + "".join(f"{ph.ms(95, z):>8.1f}" for z in ZOOMS))
    c, u, t = phases["cached"], phases["uncached"], phases["tipg"]
    print(f"\ncached / uncached: {c.rate / u.rate:.1f}x tiles/s, p95 {u.ms(95) / c.ms(95):.1f}x lower")
    print(f"cached / tipg:     {c.rate / t.rate:.1f}x tiles/s, p95 {t.ms(95) / c.ms(95):.1f}x lower")
    print(f"uncached / tipg:   {u.rate / t.rate:.2f}x tiles/s, p95 ratio tipg/uncached {t.ms(95) / u.ms(95):.2f}")
    if any(ph.errors for ph in phases.values()):
        print("ERRORS: some requests failed (see the errors column)")
    if any(len(ph.latencies) + ph.errors < ph.planned for ph in phases.values()):
        print("* stopped by --max-seconds before the whole list was requested")


def main() -> None:
    args = _args()
    if args.serve:
        serve_ours(args.serve, args.port, args.server_threads, args.cache_entries)
        return
    print(f"python {platform.python_version()}, {os.cpu_count()} CPUs; command: python bench/tiles.py "
          + shlex.join(sys.argv[1:]), flush=True)
    url = prepare_database(args.admin, args.db, args.rows)
    tiles = tile_list(url, args.per_zoom)
    print(f"{len(tiles)} tiles: " + ", ".join(f"z{z} {sum(t[0] == z for t in tiles)}" for z in ZOOMS), flush=True)
    from layers import REGISTRY

    # tipg sets no MVT feature id: ask for `id` as an attribute so that its tiles carry the same information.
    query = "properties=" + ",".join(("id",) + REGISTRY.get(LAYER).field_names)
    ours = [(z, f"/tiles/{LAYER}/{z}/{x}/{y}.pbf") for z, x, y in tiles]
    theirs = [(z, _tipg_path(z, x, y, query)) for z, x, y in tiles]
    servers = {kind: start_server(kind, url, args.server_threads) for kind in ("uncached", "cached", "tipg")}
    port = {kind: p for kind, (_, p) in servers.items()}
    try:
        phases = _measure(port, ours, theirs, args)
        report(phases)
        print("\nsame tiles from both servers (uncached route vs tipg):")
        print("\n".join(compare_content(port["uncached"], port["tipg"], tiles, query)))
        print("\nversion check per tile request:")
        print("\n".join(version_check_costs(url, args.clients)))
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=20)


def _measure(port: dict[str, int], ours: list, theirs: list, args: argparse.Namespace) -> dict[str, Phase]:
    say = lambda ph: print(f"  {ph.name}: {len(ph.latencies)} tiles in {ph.elapsed:.1f} s", flush=True)  # noqa: E731
    say(run_phase("warm-up", port["uncached"], ours, args.clients, args.max_seconds))  # PostgreSQL buffers
    phases = {"uncached": run_phase("uncached", port["uncached"], ours, args.clients, args.max_seconds)}
    say(phases["uncached"])
    phases["tipg"] = run_phase("tipg", port["tipg"], theirs, args.clients, args.max_seconds)
    say(phases["tipg"])
    say(run_phase("priming", port["cached"], ours, args.clients, args.max_seconds))  # fills the tile cache
    phases["cached"] = run_phase("cached", port["cached"], ours * args.cached_passes, args.clients,
                                 args.max_seconds)
    say(phases["cached"])
    return phases


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=200_000)
    p.add_argument("--admin", default=ADMIN, help="server URL without database (loopback)")
    p.add_argument("--db", default=SCRATCH_DB, help="scratch database, dropped and created")
    p.add_argument("--per-zoom", type=int, default=48, help="tiles sampled per zoom (8–14)")
    p.add_argument("--clients", type=int, default=32, help="concurrent client connections")
    p.add_argument("--server-threads", type=int, default=16, help="waitress threads / tipg pool size")
    p.add_argument("--cached-passes", type=int, default=20, help="passes over the tile list, cached phase")
    p.add_argument("--max-seconds", type=float, default=180, help="time bound of each phase")
    p.add_argument("--serve", help=argparse.SUPPRESS)
    p.add_argument("--port", type=int, help=argparse.SUPPRESS)
    p.add_argument("--cache-entries", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    main()
