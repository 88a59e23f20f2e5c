"""Role × path matrix: for every role and every kind of path, data is served exactly when the role may see it."""
from __future__ import annotations

import math
import re

import pytest
from sqlalchemy import text

from geo import users
from geo.access import Role, can_see

PASSWORD = "matrix password 1"
ROLES = [Role.ANONYMOUS, Role.PUBLIC, Role.IP_AUTHORITY, Role.DEPARTMENT, Role.ADMIN]
LAYERS = {"industrial_parks": "public", "park_zones": "internal", "polluted_sites": "restricted"}
STAFF_PAGES = ["/department", "/eip", "/targets"]


@pytest.fixture(scope="module")
def clients(app, air_db):
    with air_db.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username LIKE 'matrix-%'"))
    out = {Role.ANONYMOUS: app.server.test_client()}
    for role in ROLES[1:]:
        users.add_user(air_db, f"matrix-{role.value}", PASSWORD, role.value)
        client = app.server.test_client()
        form = client.get("/login").data.decode()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        r = client.post("/login", data={"csrf_token": token, "username": f"matrix-{role.value}",
                                        "password": PASSWORD, "next": "/"})
        assert r.status_code == 302, role
        out[role] = client
    return out


def _tile_of(air_db, layer: str, z: int = 12) -> tuple[int, int, int]:
    with air_db.connect() as conn:
        lon, lat = conn.execute(text(f"SELECT ST_X(c), ST_Y(c) FROM (SELECT ST_PointOnSurface(geom) c "
                                     f"FROM {layer} ORDER BY id LIMIT 1) s")).one()
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


def _paths(air_db, layer: str) -> dict[str, str]:
    z, x, y = _tile_of(air_db, layer)
    return {"tile": f"/tiles/{layer}/{z}/{x}/{y}.pbf", "tilejson": f"/tiles/{layer}.json",
            "download": f"/download/{layer}.geojson", "ogc-items": f"/ogc/collections/{layer}/items?limit=5",
            "ogc-collection": f"/ogc/collections/{layer}"}


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("layer", list(LAYERS))
@pytest.mark.parametrize("kind", ["tile", "tilejson", "download", "ogc-items", "ogc-collection"])
def test_layer_paths(clients, air_db, role, layer, kind):
    path = _paths(air_db, layer)[kind]
    r = clients[role].get(path)
    if can_see(role, LAYERS[layer]):
        assert r.status_code == 200, (role, layer, kind, r.status_code)
        assert len(r.data) > 0
    else:
        assert r.status_code == 404, (role, layer, kind, r.status_code)
        # Indistinguishable from a layer that does not exist: nothing says the restricted one is there.
        unknown = clients[role].get(path.replace(layer, "no_such_layer"))
        assert (unknown.status_code, unknown.data) == (404, r.data)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_collection_lists_show_only_visible_layers(clients, role):
    listed = {c["id"] for c in clients[role].get("/ogc/collections").get_json()["collections"]}
    for layer, level in LAYERS.items():
        assert (layer in listed) == can_see(role, level), (role, layer)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("page", STAFF_PAGES + ["/"])
def test_pages(clients, role, page):
    r = clients[role].get(page)
    if page == "/" or role in (Role.IP_AUTHORITY, Role.DEPARTMENT, Role.ADMIN):
        assert r.status_code == 200, (role, page)
    elif role is Role.ANONYMOUS:
        assert r.status_code == 302 and "/login" in r.headers["Location"]
    else:
        assert r.status_code == 403


def _forged_callback(client, prefix_output: str):  # type: ignore[no-untyped-def]
    csrf = client.get_cookie("_csrf_token")
    headers = {"X-CSRFToken": csrf.value} if csrf else {}
    body = {"output": f"{prefix_output}.children", "outputs": {"id": prefix_output, "property": "children"},
            "inputs": [], "changedPropIds": [], "state": []}
    return client.post("/_dash-update-component", json=body, headers=headers)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
@pytest.mark.parametrize("output", ["dept-identify", "eip-scorecard", "targets-cards"])
def test_internal_callbacks_refused_below_staff(clients, role, output):
    r = _forged_callback(clients[role], output)
    if role in (Role.ANONYMOUS, Role.PUBLIC):
        assert r.status_code == 403, (role, output)
    else:
        assert r.status_code != 403, (role, output)


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.value)
def test_public_api_open_to_all(clients, role):
    assert clients[role].get("/api/v1/stations").status_code == 200
