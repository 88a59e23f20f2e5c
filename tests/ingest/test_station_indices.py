"""Stored indices through the database path: reference vectors loaded as readings, re-load, revert, and the CLI.

Every air vector of ../shared/reference/air-quality-vectors.json is turned into 1-h readings, written as a long
CSV and loaded by the real observations pipeline (which refreshes the stored indices in its transaction); the
AQI is then read back from aqi_hourly / aqi_daily. How each input kind becomes readings:

- ``pm25_c1_to_c12`` / ``pm10_c1_to_c12``: the 12 hours themselves (c1 = the evaluated hour); a ``null`` is a
  reading flagged ``missing``.
- ``*_nowcast`` and the bare boundary inputs (``pm25``: 50, 50.3): a NowCast cannot be loaded as such, so 12
  equal hours are: with all hours equal, w = 1 and the NowCast is that value.
- ``*_1h`` and bare gases (``no2``: 200): one reading in the evaluated hour.
- ``pm25_24h``: 24 equal hours of the day (their mean is the value).
- ``o3_8h_max`` with ``o3_1h_max``: 8 consecutive hours whose mean is the 8-h value and whose largest reading is
  the 1-h value, every other hour of the day 0 (so no other window is larger); ``o3_8h_max`` alone: 24 equal
  hours (the 1-h sub-index of that value is the smaller one). ``no2_1h_max``: one reading.
- ``o3_hourly_18h_prevday_to_00h``: the 31 hours themselves.
All vectors are representable this way. Water vectors go through the water-sample CSV into wqi_results.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, text

from geo.settings import AreaSettings, IngestSettings
from ingest.obs_pipeline import ObsOptions, load_observations, revert
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.conftest import SHARED, truncate_all

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
DAY = datetime(2024, 5, 10, tzinfo=LOCAL)
HOUR = DAY + timedelta(hours=12)          # the hour hourly vectors are evaluated at (c1)
AIR_VECTORS = json.loads((SHARED / "reference" / "air-quality-vectors.json").read_text())["vectors"]
WATER_VECTORS = json.loads((SHARED / "reference" / "water-quality-vectors.json").read_text())["vectors"]
PM = ("pm25", "pm10")
WATER_UNITS = {"pH": ("pH", "pH"), "T_C": ("temperature", "°C"), "Coliform": ("Coliform", "MPN/100mL"),
               "Ecoli": ("Ecoli", "MPN/100mL")}


def station_of(vector: dict) -> str:
    return f"V-{vector['id']}"


# ---------------------------------------------------------------------------------------- vectors → readings
def _hours(station: str, parameter: str, end: datetime, values: list) -> list[tuple]:
    """Readings for the hours ending at ``end`` and before: values[0] is ``end`` (c1), values[i] i hours earlier."""
    return [(station, parameter, end - timedelta(hours=i), v) for i, v in enumerate(values)]


def _day_hours(station: str, parameter: str, values: list) -> list[tuple]:
    """Readings for the day's hours ending 01:00 … 00:00 (values in that order)."""
    return [(station, parameter, DAY + timedelta(hours=i + 1), v) for i, v in enumerate(values)]


def _o3_day(station: str, max_8h: float, max_1h: float | None) -> list[tuple]:
    if max_1h is None:
        return _day_hours(station, "o3", [max_8h] * 24)
    rest = (8 * max_8h - max_1h) / 7
    assert 0 <= rest <= max_1h
    values = [0.0] * 24
    values[8:16] = [max_1h] + [rest] * 7          # hours ending 09:00 … 16:00
    return _day_hours(station, "o3", values)


def vector_readings(vector: dict) -> list[tuple]:
    st, inputs = station_of(vector), vector["inputs"]
    out: list[tuple] = []
    for key, value in inputs.items():
        pollutant, _, suffix = key.partition("_")
        if suffix == "c1_to_c12":
            out += _hours(st, pollutant, HOUR, value)
        elif pollutant in PM and suffix in ("", "nowcast"):
            out += _hours(st, pollutant, HOUR, [value] * 12)
        elif suffix in ("", "1h"):
            out += _hours(st, pollutant, HOUR, [value])
        elif suffix == "24h":
            out += _day_hours(st, pollutant, [value] * 24)
        elif key == "o3_8h_max":
            out += _o3_day(st, value, inputs.get("o3_1h_max"))
        elif key == "o3_1h_max":
            continue   # built together with o3_8h_max
        elif suffix == "1h_max":
            out += _day_hours(st, pollutant, [None] * 9 + [value])
        elif key == "o3_hourly_18h_prevday_to_00h":
            out += [(st, "o3", DAY - timedelta(hours=6) + timedelta(hours=i), v) for i, v in enumerate(value)]
        else:
            raise AssertionError(f"{vector['id']}: no reading form for input {key}")
    return out


def write_air_csv(path: Path, readings: list[tuple]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["station", "parameter", "time", "value", "unit", "flag"])
        for station, parameter, t, v in readings:
            if v is None and parameter not in PM:
                continue   # a gas hour that simply was not measured
            w.writerow([station, parameter, t.strftime("%Y-%m-%d %H:%M"), "" if v is None else repr(float(v)),
                        "ug/m3", "missing" if v is None else "valid"])
    return path


def write_water_csv(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["station", "sampled_at", "parameter", "value", "unit"])
        for vector in WATER_VECTORS:
            for key, value in vector["inputs"].items():
                parameter, unit = WATER_UNITS.get(key, (key, "mg/L"))
                if key.endswith("_ugL"):
                    parameter, unit = key[:-4], "ug/L"
                w.writerow([station_of(vector), "2024-04-10 09:30", parameter, value, unit])
    return path


def write_stations(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name_vi", "medium", "mode", "status", "lon", "lat"])
        for v in AIR_VECTORS:
            w.writerow([station_of(v), f"Trạm vector {v['id']}", "air", "automatic", "active", 106.65, 11.0])
        for v in WATER_VECTORS:
            w.writerow([station_of(v), f"Điểm vector {v['id']}", "surface_water", "periodic", "active", 106.68, 11.02])
    return path


# -------------------------------------------------------------------------------------------------- fixtures
def _fresh(engine: Engine, settings: IngestSettings, tmp: Path) -> tuple:
    """Empty tables, the vector stations, then the air and water files loaded through the pipeline."""
    truncate_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE measurements, measurement_changes, aqi_hourly_store, aqi_daily_store, "
                             "wqi_results, qcvn_exceedances, qcvn_summaries, qcvn_monthly_sums "
                             "RESTART IDENTITY CASCADE")
    r = ingest_file(engine, REGISTRY.get("monitoring_stations"), write_stations(tmp / "stations.csv"),
                    LoadOptions(crs="EPSG:4326"), ingest_settings=settings, area=AreaSettings())
    assert r.status == "succeeded", (r.error, r.problems)
    readings = [r for v in AIR_VECTORS for r in vector_readings(v)]
    air = load(engine, settings, "long", write_air_csv(tmp / "air.csv", readings))
    water = load(engine, settings, "water", write_water_csv(tmp / "water.csv"))
    return engine, air, water, tmp


@pytest.fixture(scope="module")
def shared(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """One load for the read-only tests (vectors, CLI); the tests that change data load their own, last."""
    tmp = tmp_path_factory.mktemp("vectors")
    return _fresh(engine, IngestSettings(reports_dir=tmp / "reports", user="pytest"), tmp)


@pytest.fixture
def loaded(engine: Engine, ingest_settings: IngestSettings, tmp_path: Path) -> tuple:
    return _fresh(engine, ingest_settings, tmp_path)


def load(engine: Engine, settings: IngestSettings, kind: str, path: Path):
    result = load_observations(engine, kind, path, ObsOptions(), ingest_settings=settings)
    assert result.status == "succeeded", (result.error, [p.reason for p in result.problems[:5]])
    return result


def rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def refreshed(engine: Engine, run_id: int) -> dict:
    return rows(engine, "SELECT options->'indices_refreshed' FROM ingest_runs WHERE run_id = :r", r=run_id)[0][0]


def snapshot(engine: Engine) -> list[list[tuple]]:
    return [rows(engine, f"SELECT station_code, {k}, aqi, category, dominant, provisional, beyond_scale, "
                         f"detail::text FROM {t} ORDER BY 1, 2, 3" if t != "wqi_results" else
                 "SELECT station_code, sampled_at, wqi, category, formula, reason, detail::text FROM wqi_results "
                 "ORDER BY 1, 2") for t, k in (("aqi_hourly", "scheme, hour_end"), ("aqi_daily", "scheme, day"),
                                                ("wqi_results", None))]


# ----------------------------------------------------------------------------------------------------- tests
def _stored_air(engine: Engine, vector: dict) -> tuple:
    if vector["kind"] == "daily":
        got = rows(engine, "SELECT aqi, category, detail FROM aqi_daily WHERE station_code = :s AND scheme = 'vn' "
                           "AND day = :d", s=station_of(vector), d=DAY.date())
    else:
        got = rows(engine, "SELECT aqi, category, detail FROM aqi_hourly WHERE station_code = :s AND scheme = 'vn' "
                           "AND hour_end = :t", s=station_of(vector), t=HOUR)
    assert len(got) == 1, f"{vector['id']}: no stored row"
    return got[0]


@pytest.mark.parametrize("vector", AIR_VECTORS, ids=[v["id"] for v in AIR_VECTORS])
def test_air_vectors_through_the_database(shared, vector):
    engine = shared[0]
    aqi, category, detail = _stored_air(engine, vector)
    for pollutant, expected in vector["sub_indices"].items():
        stored = detail.get(pollutant) or {}
        if expected is None:
            assert stored.get("exact") is None, f"{vector['id']} {pollutant}: stored {stored}"
            continue
        assert stored["exact"] == pytest.approx(expected["exact"], abs=1e-6), (vector["id"], pollutant, stored)
        assert stored["rounded"] == expected["rounded"], (vector["id"], pollutant, stored)
    has_pm = any(k.split("_")[0] in PM for k in vector["inputs"])
    if not has_pm:
        # VN-B04 / VN-H08 expect the lone gas's AQIx as "aqi": that checks a sub-index (compared above), not a
        # station AQI. A station hour or day without a PM sub-index publishes no AQI (convention 4): NULL.
        assert (aqi, category) == (None, None), vector["id"]
    else:
        assert aqi == vector["aqi"] and category == vector["category"], (vector["id"], aqi, category)


@pytest.mark.parametrize("vector", WATER_VECTORS, ids=[v["id"] for v in WATER_VECTORS])
def test_water_vectors_through_the_database(shared, vector):
    engine = shared[0]
    (wqi, category, formula, detail), = rows(engine, "SELECT wqi, category, formula, detail FROM wqi_results "
                                                     "WHERE station_code = :s", s=station_of(vector))
    assert (wqi, category) == (vector["wqi_rounded"], vector["category"])
    assert formula == ("3" if vector["mean_V"] is not None else "4")
    for name, value in vector["sub_indices"].items():
        assert detail["sub_indices"][name] == pytest.approx(value, abs=1e-4), (vector["id"], name)
    for key in ("mean_IV", "mean_V", "wqi_formula_3_or_4", "wqi_formula_5_weighted", "wqi_formula_5_rounded"):
        assert detail[key] == pytest.approx(vector[key], abs=1e-4) if vector[key] is not None else detail[key] is None


def _geo(db_settings, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "GEO_DATABASE_URL": db_settings.url(), "COLUMNS": "220"}
    return subprocess.run([sys.executable, "-m", "geo", *args], env=env, capture_output=True, text=True,
                          timeout=120)


def test_cli_station_table_and_explain(shared, db_settings):
    engine = shared[0]
    (aqi, detail), = rows(engine, "SELECT aqi, detail FROM aqi_hourly WHERE station_code = 'V-VN-H01' "
                                  "AND scheme = 'vn' AND hour_end = :t", t=HOUR)
    res = _geo(db_settings, "aqi", "station", "V-VN-H01", "--date", "2024-05-10", "--explain", "--hour", "12")
    out = res.stdout
    assert res.returncode == 0 and "Traceback" not in res.stderr, out + res.stderr
    assert "12:00" in out and str(aqi) in out and "20.27" in out          # the table: NowCast and AQI
    assert "w* = Cmin/Cmax = 16.5/26.9" in out and "NowCast = Σ" in out
    assert f"= {detail['pm25']['exact']}" in out and f"→ {detail['pm25']['rounded']}" in out
    assert "✗" not in out and "every recomputed number equals the stored one" in out and "✓ aqi = " in out

    res = _geo(db_settings, "aqi", "station", "V-VN-H10", "--date", "2024-05-10", "--scheme", "us", "--explain")
    assert res.returncode == 0 and "Traceback" not in res.stderr and "✗" not in res.stdout, res.stdout + res.stderr

    res = _geo(db_settings, "wqi", "station", "V-WQI-01")
    assert res.returncode == 0 and "35" in res.stdout and "Xấu" in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize("args, phrase", [
    (("aqi", "station", "NO-SUCH"), "no station 'NO-SUCH'"),
    (("aqi", "station", "V-VN-H01", "--date", "2024-05-11"), "no hourly VN AQI stored for V-VN-H01 on 2024-05-11"),
    (("aqi", "station", "V-VN-H01", "--date", "10/05/2024"), "invalid date"),
    (("wqi", "station", "V-WQI-01", "--from", "2025-01-01"), "no stored VN_WQI"),
])
def test_cli_station_messages(shared, db_settings, args, phrase):
    res = _geo(db_settings, *args)
    assert res.returncode == 1 and phrase in res.stderr and "Traceback" not in res.stderr, res.stdout + res.stderr


# Tests that change data come last: they empty the tables the module-scoped load filled.
def test_load_refreshes_and_a_reload_refreshes_nothing(loaded, ingest_settings):
    engine, air, water, tmp = loaded
    first = refreshed(engine, air.run_id)
    assert first["aqi_hourly"] > 0 and first["aqi_daily"] > 0 and refreshed(engine, water.run_id)["wqi_results"] == 3
    assert any("indices refreshed" in n for n in air.notes)
    before = snapshot(engine)
    stamps = rows(engine, "SELECT max(computed_at), count(*) FROM aqi_hourly")
    again = load(engine, ingest_settings, "long", tmp / "air.csv")
    again_water = load(engine, ingest_settings, "water", tmp / "water.csv")
    assert (again.inserted, again.updated) == (0, 0)
    for run in (again.run_id, again_water.run_id):
        assert refreshed(engine, run) == {"aqi_hourly": 0, "aqi_daily": 0, "qcvn_exceedances": 0, "wqi_results": 0}
    assert rows(engine, "SELECT max(computed_at), count(*) FROM aqi_hourly") == stamps   # nothing rewritten
    assert snapshot(engine) == before
    # The data_versions bump of the run covers the indices: same transaction, version = the run.
    assert rows(engine, "SELECT version FROM data_versions WHERE layer = 'measurements'") == [(again_water.run_id,)]


def test_revert_restores_the_previous_indices(loaded, ingest_settings):
    engine, air, water, tmp = loaded
    before = snapshot(engine)
    changed = tmp / "changed.csv"
    changed.write_text("station,parameter,time,value,unit\n"
                       f"V-VN-H01,pm25,{HOUR:%Y-%m-%d %H:%M},300,ug/m3\n", encoding="utf-8")
    water_changed = tmp / "water_changed.csv"
    water_changed.write_text("station,sampled_at,parameter,value,unit\nV-WQI-01,2024-04-10 09:30,BOD5,2,mg/L\n",
                             encoding="utf-8")
    v2 = load(engine, ingest_settings, "long", changed)
    w2 = load(engine, ingest_settings, "water", water_changed)
    assert refreshed(engine, v2.run_id)["aqi_hourly"] > 0 and refreshed(engine, w2.run_id)["wqi_results"] == 1
    assert rows(engine, "SELECT aqi FROM aqi_hourly WHERE station_code = 'V-VN-H01' AND scheme = 'vn' "
                        "AND hour_end = :t", t=HOUR) != [(41,)]
    assert snapshot(engine) != before
    for run in (w2.run_id, v2.run_id):
        back = revert(engine, run, "pytest")
        assert refreshed(engine, back)["aqi_hourly" if run == v2.run_id else "wqi_results"] > 0
    assert snapshot(engine) == before
    revert(engine, air.run_id, "pytest")       # the first load itself: its indices go with its readings
    revert(engine, water.run_id, "pytest")
    assert rows(engine, "SELECT (SELECT count(*) FROM aqi_hourly) + (SELECT count(*) FROM aqi_daily) + "
                        "(SELECT count(*) FROM wqi_results)") == [(0,)]
