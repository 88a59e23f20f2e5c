"""Stored indices: a refresh writes what the pure engine computes, and an incremental refresh equals a full one."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from geo import qcvn
from geo.aqi import hourly_aqi_frame
from geo.db import raw_connection
from ingest import indices, ledger
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.conftest import truncate_all
from tests.factories import point, write_geojson
from tests.ingest.former_indices import former_module, shadow_views

START = pd.Timestamp("2025-03-01 01:00", tz="Asia/Ho_Chi_Minh")


@pytest.fixture
def station(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "st.geojson", [({"code": "ST1", "name_vi": "Trạm 1", "medium": "air",
                                                  "mode": "automatic", "status": "active"}, point(106.7, 11.0))])
    assert ingest_file(db, REGISTRY.get("monitoring_stations"), f, LoadOptions(), ingest_settings=ingest_settings,
                       area=area).status == "succeeded"
    return db


def _series(hours: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    idx = pd.date_range(START, periods=hours, freq="h")
    frame = pd.DataFrame({"pm25": rng.gamma(4, 8, hours), "no2": rng.gamma(3, 15, hours),
                          "o3": rng.gamma(3, 20, hours)}, index=idx)
    frame.iloc[5:9, 0] = np.nan  # a PM gap
    return frame


def _store(engine, frame: pd.DataFrame) -> None:
    long = frame.stack().rename("value").reset_index()
    long.columns = ["time", "parameter", "value"]
    with raw_connection(engine) as conn:
        run = ledger.start(conn, ledger.RunStart("load", "measurements", "pytest", {}))
        conn.execute("SELECT ensure_measurement_partitions(%s, %s)", (frame.index.min(), frame.index.max()))
        with conn.cursor() as cur, cur.copy("COPY measurements (station_code, parameter, measured_at, period, value, "
                                            "qc_flag, ingest_run_id) FROM STDIN") as cp:
            for r in long.itertuples():
                cp.write_row(("ST1", r.parameter, r.time.to_pydatetime(), "1h", float(r.value), "valid", run))
        conn.commit()


def _stored(engine) -> pd.DataFrame:
    with raw_connection(engine) as conn:
        rows = conn.execute("SELECT scheme, hour_end, aqi, category, dominant FROM aqi_hourly ORDER BY 1, 2").fetchall()
    return pd.DataFrame(rows, columns=["scheme", "hour_end", "aqi", "category", "dominant"])


def test_refresh_stores_the_engine_results(station):
    frame = _series(72)
    _store(station, frame)
    with raw_connection(station) as conn:
        counts = indices.refresh(conn, ["ST1"], frame.index.min().to_pydatetime(), frame.index.max().to_pydatetime())
        conn.commit()
    assert counts.hourly >= 2 * 72 and counts.daily >= 2 * 3
    stored = _stored(station)
    vn = stored[stored.scheme == "vn"].set_index("hour_end")
    expected = hourly_aqi_frame(frame, "vn")
    got = vn["aqi"].reindex(expected.index.tz_convert("UTC"))
    assert (got.fillna(-1).astype(int).to_numpy() == expected["aqi"].fillna(-1).astype(int).to_numpy()).all()


def test_incremental_refresh_equals_full_recompute(station):
    frame = _series(96)
    _store(station, frame)
    lo, hi = frame.index.min().to_pydatetime(), frame.index.max().to_pydatetime()
    changed_hour = frame.index[50]
    with raw_connection(station) as conn:
        indices.refresh(conn, ["ST1"], lo, hi)
        conn.execute("UPDATE measurements SET value = 400 WHERE parameter = 'pm25' AND measured_at = %s",
                     (changed_hour.to_pydatetime(),))
        indices.refresh(conn, ["ST1"], changed_hour.to_pydatetime(), changed_hour.to_pydatetime())
        conn.commit()
    incremental = _stored(station)
    with raw_connection(station) as conn:
        conn.execute("DELETE FROM aqi_hourly_store")
        indices.refresh(conn, ["ST1"], lo, hi)
        conn.commit()
    full = _stored(station)
    pd.testing.assert_frame_equal(incremental.reset_index(drop=True), full.reset_index(drop=True))
    spike = incremental[(incremental.scheme == "vn") &
                        (incremental.hour_end == changed_hour.tz_convert("UTC"))]
    assert int(spike.aqi.iloc[0]) > 150


def test_exceedances_are_stored_by_date_of_the_limit(station):
    hours = pd.date_range(START, periods=48, freq="h")
    frame = pd.DataFrame({"pm10": [120.0] * 48}, index=hours)  # 24-h mean 120 > QCVN 05:2023 (100)
    _store(station, frame)
    with raw_connection(station) as conn:
        indices.refresh(conn, ["ST1"], hours.min().to_pydatetime(), hours.max().to_pydatetime())
        conn.commit()
        ex = conn.execute("SELECT period, limit_value, regulation, provisional FROM qcvn_exceedances").fetchall()
        summ = conn.execute("SELECT freq, n_exceeding FROM qcvn_summaries WHERE period = '24h' "
                            "ORDER BY freq").fetchall()
    # Two full days above the 24-h limit; the annual mean (48 h of a year) exceeds 50 but is only provisional.
    assert sorted((p, lim, prov) for p, lim, _, prov in ex) == [("24h", 100.0, False), ("24h", 100.0, False),
                                                              ("year", 50.0, True)]
    assert all("05:2023" in reg for _, _, reg, _ in ex)
    assert dict(summ) == {"month": 2, "year": 2}


# ------------------------------------------------------------------------- many stations, incremental, former
STATIONS = ("ST1", "ST2", "ST3")
TABLES = {
    "aqi_hourly": ("station_code, scheme, hour_end, aqi, category, dominant, provisional, beyond_scale, detail::text",
                   "station_code, scheme, hour_end"),
    "aqi_daily": ("station_code, scheme, day, aqi, category, dominant, provisional, beyond_scale, detail::text",
                  "station_code, scheme, day"),
    "qcvn_exceedances": ("station_code, parameter, period, period_end, value, limit_value, regulation, n_hours, "
                         "provisional", "station_code, parameter, period, period_end"),
    "qcvn_summaries": ("station_code, parameter, period, freq, period_start, regulation, limit_value, n_valid, "
                       "n_exceeding, share, max_value, n_provisional",
                       "station_code, parameter, period, freq, period_start, regulation"),
    "qcvn_monthly_sums": ("station_code, parameter, month, n_hours, sum_hi, sum_lo", "station_code, parameter, month"),
}
STORES = ("aqi_hourly_store", "aqi_daily_store", "qcvn_exceedances", "qcvn_summaries", "qcvn_monthly_sums")
LEVELS = {"pm25": 28, "pm10": 45, "o3": 70, "no2": 40, "so2": 18, "co": 1100}


@pytest.fixture
def stations(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "st.geojson", [({"code": code, "name_vi": f"Trạm {code}", "medium": "air",
                                                  "mode": "automatic", "status": "active"},
                                                 point(106.7 + 0.01 * k, 11.0)) for k, code in enumerate(STATIONS)])
    assert ingest_file(db, REGISTRY.get("monitoring_stations"), f, LoadOptions(), ingest_settings=ingest_settings,
                       area=area).status == "succeeded"
    return db


def synthetic(first: str, hours: int, seed: int, stations: tuple[str, ...] = STATIONS, gaps: float = 0.02,
              parameters: tuple[str, ...] = tuple(LEVELS)) -> pd.DataFrame:
    """Hourly readings: station, parameter, time (UTC), value, flag; some missing, invalid, suspect, negative PM."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(pd.Timestamp(first, tz="Asia/Ho_Chi_Minh"), periods=hours, freq="h").tz_convert("UTC")
    parts = []
    for station in stations:
        for p in parameters:
            value = np.round(rng.gamma(2.5, LEVELS[p] / 2.5, hours) * (1 + 0.8 * (rng.random() - 0.5)), 1)
            flag = np.where(rng.random(hours) < gaps, "missing", "valid").astype(object)
            flag[rng.random(hours) < 0.01] = "invalid"
            flag[rng.random(hours) < 0.01] = "suspect"
            if p.startswith("pm"):
                value[rng.random(hours) < 0.01] = -1.5          # monitor noise below zero, kept as valid
            value = np.where(flag == "missing", np.nan, value)
            parts.append(pd.DataFrame({"station": station, "parameter": p, "time": times, "value": value,
                                       "flag": flag}))
    return pd.concat(parts, ignore_index=True)


def store_frame(engine, frame: pd.DataFrame) -> None:
    with raw_connection(engine) as conn:
        run = ledger.start(conn, ledger.RunStart("load", "measurements", "pytest", {}))
        conn.execute("SELECT ensure_measurement_partitions(%s, %s)", (frame["time"].min().to_pydatetime(),
                                                                      frame["time"].max().to_pydatetime()))
        with conn.cursor() as cur, cur.copy("COPY measurements (station_code, parameter, measured_at, period, value, "
                                            "qc_flag, ingest_run_id) FROM STDIN") as cp:
            for r in frame.itertuples():
                cp.write_row((r.station, r.parameter, r.time.to_pydatetime(), "1h",
                              None if r.value != r.value else float(r.value), r.flag, run))
        conn.commit()


def spans(conn, where: str = "TRUE", params: tuple = ()) -> dict:  # noqa: ANN001
    rows = conn.execute(f"SELECT station_code, min(measured_at), max(measured_at) FROM measurements m WHERE {where} "
                        "GROUP BY 1", params).fetchall()
    return {s: (lo, hi) for s, lo, hi in rows}


def dump(conn) -> dict[str, list[tuple]]:  # noqa: ANN001
    return {t: conn.execute(f"SELECT {cols} FROM {t} ORDER BY {order}").fetchall()
            for t, (cols, order) in TABLES.items()}


def full_recompute(conn) -> dict[str, list[tuple]]:  # noqa: ANN001
    for table in STORES:
        conn.execute(f"DELETE FROM {table}")
    indices.refresh_touched(conn, indices.Touched(air=spans(conn)))
    return dump(conn)


def assert_same(got: dict, expected: dict) -> None:
    for table in TABLES:
        assert len(got[table]) == len(expected[table]), table
        for a, b in zip(got[table], expected[table]):
            assert a == b, (table, a, b)


# Each edit changes readings, as a load or a revert does; the touched span is what the edit changed. Some edits
# first shape the data (before the full refresh): gaps next to the edit make rows appear or vanish far from it.
GAP = ("DELETE FROM measurements WHERE station_code = '{s}' AND parameter IN ({p}) AND measured_at > {lo} "
       "AND measured_at <= {hi}")
ALL = "'pm25', 'pm10', 'o3', 'no2', 'so2', 'co'"
EDITS: dict[str, tuple[list[str], list[str]]] = {
    "one value": ([], ["UPDATE measurements SET value = 480 WHERE station_code = 'ST1' AND parameter = 'pm25' "
                       "AND measured_at = %(mid)s"]),
    # The rewritten hours reach 12 h before the edit: they must not begin before the station's first reading.
    "a value three hours after the first reading": ([], [
        "UPDATE measurements SET value = 350 WHERE station_code = 'ST1' AND parameter = 'pm10' "
        "AND measured_at = %(first)s + interval '3 hours'"]),
    "a reading flagged invalid": ([], ["UPDATE measurements SET qc_flag = 'invalid' WHERE station_code = 'ST2' "
                                       "AND measured_at = %(mid)s"]),
    "a day removed (revert)": ([], [GAP.format(s="ST1", p=ALL, lo="%(mid)s", hi="%(mid)s + interval '24 hours'")]),
    "the last 30 hours removed": ([], ["DELETE FROM measurements WHERE station_code = 'ST3' "
                                       "AND measured_at > %(last)s - interval '30 hours'"]),
    "the first 30 hours removed": ([], ["DELETE FROM measurements WHERE station_code = 'ST2' "
                                        "AND measured_at < %(first)s + interval '30 hours'"]),
    "o3 and co gone for two days": ([], [GAP.format(s="ST1", p="'o3', 'co'", lo="%(mid)s",
                                                    hi="%(mid)s + interval '48 hours'")]),
    "the last block after a gap removed": (
        [GAP.format(s="ST3", p=ALL, lo="%(last)s - interval '80 hours'", hi="%(last)s - interval '30 hours'")],
        ["DELETE FROM measurements WHERE station_code = 'ST3' AND measured_at > %(last)s - interval '30 hours'"]),
    "the first block before a gap removed": (
        [GAP.format(s="ST2", p=ALL, lo="%(first)s + interval '30 hours'", hi="%(first)s + interval '80 hours'")],
        ["DELETE FROM measurements WHERE station_code = 'ST2' AND measured_at <= %(first)s + interval '30 hours'"]),
    # O3's 8-h windows end at its last reading: removing the readings after a gap that began in December
    # removes the December windows just after the gap's start (another month than the edit's).
    "o3 after a gap across the month end removed": (
        [GAP.format(s="ST1", p="'o3'", lo="'2023-12-31 10:00+07'", hi="'2024-01-05 00:00+07'")],
        [GAP.format(s="ST1", p="'o3'", lo="'2024-01-05 00:00+07'", hi="%(last)s")]),
    # The first reading of the refreshed hours follows a gap that begins before the rows read (the month's): whether
    # the station had readings earlier (so the gap's hours have rows) is asked of the database.
    "a value just after a gap across the new year": (
        [GAP.format(s="ST1", p=ALL, lo="'2023-12-28 00:00+07'", hi="'2024-01-03 08:00+07'")],
        ["UPDATE measurements SET value = 333 WHERE station_code = 'ST1' AND parameter = 'no2' "
         "AND measured_at = '2024-01-03 12:00+07'"]),
    # … and the same after the span: a gap across the month's end, readings again in January.
    "a value just before a gap across the month end": (
        [GAP.format(s="ST2", p=ALL, lo="'2023-12-20 17:00+07'", hi="'2024-01-02 00:00+07'")],
        ["UPDATE measurements SET value = 333 WHERE station_code = 'ST2' AND parameter = 'o3' "
         "AND measured_at = '2023-12-20 12:00+07'"]),
    "o3 back for a few hours in a three-day o3 gap": (
        [GAP.format(s="ST1", p="'o3'", lo="%(mid)s", hi="%(mid)s + interval '72 hours'")],
        ["INSERT INTO measurements (station_code, parameter, measured_at, period, value, qc_flag, ingest_run_id) "
         "SELECT 'ST1', 'o3', %(mid)s + h * interval '1 hour', '1h', 150 + h, 'valid', "
         "(SELECT max(run_id) FROM ingest_runs) FROM generate_series(30, 35) h"]),
}


def _hours(conn) -> dict:  # noqa: ANN001
    first, last = conn.execute("SELECT min(measured_at), max(measured_at) FROM measurements").fetchone()
    mid = first + (last - first) * 0.55
    return {"first": first, "last": last, "mid": mid.replace(minute=0, second=0, microsecond=0)}


@pytest.mark.parametrize("edit", list(EDITS))
def test_incremental_refresh_equals_full_recompute_after_any_edit(stations, edit):
    # 40 days across a new year: daily, monthly and annual rows of two years are touched.
    store_frame(stations, synthetic("2023-12-10 01:00", 40 * 24, seed=7))
    with raw_connection(stations) as conn:
        indices.refresh_touched(conn, indices.Touched(air=spans(conn)))
        conn.commit()
        before = dump(conn)
        marks = _hours(conn)
        shape, change = EDITS[edit]
        if shape:
            for statement in shape:
                conn.execute(statement, marks)
            full_recompute(conn)
            conn.commit()
        conn.execute("CREATE TEMP TABLE before_edit AS SELECT * FROM measurements")
        for statement in change:
            conn.execute(statement, marks)
        changed = spans(conn, "NOT EXISTS (SELECT 1 FROM before_edit b WHERE (b.station_code, b.parameter, "
                              "b.measured_at, b.period, b.qc_flag) = (m.station_code, m.parameter, m.measured_at, "
                              "m.period, m.qc_flag) AND b.value IS NOT DISTINCT FROM m.value)")
        gone = conn.execute("SELECT station_code, min(measured_at), max(measured_at) FROM before_edit b WHERE NOT "
                            "EXISTS (SELECT 1 FROM measurements m WHERE (m.station_code, m.parameter, m.measured_at) "
                            "= (b.station_code, b.parameter, b.measured_at)) GROUP BY 1").fetchall()
        for station, lo, hi in gone:
            a, b = changed.get(station, (lo, hi))
            changed[station] = (min(a, lo), max(b, hi))
        assert changed
        indices.refresh_touched(conn, indices.Touched(air=changed))
        incremental = dump(conn)
        assert incremental != before
        assert_same(incremental, full_recompute(conn))
        conn.rollback()


def test_readings_filling_a_gap_and_extending_the_span(stations):
    frame = synthetic("2024-03-01 01:00", 30 * 24, seed=11)
    gap = (frame["time"] >= pd.Timestamp("2024-03-10 00:00", tz="UTC")) & \
          (frame["time"] < pd.Timestamp("2024-03-12 06:00", tz="UTC"))
    late = frame["time"] >= pd.Timestamp("2024-03-25 00:00", tz="UTC")
    store_frame(stations, frame[~gap & ~late])
    with raw_connection(stations) as conn:
        indices.refresh_touched(conn, indices.Touched(air=spans(conn)))
        conn.commit()
    for part in (frame[late], frame[gap]):           # first the span grows, then the gap is filled
        store_frame(stations, part)
        touched = {s: (g["time"].min().to_pydatetime(), g["time"].max().to_pydatetime())
                   for s, g in part.groupby("station")}
        with raw_connection(stations) as conn:
            indices.refresh_touched(conn, indices.Touched(air=touched))
            conn.commit()
    with raw_connection(stations) as conn:
        incremental = dump(conn)
        assert_same(incremental, full_recompute(conn))
        # the 54-hour gap of every pollutant was stored as hours without an index, and is now filled
        assert len(incremental["aqi_hourly"]) == 2 * len(STATIONS) * 30 * 24


def test_a_first_load_reads_each_reading_once(stations, monkeypatch):
    store_frame(stations, synthetic("2024-05-01 01:00", 20 * 24, seed=3))
    reads = []
    original = indices._read
    monkeypatch.setattr(indices, "_read", lambda conn, plan: reads.append(plan) or original(conn, plan))
    with raw_connection(stations) as conn:
        counts = indices.refresh_touched(conn, indices.Touched(air=spans(conn)))
        conn.rollback()
    assert len(reads) == 1 and counts.hourly == 2 * len(STATIONS) * 20 * 24 and counts.daily == 2 * 3 * 20


def _relative(a: object, b: object) -> float:
    return abs(float(a) - float(b)) / max(abs(float(a)), 1e-300)


def test_refresh_matches_the_former_implementation(stations):
    former = former_module()
    if former is None:
        pytest.skip("git history with the former implementation is not available")
    # 50 days and 10 hours: the last day ends at the last reading, with 8-h windows after it that must not count.
    store_frame(stations, synthetic("2024-11-20 01:00", 50 * 24 + 10, seed=5))
    with raw_connection(stations) as conn:
        touched = spans(conn)
        shadow_views(conn)
        former.refresh_touched(conn, former.Touched(air=touched))
        old = {t: conn.execute(f"SELECT {cols} FROM {t} ORDER BY {order}").fetchall()
               for t, (cols, order) in TABLES.items() if t != "qcvn_monthly_sums"}
        conn.rollback()
        indices.refresh_touched(conn, indices.Touched(air=touched))
        new = dump(conn)
        conn.rollback()
    assert old["aqi_hourly"] == new["aqi_hourly"] and len(new["aqi_hourly"]) == 2 * 3 * (50 * 24 + 10)
    assert old["aqi_daily"] == new["aqi_daily"]
    # QCVN 05: every row and column is the same, except that the former 8-h means came from pandas' running
    # rolling sum, whose last bits depended on where a read began; now each window is summed on its own.
    for table, value_column in (("qcvn_exceedances", 4), ("qcvn_summaries", 10)):
        assert len(old[table]) == len(new[table]) > 0, table
        for a, b in zip(old[table], new[table]):
            same = [x == y for x, y in zip(a, b)]
            if not all(same):
                assert a[2] == "8h" and same.count(False) == 1 and not same[value_column], (table, a, b)
                assert _relative(a[value_column], b[value_column]) < 1e-14, (table, a, b)


def test_qcvn_rows_equal_the_pure_functions(stations):
    """Stored exceedances and summaries = geo.qcvn on the same readings, across the 2023 change of regulation."""
    frame = synthetic("2023-08-25 01:00", 31 * 24, seed=9, stations=("ST1",))
    frame.loc[frame["parameter"] == "pm10", "value"] *= 2.6      # 24-h PM10 means around both limits (150 / 100)
    store_frame(stations, frame)
    with raw_connection(stations) as conn:
        indices.refresh_touched(conn, indices.Touched(air=spans(conn)))
        stored = dump(conn)
        conn.rollback()
    readings = frame[frame["flag"].isin(["valid", "suspect"])].rename(columns={"flag": "qc_flag"})
    flagged = qcvn.exceedances(qcvn.compliance_averages(readings))
    over = flagged[flagged["exceeds"].fillna(False).astype(bool)]
    expected = sorted((r.station, r.parameter, r.period, r.period_end.to_pydatetime(), float(r.value), float(r.limit),
                       str(r.regulation), int(r.n_hours), bool(r.provisional)) for r in over.itertuples())
    got = sorted(stored["qcvn_exceedances"])
    assert [g[:3] + g[4:] for g in got] == [e[:3] + e[4:] for e in expected]
    assert all(g[3] == e[3] for g, e in zip(got, expected))
    assert {r[6] for r in got} == {"QCVN 05:2013/BTNMT", "QCVN 05:2023/BTNMT"}
    summaries = []
    for freq, label in (("M", "month"), ("Y", "year")):
        for r in qcvn.summarise_exceedances(flagged, freq).to_dict("records"):
            summaries.append((r["station"], r["parameter"], r["period"], label, r[label].start_time.date(),
                              str(r["regulation"]), float(r["limit"]), int(r["n_valid"]), int(r["n_exceeding"]),
                              None if pd.isna(r["share"]) else float(r["share"]),
                              None if pd.isna(r["max_value"]) else float(r["max_value"]), int(r["n_provisional"])))
    assert sorted(stored["qcvn_summaries"], key=str) == sorted(summaries, key=str)
    # September 2023 straddles the change of regulation: one monthly row for each.
    september = [r for r in stored["qcvn_summaries"] if r[1] == "pm10" and r[2] == "24h" and r[3] == "month"
                 and r[4].month == 9]
    assert sorted(r[5] for r in september) == ["QCVN 05:2013/BTNMT", "QCVN 05:2023/BTNMT"]


def test_category_and_pollutant_names_of_the_views_are_the_engines():
    from importlib import import_module

    from geo.aqi_tables import CATEGORIES, POLLUTANTS

    migration = import_module("geo.migrations.versions.0020_index_store_fast")
    assert migration.POLLUTANTS == POLLUTANTS
    assert {s: tuple(c.name_vi for c in CATEGORIES[s]) for s in CATEGORIES} == migration.CATEGORY_NAMES


def test_stored_indices_follow_a_renamed_or_deleted_station(stations):
    store_frame(stations, synthetic("2024-06-01 01:00", 3 * 24, seed=2, stations=("ST1",)))
    with raw_connection(stations) as conn:
        indices.refresh_touched(conn, indices.Touched(air=spans(conn)))
        conn.commit()
        conn.execute("UPDATE monitoring_stations SET code = 'ST1-NEW' WHERE code = 'ST1'")
        assert conn.execute("SELECT DISTINCT station_code FROM aqi_hourly").fetchall() == [("ST1-NEW",)]
        assert conn.execute("SELECT count(*) FROM aqi_daily WHERE station_code = 'ST1-NEW'").fetchone()[0] == 6
        conn.execute("DELETE FROM measurements")
        conn.execute("DELETE FROM monitoring_stations WHERE code = 'ST1-NEW'")
        assert conn.execute("SELECT (SELECT count(*) FROM aqi_hourly_store) + (SELECT count(*) FROM "
                            "aqi_daily_store)").fetchone()[0] == 0
        conn.rollback()
    truncate_all(stations)               # TRUNCATE monitoring_stations … CASCADE empties the stores as well
    with raw_connection(stations) as conn:
        assert conn.execute("SELECT count(*) FROM aqi_hourly").fetchone()[0] == 0


def test_many_stations_refreshed_in_parts_store_the_same_rows(stations, monkeypatch):
    store_frame(stations, synthetic("2024-07-20 01:00", 15 * 24, seed=8))
    with raw_connection(stations) as conn:
        whole = full_recompute(conn)
        monkeypatch.setattr(indices, "MAX_CELLS", 6 * 24 * 20)        # one station at a time
        reads = []
        original = indices._read
        monkeypatch.setattr(indices, "_read", lambda conn, plan: reads.append(plan.stations) or original(conn, plan))
        parts = full_recompute(conn)
        conn.rollback()
    assert sorted(reads) == [[s] for s in STATIONS]
    assert_same(parts, whole)
