"""The many-station daily AQI (geo.aqi_series.daily_aqi_batch) equals the per-station frame, day by day."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from geo.aqi_series import daily_aqi_batch, daily_aqi_frame, kahan_day_mean, rolling_mean
from geo.aqi_tables import CATEGORIES, POLLUTANTS
from geo.errors import InputError

SCALE = {"pm25": 30, "pm10": 50, "o3": 80, "no2": 40, "so2": 20, "co": 1000}


def _batch_input(rng: np.random.Generator, stations: int, days: int) -> dict[str, np.ndarray]:
    values = {}
    for p in POLLUTANTS:
        a = np.round(rng.gamma(3, SCALE[p] / 3, (stations, 24 * days)), 1)
        a[rng.random(a.shape) < rng.uniform(0, 0.6)] = np.nan
        if p.startswith("pm"):
            a[rng.random(a.shape) < 0.03] = -1.5
        if rng.random() < 0.2:
            a[:] = np.nan                                  # a pollutant a network does not measure
        values[p] = a
    return values


@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_daily_batch_equals_the_frame_of_each_station(scheme):
    rng = np.random.default_rng(42)
    first = pd.Timestamp("2024-03-01 01:00", tz="Asia/Ho_Chi_Minh")
    compared = 0
    for _ in range(12):
        stations, days = 3, int(rng.integers(2, 12))
        values = _batch_input(rng, stations, days)
        hours = pd.date_range(first, periods=24 * days, freq="h")
        usable = np.zeros((stations, 24 * days), dtype=bool)
        frames = {}
        for s in range(stations):
            have = np.zeros(24 * days, dtype=bool)
            for p in POLLUTANTS:
                have |= ~np.isnan(values[p][s])
            idx = np.flatnonzero(have)
            if len(idx):
                lo, hi = idx[0], idx[-1]
                usable[s, :hi + 1] = True          # the frame has no 8-h window after the station's last reading
                cols = {p: values[p][s, lo:hi + 1] for p in POLLUTANTS if (~np.isnan(values[p][s])).any()}
                frames[s] = (lo // 24, daily_aqi_frame(pd.DataFrame(cols, index=hours[lo:hi + 1]), scheme))
        out = daily_aqi_batch(values, scheme, usable)
        for s, (d0, ref) in frames.items():
            got = slice(d0, d0 + len(ref))
            for column in ref.columns:
                if column in ("scheme", "category_en", "rgb", "hex"):
                    continue
                if column in ("category", "dominant"):
                    labels = [c.name_vi for c in CATEGORIES[scheme]] if column == "category" else list(POLLUTANTS)
                    expected = pd.Categorical(ref[column], categories=labels).codes
                    assert (out[column][s, got] == expected).all(), column
                else:
                    expected = ref[column].astype("float64").to_numpy()
                    assert np.array_equal(out[column][s, got].astype("float64"), expected, equal_nan=True), column
            compared += len(ref)
    assert compared > 50


def test_kahan_day_mean_is_pandas_groupby_mean_with_missing_values():
    rng = np.random.default_rng(1)
    x = rng.lognormal(3, 1.5, (4000, 24)) * rng.choice([1, 1e-3, 1e3], (4000, 24))
    x[rng.random(x.shape) < 0.2] = np.nan
    mean, count = kahan_day_mean(x)
    reference = pd.Series(x.ravel()).groupby(np.repeat(np.arange(4000), 24))
    assert np.array_equal(mean, reference.mean().to_numpy(), equal_nan=True)
    assert (count == reference.count().to_numpy()).all()


def test_rolling_mean_sums_each_window_on_its_own():
    x = np.array([1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0])
    mean, count = rolling_mean(x, 8)
    assert count.tolist() == [1, 1, 2, 3, 4, 5, 6, 7, 7, 8]
    assert mean[9] == 52 / 8 and mean[1] == 1.0
    # A window's mean depends on its own eight hours only, not on where the series (or a read) begins.
    rng = np.random.default_rng(3)
    y = np.round(rng.gamma(3, 30, 500), 1)
    whole, _ = rolling_mean(y, 8)
    for start in (0, 17, 250):
        part, _ = rolling_mean(y[start:], 8)
        assert np.array_equal(part[7:], whole[start + 7:])


def test_daily_batch_refuses_partial_days():
    with pytest.raises(InputError):
        daily_aqi_batch({"pm25": np.zeros((1, 30))})
