"""OGC API – Features under /ogc: a real client (OWSLib), access per role, paging, filters, refusals."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from owslib.ogcapi.features import Features
from sqlalchemy import text

from dashboards.auth import SESSION_COOKIE
from geo.users import add_user

PUBLIC, RESTRICTED = "monitoring_stations", "polluted_sites"
CONF_CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
DEPT_USER, DEPT_PASSWORD = "ogc_department", "a long enough passphrase"


@pytest.fixture(scope="module")
def client(app):
    return app.server.test_client()


@pytest.fixture(scope="module")
def ogc_url(server_url: str) -> str:
    return f"{server_url}/ogc"


@pytest.fixture(scope="module")
def dept_cookie(server_url: str, air_db) -> dict[str, str]:
    """Log in as a browser does: GET the form (login CSRF cookie + hidden field), then POST it."""
    add_user(air_db, DEPT_USER, DEPT_PASSWORD, "department")
    with requests.Session() as browser:
        form = browser.get(f"{server_url}/login", timeout=10)
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        resp = browser.post(f"{server_url}/login", data={"csrf_token": csrf, "next": "/", "username": DEPT_USER,
                                                         "password": DEPT_PASSWORD}, allow_redirects=False, timeout=10)
        assert resp.status_code == 302, resp.text
        return {"Cookie": f"{SESSION_COOKIE}={browser.cookies[SESSION_COOKIE]}"}


def _db_rows(engine, table: str) -> dict[int, dict]:
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT id, code, ST_X(ST_Centroid(geom)) AS x, ST_Y(ST_Centroid(geom)) AS y "
                                 f"FROM {table} ORDER BY id")).mappings().all()
    return {r["id"]: dict(r) for r in rows}


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def test_owslib_lists_public_collections_without_the_restricted_one(ogc_url):
    api = Features(ogc_url)
    ids = {c["id"] for c in api.collections()["collections"]}
    assert PUBLIC in ids and "industrial_parks" in ids
    assert RESTRICTED not in ids
    meta = api.collection(PUBLIC)
    assert meta["itemType"] == "feature" and meta["title"] == "Trạm/điểm quan trắc"
    assert "Monitoring stations" in meta["description"]
    minx, miny, maxx, maxy = meta["extent"]["spatial"]["bbox"][0]
    assert 105 < minx <= maxx < 108 and 10 < miny <= maxy < 12


def test_owslib_reads_public_items_that_match_postgis(ogc_url, air_db):
    fc = Features(ogc_url).collection_items(PUBLIC, limit=10000)
    expected = _db_rows(air_db, PUBLIC)
    assert fc["type"] == "FeatureCollection"
    assert fc["numberMatched"] == fc["numberReturned"] == len(expected) > 0
    for feat in fc["features"]:
        row = expected[feat["id"]]
        assert feat["properties"]["code"] == row["code"]
        assert feat["geometry"]["type"] == "Point"
        assert feat["geometry"]["coordinates"] == pytest.approx([row["x"], row["y"]], abs=1e-6)
    spec_fields = {"code", "name_vi", "name_en", "medium", "mode", "operator", "status", "park_code",
                   "commissioned_on", "source", "notes"}
    assert spec_fields <= set(fc["features"][0]["properties"])


def test_owslib_reads_one_feature(ogc_url, air_db):
    fid = next(iter(_db_rows(air_db, PUBLIC)))
    feat = Features(ogc_url).collection_item(PUBLIC, str(fid))
    assert feat["type"] == "Feature" and feat["id"] == fid


def test_restricted_collection_is_404_without_login(server_url, ogc_url, air_db):
    assert _count(air_db, RESTRICTED) > 0  # the layer exists and has data: the 404 is the access rule
    for path in ("", "/items", "/items/1"):
        resp = requests.get(f"{ogc_url}/collections/{RESTRICTED}{path}", timeout=10)
        unknown = requests.get(f"{ogc_url}/collections/no_such_layer{path}", timeout=10)
        assert resp.status_code == unknown.status_code == 404
        assert resp.json() == unknown.json()  # nothing tells a visitor that the layer exists


def test_department_session_lists_and_reads_restricted(ogc_url, dept_cookie, air_db):
    api = Features(ogc_url, headers=dept_cookie)
    assert RESTRICTED in {c["id"] for c in api.collections()["collections"]}
    fc = api.collection_items(RESTRICTED, limit=10000)
    assert fc["numberMatched"] == _count(air_db, RESTRICTED)
    assert {f["id"] for f in fc["features"]} == set(_db_rows(air_db, RESTRICTED))
    doc = requests.get(f"{ogc_url}/api", headers=dept_cookie, timeout=10).json()
    assert f"/collections/{RESTRICTED}/items" in doc["paths"]


def test_paging_follows_next_links(ogc_url, air_db):
    total = _count(air_db, PUBLIC)
    seen: list[int] = []
    url = f"{ogc_url}/collections/{PUBLIC}/items?limit=3"
    pages = 0
    while url:
        page = requests.get(url, timeout=10).json()
        assert page["numberReturned"] == len(page["features"]) <= 3
        assert page["numberMatched"] == total
        seen += [f["id"] for f in page["features"]]
        url = next((lk["href"] for lk in page["links"] if lk["rel"] == "next"), None)
        assert url is None or url.startswith("http")  # absolute links
        pages += 1
    assert sorted(seen) == sorted(_db_rows(air_db, PUBLIC)) and len(seen) == len(set(seen))
    assert pages == -(-total // 3)


def test_offset_and_prev_link(client, air_db):
    ids = sorted(_db_rows(air_db, PUBLIC))
    page = client.get(f"/ogc/collections/{PUBLIC}/items?limit=2&offset=2").get_json()
    assert [f["id"] for f in page["features"]] == ids[2:4]
    prev = next(lk["href"] for lk in page["links"] if lk["rel"] == "prev")
    assert parse_qs(urlparse(prev).query)["offset"] == ["0"]


def test_bbox_filter_matches_postgis(client, air_db):
    box = (106.6, 10.9, 106.75, 11.05)
    with air_db.connect() as conn:
        expected = {r[0] for r in conn.execute(text(
            f"SELECT id FROM {PUBLIC} WHERE ST_Intersects(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))"),
            dict(zip("abcd", box)))}
    fc = client.get(f"/ogc/collections/{PUBLIC}/items?limit=10000&bbox={','.join(map(str, box))}").get_json()
    assert {f["id"] for f in fc["features"]} == expected
    assert fc["numberMatched"] == len(expected)


def test_attribute_filter(client, air_db):
    with air_db.connect() as conn:
        expected = {r[0] for r in conn.execute(text(f"SELECT id FROM {PUBLIC} WHERE medium = 'air'"))}
    fc = client.get(f"/ogc/collections/{PUBLIC}/items?medium=air&limit=10000").get_json()
    assert expected and {f["id"] for f in fc["features"]} == expected


@pytest.mark.parametrize("query, name", [
    ("limit=0", "limit"), ("limit=abc", "limit"), ("limit=-5", "limit"), ("offset=-1", "offset"),
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=106,11,105,12", "bbox"), ("bbox=0,0,200,1", "bbox"),
    ("bbox=nan,0,1,1", "bbox"), ("bbox-crs=EPSG:3857&bbox=0,0,1,1", "bbox-crs"), ("no_such_field=1", "no_such_field"),
    ("geom=x", "geom"), ("id=1", "id"), ("commissioned_on=yesterday", "commissioned_on"),
    ("datetime=not-a-date", "datetime"), ("datetime=2025-02-01T00:00:00Z/2025-01-01T00:00:00Z", "datetime"),
    ("code=a&code=b", "code"), ("f=xml", "f"),
])
def test_invalid_parameters_are_400_in_both_languages(client, query, name):
    resp = client.get(f"/ogc/collections/{PUBLIC}/items?{query}")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["name"] == name and body["error"]["vi"].startswith("Tham số") \
        and body["error"]["en"].startswith("Parameter")


def test_limit_above_maximum_is_capped(client):
    fc = client.get(f"/ogc/collections/{PUBLIC}/items?limit=999999").get_json()
    assert fc["numberReturned"] <= 10000


@pytest.mark.parametrize("value", ["' OR '1'='1", "x'; DROP TABLE monitoring_stations; --", "%' OR 1=1 --",
                                   "\\'; SELECT pg_sleep(5); --", "\"code\""])
def test_sql_metacharacters_in_filters_match_nothing_and_change_nothing(client, air_db, value):
    before = _count(air_db, PUBLIC)
    resp = client.get(f"/ogc/collections/{PUBLIC}/items", query_string={"code": value})
    assert resp.status_code == 200
    assert resp.get_json()["numberMatched"] == 0
    assert _count(air_db, PUBLIC) == before


@pytest.mark.parametrize("path", [
    "/ogc/collections/monitoring_stations';--/items", "/ogc/collections/polluted_sites%20OR%201=1/items",
    "/ogc/collections/monitoring_stations/items/1%20OR%201=1", "/ogc/collections/monitoring_stations/items/-1",
    "/ogc/collections/monitoring_stations/items/99999999999999999999999",
])
def test_tampered_paths_are_404(client, path):
    assert client.get(path).status_code == 404


def test_datetime_on_last_update(client, air_db):
    total = _count(air_db, PUBLIC)
    since = client.get(f"/ogc/collections/{PUBLIC}/items?datetime=2000-01-01T00:00:00Z/..").get_json()
    before = client.get(f"/ogc/collections/{PUBLIC}/items?datetime=../2000-01-01T00:00:00Z").get_json()
    assert since["numberMatched"] == total and before["numberMatched"] == 0


def test_landing_page_has_what_qgis_needs(ogc_url):
    landing = requests.get(f"{ogc_url}/", timeout=10).json()
    links = {lk["rel"]: lk for lk in landing["links"]}
    assert links["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    assert {"self", "service-doc", "conformance", "data"} <= set(links)
    assert all(lk["href"].startswith(ogc_url) for lk in landing["links"])
    doc = requests.get(links["service-desc"]["href"], timeout=10)
    assert doc.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    assert doc.json()["openapi"].startswith("3.0")
    collection_id = doc.json()["paths"]["/collections/{collectionId}"]["get"]["parameters"][0]
    assert PUBLIC in collection_id["schema"]["enum"] and RESTRICTED not in collection_id["schema"]["enum"]
    assert requests.get(f"{ogc_url}", timeout=10).json()["links"] == landing["links"]


def test_conformance_lists_core_geojson_oas30(ogc_url):
    conforms = Features(ogc_url).conformance()["conformsTo"]
    assert CONF_CORE in conforms
    assert any(c.endswith("/conf/geojson") for c in conforms) and any(c.endswith("/conf/oas30") for c in conforms)


def test_items_are_geojson_media_type(client):
    resp = client.get(f"/ogc/collections/{PUBLIC}/items?limit=1")
    assert resp.mimetype == "application/geo+json"
