"""Air-quality index engine: VN_AQI (1459/QĐ-TCMT) and US EPA AQI sub-indices, NowCast, hourly and daily AQI."""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Union

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from geo.aqi_tables import CATEGORIES, PM_POLLUTANTS, POLLUTANTS, SCHEMES, TABLES, BreakpointTable, Category
from geo.errors import InputError

Number = Union[int, float, str, Decimal, Fraction]
Reading = Union[Number, None]

LOCAL_TZ = "Asia/Ho_Chi_Minh"
PM_DAY_MIN_HOURS = 18   # project convention 5: 18 of 24 hours for a PM 24-h mean
O3_8H_MIN_HOURS = 6     # project convention 5: 6 of 8 hours for an 8-h mean
NOWCAST_HOURS = 12
# float64 carries ~1e-13 of error at AQI magnitudes. Snapping to 9 decimals before rounding half-up makes the
# vectorised path agree with the exact one: 100 + 50·(50.3 − 50)/30 is 100.49999999999999 in floats, 100.5 exactly.
_FLOAT_GUARD = 9

# Which breakpoint table each averaged input ("measure") uses. PM takes a NowCast (hourly) or a 24-h mean (daily).
_MEASURES: dict[str, dict[str, tuple[str, str]]] = {
    "vn": {"pm25": ("pm25", "24h"), "pm10": ("pm10", "24h"), "o3": ("o3", "1h"), "o3_8h": ("o3", "8h"),
           "no2": ("no2", "1h"), "so2": ("so2", "1h"), "co": ("co", "1h")},
    "us": {"pm25": ("pm25", "24h"), "pm10": ("pm10", "24h"), "o3": ("o3", "1h"), "o3_8h": ("o3", "8h"),
           "no2": ("no2", "1h"), "so2": ("so2", "1h"), "co": ("co", "8h")},
}


# ---------------------------------------------------------------------------------------------- exact scalars
def to_fraction(value: Number) -> Fraction:
    """The exact value of a reading as written in decimal; a float is read through its shortest repr."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise InputError(f"not a concentration: {value!r}")
    text = repr(value) if isinstance(value, float) else str(value).strip()
    try:
        return Fraction(Decimal(text))
    except (ArithmeticError, ValueError) as exc:
        raise InputError(f"not a finite number: {value!r}") from exc


def _reading(value: Reading) -> Fraction | None:
    """A usable reading, or None when missing (None/NaN) or negative (project convention 7)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    exact = to_fraction(value)
    return None if exact < 0 else exact


def round_half_up(value: Number, places: int = 0) -> Decimal:
    """Round half-up on the exact decimal value (convention 2); never Python's half-to-even ``round()``."""
    if isinstance(value, float):
        value = Decimal(repr(value)).quantize(Decimal(1).scaleb(-_FLOAT_GUARD))
    scaled = math.floor(to_fraction(value) * 10 ** places + Fraction(1, 2))
    return Decimal(scaled).scaleb(-places)


def check_scheme(scheme: str) -> None:
    """Refuse an unknown scheme name with a message naming the known ones."""
    if scheme not in SCHEMES:
        raise InputError(f"unknown AQI scheme {scheme!r}; expected one of {SCHEMES}", field="scheme")


@dataclass(frozen=True)
class SubIndex:
    """One pollutant's sub-index: the concentration used (table unit, after EPA truncation) and the exact value."""

    pollutant: str
    concentration: Fraction
    exact: Fraction
    beyond_scale: bool = False

    @property
    def rounded(self) -> int:
        """The published integer sub-index (half-up)."""
        return int(round_half_up(self.exact))


@dataclass(frozen=True)
class AqiResult:
    """An AQI with its sub-indices; ``aqi`` is None when no PM sub-index exists (convention 4)."""

    scheme: str
    sub_indices: Mapping[str, SubIndex | None]
    aqi: int | None
    dominant: str | None
    category: Category | None
    beyond_scale: bool
    provisional: bool = False
    counts: Mapping[str, int] = field(default_factory=dict)


def category_for(aqi: int, scheme: str = "vn") -> Category:
    """The category of an integer AQI (categories apply to the rounded value)."""
    check_scheme(scheme)
    for category in CATEGORIES[scheme]:
        if aqi <= category.high:
            return category
    return CATEGORIES[scheme][-1]


def _truncate_exact(value: Fraction, places: int) -> Fraction:
    unit = Fraction(1, 10 ** places)
    return math.floor(value / unit) * unit


def sub_index(concentration: Reading, table: BreakpointTable) -> SubIndex | None:
    """Sub-index of one concentration in µg/m³ by linear interpolation; capped at 500 above the scale."""
    reading = _reading(concentration)
    if reading is None:
        return None
    c = reading * table.from_ugm3
    if table.truncate is not None:
        c = _truncate_exact(c, table.truncate)
    if c < table.bottom:
        return None
    if c > table.top:
        if table.above_top == "undefined":
            return None
        return SubIndex(table.pollutant, c, Fraction(table.segments[-1].i_hi), beyond_scale=True)
    # On a shared VN breakpoint either band gives the same value; take the upper one.
    segment = next(s for s in reversed(table.segments) if s.c_lo <= c)
    exact = segment.i_lo + Fraction(segment.i_hi - segment.i_lo) * (c - segment.c_lo) / (segment.c_hi - segment.c_lo)
    return SubIndex(table.pollutant, c, exact)


def nowcast(hours: Sequence[Reading], scheme: str = "vn", pollutant: str = "pm25") -> Fraction | None:
    """PM NowCast from c1..c12 (c1 = current hour); None unless 2 of c1..c3 are valid.

    Normalised form for every w, missing (or negative) hours weighted 0, Cmin/Cmax over the valid hours,
    Cmax = 0 gives 0. VN keeps full precision; the US scheme truncates to 0.1 µg/m³ (PM2.5) or 1 µg/m³ (PM10).
    """
    check_scheme(scheme)
    if len(hours) > NOWCAST_HOURS:
        raise InputError(f"a NowCast takes at most {NOWCAST_HOURS} hours (c1..c12), got {len(hours)}")
    values = [_reading(v) for v in hours]
    if sum(v is not None for v in values[:3]) < 2:
        return None
    present = [(age, v) for age, v in enumerate(values) if v is not None]
    c_max = max(v for _, v in present)
    if c_max == 0:
        result = Fraction(0)
    else:
        w = max(min(v for _, v in present) / c_max, Fraction(1, 2))
        result = sum(w ** age * v for age, v in present) / sum(w ** age for age, _ in present)
    if scheme == "us":
        result = _truncate_exact(result, TABLES["us"][(pollutant, "24h")].truncate or 0)
    return result


def _larger(first: SubIndex | None, second: SubIndex | None) -> SubIndex | None:
    if first is None or (second is not None and second.exact > first.exact):
        return second
    return first


def combine(sub_indices: Mapping[str, SubIndex | None], scheme: str = "vn", *,
            require_pm: bool = True) -> AqiResult:
    """AQI = max of the rounded sub-indices, published only with a PM sub-index; dominant by tie-break order.

    ``require_pm=False`` is only for evaluating a single pollutant's AQIx on its own (no station AQI).
    """
    check_scheme(scheme)
    rounded = {p: s.rounded for p, s in sub_indices.items() if s is not None}
    beyond = any(s.beyond_scale for s in sub_indices.values() if s is not None)
    if not rounded or (require_pm and not any(p in rounded for p in PM_POLLUTANTS)):
        return AqiResult(scheme, dict(sub_indices), None, None, None, beyond)
    aqi = max(rounded.values())
    dominant = next(p for p in POLLUTANTS if rounded.get(p) == aqi)
    return AqiResult(scheme, dict(sub_indices), aqi, dominant, category_for(aqi, scheme), beyond)


def aqi_from_concentrations(concentrations: Mapping[str, Reading], scheme: str = "vn", *,
                            require_pm: bool = True) -> AqiResult:
    """AQI from averaged concentrations in µg/m³ keyed by measure.

    Measures: ``pm25``/``pm10`` (NowCast or 24-h mean), ``o3`` (1-h), ``o3_8h``, ``no2``, ``so2`` (1-h) and
    ``co`` (VN: 1-h; US: 8-h mean). O3 takes the larger of its 1-h and 8-h sub-indices; an 8-h value above
    the table (VN 400 µg/m³, US 0.200 ppm) is not used. A key given as None yields a None sub-index.
    """
    check_scheme(scheme)
    subs: dict[str, SubIndex | None] = {}
    for measure, value in concentrations.items():
        if measure not in _MEASURES[scheme]:
            raise InputError(f"unknown measure {measure!r}; expected one of {sorted(_MEASURES[scheme])}",
                             field=measure)
        pollutant, period = _MEASURES[scheme][measure]
        candidate = sub_index(value, TABLES[scheme][(pollutant, period)])
        subs[pollutant] = _larger(subs.get(pollutant), candidate)
    return combine(subs, scheme, require_pm=require_pm)


def hour_aqi(pm25: Sequence[Reading] | None = None, pm10: Sequence[Reading] | None = None, *,
             o3: Reading = None, no2: Reading = None, so2: Reading = None, co: Reading = None,
             o3_8h: Reading = None, scheme: str = "vn") -> AqiResult:
    """Hourly AQI of one hour: PM from c1..c12 through the NowCast, gases from their current 1-h means.

    For the US scheme ``co`` and ``o3_8h`` are the trailing 8-h means ending this hour.
    """
    concentrations: dict[str, Reading] = {}
    for name, hours in (("pm25", pm25), ("pm10", pm10)):
        if hours is not None:
            concentrations[name] = nowcast(hours, scheme, name)
    for name, value in (("o3", o3), ("o3_8h", o3_8h), ("no2", no2), ("so2", so2), ("co", co)):
        if value is not None:
            concentrations[name] = value
    return aqi_from_concentrations(concentrations, scheme)


def mean_with_count(values: Sequence[Reading]) -> tuple[Fraction | None, int]:
    """Arithmetic mean of the valid readings and how many there were."""
    valid = [v for v in map(_reading, values) if v is not None]
    return (sum(valid) / len(valid) if valid else None), len(valid)


def max_reading(values: Sequence[Reading]) -> Fraction | None:
    """Largest valid reading, or None."""
    valid = [v for v in map(_reading, values) if v is not None]
    return max(valid) if valid else None


def day_max_8h(hours: Sequence[Reading]) -> tuple[Fraction | None, int, bool]:
    """Largest 8-h mean of a day: (value, hours in its window, provisional).

    ``hours`` ends with the day's 24 hour-ending values (01:00..00:00); up to 7 earlier hours may precede them
    so that the windows ending 01:00..07:00 reach into the previous day. Windows are labelled by their last
    hour. Windows with ≥ 6 of 8 hours are preferred; only when a day has none does a shorter window give the
    value, flagged provisional (project convention 5).
    """
    start = max(len(hours) - 24, 0)
    windows = [mean_with_count(hours[max(end - 7, 0):end + 1]) for end in range(start, len(hours))]
    complete = [(m, n) for m, n in windows if m is not None and n >= O3_8H_MIN_HOURS]
    pool = complete or [(m, n) for m, n in windows if m is not None]
    if not pool:
        return None, 0, False
    best = max(pool, key=lambda item: item[0])
    return best[0], best[1], best[1] < O3_8H_MIN_HOURS


def day_aqi(hours: Mapping[str, Sequence[Reading]], scheme: str = "vn") -> AqiResult:
    """Daily AQI from hour-ending series per pollutant whose last 24 values are the day (01:00..00:00).

    PM: 24-h mean (provisional under 18 hours); SO2/NO2 (and VN CO): max 1-h mean; O3: larger of the max 1-h
    and max 8-h sub-indices; US CO: max 8-h mean. Earlier values only feed 8-h windows.
    """
    check_scheme(scheme)
    concentrations: dict[str, Reading] = {}
    counts: dict[str, int] = {}
    provisional = False
    for pollutant, series in hours.items():
        day = list(series)[-24:]
        if pollutant in PM_POLLUTANTS:
            concentrations[pollutant], counts[pollutant] = mean_with_count(day)
            provisional |= 0 < counts[pollutant] < PM_DAY_MIN_HOURS
        elif pollutant == "o3" or (pollutant == "co" and scheme == "us"):
            value, counts[f"{pollutant}_8h"], short = day_max_8h(list(series))
            concentrations["o3_8h" if pollutant == "o3" else "co"] = value
            provisional |= short
            if pollutant == "o3":
                concentrations["o3"] = max_reading(day)
        else:
            concentrations[pollutant] = max_reading(day)
    result = aqi_from_concentrations(concentrations, scheme)
    return replace(result, provisional=provisional, counts=counts)


# ------------------------------------------------------------------------------------------ vectorised series
def _half_up_array(values: np.ndarray) -> np.ndarray:
    return np.floor(np.round(values, _FLOAT_GUARD) + 0.5)


def _truncate_array(values: np.ndarray, places: int) -> np.ndarray:
    scale = 10.0 ** places
    # Snap first so that a float just under a truncation step (12.0999999…) is not pushed one step down.
    return np.floor(np.round(values * scale, 6)) / scale


def nowcast_series(hourly: np.ndarray, scheme: str = "vn", pollutant: str = "pm25") -> np.ndarray:
    """NowCast for every hour of a regular hourly series (NaN = missing), same rules as :func:`nowcast`."""
    check_scheme(scheme)
    x = np.asarray(hourly, dtype="float64")
    x = np.where(x < 0, np.nan, x)
    if x.size == 0:
        return x
    padded = np.concatenate([np.full(NOWCAST_HOURS - 1, np.nan), x])
    window = sliding_window_view(padded, NOWCAST_HOURS)[:, ::-1]   # row t holds c1..c12 ending at hour t
    valid = ~np.isnan(window)
    c_max = np.where(valid, window, -np.inf).max(axis=1)
    c_min = np.where(valid, window, np.inf).min(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.maximum(np.where(c_max > 0, c_min / c_max, 1.0), 0.5)   # all zeros: any w gives 0
        weights = np.where(valid, w[:, None] ** np.arange(NOWCAST_HOURS), 0.0)
        result = (weights * np.where(valid, window, 0.0)).sum(axis=1) / weights.sum(axis=1)
    result[valid[:, :3].sum(axis=1) < 2] = np.nan
    if scheme == "us":
        result = _truncate_array(result, TABLES["us"][(pollutant, "24h")].truncate or 0)
    return result


def sub_index_array(concentration: np.ndarray, table: BreakpointTable) -> tuple[np.ndarray, np.ndarray]:
    """Exact sub-indices (NaN where undefined) and beyond-scale flags for concentrations in µg/m³."""
    c = np.round(np.asarray(concentration, dtype="float64") * float(table.from_ugm3), _FLOAT_GUARD)
    c = np.where(c < 0, np.nan, c)
    if table.truncate is not None:
        c = _truncate_array(c, table.truncate)
    c_lo, c_hi, i_lo, i_hi = (np.array([float(getattr(s, name)) for s in table.segments])
                              for name in ("c_lo", "c_hi", "i_lo", "i_hi"))
    k = np.clip(np.searchsorted(c_lo, c, side="right") - 1, 0, len(c_lo) - 1)
    exact = i_lo[k] + (i_hi[k] - i_lo[k]) * (c - c_lo[k]) / (c_hi[k] - c_lo[k])
    above = c > float(table.top)
    beyond = above & (table.above_top == "cap")
    exact = np.where(above, i_hi[-1] if table.above_top == "cap" else np.nan, exact)
    exact = np.where(c < float(table.bottom), np.nan, exact)
    return exact, beyond


def _larger_array(first: tuple[np.ndarray, np.ndarray],
                  second: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    take_second = np.isnan(first[0]) | (second[0] > first[0])
    return np.where(take_second, second[0], first[0]), np.where(take_second, second[1], first[1])


def _rolling_mean(values: np.ndarray, hours: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Trailing means labelled by their last hour, and the number of valid hours in each window."""
    if len(values) == 0:
        return np.asarray(values, dtype="float64"), np.zeros(0, dtype="int64")
    window = sliding_window_view(np.concatenate([np.full(hours - 1, np.nan), values]), hours)
    count = (~np.isnan(window)).sum(axis=1)
    total = np.where(np.isnan(window), 0.0, window).sum(axis=1)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


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


def _assemble(index: pd.Index, subs: Mapping[str, tuple[np.ndarray, np.ndarray]], scheme: str,
              inputs: Mapping[str, np.ndarray], provisional: np.ndarray) -> pd.DataFrame:
    """Inputs, per-pollutant sub-indices, then AQI, dominant pollutant, category and colour for each row."""
    present = [p for p in POLLUTANTS if p in subs]
    n = len(index)
    columns: dict[str, object] = dict(inputs)
    rounded = np.full((n, len(present)), np.nan)
    beyond = np.zeros(n, dtype=bool)
    for j, pollutant in enumerate(present):
        exact, flags = subs[pollutant]
        rounded[:, j] = _half_up_array(exact)
        columns[f"{pollutant}_exact"] = exact
        columns[f"{pollutant}_rounded"] = pd.array(rounded[:, j], dtype="Int64")
        beyond |= flags
    is_pm = np.array([p in PM_POLLUTANTS for p in present], dtype=bool)
    publish = ~np.isnan(rounded[:, is_pm]).all(axis=1) if is_pm.any() else np.zeros(n, dtype=bool)
    filled = np.where(np.isnan(rounded), -1.0, rounded)
    aqi = filled.max(axis=1) if present else np.full(n, -1.0)
    categories = CATEGORIES[scheme]
    which = np.searchsorted(np.array([c.high for c in categories]), np.clip(aqi, 0, None))
    which = np.clip(which, 0, len(categories) - 1)

    def label(values: list[str]) -> pd.Series:
        return pd.Series(np.where(publish, np.array(values, dtype=object)[which], None), index=index,
                         dtype="string")

    columns["aqi"] = pd.array(np.where(publish, aqi, np.nan), dtype="Int64")
    dominant = (np.array(present, dtype=object)[np.argmax(filled == aqi[:, None], axis=1)] if present
                else np.full(n, None, dtype=object))
    columns["dominant"] = pd.Series(np.where(publish, dominant, None), index=index, dtype="string")
    columns["category"] = label([c.name_vi for c in categories])
    columns["category_en"] = label([c.name_en for c in categories])
    columns["rgb"] = label([c.rgb_text for c in categories])
    columns["hex"] = label([c.hex for c in categories])
    columns["beyond_scale"] = beyond
    columns["provisional"] = provisional
    columns["scheme"] = pd.Series(scheme, index=index, dtype="string")
    return pd.DataFrame(columns, index=index)


def hourly_aqi_frame(frame: pd.DataFrame, scheme: str = "vn") -> pd.DataFrame:
    """Hourly AQI of every hour of a frame indexed by hour-ending timestamps, one column per pollutant in µg/m³.

    Gaps are reindexed to NaN on a regular hourly grid. Output per hour: ``<pm>_nowcast``, ``<p>_exact``,
    ``<p>_rounded`` (Int64), ``aqi`` (Int64, NA without a PM sub-index), ``dominant``, ``category``,
    ``category_en``, ``rgb``, ``hex``, ``beyond_scale``, ``provisional`` and ``scheme``. In the US scheme O3 is
    the larger of the trailing 8-h and the 1-h sub-index and CO uses the trailing 8-h mean (``<p>_8h``,
    ``<p>_8h_count``; provisional under 6 of 8 hours).
    """
    check_scheme(scheme)
    grid = _hourly_grid(frame)
    tables = TABLES[scheme]
    inputs: dict[str, np.ndarray] = {}
    subs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    provisional = np.zeros(len(grid), dtype=bool)
    for pollutant in (p for p in POLLUTANTS if p in grid.columns):
        values = grid[pollutant].to_numpy()
        if pollutant in PM_POLLUTANTS:
            inputs[f"{pollutant}_nowcast"] = nowcast_series(values, scheme, pollutant)
            subs[pollutant] = sub_index_array(inputs[f"{pollutant}_nowcast"], tables[(pollutant, "24h")])
        elif scheme == "vn" or pollutant in ("no2", "so2"):
            subs[pollutant] = sub_index_array(values, tables[(pollutant, "1h")])
        else:
            mean, count = _rolling_mean(values)
            inputs[f"{pollutant}_8h"], inputs[f"{pollutant}_8h_count"] = mean, count
            provisional |= (count > 0) & (count < O3_8H_MIN_HOURS)
            subs[pollutant] = sub_index_array(mean, tables[(pollutant, "8h")])
            if pollutant == "o3":
                subs[pollutant] = _larger_array(subs[pollutant], sub_index_array(values, tables[("o3", "1h")]))
    return _assemble(grid.index, subs, scheme, inputs, provisional)


def _day_max_8h_array(values: np.ndarray, day: pd.DatetimeIndex,
                      days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per day: the largest 8-h mean, its hour count and a provisional flag (same rule as :func:`day_max_8h`)."""
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
    return _assemble(days, subs, scheme, inputs, provisional)
