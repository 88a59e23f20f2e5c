"""Indicator register: sync, computations from layers / zonal results / measurements, reported values, show."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from geo.cli import _load_plugins, app
from geo.indicator_register import register
from geo.settings import AreaSettings, DatabaseSettings, IngestSettings
from ingest.indicators import compute_indicators, indicator_values, report_value, sync_register
from ingest.pipeline import LoadOptions, ingest_file
from ingest.rasters import ingest_raster
from ingest.zonal import compute_zonal
from layers import REGISTRY
from tests.conftest import truncate_all
from tests.factories import park, point, square, write_geojson
from tests.ingest.admin_loading import load_admin, province_raster

LON, LAT = 106.70, 11.05   # inside the former province (Tân Uyên area)


def _load(engine, tmp, layer, features):
    path = write_geojson(tmp / f"{layer}.geojson", features)
    r = ingest_file(engine, REGISTRY.get(layer), path, LoadOptions(),
                    ingest_settings=IngestSettings(reports_dir=tmp / "reports", user="pytest"), area=AreaSettings())
    assert r.status == "succeeded", (layer, r.error, r.problems[:3])


def _zone(code, kind, lon, lat, d):
    return {"park_code": "KCN-A", "zone_code": code, "zone_type": kind}, square(lon, lat, d)


@pytest.fixture(scope="module")
def world(engine, shared_data, tmp_path_factory):
    truncate_all(engine)
    tmp = tmp_path_factory.mktemp("indicators")
    load_admin(engine, shared_data, tmp / "reports")
    _load(engine, tmp, "industrial_parks", [park("KCN-A", LON, LAT), park("KCN-B", LON + 0.05, LAT)])
    # KCN-A: green 10 % + road 10 % + shared 5 % of its area, a WWTP zone and an automatic station inside.
    _load(engine, tmp, "park_zones", [_zone("G", "green_space", LON, LAT, 0.01 * 0.1 ** 0.5),
                                      _zone("R", "road", LON + 0.005, LAT + 0.005, 0.01 * 0.1 ** 0.5),
                                      _zone("S", "shared_infrastructure", LON, LAT + 0.007, 0.01 * 0.05 ** 0.5),
                                      _zone("W", "wwtp", LON + 0.008, LAT, 0.001)])
    stations = [({"code": "WW1", "name_vi": "Trạm NT", "medium": "wastewater", "mode": "automatic",
                  "status": "active"}, point(LON + 0.002, LAT + 0.002)),
                ({"code": "KK1", "name_vi": "Điểm KK", "medium": "air", "mode": "periodic", "status": "active"},
                 point(106.65, 10.98)),
                ({"code": "SW1", "name_vi": "Sông", "medium": "surface_water", "mode": "periodic",
                  "status": "active"}, point(106.66, 10.97))]
    _load(engine, tmp, "monitoring_stations", stations)
    _load(engine, tmp, "waste_facilities", [({"code": "L1", "name_vi": "Bãi", "kind": "landfill",
                                              "landfill_status": "active"}, point(106.60, 11.10))])
    _load(engine, tmp, "polluted_sites", [({"code": "P1", "pollutant_group": "heavy_metals", "status": "confirmed"},
                                           point(106.62, 11.02))])
    dbs = DatabaseSettings(database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp / "data")
    rid = ingest_raster(engine, "esa_worldcover", province_raster(tmp / "lc.tif"), 2024, db_settings=dbs,
                        area=AreaSettings()).raster_id
    compute_zonal(engine, rid, types=("admin_unit",))
    run = compute_indicators(engine)
    yield {"engine": engine, "run": run}
    truncate_all(engine)


def test_register_is_data_and_syncs(world):
    assert {"T12.2", "T15.2", "T14.2", "T9.3", "T15.4", "T14.6", "T13.3p", "T15.9"} <= set(register())
    assert register()["T12.2"].target_confidence == "CONFIRMED (secondary)"
    assert sync_register(world["engine"]) == len(register())


def _value(engine, ind, geo, code, year=None):
    with engine.connect() as conn:
        return conn.execute(text("SELECT value FROM indicator_values WHERE indicator_id = :i AND geography_type = :g "
                                 "AND geography_code = :c AND source_kind = 'computed' "
                                 "AND (CAST(:y AS integer) IS NULL OR year = :y)"),
                            {"i": ind, "g": geo, "c": code, "y": year}).scalar_one()


def test_forest_cover_share_from_zonal_results(world):
    assert _value(world["engine"], "T12.2", "province", "74") == pytest.approx(50.0, abs=2)
    with world["engine"].connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM indicator_values WHERE indicator_id = 'T12.2' "
                              "AND year = 2024")).scalar()
        lineage = conn.execute(text("SELECT lineage FROM indicator_values WHERE indicator_id = 'T12.2' "
                                    "LIMIT 1")).scalar()
    assert n == 1 + 9 + 36
    assert lineage["raster_ids"] and lineage["layers"]["admin_units"] and lineage["computed_at"]


def test_park_indicators(world):
    e = world["engine"]
    assert _value(e, "T15.2", "industrial_park", "KCN-A") == 100.0
    assert _value(e, "T15.2", "industrial_park", "KCN-B") == 0.0
    assert _value(e, "T15.2", "province", "74") == 50.0
    assert _value(e, "T9.3", "industrial_park", "KCN-A") == pytest.approx(25.0, rel=0.02)
    assert _value(e, "T12.8", "industrial_park", "KCN-A") == pytest.approx(10.0, rel=0.02)


def test_station_landfill_and_polluted_counts(world):
    e = world["engine"]
    assert _value(e, "T14.2", "province", "74") == 1.0
    assert _value(e, "T14.3", "province", "74") == 0.0
    assert 0 < _value(e, "T14.2c", "province", "74") < 5   # π·5² km² of ~2,695 km²
    assert _value(e, "T13.3p", "province", "74") == 1.0
    assert _value(e, "T15.9", "province", "74") == 1.0


def test_measurement_indicators_say_no_data(world):
    assert {"T15.4", "T14.6"} <= set(world["run"].no_data)
    df = indicator_values(world["engine"], "T15.4", "province")
    assert df.status.tolist() == ["no_data"]


def test_reported_values_and_progress_status(world):
    e = world["engine"]
    report_value(e, "T13.1", "province", "74", 2023, 97.0, "baobinhduong a338712")
    report_value(e, "T13.1", "province", "74", 2025, 97.2, "Sở TN&MT báo cáo 2025")
    df = indicator_values(e, "T13.1", "province")
    assert df.source_kind.tolist() == ["reported", "reported"]
    # Gap to the 100 % ceiling 3 → 2.8 in 2 years, 1 needed by 2030: R ≈ 0.23.
    assert df.progress.iloc[-1] == "Tiến triển hạn chế / limited progress"
    t122 = indicator_values(e, "T12.2", "province")
    assert t122.progress.iloc[0] == "Đi xuống / deterioration"    # ~50 % < the 57.5 % level to maintain


def test_cli_show_and_report(world, monkeypatch):
    monkeypatch.setenv("GEO_DATABASE_URL", world["engine"].url.render_as_string(hide_password=False))
    _load_plugins()
    runner = CliRunner()
    r = runner.invoke(app, ["indicators", "report", "T12.1", "--geography", "province", "--year", "2023",
                            "--value", "42.02", "--source", "FS23"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["indicators", "show", "T15.2"])
    assert r.exit_code == 0 and "KCN-A" in r.output and "100.00" in r.output


def _insert_measurements(engine, rows):
    with engine.begin() as conn:
        run = conn.execute(text("INSERT INTO ingest_runs (kind, layer, status) VALUES ('load', 'measurements', "
                                "'succeeded') RETURNING run_id")).scalar()
        conn.execute(text("SELECT ensure_measurement_partitions(TIMESTAMPTZ '2024-01-01', TIMESTAMPTZ '2024-12-31')"))
        conn.execute(text("INSERT INTO measurements (station_code, parameter, measured_at, period, value, qc_flag, "
                          "ingest_run_id) VALUES (:s, :p, :t, :period, :v, 'valid', :r)"),
                     [{**r, "r": run} for r in rows])


def test_measurement_indicators_from_the_measurements_table(world):
    """T15.4 from one clean river sample (VN_WQI 100) and T14.6 from two days of PM2.5 (one good, one not)."""
    import pandas as pd
    sample = {"pH": 7.0, "temperature": 28.0, "DO": 7.0, "BOD5": 3.0, "COD": 8.0, "NNH4": 0.1, "PPO4": 0.05,
              "Coliform": 1000.0}
    rows = [{"s": "SW1", "p": k, "t": "2024-03-05T02:00:00Z", "period": "sample", "v": v} for k, v in sample.items()]
    hours = pd.date_range("2024-02-29T18:00:00Z", periods=48, freq="h")   # hours ending 01:00 … 24:00 local, 2 days
    rows += [{"s": "KK1", "p": "pm25", "t": t.isoformat(), "period": "1h", "v": 20.0 if i < 24 else 200.0}
             for i, t in enumerate(hours)]
    _insert_measurements(world["engine"], rows)
    run = compute_indicators(world["engine"], 2024, only=["T15.4", "T14.6"])
    assert run.no_data == []
    assert _value(world["engine"], "T15.4", "province", "74", 2024) == 100.0
    assert _value(world["engine"], "T14.6", "province", "74", 2024) == 50.0
