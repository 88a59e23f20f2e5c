"""Vectorised AQI over whole hourly series: NowCast, sub-indices, the hourly and daily AQI frames, and a batch path
that computes many stations at once as (stations × hours) arrays. Same rules as the exact scalar path in geo.aqi.

One implementation serves every entry point: :func:`hourly_aqi_frame` (one station, a DataFrame) puts its frame on
an hourly grid and runs the same block computation as :func:`hourly_aqi_batch` on a (1 × hours) array.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from geo.aqi_tables import CATEGORIES, PM_POLLUTANTS, POLLUTANTS, SCHEMES, TABLES, BreakpointTable
from geo.errors import InputError

LOCAL_TZ = "Asia/Ho_Chi_Minh"
PM_DAY_MIN_HOURS = 18   # project convention 5: 18 of 24 hours for a PM 24-h mean
O3_8H_MIN_HOURS = 6     # project convention 5: 6 of 8 hours for an 8-h mean
NOWCAST_HOURS = 12
# float64 carries ~1e-13 of error at AQI magnitudes. Snapping to 9 decimals before rounding half-up makes the
# vectorised path agree with the exact one: 100 + 50·(50.3 − 50)/30 is 100.49999999999999 in floats, 100.5 exactly.
_FLOAT_GUARD = 9
# The batch path works on blocks of whole stations of about this many station-hours, so that its temporaries stay
# in the CPU caches (a year of one station is 8,760 hours).
BATCH_BLOCK = 1 << 16


def check_scheme(scheme: str) -> None:
    """Refuse an unknown scheme name with a message naming the known ones."""
    if scheme not in SCHEMES:
        raise InputError(f"unknown AQI scheme {scheme!r}; expected one of {SCHEMES}", field="scheme")


# ------------------------------------------------------------------------------------------- array primitives
def _half_up_array(values: np.ndarray) -> np.ndarray:
    return np.floor(np.round(values, _FLOAT_GUARD) + 0.5)


def _truncate_array(values: np.ndarray, places: int) -> np.ndarray:
    scale = 10.0 ** places
    # Snap first so that a float just under a truncation step (12.0999999…) is not pushed one step down.
    return np.floor(np.round(values * scale, 6)) / scale


def _lagged(x: np.ndarray, lags: int, fill: float) -> list[np.ndarray]:
    """Views of x[..., t − i] for i = 0..lags−1 (``fill`` before the first hour), each shaped like x."""
    n = x.shape[-1]
    padded = np.concatenate([np.full(x.shape[:-1] + (lags - 1,), fill, dtype=x.dtype), x], axis=-1)
    return [padded[..., lags - 1 - i:lags - 1 - i + n] for i in range(lags)]


def nowcast_series(hourly: np.ndarray, scheme: str = "vn", pollutant: str = "pm25") -> np.ndarray:
    """NowCast for every hour of a regular hourly series (NaN = missing), same rules as :func:`geo.aqi.nowcast`.

    The last axis is the hours, so a (stations × hours) array gives every station's NowCast at once. The weighted
    sums Σ w^(i−1)·c_i and Σ w^(i−1) are taken by Horner's rule over the 12 lagged hours (missing hours add 0).
    """
    check_scheme(scheme)
    x = np.asarray(hourly, dtype="float64")
    if x.size == 0:
        return x.copy()
    valid = x >= 0                                  # NaN and negative readings are missing (convention 7)
    values = _lagged(np.where(valid, x, 0.0), NOWCAST_HOURS, 0.0)
    present = _lagged(valid.astype("float64"), NOWCAST_HOURS, 0.0)
    lows = _lagged(np.where(valid, x, np.inf), NOWCAST_HOURS, np.inf)
    c_max, c_min = values[0].copy(), lows[0].copy()  # readings are ≥ 0, so a missing 0 never raises the max
    for value, low in zip(values[1:], lows[1:]):
        np.maximum(c_max, value, out=c_max)
        np.minimum(c_min, low, out=c_min)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.maximum(np.where(c_max > 0, c_min / c_max, 1.0), 0.5)   # all zeros: any w gives 0
        num, den = values[-1].copy(), present[-1].copy()
        for value, weight in zip(values[-2::-1], present[-2::-1]):
            num *= w
            num += value
            den *= w
            den += weight
        result = num / den
    result[present[0] + present[1] + present[2] < 2] = np.nan
    if scheme == "us":
        result = _truncate_array(result, TABLES["us"][(pollutant, "24h")].truncate or 0)
    return result


_SEGMENTS: dict[int, tuple[BreakpointTable, tuple]] = {}


def _segments(table: BreakpointTable) -> tuple:
    """Lower bounds, lower indices, index spans and concentration spans of a table's segments as floats, and the
    top index. Cached by identity: hashing a table (Fractions) costs more than the arrays."""
    cached = _SEGMENTS.get(id(table))
    if cached is None or cached[0] is not table:
        c_lo, c_hi, i_lo, i_hi = (np.array([float(getattr(s, name)) for s in table.segments])
                                  for name in ("c_lo", "c_hi", "i_lo", "i_hi"))
        cached = _SEGMENTS[id(table)] = (table, (c_lo, i_lo, i_hi - i_lo, c_hi - c_lo, i_hi[-1]))
    return cached[1]


def sub_index_array(concentration: np.ndarray, table: BreakpointTable) -> tuple[np.ndarray, np.ndarray]:
    """Exact sub-indices (NaN where undefined) and beyond-scale flags for concentrations in µg/m³."""
    c = np.asarray(concentration, dtype="float64")
    c = np.round(c if table.from_ugm3 == 1 else c * float(table.from_ugm3), _FLOAT_GUARD)
    c[c < 0] = np.nan
    if table.truncate is not None:
        c = _truncate_array(c, table.truncate)
    c_lo, i_lo, i_span, c_span, i_top = _segments(table)
    k = np.zeros(c.shape, dtype="intp")             # the segment: the upper band on a shared breakpoint
    for bound in c_lo[1:]:
        k += c >= bound
    exact = np.take(i_lo, k) + np.take(i_span, k) * (c - np.take(c_lo, k)) / np.take(c_span, k)
    above = c > float(table.top)
    beyond = above & (table.above_top == "cap")
    exact[above] = i_top if table.above_top == "cap" else np.nan
    exact[c < float(table.bottom)] = np.nan
    return exact, beyond


def _larger_array(first: tuple[np.ndarray, np.ndarray],
                  second: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    take_second = np.isnan(first[0]) | (second[0] > first[0])
    return np.where(take_second, second[0], first[0]), np.where(take_second, second[1], first[1])


def _rolling_mean(values: np.ndarray, hours: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Trailing means labelled by their last hour, and the number of valid hours in each window (last axis)."""
    x = np.asarray(values, dtype="float64")
    if x.size == 0:
        return x.copy(), np.zeros(x.shape, dtype="int64")
    valid = ~np.isnan(x)
    total = _window_sum(_lagged(np.where(valid, x, 0.0), hours, 0.0)[::-1])
    count = _window_sum(_lagged(valid.astype("int64"), hours, 0)[::-1])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


def _window_sum(parts: list[np.ndarray]) -> np.ndarray:
    """Σ parts, oldest first, in numpy's pairwise order for a row of ≤ 8 (blocks of 8, then the rest in turn)."""
    if len(parts) < 8:
        total = parts[0].copy()
        for part in parts[1:]:
            total += part
        return total
    r = parts[:8]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for part in parts[8:]:
        total += part
    return total


# -------------------------------------------------------------------------------------- AQI from sub-indices
def _combine(inputs: dict[str, np.ndarray], subs: Mapping[str, tuple[np.ndarray, np.ndarray]],
             provisional: np.ndarray, scheme: str) -> dict[str, np.ndarray]:
    """Inputs, then ``<p>_exact``/``<p>_rounded`` per pollutant, ``aqi``, ``dominant`` and ``category`` codes, flags.

    ``aqi`` and ``<p>_rounded`` are floats (NaN = none); ``dominant`` indexes POLLUTANTS and ``category`` indexes
    CATEGORIES[scheme] (int8, −1 where no AQI may be published: no PM sub-index, convention 4).
    """
    out = dict(inputs)
    present = [p for p in POLLUTANTS if p in subs]
    shape = provisional.shape
    aqi = np.full(shape, -1.0)
    beyond = np.zeros(shape, dtype=bool)
    publish = np.zeros(shape, dtype=bool)
    for pollutant in present:
        exact, flags = subs[pollutant]
        out[f"{pollutant}_exact"], out[f"{pollutant}_rounded"] = exact, _half_up_array(exact)
        np.fmax(aqi, out[f"{pollutant}_rounded"], out=aqi)
        beyond |= flags
        if pollutant in PM_POLLUTANTS:
            publish |= ~np.isnan(exact)
    dominant = np.full(shape, -1, dtype="int8")
    for pollutant in reversed(present):             # the first in tie-break order (convention 6) wins
        dominant[out[f"{pollutant}_rounded"] == aqi] = POLLUTANTS.index(pollutant)
    highs = [c.high for c in CATEGORIES[scheme]]
    category = np.zeros(shape, dtype="int8")
    for high in highs[:-1]:                         # categories apply to the rounded AQI
        category += aqi > high
    out["aqi"] = np.where(publish, aqi, np.nan)
    out["dominant"] = np.where(publish, dominant, np.int8(-1))
    out["category"] = np.where(publish, category, np.int8(-1))
    out["beyond_scale"], out["provisional"] = beyond, provisional
    return out


def _hourly_block(values: Mapping[str, np.ndarray], scheme: str, shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Hourly AQI of a block of stations: values per pollutant as (stations × hours), NaN or negative = missing."""
    tables = TABLES[scheme]
    inputs: dict[str, np.ndarray] = {}
    subs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    provisional = np.zeros(shape, dtype=bool)
    for pollutant in (p for p in POLLUTANTS if p in values):
        x = values[pollutant]
        if pollutant in PM_POLLUTANTS:
            inputs[f"{pollutant}_nowcast"] = nowcast_series(x, scheme, pollutant)
            subs[pollutant] = sub_index_array(inputs[f"{pollutant}_nowcast"], tables[(pollutant, "24h")])
        elif scheme == "vn" or pollutant in ("no2", "so2"):
            subs[pollutant] = sub_index_array(x, tables[(pollutant, "1h")])
        else:
            mean, count = _rolling_mean(np.where(x >= 0, x, np.nan))
            inputs[f"{pollutant}_8h"], inputs[f"{pollutant}_8h_count"] = mean, count
            provisional |= (count > 0) & (count < O3_8H_MIN_HOURS)
            subs[pollutant] = sub_index_array(mean, tables[(pollutant, "8h")])
            if pollutant == "o3":
                subs[pollutant] = _larger_array(subs[pollutant], sub_index_array(x, tables[("o3", "1h")]))
    return _combine(inputs, subs, provisional, scheme)


def _batch_arrays(values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Validate the batch input: known pollutants, one (stations × hours) shape, numbers that are finite or NaN."""
    unknown = [str(p) for p in values if p not in POLLUTANTS]
    if unknown:
        raise InputError(f"unknown pollutant(s) {unknown}; expected some of {list(POLLUTANTS)}", field=unknown[0])
    try:
        arrays = {p: np.asarray(values[p], dtype="float64") for p in POLLUTANTS if p in values}
    except (TypeError, ValueError) as exc:
        raise InputError("concentrations must be numeric, in µg/m³") from exc
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) > 1 or any(len(s) != 2 for s in shapes):
        raise InputError(f"every pollutant needs one (stations × hours) array; got shapes {sorted(shapes)}")
    if any(np.isinf(a).any() for a in arrays.values()):
        raise InputError("concentrations must be finite, in µg/m³")
    return arrays


def hourly_aqi_batch(values: Mapping[str, np.ndarray], scheme: str = "vn") -> dict[str, np.ndarray]:
    """Hourly AQI of many stations at once: one (stations × hours) array per pollutant in µg/m³.

    Each row is one station's regular hourly series (hour-ending, NaN = missing; negative readings count as
    missing), all rows on the same hours. Returns (stations × hours) arrays under the names of
    :func:`hourly_aqi_frame`'s columns: the inputs (``<pm>_nowcast``; US ``<p>_8h``, ``<p>_8h_count``),
    ``<p>_exact`` and ``<p>_rounded`` (float, NaN = none), ``aqi`` (float, NaN = none), ``dominant`` (int8 index
    into ``POLLUTANTS``, −1 = none), ``category`` (int8 index into ``CATEGORIES[scheme]``, −1 = none),
    ``beyond_scale`` and ``provisional``. Row by row the result equals :func:`hourly_aqi_frame` of that station.
    """
    check_scheme(scheme)
    arrays = _batch_arrays(values)
    if not arrays:
        return _hourly_block({}, scheme, (0, 0))
    stations, hours = next(iter(arrays.values())).shape
    rows = max(1, BATCH_BLOCK // max(hours, 1))
    if rows >= stations:
        return _hourly_block(arrays, scheme, (stations, hours))
    out: dict[str, np.ndarray] = {}
    for start in range(0, stations, rows):
        block = {p: a[start:start + rows] for p, a in arrays.items()}
        part = _hourly_block(block, scheme, (min(rows, stations - start), hours))
        if not out:
            out = {name: np.empty((stations, hours), dtype=a.dtype) for name, a in part.items()}
        for name, a in part.items():
            out[name][start:start + rows] = a
    return out


# ----------------------------------------------------------------------------------------------- the frames
def _hourly_grid(frame: pd.DataFrame) -> pd.DataFrame:
    """Validate a pollutant frame and put it on a regular hourly grid; gaps and negative readings become NaN."""
    if not isinstance(frame.index, pd.DatetimeIndex):
        raise InputError("the index must hold hour-ending timestamps", field="index")
    unknown = [str(c) for c in frame.columns if c not in POLLUTANTS]
    if unknown:
        raise InputError(f"unknown pollutant column(s) {unknown}; expected some of {list(POLLUTANTS)}",
                         field=unknown[0])
    index = frame.index
    if index.has_duplicates:
        raise InputError(f"hour {index[index.duplicated()][0]} appears twice", field="index")
    off_hour = index != index.floor("h")
    if off_hour.any():
        raise InputError(f"timestamp {index[off_hour][0]} is not on the hour", field="index")
    try:
        values = frame.astype("float64")
    except (TypeError, ValueError) as exc:
        raise InputError("concentrations must be numeric, in µg/m³") from exc
    if np.isinf(values.to_numpy()).any():
        raise InputError("concentrations must be finite, in µg/m³")
    values = values.sort_index()
    if len(values):
        values = values.reindex(pd.date_range(index.min(), index.max(), freq="h", name=index.name))
    return values.mask(values < 0)


def _assemble(index: pd.Index, result: Mapping[str, np.ndarray], scheme: str) -> pd.DataFrame:
    """The frame of a :func:`_combine` result: category codes become the name, English name, RGB and hex columns."""
    columns: dict[str, object] = {}
    for name, values in result.items():
        if name == "category":
            categories = CATEGORIES[scheme]
            for column, labels in (("category", [c.name_vi for c in categories]),
                                   ("category_en", [c.name_en for c in categories]),
                                   ("rgb", [c.rgb_text for c in categories]), ("hex", [c.hex for c in categories])):
                columns[column] = pd.Categorical.from_codes(values, categories=labels)
        elif name == "dominant":
            columns[name] = pd.Categorical.from_codes(values, categories=list(POLLUTANTS))
        elif name == "aqi" or name.endswith("_rounded"):
            columns[name] = pd.array(values, dtype="Int64")
        else:
            columns[name] = values
    columns["scheme"] = pd.Series(scheme, index=index, dtype="string")
    return pd.DataFrame(columns, index=index)


def hourly_aqi_frame(frame: pd.DataFrame, scheme: str = "vn") -> pd.DataFrame:
    """Hourly AQI of every hour of a frame indexed by hour-ending timestamps, one column per pollutant in µg/m³.

    Gaps are reindexed to NaN on a regular hourly grid. Output per hour: ``<pm>_nowcast``, ``<p>_exact``,
    ``<p>_rounded`` (Int64), ``aqi`` (Int64, NA without a PM sub-index), ``dominant``, ``category``,
    ``category_en``, ``rgb``, ``hex`` (categoricals), ``beyond_scale``, ``provisional`` and ``scheme``. In the US
    scheme O3 is the larger of the trailing 8-h and the 1-h sub-index and CO uses the trailing 8-h mean
    (``<p>_8h``, ``<p>_8h_count``; provisional under 6 of 8 hours). Many stations at once: :func:`hourly_aqi_batch`.
    """
    check_scheme(scheme)
    grid = _hourly_grid(frame)
    values = {p: grid[p].to_numpy()[np.newaxis, :] for p in POLLUTANTS if p in grid.columns}
    result = _hourly_block(values, scheme, (1, len(grid)))
    return _assemble(grid.index, {name: a[0] for name, a in result.items()}, scheme)


def _day_max_8h_array(values: np.ndarray, day: pd.DatetimeIndex,
                      days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day: the largest 8-h mean, its hour count and a provisional flag (same rule as ``geo.aqi.day_max_8h``)."""
    mean, count = _rolling_mean(values)
    windows = pd.DataFrame({"day": day, "mean": mean, "count": count})
    windows = windows[windows["mean"].notna()]
    complete = windows["count"] >= O3_8H_MIN_HOURS
    day_has_complete = complete.groupby(windows["day"]).transform("any").astype(bool)
    best = (windows[complete | ~day_has_complete]
            .sort_values(["day", "mean"], ascending=[True, False], kind="stable")
            .drop_duplicates("day").set_index("day").reindex(days))
    value = best["mean"].to_numpy(dtype="float64")
    hours = best["count"].fillna(0).to_numpy(dtype="int64")
    return value, hours, ~np.isnan(value) & (hours < O3_8H_MIN_HOURS)


def daily_aqi_frame(frame: pd.DataFrame, scheme: str = "vn") -> pd.DataFrame:
    """Daily AQI of every day of a frame shaped as for :func:`hourly_aqi_frame`, indexed by ``day``.

    A day holds the hours ending 01:00..00:00 of the next day, on the local clock (a tz-aware index is converted
    to Asia/Ho_Chi_Minh). PM: 24-h mean with ``<pm>_count`` and ``<pm>_provisional`` (under 18 hours);
    SO2/NO2 (and VN CO): max 1-h mean; O3: larger of the max 1-h and max 8-h sub-indices, the 8-h means
    labelled by their last hour (so they reach into the previous day) and dropped above the table (VN
    > 400 µg/m³); US CO: max 8-h mean. Other columns as in the hourly frame.
    """
    check_scheme(scheme)
    grid = _hourly_grid(frame)
    clock = grid.index if grid.index.tz is None else grid.index.tz_convert(LOCAL_TZ).tz_localize(None)
    day = (clock - pd.Timedelta(hours=1)).normalize()
    days = pd.DatetimeIndex(day.unique(), name="day")
    tables = TABLES[scheme]
    inputs: dict[str, np.ndarray] = {}
    subs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    provisional = np.zeros(len(days), dtype=bool)
    for pollutant in (p for p in POLLUTANTS if p in grid.columns):
        by_day = grid[pollutant].groupby(day)
        if pollutant in PM_POLLUTANTS:
            mean = by_day.mean().reindex(days).to_numpy(dtype="float64")
            count = by_day.count().reindex(days).fillna(0).to_numpy(dtype="int64")
            short = (count > 0) & (count < PM_DAY_MIN_HOURS)
            inputs.update({f"{pollutant}_mean": mean, f"{pollutant}_count": count, f"{pollutant}_provisional": short})
            provisional |= short
            subs[pollutant] = sub_index_array(mean, tables[(pollutant, "24h")])
            continue
        max_1h = by_day.max().reindex(days).to_numpy(dtype="float64")
        if pollutant == "o3" or (pollutant == "co" and scheme == "us"):
            max_8h, hours, short = _day_max_8h_array(grid[pollutant].to_numpy(), day, days)
            inputs.update({f"{pollutant}_max_8h": max_8h, f"{pollutant}_8h_count": hours,
                           f"{pollutant}_provisional": short})
            provisional |= short
            subs[pollutant] = sub_index_array(max_8h, tables[(pollutant, "8h")])
            if pollutant == "co":
                continue
            subs[pollutant] = _larger_array(subs[pollutant], sub_index_array(max_1h, tables[("o3", "1h")]))
        else:
            subs[pollutant] = sub_index_array(max_1h, tables[(pollutant, "1h")])
        inputs[f"{pollutant}_max_1h"] = max_1h
    return _assemble(days, _combine(inputs, subs, provisional, scheme), scheme)


# ------------------------------------------------------------------------------- many stations' days at once
def rolling_mean(values: np.ndarray, hours: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Trailing means of ``hours`` hours (NaN = missing) labelled by their last hour, and each window's count.

    Works along the last axis of any array; each window is summed on its own (numpy's pairwise order), so a
    window's value depends only on its own hours. The US 8-h AQI inputs and the QCVN 05 8-h means use it.
    """
    return _rolling_mean(values, hours)


def kahan_day_mean(by_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of the non-NaN values along the last axis, summed in order with Kahan compensation.

    Bit for bit what pandas' ``groupby(...).mean()`` gives for the same values in the same order (its cython
    group mean compensates the same way), so day means here equal :func:`daily_aqi_frame`'s.
    """
    x = np.asarray(by_day, dtype="float64")
    total = np.zeros(x.shape[:-1])
    compensation = np.zeros(x.shape[:-1])
    count = np.zeros(x.shape[:-1], dtype="int64")
    with np.errstate(invalid="ignore"):
        for i in range(x.shape[-1]):
            value = x[..., i]
            ok = ~np.isnan(value)
            y = value - compensation
            t = total + y
            np.copyto(compensation, (t - total) - y, where=ok)
            np.copyto(total, t, where=ok)
            count += ok
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count


def _day_max_8h_batch(values: np.ndarray, usable: np.ndarray | None,
                      days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (station, day): the largest 8-h mean, its hour count and a provisional flag (see _day_max_8h_array)."""
    stations = values.shape[0]
    mean, count = _rolling_mean(values)
    valid = ~np.isnan(mean) if usable is None else ~np.isnan(mean) & usable
    complete = valid & (count >= O3_8H_MIN_HOURS)
    shape = (stations, days, 24)
    mean, count, valid, complete = (a.reshape(shape) for a in (mean, count, valid, complete))
    # Windows with 6 of 8 hours are preferred; only a day without one takes a shorter window. The first largest
    # window wins, as the frame's stable sort keeps the earlier of equal means.
    candidate = np.where(complete.any(axis=2, keepdims=True), complete, valid)
    best = np.where(candidate, mean, -np.inf).argmax(axis=2)[..., np.newaxis]
    found = candidate.any(axis=2)
    value = np.where(found, np.take_along_axis(mean, best, axis=2)[..., 0], np.nan)
    hours = np.where(found, np.take_along_axis(count, best, axis=2)[..., 0], 0)
    return value, hours, ~np.isnan(value) & (hours < O3_8H_MIN_HOURS)


def daily_aqi_batch(values: Mapping[str, np.ndarray], scheme: str = "vn",
                    usable_windows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Daily AQI of many stations at once: one (stations × 24·days) array per pollutant in µg/m³.

    Each row is one station's hour-ending values over whole local days (01:00 … 24:00 of day 0, then day 1, …),
    NaN = missing, negative = missing. The 8-h windows (O3; US CO) run along the whole row, so a day's first
    windows reach into the previous day (before the row: missing). ``usable_windows`` (same shape, bool) marks the
    hours whose 8-h window may count: :func:`daily_aqi_frame` has no window after a station's last reading, so a
    caller that pads its rows beyond it passes False there. Returns (stations × days) arrays under the daily
    frame's column names, with ``dominant``/``category`` as int8 codes as in :func:`hourly_aqi_batch`. Row by row
    and day by day the result equals :func:`daily_aqi_frame` of that station's hours.
    """
    check_scheme(scheme)
    arrays = _batch_arrays(values)
    shape = next(iter(arrays.values())).shape if arrays else (0, 0)
    if shape[1] % 24:
        raise InputError(f"daily batch needs whole days of 24 hours; got {shape[1]} hours")
    stations, days = shape[0], shape[1] // 24
    if usable_windows is not None and np.shape(usable_windows) != shape:
        raise InputError(f"usable_windows must have the shape of the values {shape}")
    tables = TABLES[scheme]
    inputs: dict[str, np.ndarray] = {}
    subs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    provisional = np.zeros((stations, days), dtype=bool)
    for pollutant in (p for p in POLLUTANTS if p in arrays):
        x = arrays[pollutant]
        with np.errstate(invalid="ignore"):
            x = np.where(x >= 0, x, np.nan)          # as _hourly_grid: negative readings are missing
        by_day = x.reshape(stations, days, 24)
        if pollutant in PM_POLLUTANTS:
            mean, count = kahan_day_mean(by_day)
            short = (count > 0) & (count < PM_DAY_MIN_HOURS)
            inputs.update({f"{pollutant}_mean": mean, f"{pollutant}_count": count, f"{pollutant}_provisional": short})
            provisional |= short
            subs[pollutant] = sub_index_array(mean, tables[(pollutant, "24h")])
            continue
        max_1h = np.fmax.reduce(by_day, axis=2) if days else np.zeros((stations, 0))
        if pollutant == "o3" or (pollutant == "co" and scheme == "us"):
            max_8h, hours, short = _day_max_8h_batch(x, usable_windows, days)
            inputs.update({f"{pollutant}_max_8h": max_8h, f"{pollutant}_8h_count": hours,
                           f"{pollutant}_provisional": short})
            provisional |= short
            subs[pollutant] = sub_index_array(max_8h, tables[(pollutant, "8h")])
            if pollutant == "co":
                continue
            subs[pollutant] = _larger_array(subs[pollutant], sub_index_array(max_1h, tables[("o3", "1h")]))
        else:
            subs[pollutant] = sub_index_array(max_1h, tables[(pollutant, "1h")])
        inputs[f"{pollutant}_max_1h"] = max_1h
    return _combine(inputs, subs, provisional, scheme)
