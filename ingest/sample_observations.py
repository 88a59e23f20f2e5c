"""Load the sample's synthetic readings: a year of hourly air data and monthly water samples, via the pipeline."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, text

from geo.settings import IngestSettings
from ingest.obs_pipeline import ObsOptions, load_observations
from ingest.pipeline import LoadResult
from ingest.sample_readings import air_readings, end_hour, water_samples, write_air_csv, write_water_csv


def _stations(engine: Engine, medium: str) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT code FROM monitoring_stations WHERE medium = :m AND code LIKE 'SMP-%' ORDER BY code"),
            {"m": medium})]


def write_observations(engine: Engine, out_dir: Path, days: int, end: pd.Timestamp | None = None) -> list[tuple]:
    """Files for the sample stations that are in the database: (kind, path) in load order."""
    end = end if end is not None else end_hour()
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    air = _stations(engine, "air")
    if air:
        files.append(("long", write_air_csv(air_readings(air, end, days=days), out_dir / "air_readings.csv")))
    water = _stations(engine, "surface_water")
    if water:
        files.append(("water", write_water_csv(water_samples(water, end, months=max(1, days // 30)),
                                               out_dir / "water_samples.csv")))
    return files


def load_sample_observations(engine: Engine, out_dir: Path, *, days: int, ingest_settings: IngestSettings,
                             on_result: Callable[[LoadResult], None] | None = None) -> list[LoadResult]:
    results = []
    for kind, path in write_observations(engine, out_dir, days):
        result = load_observations(engine, kind, path, ObsOptions(), ingest_settings=ingest_settings)
        results.append(result)
        if on_result is not None:
            on_result(result)
    return results
