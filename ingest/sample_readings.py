"""Synthetic hourly air readings and water samples for the sample stations (clearly labelled, deterministic)."""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from geo.aqi import LOCAL_TZ

# Stations left without readings on purpose, so the public map shows what "no current data" looks like.
SILENT = ("SMP-ĐT7", "SMP-GT9")
# Typical levels for the area (µg/m³): mean, dry-season factor, morning/evening traffic weight, afternoon weight.
PROFILES = {
    "pm25": (24.0, 1.6, 0.45, -0.15), "pm10": (40.0, 1.5, 0.40, -0.10), "no2": (32.0, 1.2, 0.60, -0.30),
    "so2": (14.0, 1.1, 0.20, 0.05), "co": (950.0, 1.2, 0.50, -0.20), "o3": (55.0, 1.1, -0.40, 0.90),
}
WATER = {"pH": (7.0, 0.3), "temperature": (29.0, 1.5), "DO": (5.2, 0.8), "BOD5": (5.0, 2.0), "COD": (12.0, 4.0),
         "NNH4": (0.25, 0.15), "NNO2": (0.03, 0.02), "PPO4": (0.12, 0.06), "Coliform": (3500.0, 2000.0)}
WATER_UNITS = {"pH": "pH", "temperature": "°C", "Coliform": "MPN/100 mL"}


def end_hour(now: datetime | None = None) -> pd.Timestamp:
    """The last complete hour (UTC), so that the sample's newest readings are 'current'."""
    now = now or datetime.now(timezone.utc)
    return pd.Timestamp(now).tz_convert("UTC").floor("h")


def _shape(hours: pd.DatetimeIndex, profile: tuple[float, float, float, float]) -> np.ndarray:
    mean, dry, rush, afternoon = profile
    local = hours.tz_convert(LOCAL_TZ)
    month = local.month.to_numpy()
    season = np.where((month <= 4) | (month == 12), dry, 1.0 / dry ** 0.5)
    h = local.hour.to_numpy()
    traffic = np.exp(-((h - 8) ** 2) / 4.0) + np.exp(-((h - 20) ** 2) / 6.0)
    sun = np.exp(-((h - 14) ** 2) / 8.0)
    return mean * season * (1 + rush * traffic + afternoon * sun)


def _ar1(rng: np.random.Generator, n: int, phi: float = 0.92, sigma: float = 0.18) -> np.ndarray:
    shocks = rng.normal(0, sigma, n)
    out = np.empty(n)
    out[0] = shocks[0]
    for i in range(1, n):
        out[i] = phi * out[i - 1] + shocks[i]
    return np.exp(out - sigma ** 2 / (2 * (1 - phi ** 2)))


def air_readings(stations: list[str], end: pd.Timestamp, days: int = 365, seed: int = 20250701) -> pd.DataFrame:
    """Long table: station, parameter, time (hour ending, +07:00), value (µg/m³), unit, flag."""
    hours = pd.date_range(end=end, periods=days * 24, freq="h", tz="UTC")
    parts = []
    for k, code in enumerate(s for s in stations if s not in SILENT):
        rng = np.random.default_rng(seed + k)
        local = 0.8 + 0.4 * rng.random()  # some stations are dirtier than others
        for p, profile in PROFILES.items():
            values = _shape(hours, profile) * _ar1(rng, len(hours)) * local
            flag = np.full(len(hours), "valid", dtype=object)
            gaps = rng.random(len(hours)) < 0.01  # ~1 % of hours lost (maintenance, transmission)
            flag[gaps] = "missing"
            parts.append(pd.DataFrame({"station": code, "parameter": p, "time": hours, "value": values.round(1),
                                       "unit": "µg/m³", "flag": flag}))
    frame = pd.concat(parts, ignore_index=True)
    frame.loc[frame["flag"] == "missing", "value"] = np.nan
    return frame


def water_samples(stations: list[str], end: pd.Timestamp, months: int = 24, seed: int = 20250701) -> pd.DataFrame:
    """Monthly samples: station, sampled_at, parameter, value, unit."""
    rows = []
    for k, code in enumerate(stations):
        rng = np.random.default_rng(seed + 1000 + k)
        for m in range(months):
            when = (end - pd.DateOffset(months=m)).tz_convert(LOCAL_TZ).replace(day=10, hour=9, minute=0, second=0)
            for p, (mean, sd) in WATER.items():
                v = max(rng.normal(mean, sd), 0.001 if p != "pH" else 5.0)
                rows.append((code, when.isoformat(), p, round(float(v), 3), WATER_UNITS.get(p, "mg/L")))
    return pd.DataFrame(rows, columns=["station", "sampled_at", "parameter", "value", "unit"])


def write_air_csv(frame: pd.DataFrame, path: Path) -> Path:
    out = frame.copy()
    out["time"] = out["time"].dt.tz_convert(LOCAL_TZ).map(lambda t: t.isoformat())
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL)
    return path


def write_water_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def span(frame: pd.DataFrame) -> tuple[datetime, datetime]:
    return frame["time"].min().to_pydatetime(), frame["time"].max().to_pydatetime() + timedelta(0)
