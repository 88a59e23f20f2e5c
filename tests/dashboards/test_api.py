"""Every /api/v1 endpoint: formats, validation (400), unknown station (404), a station with no data, caching."""
from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import text


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def live_code(client) -> str:
    data = client.get("/api/v1/stations").get_json()["data"]
    return next(s["code"] for s in data if s["aqi"] is not None)


def test_openapi_describes_every_route(client, app):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    routes = {r.rule for r in app.server.url_map.iter_rules() if r.rule.startswith("/api/v1/stations")}
    documented = {p.replace("{code}", "<code>") for p in doc["paths"]}
    assert {r.replace("<kind>", "hourly") for r in routes} | {r.replace("<kind>", "daily") for r in routes} \
        >= documented
    assert "/api/v1/stations/<code>/aqi/hourly" in documented and "/api/v1/stations" in documented


def test_stations_json_with_current_index(client):
    body = client.get("/api/v1/stations?scheme=vn").get_json()
    assert body["scheme"] == "vn" and "1459" in body["method"] and body["count"] == len(body["data"]) >= 10
    silent = [s for s in body["data"] if s["code"] in ("SMP-ĐT7", "SMP-GT9")]
    assert len(silent) == 2 and all(s["aqi"] is None for s in silent)


def test_stations_geojson_and_csv(client):
    gj = json.loads(client.get("/api/v1/stations?format=geojson&scheme=us").data)
    assert gj["type"] == "FeatureCollection" and gj["scheme"] == "us"
    lon, lat = gj["features"][0]["geometry"]["coordinates"]
    assert 106.3 < lon < 107 and 10.8 < lat < 11.6
    r = client.get("/api/v1/stations?format=csv")
    assert r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert {"code", "aqi", "category", "lon", "lat"} <= set(rows[0])


def test_measurements_are_raw_concentrations(client, live_code, air_db):
    r = client.get(f"/api/v1/stations/{live_code}/measurements?parameter=pm25,no2&start=2020-01-01&end=2100-01-01"
                   .replace("2020-01-01", "2099-01-01"))
    assert r.status_code == 200
    body = client.get(f"/api/v1/stations/{live_code}/measurements?parameter=pm25").get_json()
    assert body["count"] > 100 and {d["parameter"] for d in body["data"]} == {"pm25"}
    with air_db.connect() as conn:
        first = conn.execute(text("SELECT value FROM measurements WHERE station_code = :c AND parameter = 'pm25' "
                                  "AND measured_at = CAST(:t AS timestamptz)"),
                             {"c": live_code, "t": body["data"][0]["measured_at"]}).scalar_one()
    assert body["data"][0]["value"] == pytest.approx(first)


@pytest.mark.parametrize("kind", ["hourly", "daily"])
@pytest.mark.parametrize("scheme", ["vn", "us"])
def test_aqi_series(client, live_code, kind, scheme):
    body = client.get(f"/api/v1/stations/{live_code}/aqi/{kind}?scheme={scheme}").get_json()
    assert body["scheme"] == scheme and body["count"] > 0
    assert all(0 <= d["aqi"] <= 500 for d in body["data"] if d["aqi"] is not None)
    csv_text = client.get(f"/api/v1/stations/{live_code}/aqi/{kind}?scheme={scheme}&format=csv").data.decode()
    assert csv_text.splitlines()[0].startswith(("hour_end", "day"))


def test_station_without_data_gives_empty_list(client):
    body = client.get("/api/v1/stations/SMP-ĐT7/aqi/hourly").get_json()
    assert body["count"] == 0 and body["data"] == []
    assert client.get("/api/v1/stations/SMP-ĐT7/measurements").get_json()["data"] == []


@pytest.mark.parametrize("url,field", [
    ("/api/v1/stations?scheme=eu", "scheme"),
    ("/api/v1/stations?format=xml", "format"),
    ("/api/v1/stations/SMP-ĐT3/aqi/hourly?start=yesterday", "start"),
    ("/api/v1/stations/SMP-ĐT3/aqi/hourly?start=2025-02-01&end=2025-01-01", None),
    ("/api/v1/stations/SMP-ĐT3/aqi/daily?start=2000-01-01&end=2025-01-01", None),
    ("/api/v1/stations/SMP-ĐT3/measurements?parameter=pm25,xx1", "parameter"),
    ("/api/v1/stations/SMP-ĐT3/measurements?parameter=pm25';DROP TABLE measurements;--", "parameter"),
])
def test_bad_parameters_get_400_with_message_in_both_languages(client, url, field):
    r = client.get(url)
    assert r.status_code == 400
    body = r.get_json()
    assert body["error"]["vi"] and body["error"]["en"]
    if field:
        assert body["name"] == field


@pytest.mark.parametrize("url", ["/api/v1/stations/NOPE/aqi/hourly", "/api/v1/stations/NOPE/measurements",
                                 "/api/v1/stations/SMP-ĐT3/aqi/weekly", "/api/v1/stations/x'%20OR%201=1/measurements"])
def test_unknown_station_or_kind_is_404(client, url):
    assert client.get(url).status_code == 404


def test_cached_response_is_invalidated_by_an_ingest(client, app, air_db):
    cache = app.server.config["GEO_CONTEXT"].cache
    first = client.get("/api/v1/stations").data
    hits = cache.hits
    assert client.get("/api/v1/stations").data == first and cache.hits > hits
    with air_db.begin() as conn:
        conn.execute(text("UPDATE monitoring_stations SET name_vi = 'Đổi tên' WHERE code = 'SMP-ĐT7'"))
        conn.execute(text("UPDATE data_versions SET version = version + 1 WHERE layer = 'monitoring_stations'"))
    after = client.get("/api/v1/stations").get_json()
    assert next(s for s in after["data"] if s["code"] == "SMP-ĐT7")["name_vi"] == "Đổi tên"
