"""Stored indices: a refresh writes what the pure engine computes, and an incremental refresh equals a full one."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from geo.aqi import hourly_aqi_frame
from geo.db import raw_connection
from ingest import indices, ledger
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import point, write_geojson

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
        conn.execute("DELETE FROM aqi_hourly")
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
