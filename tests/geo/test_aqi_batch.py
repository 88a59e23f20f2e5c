"""The many-station batch path (geo.aqi.hourly_aqi_batch) equals hourly_aqi_frame station by station."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import geo.aqi_series as aqi_series
from geo.aqi import hour_aqi, hourly_aqi_batch, hourly_aqi_frame, nowcast, nowcast_series
from geo.aqi_tables import CATEGORIES, POLLUTANTS
from geo.errors import InputError
from geo.index_vectors import calc_air

REFERENCE = Path(__file__).resolve().parents[2].parent / "shared" / "reference"
AIR_VECTORS = json.loads((REFERENCE / "air-quality-vectors.json").read_text(encoding="utf-8"))["vectors"]
SCALE = {"pm25": 120, "pm10": 250, "o3": 300, "no2": 250, "so2": 500, "co": 15000}


def _stations(seed: int, stations: int = 7, hours: int = 300) -> dict[str, np.ndarray]:
    """Random (stations × hours) arrays with scattered gaps, negative readings, zeros, outages and off-scale values."""
    rng = np.random.default_rng(seed)
    values = {}
    for p in POLLUTANTS:
        x = np.round(rng.gamma(2.0, SCALE[p] / 2, (stations, hours)), 1)
        x[rng.random(x.shape) < 0.15] = np.nan
        x[rng.random(x.shape) < 0.03] = -1.0
        x[rng.random(x.shape) < 0.02] = 0.0
        x[rng.random(x.shape) < 0.005] *= 20
        values[p] = x
    values["pm25"][1, 40:60] = np.nan                # an outage longer than c1..c3
    values["pm25"][2] = np.nan                       # a station without PM2.5 at all
    values["pm10"][2, :150] = np.nan
    return values


def _frame(values: dict[str, np.ndarray], row: int) -> pd.DataFrame:
    hours = next(iter(values.values())).shape[1]
    index = pd.date_range("2025-02-27 01:00", periods=hours, freq="h", tz="UTC")
    return pd.DataFrame({p: a[row] for p, a in values.items()}, index=index)


def _assert_station_equal(batch: dict[str, np.ndarray], row: int, frame: pd.DataFrame, scheme: str) -> None:
    names = [*POLLUTANTS, None]
    categories = CATEGORIES[scheme]
    for column in frame.columns:
        got = frame[column]
        if column in ("category", "category_en", "rgb", "hex"):
            attr = {"category": "name_vi", "category_en": "name_en", "rgb": "rgb_text", "hex": "hex"}[column]
            expected = [getattr(categories[c], attr) if c >= 0 else None for c in batch["category"][row]]
            assert [None if pd.isna(v) else v for v in got] == expected, column
        elif column == "dominant":
            assert [None if pd.isna(v) else v for v in got] == [names[c] for c in batch["dominant"][row]]
        elif column == "scheme":
            assert got.eq(scheme).all()
        else:
            np.testing.assert_array_equal(got.astype("float64").to_numpy(), batch[column][row], err_msg=column)


@pytest.mark.parametrize("scheme", ["vn", "us"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_batch_equals_hourly_frame_station_by_station(scheme: str, seed: int) -> None:
    values = _stations(seed)
    batch = hourly_aqi_batch(values, scheme)
    for row in range(values["pm25"].shape[0]):
        frame = hourly_aqi_frame(_frame(values, row), scheme)
        assert set(batch) | {"category_en", "rgb", "hex", "scheme"} == set(frame.columns)
        _assert_station_equal(batch, row, frame, scheme)


@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_batch_blocks_do_not_change_the_result(scheme: str, monkeypatch: pytest.MonkeyPatch) -> None:
    values = _stations(4, stations=11, hours=100)
    whole = hourly_aqi_batch(values, scheme)
    monkeypatch.setattr(aqi_series, "BATCH_BLOCK", 250)           # blocks of 2 stations, the last one short
    blocked = hourly_aqi_batch(values, scheme)
    assert list(whole) == list(blocked)
    for name in whole:
        np.testing.assert_array_equal(whole[name], blocked[name], err_msg=name)


def test_batch_equals_the_exact_scalar_path() -> None:
    values = _stations(5, stations=3, hours=120)
    batch = hourly_aqi_batch(values, "vn")
    for row in range(3):
        for t in range(120):
            def window(p: str) -> list[float | None]:
                return [None if t - i < 0 or np.isnan(values[p][row, t - i]) else float(values[p][row, t - i])
                        for i in range(12)]

            gases = {p: (None if np.isnan(values[p][row, t]) else float(values[p][row, t]))
                     for p in ("o3", "no2", "so2", "co")}
            expected = hour_aqi(window("pm25"), window("pm10"), **gases, scheme="vn")
            aqi = batch["aqi"][row, t]
            assert (None if np.isnan(aqi) else int(aqi)) == expected.aqi
            code = batch["dominant"][row, t]
            assert (POLLUTANTS[code] if code >= 0 else None) == expected.dominant


@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_nowcast_series_rows_match_the_exact_nowcast(scheme: str) -> None:
    x = _stations(6, stations=4, hours=60)["pm25"]
    result = nowcast_series(x, scheme)
    assert result.shape == x.shape
    for row in range(4):
        np.testing.assert_array_equal(result[row], nowcast_series(x[row], scheme))
        for t in range(60):
            hours = [None if t - i < 0 or np.isnan(x[row, t - i]) else float(x[row, t - i]) for i in range(12)]
            exact = nowcast(hours, scheme)
            if exact is None:
                assert np.isnan(result[row, t])
            else:
                assert result[row, t] == pytest.approx(float(exact), abs=1e-9)


def test_vectorised_rounding_is_decimal_safe_in_the_batch() -> None:
    # 100 + 50·(50.3 − 50)/30 is 100.49999999999999 in float arithmetic but exactly 100.5.
    batch = hourly_aqi_batch({"pm25": np.full((2, 12), 50.3), "so2": np.full((2, 12), 400.0)})
    assert (batch["pm25_rounded"][:, -1] == 101).all() and (batch["so2_rounded"][:, -1] == 113).all()
    assert (batch["aqi"][:, -1] == 113).all() and (batch["dominant"][:, -1] == POLLUTANTS.index("so2")).all()


@pytest.mark.parametrize("vector", [v for v in AIR_VECTORS if v["kind"] != "daily"],
                         ids=[v["id"] for v in AIR_VECTORS if v["kind"] != "daily"])
def test_reference_vectors_still_pass(vector: dict) -> None:
    result = calc_air(vector["inputs"])
    assert result["sub_indices"] == vector["sub_indices"]
    assert (result["aqi"], result["category"], result["rgb"]) == (vector["aqi"], vector["category"], vector["rgb"])


@pytest.mark.parametrize("values", [
    {"tsp": np.zeros((1, 3))},
    {"pm25": np.zeros((1, 3)), "o3": np.zeros((1, 4))},
    {"pm25": np.zeros(3)},
    {"pm25": np.array([[1.0, np.inf]])},
    {"pm25": np.array([["a", "b"]])},
])
def test_bad_batches_are_refused(values: dict) -> None:
    with pytest.raises(InputError):
        hourly_aqi_batch(values)


def test_empty_batches() -> None:
    assert hourly_aqi_batch({"pm25": np.zeros((0, 5))})["aqi"].shape == (0, 5)
    assert hourly_aqi_batch({"pm25": np.zeros((3, 0))})["aqi"].shape == (3, 0)
    with pytest.raises(InputError):
        hourly_aqi_batch({}, "eu")
