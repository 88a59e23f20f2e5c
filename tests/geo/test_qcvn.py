"""Tests of QCVN 05 compliance: limits by date, exceedances from the table (not the AQI), summaries, averages."""
from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from geo import qcvn
from geo.aqi import aqi_from_concentrations
from geo.errors import ConfigError, InputError

TZ = "Asia/Ho_Chi_Minh"
R2013, R2023 = "QCVN 05:2013/BTNMT", "QCVN 05:2023/BTNMT"


def averaged(rows: list[tuple]) -> pd.DataFrame:
    """Averaged values: (station, parameter, period, period_end, value[, provisional])."""
    columns = ["station", "parameter", "period", "period_end", "value", "provisional"][:len(rows[0])]
    return pd.DataFrame(rows, columns=columns)


def hours(start: str, count: int, value: float = 10.0, parameter: str = "pm25", station: str = "S1") -> pd.DataFrame:
    """Hourly readings ending at ``start`` and every following hour (local clock, written without an offset)."""
    return pd.DataFrame({"station": station, "parameter": parameter,
                         "time": pd.date_range(start, periods=count, freq="h"), "value": value})


# ------------------------------------------------------------------------------------------- limits by date
@pytest.mark.parametrize(("parameter", "period", "on", "expected"), [
    ("pm10", "24h", "2023-09-11", 150.0),    # last day of QCVN 05:2013
    ("pm10", "24h", "2023-09-12", 100.0),    # first day of QCVN 05:2023
    ("pm25", "24h", "2023-09-12", 50.0),
    ("pm25", "24h", "2025-12-31", 50.0),
    ("pm25", "24h", "2026-01-01", 45.0),     # the 2023 footnote (*)
    ("pm25", "year", "2026-01-01", 25.0),
    ("pb", "year", "2023-09-11", 0.5),       # 2013 only: the 2023 text has no annual Pb value
    ("pb", "year", "2023-09-12", None),
    ("pb", "24h", "2024-05-01", 1.5),        # 2023 Table 2
    ("co", "8h", "2024-05-01", 10000.0),
    ("o3", "8h", "2016-01-01", 120.0),
    ("pm10", "1h", "2024-05-01", None),      # not regulated
    ("pm10", "24h", "2013-12-31", None),     # before QCVN 05:2013 took effect
])
def test_limit_for(parameter: str, period: str, on: str, expected: float | None) -> None:
    assert qcvn.limit_for(parameter, period, on) == expected


@pytest.mark.parametrize(("on", "regulation", "pm25_24h"), [
    (date(2023, 9, 11), R2013, 50.0), (date(2023, 9, 12), R2023, 50.0), (date(2026, 1, 1), R2023, 45.0),
])
def test_limits_on_gives_one_regulation_and_one_row_per_parameter_period(on: date, regulation: str,
                                                                          pm25_24h: float) -> None:
    limits = qcvn.limits_on(on)
    assert set(limits["regulation"]) == {regulation}
    assert not limits.duplicated(["parameter", "period"]).any()
    assert limits.set_index(["parameter", "period"]).loc[("pm25", "24h"), "limit"] == pm25_24h


def test_limits_on_reads_an_aware_timestamp_on_the_vietnamese_clock() -> None:
    # 17:00 UTC on 11 September is 00:00 on 12 September in Hồ Chí Minh City.
    assert qcvn.limit_for("pm10", "24h", pd.Timestamp("2023-09-11 17:00", tz="UTC")) == 100.0


def test_limits_table_units_follow_the_regulation() -> None:
    table = qcvn.limits_table()
    assert set(table.loc[table["regulation"] == R2013, "unit"]) == {"µg/m³"}
    assert set(table.loc[table["regulation"] == R2023, "unit"]) == {"µg/Nm³"}


def test_overlapping_limits_are_refused() -> None:
    table = qcvn.limits_table()
    extra = table[(table["parameter"] == "pm10") & (table["period"] == "24h")].iloc[[1]].assign(
        valid_from=pd.Timestamp("2025-01-01"))
    with pytest.raises(ConfigError, match="overlapping"):
        qcvn._check_table(pd.concat([table, extra], ignore_index=True))


# ------------------------------------------------------------------------------------------------ exceedances
def test_exceedance_comes_from_the_table_by_date_not_from_the_aqi() -> None:
    # A PM10 24-h mean of 120 µg/m³ is VN_AQI 85 ("Trung bình", under 100) on both days ...
    assert aqi_from_concentrations({"pm10": 120}).aqi == 85
    frame = averaged([("S1", "pm10", "24h", pd.Timestamp("2023-09-12 00:00", tz=TZ), 120.0),   # day 2023-09-11
                      ("S1", "pm10", "24h", pd.Timestamp("2023-09-13 00:00", tz=TZ), 120.0)])  # day 2023-09-12
    result = qcvn.exceedances(frame)
    # ... but it exceeds QCVN 05:2023 (100) and not QCVN 05:2013 (150).
    assert result["regulation"].tolist() == [R2013, R2023]
    assert result["limit"].tolist() == [150.0, 100.0]
    assert result["exceeds"].tolist() == [False, True]
    assert result["ratio"].tolist() == pytest.approx([0.8, 1.2])


@pytest.mark.parametrize(("period_end", "exceeds"), [
    ("2026-01-01 00:00", False),                    # the day 2025-12-31: limit 50
    ("2026-01-02 00:00", True),                     # the day 2026-01-01: limit 45
    (pd.Timestamp("2025-12-31 17:00", tz="UTC"), False),   # = 2026-01-01 00:00 local, still the day 2025-12-31
    (pd.Timestamp("2026-01-01 17:00", tz="UTC"), True),
])
def test_pm25_24h_limit_changes_on_2026_01_01(period_end: object, exceeds: bool) -> None:
    result = qcvn.exceedances(averaged([("S1", "pm25", "24h", period_end, 47.0)]))
    assert bool(result["exceeds"].iloc[0]) is exceeds


def test_a_value_equal_to_the_limit_complies() -> None:
    result = qcvn.exceedances(averaged([("S1", "no2", "1h", "2024-03-01 10:00", 200.0)]))
    assert result["exceeds"].tolist() == [False]


def test_unregulated_or_missing_values_have_no_flag() -> None:
    result = qcvn.exceedances(averaged([
        ("S1", "pm10", "1h", "2024-03-01 10:00", 500.0),      # PM10 has no 1-h limit
        ("S1", "pb", "year", "2024-01-01 00:00", 9.0),        # year 2023 judged on 31 Dec 2023: no annual Pb limit
        ("S1", "so2", "24h", "2024-03-02 00:00", np.nan),     # no value
    ]))
    assert result["exceeds"].isna().all()
    assert pd.isna(result["regulation"].iloc[0]) and pd.isna(result["limit"].iloc[0])
    assert result["limit"].iloc[2] == 125.0


def test_annual_mean_is_judged_by_the_regulation_in_force_at_the_end_of_the_year() -> None:
    result = qcvn.exceedances(averaged([("S1", "pb", "year", "2023-01-01 00:00", 0.6)]))   # the year 2022
    assert (result["regulation"].iloc[0], bool(result["exceeds"].iloc[0])) == (R2013, True)


@pytest.mark.parametrize(("column", "value", "match"), [
    ("parameter", "PM2.5", "parameter not in QCVN 05"),
    ("period", "24-h", "unknown averaging period"),
    ("value", "high", "values must be numbers"),
    ("period_end", "yesterday", "not a timestamp"),
])
def test_bad_averaged_values_are_refused(column: str, value: str, match: str) -> None:
    frame = averaged([("S1", "pm25", "24h", "2024-03-02 00:00", 20.0)])
    frame[column] = value
    with pytest.raises(InputError, match=match):
        qcvn.exceedances(frame)


def test_missing_columns_are_named() -> None:
    with pytest.raises(InputError, match="period_end"):
        qcvn.exceedances(pd.DataFrame({"station": ["S1"], "parameter": ["pm25"], "period": ["24h"], "value": [1]}))


# -------------------------------------------------------------------------------------------------- summaries
def _september_2023() -> pd.DataFrame:
    rows = [("S1", "pm10", "24h", pd.Timestamp(f"2023-09-{d + 1:02d} 00:00", tz=TZ), v, False)
            for d, v in ((9, 160.0), (10, 120.0), (11, 120.0), (12, 90.0), (13, 130.0))]
    rows.append(("S1", "pm10", "24h", pd.Timestamp("2023-09-15 00:00", tz=TZ), 300.0, True))   # provisional
    rows.append(("S1", "pm10", "24h", pd.Timestamp("2023-10-02 00:00", tz=TZ), 101.0, False))
    return qcvn.exceedances(averaged(rows))


def test_monthly_summary_splits_a_month_at_a_change_of_regulation() -> None:
    summary = qcvn.summarise_exceedances(_september_2023(), freq="M").set_index(["month", "regulation"])
    old = summary.loc[(pd.Period("2023-09", "M"), R2013)]
    new = summary.loc[(pd.Period("2023-09", "M"), R2023)]
    # Days 09-09, 09-10, 09-11 under 2013 (150): only 160 exceeds.
    assert (old["n_valid"], old["n_exceeding"], old["share"], old["max_value"]) == (3, 1, pytest.approx(1 / 3), 160.0)
    # Days 09-12, 09-13 under 2023 (100): 90 complies, 130 exceeds; the provisional 300 is counted apart.
    assert (new["n_valid"], new["n_exceeding"], new["share"], new["max_value"], new["n_provisional"]) == (
        2, 1, 0.5, 130.0, 1)
    october = summary.loc[(pd.Period("2023-10", "M"), R2023)]
    assert (october["n_valid"], october["n_exceeding"]) == (1, 1)


def test_yearly_summary() -> None:
    summary = qcvn.summarise_exceedances(_september_2023(), freq="Y")
    assert summary["year"].astype(str).unique().tolist() == ["2023"]
    assert summary.groupby("regulation")["n_exceeding"].sum().to_dict() == {R2013: 1, R2023: 2}
    assert summary["n_valid"].sum() == 6


def test_unknown_summary_frequency_is_refused() -> None:
    with pytest.raises(InputError, match="frequency"):
        qcvn.summarise_exceedances(_september_2023(), freq="W")


# --------------------------------------------------------------------------------------------------- averages
@pytest.mark.parametrize(("count", "provisional"), [(24, False), (18, False), (17, True), (1, True)])
def test_24h_mean_needs_18_of_24_hours(count: int, provisional: bool) -> None:
    day = hours("2024-03-01 01:00", 24, value=20.0)
    means = qcvn.daily_means(day.iloc[:count])
    assert (means["n_hours"].iloc[0], bool(means["provisional"].iloc[0])) == (count, provisional)
    assert means["period_end"].iloc[0] == pd.Timestamp("2024-03-02 00:00", tz=TZ)


def test_the_hour_ending_midnight_closes_the_local_day() -> None:
    # Hours ending 2024-03-01 01:00 .. 2024-03-02 01:00: 24 for the 1st, one (01:00) for the 2nd.
    readings = hours("2024-03-01 01:00", 25)
    readings.loc[23, "value"] = 34.0      # the hour ending 00:00 on the 2nd belongs to the 1st
    means = qcvn.daily_means(readings)
    assert means["n_hours"].tolist() == [24, 1]
    assert means["value"].iloc[0] == pytest.approx((23 * 10 + 34) / 24)


def test_utc_hours_are_grouped_on_the_vietnamese_day() -> None:
    local = hours("2024-03-01 01:00", 24)
    utc = local.assign(time=local["time"].dt.tz_localize(TZ).dt.tz_convert("UTC"))
    pd.testing.assert_frame_equal(qcvn.daily_means(utc), qcvn.daily_means(local))


def test_negative_and_invalid_readings_are_dropped_before_averaging() -> None:
    readings = hours("2024-03-01 01:00", 24).assign(qc_flag="valid")
    readings.loc[0, "value"] = -5.0
    readings.loc[1, ["value", "qc_flag"]] = [900.0, "invalid"]
    means = qcvn.daily_means(readings)
    assert (means["n_hours"].iloc[0], means["value"].iloc[0]) == (22, 10.0)


@pytest.mark.parametrize(("problem", "match"), [("duplicate", "duplicate hour"), ("half past", "not on the hour")])
def test_bad_hourly_series_are_refused(problem: str, match: str) -> None:
    readings = hours("2024-03-01 01:00", 3)
    if problem == "duplicate":
        readings = pd.concat([readings, readings.iloc[[1]]])
    else:
        readings.loc[2, "time"] = pd.Timestamp("2024-03-01 03:30")
    with pytest.raises(InputError, match=match):
        qcvn.daily_means(readings)


def test_8h_means_need_6_of_8_hours_and_are_labelled_by_their_last_hour() -> None:
    readings = hours("2024-03-01 01:00", 12, parameter="o3")
    readings["value"] = np.arange(12.0)
    readings = readings.drop(index=[8, 9])   # hours ending 09:00 and 10:00 missing
    means = qcvn.rolling_8h_means(readings).set_index("period_end")
    at = means.loc[pd.Timestamp("2024-03-01 08:00", tz=TZ)]
    assert (at["value"], at["n_hours"], bool(at["provisional"])) == (3.5, 8, False)
    at = means.loc[pd.Timestamp("2024-03-01 10:00", tz=TZ)]      # window 03:00..10:00 holds 6 hours
    assert (at["value"], at["n_hours"], bool(at["provisional"])) == (4.5, 6, False)
    at = means.loc[pd.Timestamp("2024-03-01 03:00", tz=TZ)]      # the series' third hour
    assert (at["n_hours"], bool(at["provisional"])) == (3, True)
    assert means.index.max() == pd.Timestamp("2024-03-01 12:00", tz=TZ)


def test_annual_mean_and_its_coverage() -> None:
    year = hours("2024-01-01 01:00", 8784, value=30.0)           # 2024 is a leap year: 8784 hours
    means = qcvn.annual_means(pd.concat([year, hours("2025-01-01 01:00", 100, value=10.0)]))
    assert means["value"].tolist() == [30.0, 10.0]
    assert means["n_hours"].tolist() == [8784, 100]
    assert means["provisional"].tolist() == [False, True]
    assert means["period_end"].iloc[0] == pd.Timestamp("2025-01-01 00:00", tz=TZ)


def test_compliance_averages_feed_exceedances_end_to_end() -> None:
    readings = pd.concat([hours("2023-09-11 01:00", 48, value=120.0, parameter="pm10"),
                          hours("2023-09-11 01:00", 48, value=130.0, parameter="o3")])
    averages = qcvn.compliance_averages(readings)
    assert set(zip(averages["parameter"], averages["period"])) == {
        ("pm10", "24h"), ("pm10", "year"), ("o3", "1h"), ("o3", "8h")}
    days = qcvn.exceedances(averages).query("period == '24h'")
    assert days["exceeds"].tolist() == [False, True]             # 11 Sep under 2013, 12 Sep under 2023
    o3_8h = qcvn.exceedances(averages).query("period == '8h' and not provisional")
    assert o3_8h["exceeds"].all() and (o3_8h["limit"] == 120.0).all()
