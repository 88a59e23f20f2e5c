"""Benchmark: the ingest pipeline against GeoDataFrame.to_postgis on a synthetic industrial_parks GeoPackage.

Run from the repository root (see bench/README.md):

    python bench/ingest_vector.py                       # 200,000 polygons, 3 repeats, scratch DB geo_bench
    python bench/ingest_vector.py --rows 20000 --repeat 1
    python bench/ingest_vector.py --profile pipeline    # cProfile of one pipeline load (top 30 by cumtime)

In ONE run and against ONE database it times, per repetition (tables emptied before each):
  (a) pipeline  : ingest_file() into an empty industrial_parks (read + check + COPY + upsert + history + ledger)
  (c) reingest  : the same file again on top of (a) (idempotent: 0 inserted, 0 updated)
  (b) to_postgis: geopandas.read_file() + GeoDataFrame.to_postgis(if_exists='replace', index=False)
and prints the medians and the ratio to_postgis / pipeline. It is a benchmark, not a timed test.

``make_parks`` / ``write_parks`` are also used by tests/ingest/test_kill.py (imported from this path).
"""
from __future__ import annotations

import argparse
import cProfile
import importlib
import io
import os
import platform
import pstats
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
SEED = 20250701
# The synthetic parks all lie in this lon/lat window (inside former Bình Dương and its AOI bbox).
LON = (106.45, 106.85)
LAT = (10.9, 11.3)
STATUSES = ("planned", "under_construction", "operating", "suspended", "closed")
STATUS_P = (0.10, 0.15, 0.65, 0.06, 0.04)
PLACES = (("Mỹ Phước", "My Phuoc"), ("Bàu Bàng", "Bau Bang"), ("Tân Uyên", "Tan Uyen"),
          ("Sóng Thần", "Song Than"), ("Việt Nam – Singapore", "Vietnam – Singapore"), ("Đồng An", "Dong An"),
          ("Nam Tân Uyên", "Nam Tan Uyen"), ("Bình An", "Binh An"), ("Đất Cuốc", "Dat Cuoc"),
          ("Rạch Bắp", "Rach Bap"), ("Tân Đông Hiệp", "Tan Dong Hiep"), ("Vĩnh Tân", "Vinh Tan"),
          ("Thới Hòa", "Thoi Hoa"), ("Lai Hưng", "Lai Hung"), ("Phú Gia", "Phu Gia"), ("Cây Trường", "Cay Truong"))
DEVELOPERS = ("Tổng Công ty Đầu tư và Phát triển Công nghiệp – Becamex IDC",
              "Công ty CP Đại Nam", "Công ty CP Khu công nghiệp Sóng Thần",
              "Công ty TNHH Liên doanh KCN Việt Nam – Singapore", "Công ty CP Tập đoàn Kim Huy",
              "Công ty CP Phát triển hạ tầng Đồng An", "Công ty CP Xây dựng Bình Dương")
BENCH_TABLE = "industrial_parks_topostgis"
DEFAULT_ADMIN = "postgresql://postgres@127.0.0.1:5432"
SCRATCH_DB = "geo_bench"


# ----------------------------------------------------------------------------------------------- data
def make_parks(n: int, seed: int = SEED, *, code_prefix: str = "KCN-BD"):  # -> gpd.GeoDataFrame
    """``n`` small valid star-shaped polygons (5–12 vertices) with realistic industrial-park attributes."""
    import geopandas as gpd
    import shapely

    rng = np.random.default_rng(seed)
    k = rng.integers(5, 13, n)                          # distinct vertices per polygon
    r = rng.uniform(0.0015, 0.008, n)                   # radius in degrees of latitude (~170–900 m)
    coslat = np.cos(np.radians(np.mean(LAT)))
    rx = r / coslat                                     # same ground distance east–west
    cx = rng.uniform(LON[0] + 1.01 * rx, LON[1] - 1.01 * rx)
    cy = rng.uniform(LAT[0] + 1.01 * r, LAT[1] - 1.01 * r)
    owner = np.repeat(np.arange(n), k)
    j = np.arange(owner.size) - np.repeat(np.cumsum(k) - k, k)
    # Strictly increasing angles around the centre and positive radii: a star-shaped, hence simple, ring.
    ang = (j + rng.uniform(0.1, 0.9, owner.size)) * (2 * np.pi / k[owner])
    rad = rng.uniform(0.55, 1.0, owner.size)
    xy = np.column_stack([cx[owner] + rad * rx[owner] * np.cos(ang), cy[owner] + rad * r[owner] * np.sin(ang)])
    polys = shapely.polygons(shapely.linearrings(xy, indices=owner))

    place = rng.integers(0, len(PLACES), n)
    phase = rng.integers(1, 6, n)
    ids = np.arange(1, n + 1)
    area_ha = shapely.area(polys) * (111_320.0 ** 2) * coslat / 1e4
    days = rng.integers(0, (date(2024, 12, 31) - date(1995, 1, 1)).days, n)
    est = pd.Series(pd.Timestamp("1995-01-01") + pd.to_timedelta(days, unit="D")).dt.date.astype(object)
    est[rng.random(n) < 0.05] = None
    occ = np.round(rng.uniform(0, 100, n), 1)
    occ[rng.random(n) < 0.05] = np.nan
    name_en = pd.Series([f"{PLACES[p][1]} Industrial Park {ph} (lot {i})" for p, ph, i in zip(place, phase, ids)],
                        dtype=object)
    name_en[rng.random(n) < 0.10] = None
    notes = np.where(rng.random(n) < 0.2, "Đang mở rộng giai đoạn 2 / phase 2 expansion", None)
    frame = pd.DataFrame({
        "code": [f"{code_prefix}-{i:06d}" for i in ids],
        "name_vi": [f"Khu công nghiệp {PLACES[p][0]} {ph} (lô {i})" for p, ph, i in zip(place, phase, ids)],
        "name_en": name_en,
        "developer": np.asarray(DEVELOPERS, dtype=object)[rng.integers(0, len(DEVELOPERS), n)],
        "area_declared_ha": np.round(area_ha * rng.uniform(0.9, 1.1, n), 2),
        "established_on": est,
        "occupancy_pct": occ,
        "operating_status": np.asarray(STATUSES, dtype=object)[rng.choice(len(STATUSES), n, p=STATUS_P)],
        "source": "Ban Quản lý các KCN tỉnh Bình Dương (tổng hợp 2024)",
        "notes": notes,
    })
    return gpd.GeoDataFrame(frame, geometry=polys, crs="EPSG:4326")


def write_parks(n: int, directory: Path = OUT, seed: int = SEED, *, code_prefix: str = "KCN-BD") -> Path:
    """Write (once; reused when present) the synthetic parks as a GeoPackage and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"industrial_parks_{n}_{seed}_{code_prefix}.gpkg"
    if not path.exists():
        tmp = path.with_suffix(".tmp.gpkg")
        tmp.unlink(missing_ok=True)
        # Written through Arrow so that established_on becomes a real GeoPackage Date field.
        make_parks(n, seed, code_prefix=code_prefix).to_file(tmp, layer="industrial_parks", driver="GPKG",
                                                              engine="pyogrio", use_arrow=True)
        tmp.rename(path)
    return path


# ------------------------------------------------------------------------------------------- database
def _scratch_database(admin: str, name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{admin}/postgres", autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


def _empty_tables(engine) -> None:  # noqa: ANN001
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE industrial_parks, feature_history, feature_insert_spans, ingest_runs "
                             "RESTART IDENTITY CASCADE")
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {BENCH_TABLE}")


def _checkpoint(engine) -> None:  # noqa: ANN001
    """Every measure starts right after a checkpoint (same full-page-write cost for all)."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CHECKPOINT")


def _refuse_non_scratch(engine) -> None:  # noqa: ANN001
    """The TRUNCATE … CASCADE empties ingest_runs and every table referencing it: only on a scratch database."""
    with engine.connect() as conn:
        tables = ["ingest_runs", "feature_history", "feature_insert_spans", *conn.exec_driver_sql(
            "SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'f' "
            "AND confrelid = 'ingest_runs'::regclass").scalars()]
        full = [t for t in dict.fromkeys(tables)
                if conn.exec_driver_sql(f"SELECT EXISTS (SELECT 1 FROM {t})").scalar()]
    if full:
        sys.exit(f"--database-url points at a database with data in {', '.join(full)}, which the bench empties. "
                 "Give a scratch database (or add --force-truncate).")


# ------------------------------------------------------------------------------------------- measures
def _timed(fn: Callable[[], object], engine=None) -> tuple[float, object]:  # noqa: ANN001
    if engine is not None:
        _checkpoint(engine)
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


# The pipeline's own progress messages mark where each phase ends (their English half, before any count); a
# segment is labelled by the message that closes it. A first load into an empty layer streams: batches are read,
# checked and COPYed in turns ("streamed COPY"), then the spatial index is built; other loads read, check, stage
# and merge.
PHASES = (("reading", "ledger+sha256"), ("checking", "read+AOI"), ("streamed COPY", "read+check+COPY"),
          ("spatial index", "last COPY"), ("staging", "check+lock"), ("writing", "check+lock"),
          ("merging", "COPY stage"), (None, "index+merge+commit"))


def _pipeline(engine, path: Path, reports: Path, phases: dict[str, list[float]] | None = None):  # noqa: ANN001, ANN202
    from geo.settings import AreaSettings, IngestSettings
    from ingest.pipeline import LoadOptions, ingest_file
    from layers import REGISTRY

    marks = [(time.perf_counter(), "start")]
    result = ingest_file(engine, REGISTRY.get("industrial_parks"), path, LoadOptions(),
                         ingest_settings=IngestSettings(reports_dir=reports, user="bench"), area=AreaSettings(),
                         progress=lambda msg: marks.append((time.perf_counter(), msg)))
    marks.append((time.perf_counter(), "end"))
    if not result.ok:
        raise SystemExit(f"pipeline load failed: {result.status}: {result.error}")
    if phases is not None:
        run: dict[str, float] = {}
        for (t0, _), (t1, msg) in zip(marks, marks[1:]):
            label = next((lab for key, lab in PHASES if key is None or key in msg.split("/")[-1]), msg)
            run[label] = run.get(label, 0.0) + (t1 - t0)
        for label, seconds in run.items():
            phases.setdefault(label, []).append(seconds)
    return result


def _to_postgis(engine, path: Path) -> int:  # noqa: ANN001
    import geopandas as gpd

    gdf = gpd.read_file(path)
    gdf.to_postgis(BENCH_TABLE, engine, if_exists="replace", index=False)
    return len(gdf)


def _profile(engine, path: Path, reports: Path) -> None:  # noqa: ANN001
    importlib.import_module("ingest.pipeline")  # imported before profiling, so imports stay out of the profile

    _empty_tables(engine)
    prof = cProfile.Profile()
    prof.enable()
    _pipeline(engine, path, reports)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(30)
    print(buf.getvalue())


def run(engine, path: Path, n: int, repeat: int, reports: Path,  # noqa: ANN001
        phases: dict[str, dict[str, list[float]]]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {"pipeline": [], "reingest": [], "to_postgis": []}
    for i in range(repeat):
        _empty_tables(engine)
        t, res = _timed(lambda: _pipeline(engine, path, reports, phases["pipeline"]), engine)
        assert res.inserted == n, res
        times["pipeline"].append(t)
        t, res = _timed(lambda: _pipeline(engine, path, reports, phases["reingest"]), engine)
        assert (res.inserted, res.updated, res.unchanged) == (0, 0, n), res
        times["reingest"].append(t)
        t, rows = _timed(lambda: _to_postgis(engine, path), engine)
        assert rows == n
        times["to_postgis"].append(t)
        print(f"  repeat {i + 1}/{repeat}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()),
              flush=True)
    return times


def _check_same_rows(engine, n: int) -> None:  # noqa: ANN001
    """Both ways loaded the same features (attributes and geometry), so the comparison is fair."""
    with engine.connect() as conn:
        diff = conn.exec_driver_sql(
            f"SELECT count(*) FROM industrial_parks p JOIN {BENCH_TABLE} b USING (code) "
            "WHERE p.name_vi = b.name_vi AND p.operating_status = b.operating_status "
            "AND ST_Equals(p.geom, ST_Multi(b.geometry))").scalar()
    print(f"  check: {diff} of {n} features identical in both tables")


def _machine() -> str:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    avail = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{platform.machine()}, {os.cpu_count()} cores ({avail} usable), {cpu}, "
            f"Python {platform.python_version()}; load average {load}")


def report(times: dict[str, list[float]], n: int, phases: dict[str, dict[str, list[float]]]) -> None:
    print("\nwhere the pipeline's time goes (median s per phase):")
    for k, label in (("pipeline", "(a)"), ("reingest", "(c)")):
        print(f"  {label} " + ", ".join(f"{ph} {statistics.median(v):.2f}" for ph, v in phases[k].items()))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"\n{'measure':<48}{'median s':>10}{'rows/s':>12}{'runs (s)':>26}")
    labels = {"pipeline": "(a) pipeline ingest_file, empty table",
              "reingest": "(c) pipeline re-ingest, same file (0 changes)",
              "to_postgis": "(b) geopandas read_file + to_postgis"}
    for k in ("pipeline", "reingest", "to_postgis"):
        runs = " ".join(f"{t:.2f}" for t in times[k])
        print(f"{labels[k]:<48}{med[k]:>10.2f}{n / med[k]:>12,.0f}{runs:>26}")
    print(f"\nratio to_postgis / pipeline  = {med['to_postgis'] / med['pipeline']:.2f}x")
    print(f"ratio to_postgis / re-ingest = {med['to_postgis'] / med['reingest']:.2f}x")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--database-url", help=f"a scratch PostGIS database (default: create/drop {SCRATCH_DB})")
    ap.add_argument("--admin-url", default=DEFAULT_ADMIN, help="server for the scratch database")
    ap.add_argument("--keep", action="store_true", help="do not drop the scratch database at the end")
    ap.add_argument("--force-truncate", action="store_true", help="empty the tables of --database-url anyway")
    ap.add_argument("--profile", choices=["pipeline"], help="cProfile one pipeline load instead of timing")
    args = ap.parse_args(argv)

    from geo import migrate
    from geo.db import make_engine
    from geo.settings import DatabaseSettings

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print("machine:", _machine())
    t, path = _timed(lambda: write_parks(args.rows, seed=args.seed))
    print(f"file:    {path.relative_to(HERE.parent)} ({path.stat().st_size / 1e6:.1f} MB, {args.rows:,} polygons; "
          f"{t:.1f} s to make or find)")
    url = args.database_url or f"{args.admin_url}/{SCRATCH_DB}"
    if not args.database_url:
        _scratch_database(args.admin_url, SCRATCH_DB, create=True)
    engine = make_engine(DatabaseSettings(database_url=url))
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            pg = conn.exec_driver_sql("SELECT split_part(version(), ' on ', 1) || ', PostGIS ' || "
                                      "postgis_lib_version()").scalar()
        print(f"db:      {engine.url.render_as_string(hide_password=True)} ({pg})")
        if args.database_url and not args.force_truncate:
            _refuse_non_scratch(engine)
        reports = OUT / "reports"
        if args.profile:
            _profile(engine, path, reports)
            return
        phases: dict[str, dict[str, list[float]]] = {"pipeline": {}, "reingest": {}}
        times = run(engine, path, args.rows, args.repeat, reports, phases)
        _check_same_rows(engine, args.rows)
        report(times, args.rows, phases)
        print("load average at the end:", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    finally:
        engine.dispose()
        if not args.database_url and not args.keep:
            _scratch_database(args.admin_url, SCRATCH_DB, create=False)


if __name__ == "__main__":
    main()
