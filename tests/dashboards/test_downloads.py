"""Layer downloads: every format for every role, the same safe filter as the map, hostile parameters refused."""
from __future__ import annotations

import json
import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from dashboards.downloads import frame_from_bytes
from geo.users import AccountError, add_user, set_password

PASSWORD = "downloads-test-password"
FORMATS = ("geojson", "gpkg", "csv")
# One layer per access level (registry defaults): public, internal, restricted.
LAYERS = {"public": "industrial_parks", "internal": "forest_areas", "restricted": "polluted_sites"}
SEES = {"anonymous": {"public"}, "public": {"public"}, "ip_authority": {"public", "internal"},
        "department": {"public", "internal", "restricted"}}


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    form = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 302, r.data


@pytest.fixture(scope="module")
def clients(app, air_db) -> dict:
    out = {"anonymous": app.server.test_client()}
    for role in ("public", "ip_authority", "department"):
        username = f"dl_{role}"
        try:
            add_user(air_db, username, PASSWORD, role)
        except AccountError:  # left by an earlier run against the same database
            set_password(air_db, username, PASSWORD)
        out[role] = app.server.test_client()
        _login(out[role], username)
    return out


def _count(engine, table: str, where: str = "TRUE", **params) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(text(f"SELECT count(*) FROM {table} WHERE {where}"), params).scalar_one()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("level", list(LAYERS))
@pytest.mark.parametrize("role", list(SEES))
def test_download_matrix(clients, air_db, role: str, level: str, fmt: str):
    layer = LAYERS[level]
    r = clients[role].get(f"/download/{layer}.{fmt}")
    if level not in SEES[role]:
        assert r.status_code == 404
        assert layer.encode() not in r.data  # the refusal says nothing about the layer
        return
    assert r.status_code == 200, r.data[:300]
    frame = frame_from_bytes(r.data, fmt)
    assert len(frame) == _count(air_db, layer)
    assert frame.geometry.notna().all() and "code" in frame.columns


def test_filename_has_layer_and_local_date_and_is_an_attachment(clients):
    r = clients["department"].get("/download/polluted_sites.gpkg")
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    assert r.headers["Content-Disposition"] == f'attachment; filename="polluted_sites_{today}.gpkg"'
    assert r.headers["Cache-Control"] == "private, no-store"
    assert r.data[:16] == b"SQLite format 3\x00"


@pytest.mark.parametrize("fmt", ("geojson", "csv"))
def test_vietnamese_text_survives_as_utf8(clients, air_db, fmt: str):
    with air_db.connect() as conn:
        names = set(conn.execute(text("SELECT name_vi FROM industrial_parks")).scalars())
    r = clients["anonymous"].get(f"/download/industrial_parks.{fmt}")
    assert "utf-8" in r.headers["Content-Type"] or fmt == "geojson"
    r.data.decode("utf-8")  # strict: raises on anything that is not UTF-8
    assert set(frame_from_bytes(r.data, fmt)["name_vi"]) == names
    assert any(ch in "".join(names) for ch in "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")


def test_csv_geometry_is_wkt(clients):
    body = clients["ip_authority"].get("/download/forest_areas.csv").data.decode("utf-8-sig")
    header, first = body.splitlines()[:2]
    assert header.split(",")[-1] == "wkt" and "MULTIPOLYGON" in first


def test_filter_and_bbox_and_date_apply(clients, air_db):
    with air_db.connect() as conn:
        code = conn.execute(text("SELECT code FROM industrial_parks ORDER BY id LIMIT 1")).scalar_one()
    one = json.loads(clients["anonymous"].get(f"/download/industrial_parks.geojson?field=code&op=eq&value={code}").data)
    assert [f["properties"]["code"] for f in one["features"]] == [code]
    before = json.loads(clients["anonymous"].get("/download/admin_units.geojson?date=2025-06-30").data)
    after = json.loads(clients["anonymous"].get("/download/admin_units.geojson?date=2025-07-01").data)
    assert {f["properties"]["level"] for f in before["features"]} == {"province", "district"}
    assert {f["properties"]["level"] for f in after["features"]} == {"province", "commune"}
    far = json.loads(clients["anonymous"].get("/download/industrial_parks.geojson?bbox=100,20,100.1,20.1").data)
    assert far["features"] == []


@pytest.mark.parametrize("value", ["x' OR '1'='1", "'; DROP TABLE industrial_parks; --", "%", "_", "\\",
                                   "a\x00b", "$1", ":fv"])
def test_sql_metacharacters_in_values_are_data(clients, air_db, value: str):
    for op in ("eq", "contains", "in"):
        r = clients["anonymous"].get("/download/industrial_parks.csv",
                                     query_string={"field": "code", "op": op, "value": value})
        if r.status_code == 200:
            assert len(frame_from_bytes(r.data, "csv")) == 0, (op, value)
        else:  # control characters (NUL) are refused: a clean 400, never a 500
            assert r.status_code == 400, (op, value, r.data[:200])
    assert _count(air_db, "industrial_parks") > 0  # and the table is still there


@pytest.mark.parametrize("query", [
    {"field": "code; DROP TABLE industrial_parks", "op": "eq", "value": "x"},
    {"field": "geom", "op": "eq", "value": "x"},
    {"field": "ingest_run_id", "op": "eq", "value": "1"},
    {"field": '"code"', "op": "eq", "value": "x"},
    {"field": "code", "op": "= 1 OR 1=1 --", "value": "x"},
    {"field": "code", "op": "LIKE", "value": "x"},
    {"field": "occupancy_pct", "op": "gt", "value": "1 OR 1=1"},
    {"field": "established_on", "op": "lt", "value": "2020-01-01; DROP TABLE x"},
    {"field": "code", "op": "eq", "value": "x" * 500},
    {"bbox": "1,2,3"}, {"bbox": "a,b,c,d"}, {"bbox": "10,10,5,5"}, {"bbox": "nan,0,1,1"},
    {"date": "2025-13-40"}, {"date": "'; --"},
])
def test_bad_parameters_are_refused_with_a_message(clients, query: dict):
    r = clients["anonymous"].get("/download/industrial_parks.geojson", query_string=query)
    assert r.status_code == 400
    body = r.get_json()
    assert set(body["error"]) == {"vi", "en"} and all(body["error"].values())


@pytest.mark.parametrize("path", ["/download/polluted_sites'--.geojson", "/download/industrial_parks.shp",
                                  "/download/industrial_parks", "/download/no_such_layer.csv",
                                  "/download/users.csv"])
def test_unknown_layers_and_formats_are_404(clients, path: str):
    assert clients["department"].get(path).status_code == 404


def test_path_traversal_is_not_a_download(clients):
    # '..%2F' is decoded and normalised before routing: the request never reaches the download route.
    r = clients["department"].get("/download/..%2Fsessions.csv")
    assert "Content-Disposition" not in r.headers and b"token_hash" not in r.data


def test_filter_on_a_hidden_layer_is_still_404(clients):
    r = clients["ip_authority"].get("/download/polluted_sites.csv?field=code&op=contains&value=a")
    assert r.status_code == 404
