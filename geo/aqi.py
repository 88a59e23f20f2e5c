"""Air-quality index engine: VN_AQI (1459/QĐ-TCMT) and US EPA AQI sub-indices, NowCast, hourly and daily AQI.

Exact scalar path (Fractions) here; the vectorised series, frames and the many-station batch path live in
``geo.aqi_series`` and are importable from here too.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from fractions import Fraction
from typing import Union

from geo.aqi_series import (  # noqa: F401  (the vectorised engine, importable from geo.aqi)
    _FLOAT_GUARD, LOCAL_TZ, NOWCAST_HOURS, O3_8H_MIN_HOURS, PM_DAY_MIN_HOURS, check_scheme,
    daily_aqi_frame, hourly_aqi_batch, hourly_aqi_frame, nowcast_series, sub_index_array)
from geo.aqi_tables import (  # noqa: F401  (re-exported)
    CATEGORIES, PM_POLLUTANTS, POLLUTANTS, SCHEMES, TABLES, BreakpointTable, Category)
from geo.errors import InputError

__all__ = [
    "CATEGORIES", "LOCAL_TZ", "NOWCAST_HOURS", "O3_8H_MIN_HOURS", "PM_DAY_MIN_HOURS", "PM_POLLUTANTS", "POLLUTANTS",
    "SCHEMES", "TABLES", "AqiResult", "BreakpointTable", "Category", "Number", "Reading", "SubIndex",
    "aqi_from_concentrations", "category_for", "check_scheme", "combine", "daily_aqi_frame", "day_aqi",
    "day_max_8h", "hour_aqi", "hourly_aqi_batch", "hourly_aqi_frame", "max_reading", "mean_with_count", "nowcast",
    "nowcast_series", "round_half_up", "sub_index", "sub_index_array", "to_fraction",
]
Number = Union[int, float, str, Decimal, Fraction]
Reading = Union[Number, None]

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
