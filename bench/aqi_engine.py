"""Benchmark: the platform's vectorised hourly VN_AQI against a straightforward per-hour implementation.

Run from the repository root (see bench/README.md):

    python bench/aqi_engine.py                   # 100 stations x 365 days x 6 pollutants = 876,000 station-hours
    python bench/aqi_engine.py --stations 10     # quick trial

Readings: ``ingest.sample_readings.air_readings`` (deterministic seed; ~1 % of hours missing per pollutant, values
in µg/m³ with one decimal), put on one regular hourly grid (gaps = NaN) BEFORE any timing, and laid out both as
one (stations x hours) array per pollutant and as per-station lists/frames.

In ONE run, on the same series:
  (a) platform : ``geo.aqi.hourly_aqi_batch(arrays, "vn")``, the platform's many-station path: NowCast,
                 sub-indices, AQI, dominant pollutant, category code and flags for every station-hour at once;
  (c) platform : ``geo.aqi.hourly_aqi_frame(frame, "vn")`` once per station (the same core, one pandas frame per
                 station; shown for reference, not the goal's figure);
  (b) per-hour : ``per_hour_aqi`` below, written for this comparison from the reference
                 (../shared/reference/air-and-water-quality.md §2.4–2.10 and the project conventions), sharing
                 NO code with geo.aqi: a loop over hours; for PM it collects c1..c12, applies the 2-of-3 rule and
                 the normalised NowCast (w = max(Cmin/Cmax, 1/2), missing hours weighted 0, Cmax = 0 gives 0) in
                 plain Python floats; every sub-index is interpolated in its own breakpoint table below (the
                 upper band on a shared breakpoint, capped at 500 above the top); each sub-index is rounded
                 half-up after snapping to 6 decimals (the reference's "round to 6 decimals first as S1 does",
                 never Python's round()); AQI = max of the rounded sub-indices, published only with a PM sub-index.
Then the AQI and the dominant pollutant of every station-hour are compared between (a) and (b), and between (a)
and (c); any mismatching hour is decided by the platform's EXACT scalar path (``geo.aqi.hour_aqi``, Fractions),
and a random sample of hours is checked against that exact path too. Wall time (perf_counter) and CPU time
(process_time, what this process used: the machine is shared) are both printed, with both ratios.
A benchmark, not a timed test.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import random
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
END = pd.Timestamp("2025-06-30 17:00", tz="UTC")
ORDER = ("pm25", "pm10", "o3", "no2", "so2", "co")          # tie-break order (convention 6)
INDEX = (0, 50, 100, 150, 200, 300, 400, 500)
# Bảng 2 of 1459/QĐ-TCMT (reference §2.4), µg/m³, the columns an HOURLY AQI uses: PM with its NowCast, the gases
# (O3 1-h column) with their current 1-h mean. Typed here from the reference, not imported from geo.aqi_tables.
BREAKPOINTS = {
    "pm25": (0, 25, 50, 80, 150, 250, 350, 500),
    "pm10": (0, 50, 150, 250, 350, 420, 500, 600),
    "o3": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "no2": (0, 100, 200, 700, 1200, 2350, 3100, 3850),
    "so2": (0, 125, 350, 550, 800, 1600, 2100, 2630),
    "co": (0, 10000, 30000, 45000, 60000, 90000, 120000, 150000),
}


# ------------------------------------------------------------------------------------- the per-hour baseline
def nowcast_plain(c: list[float | None]) -> float | None:
    """c[0] = current hour .. c[11] = 11 hours back; None = missing. Reference §2.6, normalised form."""
    if (c[0] is not None) + (c[1] is not None) + (c[2] is not None) < 2:
        return None
    present = [(i, v) for i, v in enumerate(c) if v is not None]
    c_max = max(v for _, v in present)
    if c_max == 0:
        return 0.0
    w = max(min(v for _, v in present) / c_max, 0.5)
    num = den = 0.0
    for i, v in present:
        weight = w ** i
        num += weight * v
        den += weight
    return num / den


def sub_index_plain(c: float | None, bp: tuple[float, ...]) -> float | None:
    """Linear interpolation in one breakpoint column (reference §2.5); 500 above the top (§2.10)."""
    if c is None or c < 0:
        return None
    if c > bp[-1]:
        return 500.0
    k = len(bp) - 2
    while bp[k] > c:            # the upper band on a shared breakpoint (both give the same value)
        k -= 1
    return INDEX[k] + (INDEX[k + 1] - INDEX[k]) * (c - bp[k]) / (bp[k + 1] - bp[k])


def half_up(x: float) -> int:
    """Half-up on the decimal value: snap to 6 decimals first (reference §2.9), never round()'s half-to-even."""
    return math.floor(round(x, 6) + 0.5)


def per_hour_aqi(series: dict[str, list[float | None]]) -> tuple[list[int | None], list[str | None]]:
    """Hourly VN_AQI and dominant pollutant of every hour of one station's regular hourly series."""
    n = len(next(iter(series.values())))
    pms = [p for p in ("pm25", "pm10") if p in series]
    gases = [p for p in ("o3", "no2", "so2", "co") if p in series]
    aqi: list[int | None] = []
    dominant: list[str | None] = []
    for t in range(n):
        rounded: dict[str, int] = {}
        for p in pms:
            x = series[p]
            c = [x[t - i] if t - i >= 0 else None for i in range(12)]
            s = sub_index_plain(nowcast_plain(c), BREAKPOINTS[p])
            if s is not None:
                rounded[p] = half_up(s)
        if not rounded:                 # no PM sub-index: no AQI for this hour (convention 4)
            aqi.append(None)
            dominant.append(None)
            continue
        for p in gases:
            s = sub_index_plain(series[p][t], BREAKPOINTS[p])
            if s is not None:
                rounded[p] = half_up(s)
        top = max(rounded.values())
        aqi.append(top)
        dominant.append(next(p for p in ORDER if rounded.get(p) == top))
    return aqi, dominant


# ------------------------------------------------------------------------------------------------- the data
def station_series(stations: int, days: int) -> dict[str, pd.DataFrame]:
    """Per station: a frame on ONE regular hourly grid shared by all stations (hour-ending UTC index)."""
    from ingest.sample_readings import air_readings

    codes = [f"BENCH-{i:03d}" for i in range(1, stations + 1)]
    long = air_readings(codes, END, days=days)
    grid = pd.date_range(long["time"].min(), long["time"].max(), freq="h", name="time")
    return {code: group.pivot(index="time", columns="parameter", values="value").reindex(grid)[list(ORDER)]
            for code, group in long.groupby("station", sort=True)}


def as_lists(frame: pd.DataFrame) -> dict[str, list[float | None]]:
    return {p: [None if v != v else v for v in frame[p].tolist()] for p in frame.columns}


def as_arrays(frames: dict[str, pd.DataFrame]) -> dict[str, np.ndarray]:
    """One (stations x hours) array per pollutant, rows in the order of ``frames``."""
    return {p: np.stack([f[p].to_numpy(dtype="float64") for f in frames.values()]) for p in ORDER}


# ------------------------------------------------------------------------------------------------ the checks
def exact_hour(lists: dict[str, list[float | None]], t: int):  # noqa: ANN201
    """The platform's exact scalar path (Fractions) for hour t."""
    from geo.aqi import hour_aqi

    def window(p: str) -> list[float | None]:
        return [lists[p][t - i] if t - i >= 0 else None for i in range(12)]

    return hour_aqi(window("pm25"), window("pm10"), o3=lists["o3"][t], no2=lists["no2"][t], so2=lists["so2"][t],
                    co=lists["co"][t], scheme="vn")


def _decided(lists: dict[str, list], t: int, mine: float, theirs: float) -> str:
    exact = exact_hour(lists, t).aqi
    return ("platform" if exact == (None if np.isnan(mine) else mine) else
            "other" if exact == (None if np.isnan(theirs) else theirs) else "neither")


def compare(codes: list[str], batch: dict[str, np.ndarray], baseline: dict[str, tuple[list, list]],
            frames_out: dict[str, pd.DataFrame], lists: dict[str, dict[str, list]], sample: int,
            seed: int = 1) -> list[str]:
    """AQI and dominant pollutant of every station-hour: batch vs per-hour loop and batch vs per-station frames."""
    from geo.aqi import POLLUTANTS

    names = np.array([*POLLUTANTS, None], dtype=object)            # code -1 -> None
    p_aqi, p_dom = batch["aqi"], names[batch["dominant"]]
    b_aqi = np.array([[np.nan if v is None else v for v in baseline[c][0]] for c in codes], dtype="float64")
    b_dom = np.array([baseline[c][1] for c in codes], dtype=object)
    f_aqi = np.stack([frames_out[c]["aqi"].astype("float64").to_numpy() for c in codes])
    f_dom = np.stack([frames_out[c]["dominant"].astype(object).where(frames_out[c]["dominant"].notna(), None)
                      .to_numpy() for c in codes])
    lines, decided = [], {"platform": 0, "other": 0, "neither": 0}
    for label, o_aqi, o_dom in (("per-hour loop (b)", b_aqi, b_dom), ("per-station frames (c)", f_aqi, f_dom)):
        bad = ~((p_aqi == o_aqi) | (np.isnan(p_aqi) & np.isnan(o_aqi)))
        for i, t in zip(*np.nonzero(bad)):
            if sum(decided.values()) < 20:
                who = _decided(lists[codes[i]], int(t), p_aqi[i, t], o_aqi[i, t])
                decided[who] += 1
                lines.append(f"    mismatch {codes[i]} hour {t}: batch {p_aqi[i, t]}, {label} {o_aqi[i, t]} -> {who}")
        lines.append(f"  batch (a) vs {label}: compared {p_aqi.size:,} station-hours: AQI mismatches "
                     f"{int(bad.sum())}, dominant-pollutant mismatches {int((p_dom != o_dom).sum())}")
    # Independent spot check of the batch and the loop against the exact Fraction path.
    rng = random.Random(seed)
    wrong_p = wrong_b = 0
    for _ in range(sample):
        i, t = rng.randrange(len(codes)), rng.randrange(p_aqi.shape[1])
        exact = exact_hour(lists[codes[i]], t).aqi
        wrong_p += exact != (None if np.isnan(p_aqi[i, t]) else int(p_aqi[i, t]))
        wrong_b += exact != baseline[codes[i]][0][t]
    lines.append(f"  spot check of {sample:,} random station-hours against geo.aqi.hour_aqi (exact Fractions): "
                 f"batch wrong {wrong_p}, per-hour wrong {wrong_b}")
    return lines


def timed(fn):  # noqa: ANN001, ANN201
    """(result, wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def machine() -> str:
    cpu = "?"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    avail = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (f"{platform.machine()}, {os.cpu_count()} cores ({avail} usable), {cpu}, Python "
            f"{platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}")


def loadavg() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stations", type=int, default=100)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=5, help="batch repetitions (best kept); the loop runs once")
    ap.add_argument("--sample", type=int, default=2000, help="random station-hours checked against the exact path")
    args = ap.parse_args(argv)

    from geo.aqi import hourly_aqi_batch, hourly_aqi_frame

    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print("machine:", machine(), f"({loadavg()} at start)")
    t0 = time.perf_counter()
    frames = station_series(args.stations, args.days)
    codes = list(frames)
    lists = {code: as_lists(f) for code, f in frames.items()}
    arrays = as_arrays(frames)
    n_hours = sum(len(f) for f in frames.values())
    print(f"data:    {args.stations} stations x {args.days} days x 6 pollutants = {n_hours:,} station-hours "
          f"({n_hours * 6:,} readings; prepared in {time.perf_counter() - t0:.1f} s, not timed)")
    hourly_aqi_batch({p: a[:2, :48] for p, a in arrays.items()}, "vn")     # warm imports and caches
    hourly_aqi_frame(next(iter(frames.values())).iloc[:48], "vn")
    batch_runs, frame_run, loop_run = [], (0.0, 0.0), (0.0, 0.0)
    batch, frames_out, baseline = {}, {}, {}
    # Interleaved (batch, loop, batch, frames, batch, ...) so that all see the same load on this shared machine.
    for i in range(max(args.repeat, 1)):
        batch, *times = timed(lambda: hourly_aqi_batch(arrays, "vn"))
        batch_runs.append(tuple(times))
        extra = ""
        if i == 0:
            baseline, *loop_run = timed(lambda: {code: per_hour_aqi(lists[code]) for code in codes})
            extra = f", per-hour loop {loop_run[0]:.2f} s (CPU {loop_run[1]:.2f} s)"
        elif i == 1:
            frames_out, *frame_run = timed(lambda: {code: hourly_aqi_frame(f, "vn") for code, f in frames.items()})
            extra = f", per-station frames {frame_run[0]:.2f} s (CPU {frame_run[1]:.2f} s)"
        print(f"  round {i + 1}: batch {batch_runs[-1][0]:.3f} s (CPU {batch_runs[-1][1]:.3f} s){extra}  "
              f"({loadavg()})", flush=True)
    if not frames_out:
        frames_out, *frame_run = timed(lambda: {code: hourly_aqi_frame(f, "vn") for code, f in frames.items()})
    for line in compare(codes, batch, baseline, frames_out, lists, args.sample):
        print(line)
    wall = min(w for w, _ in batch_runs)
    cpu = min(c for _, c in batch_runs)
    print(f"\n{'method':<62}{'wall s':>9}{'CPU s':>9}{'station-hours/s':>17}")
    for label, (w, c) in ((f"(a) platform geo.aqi.hourly_aqi_batch, all stations (best of {len(batch_runs)})",
                           (wall, cpu)),
                          ("(c) platform geo.aqi.hourly_aqi_frame, per station (1 run)", tuple(frame_run)),
                          ("(b) per-hour loop, plain Python floats (written here)", tuple(loop_run))):
        print(f"{label:<62}{w:>9.3f}{c:>9.3f}{n_hours / w:>17,.0f}")
    ratio_wall, ratio_cpu = loop_run[0] / wall, loop_run[1] / cpu
    met = "met" if min(ratio_wall, ratio_cpu) >= 50 else "NOT met"
    print(f"\nratio per-hour / batch = {ratio_wall:.1f}x wall, {ratio_cpu:.1f}x CPU   (goal >= 50x: {met}; "
          f"median batch round {sorted(w for w, _ in batch_runs)[len(batch_runs) // 2]:.3f} s wall)")
    print(f"ratio per-hour / per-station frames = {loop_run[0] / frame_run[0]:.1f}x wall, "
          f"{loop_run[1] / frame_run[1]:.1f}x CPU")
    print(f"({loadavg()} at the end)")


if __name__ == "__main__":
    main()
