"""Observations bulk load: COPY straight into measurements vs the staged upsert, history, revert through the run
spans, the parents' guard triggers (migration 0019), concurrent loads, a kill during the COPY, the Arrow reader."""
from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine, text

from geo.db import raw_connection
from geo.errors import InputError
from geo.settings import AreaSettings, IngestSettings
from ingest import ledger, obs_pipeline
from ingest.obs_pipeline import ObsOptions, load_observations, load_observations_many, revert
from ingest.obs_readers import _read_csv, _read_csv_arrow
from ingest.pipeline import LoadOptions, LoadResult, ingest_file
from ingest.sample_readings import air_readings
from layers import REGISTRY
from tests.conftest import TEST_DATA

STATIONS = ("OBS-A", "OBS-B", "OBS-C", "OBS-D")
END = pd.Timestamp("2024-03-31 16:00", tz="UTC")
COLUMNS = ("station_code, parameter, measured_at, period, value, original_value, original_unit, qc_flag, status, "
           "instrument_status")


# ------------------------------------------------------------------------------------------------- helpers
def write_stations(path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["code", "name_vi", "medium", "mode", "status", "lon", "lat"])
        for k, code in enumerate(STATIONS):
            w.writerow([code, f"Trạm thử {code}", "air", "automatic", "active", 106.6 + 0.01 * k, 11.0])
    return path


def write_readings(path: Path, stations: list[str], days: int, end: pd.Timestamp = END, seed: int = 7,
                   scale: float = 1.0) -> Path:
    """Hourly readings of the six pollutants (about 1 % missing) as a long CSV with +07:00 times."""
    frame = air_readings(stations, end, days=days, seed=seed)
    frame["value"] = (frame["value"] * scale).round(1)
    frame["time"] = frame["time"].dt.tz_convert("Asia/Ho_Chi_Minh").dt.strftime("%Y-%m-%dT%H:%M:%S+07:00")
    frame[["station", "parameter", "time", "value", "unit", "flag"]].to_csv(path, index=False, na_rep="")
    return path


def load(engine: Engine, settings: IngestSettings, path: Path, steps: list[str] | None = None) -> LoadResult:
    result = load_observations(engine, "long", path, ObsOptions(), ingest_settings=settings,
                               progress=steps.append if steps is not None else None)
    assert result.status == "succeeded", (result.error, [p.reason for p in result.problems[:5]])
    return result


def q(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def table(engine: Engine) -> list[tuple]:
    return q(engine, f"SELECT {COLUMNS} FROM measurements ORDER BY station_code, parameter, measured_at")


def indices(engine: Engine) -> list[tuple]:
    return q(engine, "SELECT station_code, scheme, hour_end, aqi, dominant, detail::text FROM aqi_hourly "
                     "ORDER BY 1, 2, 3")


def wrote_directly(steps: list[str]) -> bool:
    """Which path the load took, from its own progress messages."""
    direct = any("new rows (binary COPY)" in s for s in steps)
    staged = any("staging" in s for s in steps)
    assert direct != staged, steps
    return direct


@pytest.fixture
def bulk_db(db: Engine, ingest_settings: IngestSettings, tmp_path: Path) -> Engine:
    """Empty tables (TRUNCATE … CASCADE empties measurements through the 0019 trigger) and the four stations."""
    assert q(db, "SELECT count(*) FROM measurements") == [(0,)]
    with db.begin() as conn:
        conn.exec_driver_sql("TRUNCATE measurement_changes, measurement_run_spans")
    r = ingest_file(db, REGISTRY.get("monitoring_stations"), write_stations(tmp_path / "stations.csv"),
                    LoadOptions(crs="EPSG:4326"), ingest_settings=ingest_settings, area=AreaSettings())
    assert r.status == "succeeded", (r.error, r.problems)
    return db


# --------------------------------------------------------------------------------------------- write paths
def test_direct_copy_and_staged_upsert_store_the_same_rows(bulk_db, ingest_settings, tmp_path, monkeypatch):
    path = write_readings(tmp_path / "ab.csv", ["OBS-A", "OBS-B"], days=3)
    steps: list[str] = []
    first = load(bulk_db, ingest_settings, path, steps)
    assert wrote_directly(steps) and first.inserted == 2 * 6 * 72 and first.updated == first.unchanged == 0
    direct, direct_indices = table(bulk_db), indices(bulk_db)
    assert len(direct) == 864 and any(r[7] == "missing" and r[4] is None for r in direct)
    assert direct_indices, "the load refreshed the stored indices"
    assert q(bulk_db, "SELECT DISTINCT ingest_run_id FROM measurements") == [(first.run_id,)]
    assert q(bulk_db, "SELECT count(*) FROM measurement_run_spans WHERE run_id = :r", r=first.run_id) == [(12,)]

    revert(bulk_db, first.run_id, "pytest")          # a revert after a direct load: the rows go, so do the spans
    assert table(bulk_db) == [] and indices(bulk_db) == []
    assert q(bulk_db, "SELECT count(*) FROM measurement_run_spans WHERE run_id = :r", r=first.run_id) == [(0,)]

    monkeypatch.setattr(obs_pipeline, "overlaps", lambda conn, spans: True)   # force the staged path
    steps = []
    second = load(bulk_db, ingest_settings, path, steps)
    assert not wrote_directly(steps) and (second.inserted, second.updated) == (864, 0)
    assert table(bulk_db) == direct
    assert [r[:5] for r in indices(bulk_db)] == [r[:5] for r in direct_indices]
    assert q(bulk_db, "SELECT DISTINCT ingest_run_id FROM measurements") == [(second.run_id,)]


def test_overlapping_file_is_upserted_with_its_history(bulk_db, ingest_settings, tmp_path):
    v1 = load(bulk_db, ingest_settings, write_readings(tmp_path / "v1.csv", ["OBS-A"], days=3))
    before = table(bulk_db)
    # The same station one day later with other values: two days overlap (updates), one day is new (inserts).
    steps: list[str] = []
    v2 = load(bulk_db, ingest_settings, write_readings(tmp_path / "v2.csv", ["OBS-A"], days=3,
                                                      end=END + pd.Timedelta(days=1), seed=99), steps)
    assert not wrote_directly(steps)
    new_keys = 6 * 24
    assert v2.inserted == new_keys and v2.updated + v2.unchanged == 6 * 48 and v2.updated > 250
    logged = q(bulk_db, "SELECT count(*), count(DISTINCT old_run_id) FROM measurement_changes WHERE run_id = :r "
                        "AND op = 'update'", r=v2.run_id)
    assert logged == [(v2.updated, 1)]
    # The logged previous versions are exactly v1's rows at those keys.
    old = q(bulk_db, "SELECT (old_row->>'value')::float8, old_row->>'qc_flag', old_run_id FROM measurement_changes "
                     "WHERE run_id = :r ORDER BY parameter, measured_at LIMIT 1", r=v2.run_id)
    assert old[0][2] == v1.run_id
    revert(bulk_db, v2.run_id, "pytest")
    assert table(bulk_db) == before


def test_reload_changes_nothing(bulk_db, ingest_settings, tmp_path):
    path = write_readings(tmp_path / "a.csv", ["OBS-A", "OBS-C"], days=2)
    load(bulk_db, ingest_settings, path)
    before, before_indices = table(bulk_db), indices(bulk_db)
    steps: list[str] = []
    again = load(bulk_db, ingest_settings, path, steps)
    assert not wrote_directly(steps)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2 * 6 * 48)
    assert table(bulk_db) == before and indices(bulk_db) == before_indices
    assert q(bulk_db, "SELECT count(*) FROM measurement_changes WHERE run_id = :r", r=again.run_id) == [(0,)]


def test_revert_removes_only_its_run(bulk_db, ingest_settings, tmp_path):
    a = load(bulk_db, ingest_settings, write_readings(tmp_path / "a.csv", ["OBS-A", "OBS-B"], days=2))
    c = load(bulk_db, ingest_settings, write_readings(tmp_path / "c.csv", ["OBS-C"], days=2))
    only_c = [r for r in table(bulk_db) if r[0] == "OBS-C"]
    back = revert(bulk_db, a.run_id, "pytest")
    assert table(bulk_db) == only_c
    assert q(bulk_db, "SELECT n_deleted, n_updated FROM ingest_runs WHERE run_id = :r", r=back) == [(a.inserted, 0)]
    assert q(bulk_db, "SELECT DISTINCT ingest_run_id FROM measurements") == [(c.run_id,)]


def test_revert_of_rows_written_without_spans(bulk_db):
    """Rows written by other means (no spans recorded) are still found, by a scan of their run id."""
    with raw_connection(bulk_db) as conn:
        run = ledger.start(conn, ledger.RunStart("load", "measurements", "pytest", {"direct": True}))
        conn.execute("SELECT ensure_measurement_partitions('2024-01-01', '2024-01-01')")
        conn.execute("INSERT INTO measurements (station_code, parameter, measured_at, period, value, qc_flag, "
                     "ingest_run_id) VALUES ('OBS-D', 'pm25', '2024-01-01T05:00Z', '1h', 12.5, 'valid', %s)", (run,))
        ledger.finish(conn, run, "succeeded", n_inserted=1)
        conn.commit()
    revert(bulk_db, run, "pytest")
    assert table(bulk_db) == []


# ---------------------------------------------------------------------------------------- parents' guards
def test_guard_triggers_replace_the_foreign_keys(bulk_db, ingest_settings, tmp_path):
    run = load(bulk_db, ingest_settings, write_readings(tmp_path / "a.csv", ["OBS-A"], days=1)).run_id
    n = len(table(bulk_db))
    with pytest.raises(Exception, match="station OBS-A has readings in measurements and cannot be deleted"):
        with bulk_db.begin() as conn:
            conn.exec_driver_sql("DELETE FROM monitoring_stations WHERE code = 'OBS-A'")
    with bulk_db.begin() as conn:                      # a station without readings goes
        conn.exec_driver_sql("DELETE FROM monitoring_stations WHERE code = 'OBS-D'")
    with pytest.raises(Exception, match="parameter pm25 is used by readings"):
        with bulk_db.begin() as conn:
            conn.exec_driver_sql("DELETE FROM parameters WHERE code = 'pm25'")
    with pytest.raises(Exception, match="parameter pm25 is used by readings"):
        with bulk_db.begin() as conn:
            conn.exec_driver_sql("UPDATE parameters SET code = 'pm2_5' WHERE code = 'pm25'")
    # (The ledger is also append-only since migration 0021; either refusal keeps the readings' run.)
    with pytest.raises(Exception, match=f"run {run} (wrote readings that are still in measurements|cannot be)"):
        with bulk_db.begin() as conn:
            conn.exec_driver_sql(f"DELETE FROM ingest_runs WHERE run_id = {run}")
    with pytest.raises(Exception, match=f"run {run} wrote readings that are still in measurements"):
        with bulk_db.begin() as conn:
            conn.exec_driver_sql(f"UPDATE ingest_runs SET run_id = -1 WHERE run_id = {run}")
    # A renamed station keeps its readings and its runs' spans (the former ON UPDATE CASCADE).
    with bulk_db.begin() as conn:
        conn.exec_driver_sql("UPDATE monitoring_stations SET code = 'OBS-Z' WHERE code = 'OBS-A'")
    assert q(bulk_db, "SELECT station_code, count(*) FROM measurements GROUP BY 1") == [("OBS-Z", n)]
    assert q(bulk_db, "SELECT DISTINCT station_code FROM measurement_run_spans WHERE run_id = :r", r=run) == [
        ("OBS-Z",)]
    revert(bulk_db, run, "pytest")                     # still exact after the rename (through the spans)
    assert table(bulk_db) == []


def test_truncating_a_parent(bulk_db, ingest_settings, tmp_path):
    load(bulk_db, ingest_settings, write_readings(tmp_path / "a.csv", ["OBS-B"], days=1))
    with pytest.raises(Exception, match="cannot truncate|referenced in a foreign key"):
        with bulk_db.begin() as conn:
            conn.exec_driver_sql("TRUNCATE parameters")
    assert len(table(bulk_db)) == 144
    with bulk_db.begin() as conn:   # as the foreign key made it do: CASCADE empties the readings too
        conn.exec_driver_sql("TRUNCATE monitoring_stations, ingest_runs CASCADE")
    assert table(bulk_db) == []


def test_station_deleted_between_checks_and_write(bulk_db, ingest_settings, tmp_path, monkeypatch):
    """The set-wise foreign-key check runs under the station locks: a station gone by then fails the load."""
    real = obs_pipeline.lock_stations

    def delete_then_lock(conn: psycopg.Connection, stations: list[str]) -> None:
        with bulk_db.begin() as other:
            other.exec_driver_sql("DELETE FROM monitoring_stations WHERE code = 'OBS-D'")
        real(conn, stations)

    monkeypatch.setattr(obs_pipeline, "lock_stations", delete_then_lock)
    r = load_observations(bulk_db, "long", write_readings(tmp_path / "d.csv", ["OBS-D"], days=1), ObsOptions(),
                          ingest_settings=ingest_settings)
    assert r.status == "failed" and "OBS-D" in r.error and "no longer in monitoring_stations" in r.error
    assert table(bulk_db) == []


# ------------------------------------------------------------------------------------------------ concurrency
def test_loads_of_other_stations_do_not_wait(bulk_db, ingest_settings, tmp_path):
    a = write_readings(tmp_path / "a.csv", ["OBS-A"], days=2)
    c = write_readings(tmp_path / "c.csv", ["OBS-C"], days=2)
    done: list[LoadResult] = []
    with raw_connection(bulk_db) as holder:
        holder.execute("SELECT pg_advisory_lock(%s, hashtext('OBS-A'))", (obs_pipeline.STATION_LOCK,))
        holder.commit()
        worker = threading.Thread(target=lambda: done.append(load(bulk_db, ingest_settings, a)))
        worker.start()
        deadline = time.monotonic() + 60
        while not q(bulk_db, "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = "
                             "(SELECT oid FROM pg_database WHERE datname = current_database())"):
            assert time.monotonic() < deadline, "the load of OBS-A never waited for its station lock"
            time.sleep(0.05)
        other = load(bulk_db, ingest_settings, c)          # another station: not blocked
        assert other.inserted == 288 and worker.is_alive() and not done
        holder.execute("SELECT pg_advisory_unlock(%s, hashtext('OBS-A'))", (obs_pipeline.STATION_LOCK,))
        holder.commit()
        worker.join(120)
    assert done and done[0].inserted == 288
    assert q(bulk_db, "SELECT station_code, count(*) FROM measurements GROUP BY 1 ORDER BY 1") == [
        ("OBS-A", 288), ("OBS-C", 288)]


def test_many_files_in_parallel(bulk_db, ingest_settings, tmp_path):
    files = [write_readings(tmp_path / "ab.csv", ["OBS-A", "OBS-B"], days=3),
             write_readings(tmp_path / "c.csv", ["OBS-C"], days=3),
             # the same station as the first file, one day later: waits for it, then upserts the overlap
             write_readings(tmp_path / "a2.csv", ["OBS-A"], days=3, end=END + pd.Timedelta(days=1), seed=5)]
    results = load_observations_many(bulk_db, "long", files, ObsOptions(), ingest_settings=ingest_settings, jobs=2)
    assert [r.status for r in results] == ["succeeded"] * 3
    assert sum(r.inserted for r in results) == q(bulk_db, "SELECT count(*) FROM measurements")[0][0]
    assert q(bulk_db, "SELECT count(*) FROM measurements")[0][0] == 6 * 24 * (3 + 3 + 4)


def test_cli_loads_several_files(bulk_db, tmp_path):
    files = [write_readings(tmp_path / f"{s}.csv", [s], days=1) for s in ("OBS-B", "OBS-C")]
    env = {**os.environ, "GEO_DATABASE_URL": bulk_db.url.render_as_string(hide_password=False),
           "GEO_INGEST_REPORTS_DIR": str(tmp_path / "reports"), "COLUMNS": "200"}
    res = subprocess.run([sys.executable, "-m", "geo", "observations", "load", "long", *map(str, files), "--jobs", "2"],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("succeeded") == 2
    assert q(bulk_db, "SELECT count(*) FROM measurements") == [(288,)]


@pytest.mark.slow
def test_kill_during_the_copy_leaves_the_readings_as_before(bulk_db, db_settings, ingest_settings, tmp_path):
    load(bulk_db, ingest_settings, write_readings(tmp_path / "small.csv", ["OBS-D"], days=2))
    before = table(bulk_db)
    big = write_readings(tmp_path / "big.csv", ["OBS-A", "OBS-B", "OBS-C"], days=400)     # 172,800 rows
    env = {**os.environ, "GEO_DATABASE_URL": db_settings.url(), "GEO_INGEST_REPORTS_DIR": str(tmp_path / "r")}
    proc = subprocess.Popen([sys.executable, "-m", "geo", "observations", "load", "long", str(big)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while True:
            assert proc.poll() is None, "the load ended before it could be killed during its COPY"
            assert time.monotonic() < deadline, "the load never reached its COPY"
            found = q(bulk_db, "SELECT r.run_id, r.backend_pid FROM ingest_runs r JOIN pg_stat_activity a ON "
                               "a.pid = r.backend_pid WHERE r.file_name = 'big.csv' AND r.status = 'running' "
                               "AND a.state = 'active' AND a.query LIKE 'COPY measurements%'")
            if found:
                run_id, pid = found[0]
                break
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    deadline = time.monotonic() + 120
    while q(bulk_db, "SELECT 1 FROM pg_stat_activity WHERE pid = :p", p=pid):
        assert time.monotonic() < deadline, "the killed load's backend is still there"
        time.sleep(0.1)
    assert table(bulk_db) == before
    assert q(bulk_db, "SELECT count(*) FROM measurement_run_spans WHERE run_id = :r", r=run_id) == [(0,)]
    assert q(bulk_db, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                      "(SELECT oid FROM pg_database WHERE datname = current_database())") == [(0,)]
    with raw_connection(bulk_db) as conn:
        deadline = time.monotonic() + 10
        while ledger.mark_interrupted(conn) == 0 and time.monotonic() < deadline:
            conn.rollback()
            time.sleep(0.2)
        conn.commit()
        assert ledger.get(conn, run_id)["status"] == "interrupted"
    again = load(bulk_db, ingest_settings, big)
    assert again.inserted == 3 * 6 * 24 * 400


# --------------------------------------------------------------------------------------------------- reader
@pytest.mark.parametrize("name", ["long_ok.csv", "long_mapped.csv", "openaq.csv", "water_samples.csv",
                                  "bad_duplicate_hour.csv", "bad_text_value.csv", "stations.csv"])
def test_arrow_reader_reads_what_pandas_reads(name):
    path = TEST_DATA / "observations" / name
    fast, slow = _read_csv_arrow(path), _read_csv(path)
    assert fast is not None and list(fast.columns) == list(slow.columns)
    for c in slow.columns:
        assert fast[c].astype(object).tolist() == slow[c].tolist(), c


def test_arrow_reader_leaves_odd_files_to_pandas(tmp_path):
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("station,parameter,time,value,unit\nBD-AIR-01,pm25,2024-01-01 08:00,1,ug/m3,extra\n")
    assert _read_csv_arrow(ragged) is None                 # pandas reads it its own way (or says which line)
    ragged.write_text("station,parameter,time,value,unit\nA,pm25,t,1,u\nBD-AIR-01,pm25,2024-01-01 08:00,1,ug/m3,x\n")
    assert _read_csv_arrow(ragged) is None
    with pytest.raises(InputError, match="unreadable CSV"):
        _read_csv(ragged)
    spaced = tmp_path / "spaced.csv"
    spaced.write_text('station,parameter,time,value,unit\n BD-AIR-01, "pm 25",2024-01-01 08:00, 1,ug/m3\n')
    assert _read_csv_arrow(spaced) is None                 # a quote after a space: pandas decides
    latin = tmp_path / "latin.csv"
    latin.write_bytes("station,parameter,time,value,unit\nTrạm,pm25,2024-01-01 08:00,1,µg/m³\n".encode("cp1258",
                                                                                                       "replace"))
    assert _read_csv_arrow(latin) is None
    both = tmp_path / "trimmed.csv"
    both.write_text("station, parameter,time,value,unit\n BD-AIR-01, pm25,2024-01-01 08:00, 1,ug/m3\n")
    fast, slow = _read_csv_arrow(both), _read_csv(both)
    assert fast is not None and fast.astype(object).to_dict("list") == slow.to_dict("list")


def test_many_rows_checked_the_same(tmp_path):
    """Old row-by-row semantics on a large mixed file: the vectorised checks keep every message."""
    from ingest.obs_checks import Parameter, check_observations
    from ingest.obs_readers import read_observations

    params = {"pm25": Parameter("pm25", "air", "µg/m³", None, -10, 2000, ("pm2.5",)),
              "no2": Parameter("no2", "air", "µg/m³", 46.01, 0, 8000)}
    rng = np.random.default_rng(1)
    n = 20_000
    frame = pd.DataFrame({
        "station": rng.choice(["OBS-A", "OBS-B", "", "XX"], n, p=[0.45, 0.45, 0.05, 0.05]),
        "parameter": rng.choice(["pm25", "PM2.5", "no2", "benzene"], n, p=[0.4, 0.2, 0.35, 0.05]),
        "time": [f"2024-01-{1 + (i // 24) % 28:02d} {i % 24:02d}:{'30' if i % 997 == 0 else '00'}" for i in range(n)],
        "value": rng.choice(["12.5", "-20", "n/a", "", "99999", "7"], n, p=[0.5, 0.05, 0.05, 0.05, 0.05, 0.3]),
        "unit": rng.choice(["µg/m³", "ppb", "kg"], n, p=[0.6, 0.35, 0.05]),
        "flag": rng.choice(["", "valid", "bogus", "suspect"], n, p=[0.3, 0.5, 0.05, 0.15])})
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    checked = check_observations(read_observations("long", path), params, {"OBS-A", "OBS-B"},
                                 pd.Timestamp("2024-06-01", tz="UTC"))
    reasons = {p.field for p in checked.problems}
    assert reasons == {"parameter", "value", "unit", "qc_flag", "time", "station+parameter+time", "station"}
    assert checked.n_read == n and len(checked.rows) + len(checked.problems) == n
    assert all(p.key.count("|") == 2 and p.record >= 2 for p in checked.problems)
    no2 = checked.rows[(checked.rows["parameter"] == "no2") & (checked.rows["original_unit"] == "ppb")]
    assert np.allclose(no2["value"].dropna(), no2["original_value"].dropna() * 46.01 / 24.45)
