"""QCVN 05 ambient-air compliance: the effective-dated limits table, period averages, exceedances and summaries."""
from __future__ import annotations

import math
from datetime import date
from functools import lru_cache
from importlib.resources import files

import numpy as np
import pandas as pd

from geo.aqi import LOCAL_TZ, O3_8H_MIN_HOURS, PM_DAY_MIN_HOURS
from geo.aqi_series import rolling_mean
from geo.errors import ConfigError, InputError

LIMITS_RESOURCE = ("geo", "data/qcvn05_limits.csv")
PERIODS: tuple[str, ...] = ("1h", "8h", "24h", "year")
LIMIT_COLUMNS: tuple[str, ...] = ("regulation", "parameter", "period", "limit", "unit", "valid_from", "valid_to",
                                  "source")
AVERAGED_COLUMNS: tuple[str, ...] = ("station", "parameter", "period", "period_end", "value")
HOURLY_COLUMNS: tuple[str, ...] = ("station", "parameter", "time", "value")
# Project convention 5 (18 of 24 hours, 6 of 8 hours). The annual rule is this module's: the same 75 % coverage
# as the day, of the hours in the calendar year; the reference and the regulation give none.
DAY_MIN_HOURS = PM_DAY_MIN_HOURS
EIGHT_HOUR_MIN_HOURS = O3_8H_MIN_HOURS
EIGHT_HOURS = 8
YEAR_MIN_SHARE = 0.75
SUMMARY_FREQUENCIES = {"M": "month", "Y": "year"}
# QC flags (issue 3's observation model) that take a reading out of every average (project convention 7).
DROPPED_FLAGS = frozenset({"invalid", "missing"})


# ------------------------------------------------------------------------------------------------ the table
@lru_cache(maxsize=1)
def _load_limits() -> pd.DataFrame:
    """The shipped limits table, parsed and checked once; callers get copies."""
    package, name = LIMITS_RESOURCE
    with files(package).joinpath(name).open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, dtype={"regulation": "string", "parameter": "string", "period": "string",
                                           "unit": "string", "source": "string", "limit": "float64"})
    for column in ("valid_from", "valid_to"):
        table[column] = pd.to_datetime(table[column], format="%Y-%m-%d").astype("datetime64[s]")
    _check_table(table)
    return table


def _check_table(table: pd.DataFrame) -> None:
    """Refuse a limits table that cannot be read unambiguously: unknown period, empty span, overlapping rows."""
    missing = [c for c in LIMIT_COLUMNS if c not in table.columns]
    if missing:
        raise ConfigError(f"bảng giới hạn QCVN thiếu cột / the QCVN limits table lacks columns {missing}")
    bad_period = ~table["period"].isin(PERIODS)
    empty_span = table["valid_to"].notna() & (table["valid_to"] <= table["valid_from"])
    if bad_period.any() or empty_span.any() or table["limit"].isna().any() or table["valid_from"].isna().any():
        raise ConfigError("bảng giới hạn QCVN có dòng sai / the QCVN limits table has an invalid row "
                          f"(period in {PERIODS}, limit and valid_from required, valid_to after valid_from)")
    ordered = table.sort_values(["parameter", "period", "valid_from"])
    previous_end = ordered.groupby(["parameter", "period"])["valid_to"].shift()
    same_key = ordered.duplicated(["parameter", "period"])
    # An open-ended row (valid_to empty) followed by another row of the same key overlaps it as well.
    overlap = same_key & (previous_end.isna() | (ordered["valid_from"] < previous_end))
    if overlap.any():
        row = ordered[overlap].iloc[0]
        raise ConfigError(f"giới hạn QCVN chồng lấn / overlapping QCVN limits for {row['parameter']} "
                          f"{row['period']} from {row['valid_from'].date()}")


def limits_table() -> pd.DataFrame:
    """Every row of the QCVN 05 limits table (valid_from inclusive, valid_to exclusive, empty = still in force)."""
    return _load_limits().copy()


def _as_day(on: date | str | pd.Timestamp) -> pd.Timestamp:
    """A date as local midnight without a zone; an aware timestamp is first put on the Vietnamese clock."""
    try:
        stamp = pd.Timestamp(on)
    except (TypeError, ValueError) as exc:
        raise InputError(f"không phải ngày / not a date: {on!r}", field="date") from exc
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert(LOCAL_TZ).tz_localize(None)
    return stamp.normalize()


def limits_on(on: date | str | pd.Timestamp) -> pd.DataFrame:
    """The limits in force on a (local) date: one row per parameter and averaging period regulated that day."""
    day = _as_day(on)
    table = _load_limits()
    in_force = (table["valid_from"] <= day) & (table["valid_to"].isna() | (day < table["valid_to"]))
    return table[in_force].reset_index(drop=True)


def limit_for(parameter: str, period: str, on: date | str | pd.Timestamp) -> float | None:
    """The limit for one parameter and averaging period on a date, or None when nothing is regulated then."""
    rows = limits_on(on)
    match = rows[(rows["parameter"] == parameter) & (rows["period"] == period)]
    return None if match.empty else float(match["limit"].iloc[0])


# ------------------------------------------------------------------------------------------- reference dates
def _one_local_time(value: object, field: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise InputError(f"không phải thời điểm / not a timestamp: {value!r}", field=field) from exc
    if stamp is pd.NaT:
        raise InputError("thiếu thời điểm / a timestamp is missing", field=field)
    return stamp.tz_localize(LOCAL_TZ) if stamp.tzinfo is None else stamp.tz_convert(LOCAL_TZ)


def _local_times(times: pd.Series, field: str) -> pd.Series:
    """Timestamps on the Asia/Ho_Chi_Minh clock; times written without an offset are taken as local already."""
    if not isinstance(times.dtype, (pd.DatetimeTZDtype, np.dtypes.DateTime64DType)):
        try:
            times = pd.to_datetime(times, format="ISO8601")
        except (TypeError, ValueError):
            # Mixed offsets, or naive and aware values together: parse one by one (slow, but only then).
            return pd.Series([_one_local_time(v, field) for v in times], index=times.index,
                             dtype=f"datetime64[ns, {LOCAL_TZ}]")
    if times.isna().any():
        raise InputError("thiếu thời điểm / a timestamp is missing", field=field)
    return times.dt.tz_localize(LOCAL_TZ) if times.dt.tz is None else times.dt.tz_convert(LOCAL_TZ)


def reference_dates(period_end: pd.Series) -> pd.Series:
    """The local date each averaging period belongs to: the date of its last instant (just before period_end).

    A 24-h mean ending 2023-09-12 00:00 covers the hours of 2023-09-11 and is judged by the rules of that day; an
    annual mean ending 1 January is judged by the regulation in force on 31 December.
    """
    local = _local_times(period_end, "period_end")
    return (local - pd.Timedelta(microseconds=1)).dt.normalize().dt.tz_localize(None).astype("datetime64[s]")


# ----------------------------------------------------------------------------------------------- exceedances
def _require(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InputError(f"thiếu cột / missing columns {missing}; cần / expected {list(columns)}")


def _numeric(values: pd.Series) -> pd.Series:
    try:
        return pd.to_numeric(values, errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise InputError("giá trị phải là số (µg/m³) / values must be numbers in µg/m³", field="value") from exc


def _check_names(frame: pd.DataFrame, table: pd.DataFrame) -> None:
    """A misspelt parameter or period would silently match no limit, so refuse names the table does not know."""
    unknown_period = sorted(set(frame["period"]) - set(PERIODS))
    if unknown_period:
        raise InputError(f"chu kỳ trung bình không rõ / unknown averaging period {unknown_period}; "
                         f"expected some of {list(PERIODS)}", field="period")
    unknown = sorted(set(frame["parameter"]) - set(table["parameter"]))
    if unknown:
        raise InputError(f"thông số không có trong QCVN 05 / parameter not in QCVN 05: {unknown}; "
                         f"expected some of {sorted(set(table['parameter']))}", field="parameter")


def _match_limits(parameter: pd.Series, period: pd.Series, day: pd.Series, table: pd.DataFrame) -> pd.DataFrame:
    """For each row, the table row of the same parameter and period in force on that row's date (or NaNs)."""
    rows = pd.DataFrame({"row": np.arange(len(day)), "parameter": parameter.to_numpy(),
                         "period": period.to_numpy(), "day": day.to_numpy()})
    pairs = rows.merge(table[["parameter", "period", "limit", "unit", "regulation", "valid_from", "valid_to"]],
                       on=["parameter", "period"], how="inner")
    in_force = (pairs["valid_from"] <= pairs["day"]) & (pairs["valid_to"].isna() | (pairs["day"] < pairs["valid_to"]))
    # The table has no overlaps (checked on load), so each row matches at most one limit.
    return pairs[in_force].set_index("row").reindex(np.arange(len(day)))


def exceedances(frame: pd.DataFrame) -> pd.DataFrame:
    """Flag every averaged value against the QCVN 05 limit in force on its own date (never via the AQI).

    ``frame``: station, parameter (pm25, pm10, o3, no2, so2, co, tsp, pb), period (1h, 8h, 24h, year),
    period_end (end of the averaging period; no offset = Asia/Ho_Chi_Minh) and value in µg/m³; other columns,
    such as ``provisional`` and ``n_hours``, are kept. Adds ``reference_date``, ``limit``, ``limit_unit``,
    ``regulation``, ``ratio`` (value / limit) and ``exceeds`` (value strictly above the limit; NA where the value
    is missing or nothing is regulated for that parameter, period and date).
    """
    _require(frame, AVERAGED_COLUMNS)
    table = _load_limits()
    out = frame.reset_index(drop=True).copy()
    _check_names(out, table)
    value = _numeric(out["value"])
    out["reference_date"] = reference_dates(out["period_end"])
    matched = _match_limits(out["parameter"], out["period"], out["reference_date"], table)
    limit = matched["limit"].to_numpy(dtype="float64")
    out["limit"] = limit
    out["limit_unit"] = matched["unit"].astype("string").to_numpy()
    out["regulation"] = matched["regulation"].astype("string").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        out["ratio"] = value.to_numpy() / limit
    exceeds = pd.Series(value.to_numpy() > limit, dtype="boolean")
    exceeds[value.isna().to_numpy() | np.isnan(limit)] = pd.NA
    out["exceeds"] = exceeds
    return out


def summarise_exceedances(exceeded: pd.DataFrame, freq: str = "M") -> pd.DataFrame:
    """Per station, parameter, period and month (``freq="M"``) or year (``"Y"``): valid periods, exceedances.

    Only regulated rows with a value count. Provisional periods (short of hours) are counted apart in
    ``n_provisional`` and left out of ``n_valid``, ``n_exceeding``, ``share`` and ``max_value``; annual means
    appear only in yearly summaries. A month or year that straddles a change of limit (September 2023, 2023)
    gives one row per regulation and limit in force.
    """
    if freq not in SUMMARY_FREQUENCIES:
        raise InputError(f"tần suất không hợp lệ / unknown frequency {freq!r}; expected one of "
                         f"{list(SUMMARY_FREQUENCIES)}", field="freq")
    _require(exceeded, ("station", "parameter", "period", "value", "reference_date", "limit", "regulation",
                        "exceeds"))
    label = SUMMARY_FREQUENCIES[freq]
    rows = exceeded[exceeded["exceeds"].notna()].copy()
    if freq == "M":
        rows = rows[rows["period"] != "year"]   # an annual mean has no month of its own
    provisional = (rows["provisional"].fillna(False).astype(bool) if "provisional" in rows
                   else pd.Series(False, index=rows.index))
    rows[label] = pd.to_datetime(rows["reference_date"]).dt.to_period(freq)
    rows["is_valid"] = ~provisional
    rows["is_provisional"] = provisional
    rows["valid_exceeding"] = rows["exceeds"].astype(bool) & rows["is_valid"]
    rows["valid_value"] = rows["value"].where(rows["is_valid"])
    keys = ["station", "parameter", "period", label, "regulation", "limit"]
    summary = rows.groupby(keys, sort=True, observed=True).agg(
        n_valid=("is_valid", "sum"), n_exceeding=("valid_exceeding", "sum"),
        n_provisional=("is_provisional", "sum"), max_value=("valid_value", "max")).reset_index()
    summary[["n_valid", "n_exceeding", "n_provisional"]] = summary[
        ["n_valid", "n_exceeding", "n_provisional"]].astype("int64")
    with np.errstate(divide="ignore", invalid="ignore"):
        summary["share"] = np.where(summary["n_valid"] > 0, summary["n_exceeding"] / summary["n_valid"], np.nan)
    return summary[keys + ["n_valid", "n_exceeding", "share", "max_value", "n_provisional"]]


# -------------------------------------------------------------------------------------------- period averages
def _hourly_readings(hourly: pd.DataFrame) -> pd.DataFrame:
    """Checked hour-ending readings on the local clock; missing, negative and invalid-flagged readings dropped."""
    _require(hourly, HOURLY_COLUMNS)
    readings = hourly.reset_index(drop=True)
    time = _local_times(readings["time"], "time")
    off_hour = time != time.dt.floor("h")
    if off_hour.any():
        raise InputError(f"thời điểm không tròn giờ / timestamp not on the hour: {time[off_hour].iloc[0]}",
                         field="time")
    clean = pd.DataFrame({"station": readings["station"], "parameter": readings["parameter"], "time": time,
                          "value": _numeric(readings["value"])})
    duplicated = clean.duplicated(["station", "parameter", "time"])
    if duplicated.any():
        row = clean[duplicated].iloc[0]
        raise InputError(f"giờ bị lặp / duplicate hour {row['time']} for {row['station']} {row['parameter']}",
                         field="time")
    keep = clean["value"].notna() & (clean["value"] >= 0)
    if "qc_flag" in readings:
        keep &= ~readings["qc_flag"].isin(DROPPED_FLAGS)
    return clean[keep].sort_values(["station", "parameter", "time"]).reset_index(drop=True)


def _averaged(keys: pd.DataFrame, period: str, period_end: pd.Series, value: pd.Series, count: pd.Series,
              provisional: pd.Series) -> pd.DataFrame:
    return pd.DataFrame({"station": keys["station"].to_numpy(), "parameter": keys["parameter"].to_numpy(),
                         "period": period, "period_end": period_end.to_numpy(), "value": value.to_numpy(),
                         "n_hours": count.to_numpy(dtype="int64"), "provisional": provisional.to_numpy(dtype=bool)})


def daily_means(hourly: pd.DataFrame) -> pd.DataFrame:
    """24-h means per station, parameter and local day (hours ending 01:00..00:00); under 18 hours provisional.

    ``hourly``: station, parameter, time (hour ending; no offset = Asia/Ho_Chi_Minh), value in µg/m³ and an
    optional ``qc_flag``. Output columns as :func:`exceedances` takes them, plus ``n_hours`` and ``provisional``.
    """
    readings = _hourly_readings(hourly)
    # The hour ending 00:00 closes the previous day (1459/QĐ-TCMT §2.2.2), hence the one-hour shift.
    readings["day"] = (readings["time"] - pd.Timedelta(hours=1)).dt.normalize()
    days = readings.groupby(["station", "parameter", "day"], sort=True)["value"].agg(["mean", "count"]).reset_index()
    end = days["day"] + pd.Timedelta(days=1)
    return _averaged(days, "24h", end, days["mean"], days["count"], days["count"] < DAY_MIN_HOURS)


def rolling_8h_means(hourly: pd.DataFrame) -> pd.DataFrame:
    """Trailing 8-h means labelled by their last hour, for every hour from a series' first to its last reading.

    Windows need ≥ 6 of 8 hours to be final; shorter ones are kept, flagged provisional (project convention 5).
    Each window is summed on its own (``geo.aqi_series.rolling_mean``, the same numbers as the US 8-h AQI
    inputs), so a window's mean never depends on where a series or a read starts.
    """
    readings = _hourly_readings(hourly)
    parts = []
    for (station, parameter), group in readings.groupby(["station", "parameter"], sort=True):
        series = group.set_index("time")["value"]
        grid = series.reindex(pd.date_range(series.index[0], series.index[-1], freq="h"))
        mean, count = rolling_mean(grid.to_numpy(dtype="float64"), EIGHT_HOURS)
        means = pd.DataFrame({"station": station, "parameter": parameter, "end": grid.index,
                              "mean": mean, "count": count})
        parts.append(means[means["count"] > 0])
    if not parts:
        return _empty_averages()
    windows = pd.concat(parts, ignore_index=True)
    return _averaged(windows, "8h", windows["end"], windows["mean"], windows["count"],
                     windows["count"] < EIGHT_HOUR_MIN_HOURS)


def annual_means(hourly: pd.DataFrame) -> pd.DataFrame:
    """Calendar-year means of the hourly readings; under 75 % of the year's hours the mean is provisional.

    The sum is exact (``math.fsum``, correctly rounded) before the one division, so a year's mean does not depend
    on the order or grouping of its readings: the stored indices build it from exact monthly partial sums.
    """
    readings = _hourly_readings(hourly)
    readings["year"] = (readings["time"] - pd.Timedelta(hours=1)).dt.year
    years = (readings.groupby(["station", "parameter", "year"], sort=True)["value"]
             .agg(total=math.fsum, count="count").reset_index())
    years["mean"] = years["total"] / years["count"]
    start = pd.to_datetime(years["year"].astype(str), format="%Y").dt.tz_localize(LOCAL_TZ)
    end = pd.to_datetime((years["year"] + 1).astype(str), format="%Y").dt.tz_localize(LOCAL_TZ)
    hours_in_year = (end - start) / pd.Timedelta(hours=1)
    return _averaged(years, "year", end, years["mean"], years["count"],
                     years["count"] < YEAR_MIN_SHARE * hours_in_year)


def hourly_values(hourly: pd.DataFrame) -> pd.DataFrame:
    """The valid 1-h readings themselves in the averaged shape (period ``1h``, one hour each, never provisional)."""
    readings = _hourly_readings(hourly)
    ones = pd.Series(1, index=readings.index)
    return _averaged(readings, "1h", readings["time"], readings["value"], ones, ones == 0)


def _empty_averages() -> pd.DataFrame:
    return pd.DataFrame({"station": pd.Series(dtype=object), "parameter": pd.Series(dtype=object),
                         "period": pd.Series(dtype=object),
                         "period_end": pd.Series(dtype=f"datetime64[ns, {LOCAL_TZ}]"),
                         "value": pd.Series(dtype="float64"), "n_hours": pd.Series(dtype="int64"),
                         "provisional": pd.Series(dtype=bool)})


def compliance_averages(hourly: pd.DataFrame) -> pd.DataFrame:
    """Every average QCVN 05 regulates for the parameters present: 1-h, 8-h, 24-h and annual, ready for exceedances."""
    table = _load_limits()
    makers = {"1h": hourly_values, "8h": rolling_8h_means, "24h": daily_means, "year": annual_means}
    parts = []
    for period, make in makers.items():
        regulated = set(table.loc[table["period"] == period, "parameter"])
        subset = hourly[hourly["parameter"].isin(regulated)] if "parameter" in hourly else hourly
        if len(subset):
            parts.append(make(subset))
    return pd.concat(parts, ignore_index=True) if parts else _empty_averages()
