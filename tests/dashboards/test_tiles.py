"""Vector tiles and TileJSON: content and attributes, forged coordinates, access per role, caching, invalidation."""
from __future__ import annotations

import json
import math
import re
import threading
from urllib.parse import urlparse

import mapbox_vector_tile
import pytest
import requests
from sqlalchemy import text

from dashboards.tiles import MVT_TYPE, tile_state
from geo.db import raw_connection
from geo.users import AccountError, add_user, set_password
from ingest.history import revert
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY

PASSWORD = "tiles-test-password-1"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The XYZ (Web Mercator) tile holding a point: the slippy-map formula."""
    n = 1 << z
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return x, y


def features(body: bytes, layer: str) -> list[dict]:
    return mapbox_vector_tile.decode(body)[layer]["features"]


def a_feature(engine, layer: str) -> dict:  # type: ignore[no-untyped-def]
    """The layer's first feature: id, a point on it and its key's last field as ``code``."""
    key = REGISTRY.get(layer).natural_key[-1]
    with engine.connect() as conn:
        row = conn.execute(text(f"SELECT id, {key} AS code, ST_X(p) AS lon, ST_Y(p) AS lat FROM "
                                f"(SELECT id, {key}, ST_PointOnSurface(geom) AS p FROM {layer} ORDER BY id LIMIT 1) s"
                                )).mappings().one()
    return dict(row)


def url_at(layer: str, feat: dict, z: int = 14) -> str:
    x, y = tile_of(feat["lon"], feat["lat"], z)
    return f"/tiles/{layer}/{z}/{x}/{y}.pbf"


def login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    form = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 302, r.data


def user_client(app, air_db, username: str, role: str):  # type: ignore[no-untyped-def]
    try:
        add_user(air_db, username, PASSWORD, role)
    except AccountError:  # left by an earlier run of this module against the same database
        set_password(air_db, username, PASSWORD)
    client = app.server.test_client()
    login(client, username)
    return client


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def dept(app, air_db):
    return user_client(app, air_db, "tiles_dept", "department")


@pytest.fixture(scope="module")
def parks_authority(app, air_db):
    return user_client(app, air_db, "tiles_ipa", "ip_authority")


def test_tile_decodes_with_the_registry_fields_as_attributes(client, air_db):
    park = a_feature(air_db, "industrial_parks")
    r = client.get(url_at("industrial_parks", park))
    assert r.status_code == 200 and r.mimetype == MVT_TYPE
    feats = features(r.data, "industrial_parks")
    mine = next(f for f in feats if f["id"] == park["id"])
    assert mine["properties"]["code"] == park["code"]
    assert mine["geometry"]["type"] in ("Polygon", "MultiPolygon")
    established = mine["properties"].get("established_on")  # NULLs are left out of MVT features
    assert established is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", established)
    registry_fields = set(REGISTRY.get("industrial_parks").field_names)
    assert all(set(f["properties"]) <= registry_fields for f in feats)  # no ingest_run_id, no timestamps
    assert r.headers["Cache-Control"] == "public, no-cache" and r.headers["ETag"].startswith('W/"')


def test_empty_tile_is_204_no_content(client):
    r = client.get("/tiles/industrial_parks/12/0/0.pbf")  # the far north-west corner of the world
    assert r.status_code == 204 and r.data == b""


@pytest.mark.parametrize("zxy", ["-1/0/0", "0/-1/0", "0/0/-1", "23/0/0", "1/2/0", "1/0/2", "0/1/0",
                                 "22/4194304/0", "abc/0/0", "1.5/0/0", "0/0/1e3", "99999999999/0/0",
                                 "12/0x1/0", "12/%D9%A3/0", "12/3/%20", "12/ 3/0", "12/3;SELECT 1/0"])
def test_forged_coordinates_are_400(client, zxy):
    r = client.get(f"/tiles/industrial_parks/{zxy}.pbf")
    assert r.status_code == 400, zxy
    assert set(r.get_json()["error"]) == {"vi", "en"}


@pytest.mark.parametrize("suffix", ["0/0/0.pbf", "14/13120/7650.pbf"])
def test_unknown_and_restricted_layers_answer_the_same_404(client, suffix):
    unknown = client.get(f"/tiles/no_such_layer/{suffix}")
    restricted = client.get(f"/tiles/polluted_sites/{suffix}")
    injected = client.get(f"/tiles/industrial_parks%22%3B%20DROP%20TABLE%20users%3B--/{suffix}")
    assert unknown.status_code == restricted.status_code == injected.status_code == 404
    assert unknown.data == restricted.data == injected.data
    assert client.get("/tiles/no_such_layer.json").data == client.get("/tiles/polluted_sites.json").data


def test_department_user_gets_the_restricted_layer(dept, air_db):
    site = a_feature(air_db, "polluted_sites")
    r = dept.get(url_at("polluted_sites", site))
    assert r.status_code == 200
    assert site["code"] in {f["properties"]["code"] for f in features(r.data, "polluted_sites")}
    assert r.headers["Cache-Control"] == "private, no-cache"
    assert dept.get("/tiles/polluted_sites.json").status_code == 200


def test_parks_authority_sees_internal_but_not_restricted(parks_authority, air_db):
    zone = a_feature(air_db, "park_zones")
    r = parks_authority.get(url_at("park_zones", zone))
    assert r.status_code == 200 and zone["code"] in {f["properties"]["zone_code"] for f in features(r.data, "park_zones")}
    site = a_feature(air_db, "polluted_sites")
    assert parks_authority.get(url_at("polluted_sites", site)).status_code == 404


def test_second_request_is_a_cache_hit_and_revalidation_is_304(client, app, air_db):
    cache = tile_state(app.server).cache
    url = url_at("industrial_parks", a_feature(air_db, "industrial_parks"), z=13)
    first = client.get(url)
    hits, misses = cache.hits, cache.misses
    second = client.get(url)
    assert second.data == first.data and cache.hits == hits + 1 and cache.misses == misses
    again = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


def _park_geojson(path, lon: float, lat: float) -> None:  # type: ignore[no-untyped-def]
    d = 0.0008  # ~90 m: inside the same z14 tile as the existing park's point
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d], [lon - d, lat - d]]
    feature = {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [ring]},
               "properties": {"code": "TILE-TEST-1", "name_vi": "KCN thử tile", "operating_status": "planned"}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}), encoding="utf-8")


def test_an_ingest_changes_the_next_tile(client, app, air_db, tmp_path, ingest_settings, area):
    park = a_feature(air_db, "industrial_parks")
    url = url_at("industrial_parks", park)
    before = client.get(url)
    assert client.get(url).data == before.data  # now cached under the current version
    src = tmp_path / "one_park.geojson"
    _park_geojson(src, park["lon"], park["lat"])
    result = ingest_file(air_db, REGISTRY.get("industrial_parks"), src, LoadOptions(),
                         ingest_settings=ingest_settings, area=area)
    assert result.ok and result.inserted == 1, result
    try:
        after = client.get(url)
        assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
        assert "TILE-TEST-1" in {f["properties"]["code"] for f in features(after.data, "industrial_parks")}
        stale = client.get(url, headers={"If-None-Match": before.headers["ETag"]})
        assert stale.status_code == 200  # the old ETag no longer validates
    finally:
        with raw_connection(air_db) as conn:  # leave the package's dataset as the other modules expect it
            revert(conn, result.run_id, "pytest")
    assert "TILE-TEST-1" not in {f["properties"]["code"] for f in features(client.get(url).data,
                                                                            "industrial_parks")}


def test_tilejson_urls_are_absolute_and_describe_the_layer(client):
    doc = client.get("/tiles/industrial_parks.json").get_json()
    assert doc["tilejson"] == "3.0.0"
    url = urlparse(doc["tiles"][0])
    assert url.scheme == "http" and url.netloc == "localhost"
    assert url.path == "/tiles/industrial_parks/{z}/{x}/{y}.pbf"
    layer = doc["vector_layers"][0]
    assert layer["id"] == "industrial_parks"
    assert set(layer["fields"]) == set(REGISTRY.get("industrial_parks").field_names)
    west, south, east, north = doc["bounds"]
    assert 106.0 < west < east < 107.5 and 10.5 < south < north < 11.8
    assert 0 <= doc["minzoom"] < doc["maxzoom"] <= 22


def test_tilejson_uses_the_configured_public_url(app_settings, client):
    from dataclasses import replace

    from dashboards.app import create_app
    from geo.settings import WebSettings

    web = WebSettings(basemap="blank", threads=2, public_url="https://gis.example.vn/platform/")
    other = create_app(replace(app_settings, web=web))
    doc = other.server.test_client().get("/tiles/industrial_parks.json").get_json()
    assert doc["tiles"] == ["https://gis.example.vn/platform/tiles/industrial_parks/{z}/{x}/{y}.pbf"]


def test_tilejson_url_serves_tiles_over_http(server_url, air_db):
    doc = requests.get(f"{server_url}/tiles/industrial_parks.json", timeout=10).json()
    park = a_feature(air_db, "industrial_parks")
    x, y = tile_of(park["lon"], park["lat"], 12)
    r = requests.get(doc["tiles"][0].format(z=12, x=x, y=y), timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == MVT_TYPE
    assert park["code"] in {f["properties"]["code"] for f in features(r.content, "industrial_parks")}


def test_version_clock_never_answers_with_a_version_older_than_the_call(app, air_db):
    """Concurrent callers share reads, yet each sees every version committed before it asked."""
    clock, key = tile_state(app.server).clock, "pytest_clock_probe"  # not a layer: ingest versions untouched
    stale: list[tuple[int, int]] = []

    def bump_then_read() -> None:
        for _ in range(15):
            with air_db.begin() as conn:
                committed = conn.execute(text(
                    "INSERT INTO data_versions (layer, version) VALUES (:k, 1) ON CONFLICT (layer) DO UPDATE "
                    "SET version = data_versions.version + 1 RETURNING version"), {"k": key}).scalar()
            seen = clock.current().get(key, 0)
            if seen < committed:
                stale.append((seen, committed))

    reads = clock.reads
    try:
        workers = [threading.Thread(target=bump_then_read) for _ in range(8)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        with air_db.begin() as conn:
            conn.execute(text("DELETE FROM data_versions WHERE layer = :k"), {"k": key})
    assert stale == [] and 0 < clock.reads - reads <= 8 * 15
