"""Tests of the air-quality index engine: every reference vector, then the project conventions one by one."""
from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.aqi import (aqi_from_concentrations, combine, daily_aqi_frame, day_aqi, hour_aqi, hourly_aqi_frame,
                     mean_with_count, nowcast, round_half_up, sub_index)
from geo.aqi_tables import POLLUTANTS, TABLES, VN_CATEGORIES, ugm3_to_ppb
from geo.errors import InputError
from geo.index_vectors import calc_air

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
AIR_VECTORS = json.loads((REFERENCE / "air-quality-vectors.json").read_text(encoding="utf-8"))["vectors"]


@pytest.mark.parametrize("vector", AIR_VECTORS, ids=[v["id"] for v in AIR_VECTORS])
def test_reference_vector(vector: dict) -> None:
    result = calc_air(vector["inputs"])
    assert result["sub_indices"] == vector["sub_indices"]
    assert (result["aqi"], result["category"], result["rgb"]) == (vector["aqi"], vector["category"], vector["rgb"])


def test_every_vector_kind_is_covered() -> None:
    assert {v["kind"] for v in AIR_VECTORS} == {"hourly", "boundary", "daily"}


# ------------------------------------------------------------------------------------------------- rounding
def test_half_up_rounding_so2_400_gives_113() -> None:
    so2 = sub_index(400, TABLES["vn"][("so2", "1h")])
    assert so2.exact == Fraction(225, 2)
    assert so2.rounded == 113
    assert round(112.5) == 112   # why round() is forbidden: half to even


@pytest.mark.parametrize(("pm25", "aqi", "category"), [
    ("50.1", 100, "Trung bình"), ("50.3", 101, "Kém"), (50.3, 101, "Kém"), (50, 100, "Trung bình"),
])
def test_category_applies_to_the_rounded_aqi(pm25: object, aqi: int, category: str) -> None:
    result = aqi_from_concentrations({"pm25": pm25})
    assert (result.aqi, result.category.name_vi) == (aqi, category)


def test_vectorised_rounding_is_decimal_safe() -> None:
    # 100 + 50·(50.3 − 50)/30 is 100.49999999999999 in float arithmetic but exactly 100.5.
    hours = pd.date_range("2025-03-01 01:00", periods=12, freq="h")
    frame = pd.DataFrame({"pm25": 50.3, "so2": 400.0}, index=hours)
    last = hourly_aqi_frame(frame).iloc[-1]
    assert (last["pm25_rounded"], last["so2_rounded"], last["aqi"]) == (101, 113, 113)
    assert last["dominant"] == "so2"


def test_round_half_up_places() -> None:
    assert round_half_up(Fraction(1, 8), 2) == round_half_up("0.125", 2) == round_half_up(0.125, 2)
    assert str(round_half_up("2.675", 2)) == "2.68"   # the float 2.675 is below 2.675; the written value is not


# ------------------------------------------------------------------------------------------- scale and PM rule
def test_beyond_scale_caps_at_500() -> None:
    result = aqi_from_concentrations({"pm25": 600, "no2": 100})
    assert result.sub_indices["pm25"].exact == 500 and result.sub_indices["pm25"].beyond_scale
    assert (result.aqi, result.category.name_vi, result.beyond_scale) == (500, "Nguy hại", True)


def test_top_breakpoint_itself_is_on_the_scale() -> None:
    assert not sub_index(500, TABLES["vn"][("pm25", "24h")]).beyond_scale


def test_beyond_scale_in_the_hourly_frame() -> None:
    frame = pd.DataFrame({"pm25": [700.0] * 3}, index=pd.date_range("2025-03-01 01:00", periods=3, freq="h"))
    result = hourly_aqi_frame(frame)
    assert result["aqi"].tolist()[1:] == [500, 500]
    assert result["beyond_scale"].tolist()[1:] == [True, True]


def test_o3_8h_above_400_has_no_8h_sub_index() -> None:
    assert sub_index(401, TABLES["vn"][("o3", "8h")]) is None
    assert sub_index(400, TABLES["vn"][("o3", "8h")]).exact == 300


def test_no_pm_means_no_aqi() -> None:
    result = hour_aqi(no2=80, so2=400, co=12000)
    assert result.aqi is None and result.category is None and result.dominant is None
    assert result.sub_indices["so2"].rounded == 113


def test_no_pm_means_null_aqi_in_the_frame() -> None:
    hours = pd.date_range("2025-03-01 01:00", periods=5, freq="h")
    frame = pd.DataFrame({"pm25": [np.nan] * 5, "no2": [150.0] * 5}, index=hours)
    result = hourly_aqi_frame(frame)
    assert result["aqi"].isna().all() and result["category"].isna().all()
    assert result["no2_rounded"].tolist() == [75] * 5


def test_dominant_tie_break_order() -> None:
    tie = aqi_from_concentrations({"no2": 200, "pm25": 50, "o3": 200})
    assert (tie.aqi, tie.dominant) == (100, "pm25")
    gases = combine({"pm25": sub_index(10, TABLES["vn"][("pm25", "24h")]),
                     "so2": sub_index(350, TABLES["vn"][("so2", "1h")]),
                     "o3": sub_index(200, TABLES["vn"][("o3", "1h")])})
    assert gases.dominant == "o3"


# ---------------------------------------------------------------------------------------------------- NowCast
def test_nowcast_decision_example() -> None:
    hours = [20.6, 19.6, 22.4, 20.3, 16.5, 19.0, 16.5, 19.5, 23.5, 20.5, 24.7, 26.9]
    assert round_half_up(nowcast(hours), 4) == round_half_up("20.2658", 4)


def test_nowcast_normalised_at_w_one_half() -> None:
    hours = [120, 90, 60, 40, 30, 30, 25, 25, 20, 20, 20, 20]
    assert round_half_up(nowcast(hours), 4) == round_half_up("94.2955", 4)


@pytest.mark.parametrize(("hours", "expected"), [
    ([35, None, None, 40], None),         # only 1 of c1..c3
    ([None, 30, 30, 90], Fraction(270, 7)),   # 2 of 3 is enough; w = 1/2, weights 1/2, 1/4, 1/8
    ([0, 0, 0], Fraction(0)),             # Cmax = 0
    ([-5, 10, 10], Fraction(10)),         # a negative reading is dropped, not used
])
def test_nowcast_completeness_and_edge_cases(hours: list, expected: Fraction | None) -> None:
    assert nowcast(hours) == expected


def test_negative_readings_are_dropped_before_the_nowcast() -> None:
    assert nowcast([-5, 10, 12, 40]) == nowcast([None, 10, 12, 40])


# -------------------------------------------------------------------------------- vectorised = per hour / day
def _random_series(seed: int, hours: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    index = pd.date_range("2025-02-27 01:00", periods=hours, freq="h")
    scale = {"pm25": 120, "pm10": 250, "o3": 300, "no2": 250, "so2": 500, "co": 15000}
    frame = pd.DataFrame({p: np.round(rng.gamma(2.0, scale[p] / 2, hours), 1) for p in POLLUTANTS}, index=index)
    frame = frame.mask(rng.random(frame.shape) < 0.15)              # scattered missing readings
    frame = frame.mask(rng.random(frame.shape) < 0.02, -1.0)        # invalid negative readings
    frame.iloc[40:47, 0] = np.nan                                   # a PM2.5 outage longer than c1..c3
    return frame.drop(index[rng.random(hours) < 0.05])              # whole hours absent from the table


def _value(grid: pd.DataFrame, pollutant: str, hour: pd.Timestamp) -> float | None:
    value = grid[pollutant].get(hour, np.nan)
    return None if pd.isna(value) else float(value)


def _assert_row_matches(row: pd.Series, expected, pollutants: tuple[str, ...]) -> None:
    assert (None if pd.isna(row["aqi"]) else int(row["aqi"])) == expected.aqi
    assert (None if pd.isna(row["dominant"]) else row["dominant"]) == expected.dominant
    assert bool(row["beyond_scale"]) == expected.beyond_scale
    for pollutant in pollutants:
        sub = expected.sub_indices.get(pollutant)
        if sub is None:
            assert pd.isna(row[f"{pollutant}_exact"])
        else:
            assert row[f"{pollutant}_exact"] == pytest.approx(float(sub.exact), abs=1e-9)
            assert row[f"{pollutant}_rounded"] == sub.rounded


@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_hourly_frame_equals_per_hour_computation(scheme: str) -> None:
    frame = _random_series(7)
    result = hourly_aqi_frame(frame, scheme)
    grid = frame.reindex(result.index)
    assert result.index.equals(pd.date_range(frame.index.min(), frame.index.max(), freq="h"))
    for hour, row in result.iterrows():
        past = [hour - pd.Timedelta(hours=k) for k in range(12)]
        pm = {p: [_value(grid, p, h) for h in past] for p in ("pm25", "pm10")}
        gases = {p: _value(grid, p, hour) for p in ("o3", "no2", "so2", "co")}
        if scheme == "us":
            eight = {p: mean_with_count([_value(grid, p, h) for h in past[:8]])[0] for p in ("o3", "co")}
            gases.update(co=eight["co"], o3_8h=eight["o3"])
        _assert_row_matches(row, hour_aqi(pm["pm25"], pm["pm10"], scheme=scheme, **gases), POLLUTANTS)


@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_daily_frame_equals_per_day_computation(scheme: str) -> None:
    frame = _random_series(11)
    result = daily_aqi_frame(frame, scheme)
    grid = frame.reindex(pd.date_range(frame.index.min(), frame.index.max(), freq="h"))
    for day, row in result.iterrows():
        window = pd.date_range(day - pd.Timedelta(hours=6), day + pd.Timedelta(hours=24), freq="h")
        hours = {p: [_value(grid, p, h) for h in window] for p in POLLUTANTS}
        expected = day_aqi(hours, scheme)
        _assert_row_matches(row, expected, POLLUTANTS)
        assert bool(row["provisional"]) == expected.provisional
        assert row["pm25_count"] == expected.counts["pm25"]


# -------------------------------------------------------------------------------------------------- daily
def _day_frame(pm25_hours: int) -> pd.DataFrame:
    hours = pd.date_range("2025-03-01 01:00", periods=24, freq="h")   # 01:00 .. 00:00 next day: one day
    pm25 = [30.0] * pm25_hours + [np.nan] * (24 - pm25_hours)
    return pd.DataFrame({"pm25": pm25, "no2": 150.0}, index=hours)


@pytest.mark.parametrize(("hours", "provisional"), [(24, False), (18, False), (17, True), (1, True)])
def test_daily_pm_provisional_flag_with_count(hours: int, provisional: bool) -> None:
    result = daily_aqi_frame(_day_frame(hours))
    assert len(result) == 1
    row = result.iloc[0]
    assert (row["pm25_count"], bool(row["pm25_provisional"]), bool(row["provisional"])) == (hours, provisional,
                                                                                             provisional)
    assert row["aqi"] == 75 and row["pm25_rounded"] == 60   # a short count still gives a value


def test_daily_without_pm_publishes_nothing() -> None:
    row = daily_aqi_frame(_day_frame(0)).iloc[0]
    assert pd.isna(row["aqi"]) and row["pm25_count"] == 0 and not row["pm25_provisional"]


def test_day_runs_from_01_to_00() -> None:
    hours = pd.date_range("2025-03-01 00:00", periods=26, freq="h")
    result = daily_aqi_frame(pd.DataFrame({"pm25": 10.0}, index=hours))
    assert [str(d.date()) for d in result.index] == ["2025-02-28", "2025-03-01", "2025-03-02"]
    assert result["pm25_count"].tolist() == [1, 24, 1]


def test_daily_o3_uses_8h_windows_from_the_previous_evening() -> None:
    hourly = [15.7, 14.2, 17.7, 18.9, 19.3, 15.7, 19.7, 22.6, 27.1, 29.0, 31.9, 25.3, 34.7, 35.2, 41.6, 45.7,
              49.2, 55.8, 69.6, 78.3, 91.5, 97.7, 81.2, 71.8, 43.5, 34.3, 21.5, 20.5, 19.4, 20.4, 21.3]
    hours = pd.date_range("2025-03-01 18:00", periods=len(hourly), freq="h")
    frame = pd.DataFrame({"o3": hourly, "pm25": 10.0}, index=hours)
    row = daily_aqi_frame(frame).loc[pd.Timestamp("2025-03-02")]
    assert row["o3_max_8h"] == pytest.approx(74.3875) and row["o3_max_1h"] == pytest.approx(97.7)
    assert (row["o3_rounded"], row["aqi"], bool(row["o3_provisional"])) == (37, 37, False)


def test_daily_o3_8h_only_short_windows_is_provisional() -> None:
    hours = pd.date_range("2025-03-01 01:00", periods=24, freq="h")
    o3 = [np.nan] * 24
    o3[10:13] = [100.0, 110.0, 120.0]
    row = daily_aqi_frame(pd.DataFrame({"o3": o3, "pm25": 10.0}, index=hours)).iloc[0]
    # No window reaches 6 of 8 hours, so the best short one counts: the window ending 20:00 holds only 120.
    assert (row["o3_max_8h"], row["o3_8h_count"], bool(row["o3_provisional"])) == (120.0, 1, True)


def test_daily_o3_8h_above_400_uses_1h_only() -> None:
    hours = pd.date_range("2025-03-01 01:00", periods=24, freq="h")
    row = daily_aqi_frame(pd.DataFrame({"o3": 700.0, "pm25": 20.0}, index=hours)).iloc[0]
    assert (row["o3_exact"], row["aqi"]) == (275.0, 275)


def test_tz_aware_index_uses_the_vietnamese_day() -> None:
    hours = pd.date_range("2025-03-01 01:00", periods=24, freq="h", tz="Asia/Ho_Chi_Minh").tz_convert("UTC")
    result = daily_aqi_frame(pd.DataFrame({"pm25": 10.0}, index=hours))
    assert len(result) == 1 and result.index[0] == pd.Timestamp("2025-03-01")


# ------------------------------------------------------------------------------------------------- US EPA
PM25_AT = [5, 9, 12, 15, 25, 35, 45, 50, 55.5, 80, 100, 125, 150, 250]
VN_ROW = [10, 18, 24, 30, 50, 70, 90, 100, 109, 150, 164, 182, 200, 300]
EPA_2024_ROW = [28, 50, 56, 62, 81, 99, 124, 137, 151, 168, 182, 200, 225, 350]


@pytest.mark.parametrize(("pm25", "vn", "us"), list(zip(PM25_AT, VN_ROW, EPA_2024_ROW)))
def test_reference_table_4_4(pm25: float, vn: int, us: int) -> None:
    assert aqi_from_concentrations({"pm25": pm25}, "vn").aqi == vn
    assert aqi_from_concentrations({"pm25": pm25}, "us").aqi == us
    assert calc_air({"pm25_24h": pm25}, scheme="us")["aqi"] == us


@pytest.mark.parametrize(("measure", "value", "aqi"), [
    ("pm25", "9.05", 50),     # truncated to 9.0, not interpolated in the 9.0 → 9.1 gap
    ("pm25", "35.49", 100),   # truncated to 35.4
    ("pm10", "54.9", 50),     # truncated to 54
])
def test_us_truncation(measure: str, value: str, aqi: int) -> None:
    assert aqi_from_concentrations({measure: value}, "us").aqi == aqi


def test_us_nowcast_is_truncated() -> None:
    assert nowcast([12.36, 12.36, 12.36], "us") == Fraction("12.3")
    assert nowcast([12.36, 12.36, 12.36], "vn") == Fraction("12.36")


def test_us_gases_are_converted_at_25_c() -> None:
    assert ugm3_to_ppb("o3") == Fraction("24.45") / 48
    # 200 µg/m³ NO2 = 106.28 ppb → truncated 106 ppb → 101 + 49·(106 − 101)/259
    no2 = sub_index(200, TABLES["us"][("no2", "1h")])
    assert no2.concentration == 106 and no2.rounded == 102


def test_us_scheme_is_named_in_results() -> None:
    assert calc_air({"pm25_24h": 12}, scheme="us")["scheme"] == "us"
    assert hourly_aqi_frame(_day_frame(24), "us")["scheme"].eq("us").all()


# --------------------------------------------------------------------------------------- tables and inputs
def test_categories_carry_official_colours() -> None:
    assert [c.hex for c in VN_CATEGORIES] == ["#00E400", "#FFFF00", "#FF7E00", "#FF0000", "#8F3F97", "#7E0023"]
    assert all(c.advice_general_vi and c.advice_sensitive_vi and c.advice_general_en for c in VN_CATEGORIES)


@pytest.mark.parametrize("frame", [
    pd.DataFrame({"pm25": [1.0, 2.0]}, index=pd.DatetimeIndex(["2025-03-01 01:00", "2025-03-01 01:00"])),
    pd.DataFrame({"pm25": [1.0]}, index=pd.DatetimeIndex(["2025-03-01 01:30"])),
    pd.DataFrame({"tsp": [1.0]}, index=pd.DatetimeIndex(["2025-03-01 01:00"])),
    pd.DataFrame({"pm25": [1.0]}, index=[0]),
    pd.DataFrame({"pm25": [np.inf]}, index=pd.DatetimeIndex(["2025-03-01 01:00"])),
    pd.DataFrame({"pm25": ["a lot"]}, index=pd.DatetimeIndex(["2025-03-01 01:00"])),
])
def test_bad_frames_are_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InputError):
        hourly_aqi_frame(frame)


@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_empty_frames_give_empty_results(scheme: str) -> None:
    empty = pd.DataFrame({"pm25": [], "o3": [], "co": []}, index=pd.DatetimeIndex([]))
    assert hourly_aqi_frame(empty, scheme).empty and daily_aqi_frame(empty, scheme).empty


@pytest.mark.parametrize("inputs", [{"pm25_1h": 10}, {"tsp": 10}, {"pm25": 10, "pm25_nowcast": 11},
                                    {"pm25_c1_to_c12": [1, 2]}])
def test_harness_refuses_unknown_or_ambiguous_inputs(inputs: dict) -> None:
    with pytest.raises(InputError):
        calc_air(inputs)
