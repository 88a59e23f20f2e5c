"""The department map: figure, query and filter functions; page and callback guards; a browser walk-through."""
from __future__ import annotations

import json
import re
from datetime import date

import pytest
from flask import g
from sqlalchemy import text

from dashboards import layers_data
from dashboards.figures.layer_map import LARGE_LAYER, layer_draw, layer_map, map_layers, tile_url, use_tiles
from dashboards.i18n import catalogue
from dashboards.pages import department_map as dm
from geo.access import Role
from geo.users import AccountError, User, add_user, set_password
from layers import REGISTRY

PASSWORD = "department-map-password"
BEFORE, AFTER = date(2025, 6, 30), date(2025, 7, 1)


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    form = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 302, r.data


def ensure_user(engine, username: str, role: str) -> None:  # type: ignore[no-untyped-def]
    try:
        add_user(engine, username, PASSWORD, role, "Cán bộ thử nghiệm")
    except AccountError:  # left by an earlier run against the same database
        set_password(engine, username, PASSWORD)


@pytest.fixture(scope="module")
def actx(app):
    return app.server.config["GEO_CONTEXT"]


@pytest.fixture
def as_role(app):
    """Run plain functions inside a request as a given role (what the guard and visible_layers read)."""
    def enter(role: Role):  # type: ignore[no-untyped-def]
        ctx = app.server.test_request_context("/department")
        ctx.push()
        g.user = None if role is Role.ANONYMOUS else User(0, "t", None, role, False)
        g.session = None
        return ctx
    contexts = []
    yield lambda role: contexts.append(enter(role))
    for ctx in reversed(contexts):
        ctx.pop()


def _inside(engine, layer: str, where: str = "TRUE") -> dict:  # type: ignore[no-untyped-def]
    """A point inside the first matching feature (ST_PointOnSurface is inside even for odd polygons)."""
    with engine.connect() as conn:
        return dict(conn.execute(text(
            f"SELECT id, code, ST_X(p) AS lon, ST_Y(p) AS lat FROM (SELECT id, code, ST_PointOnSurface(geom) AS p "
            f"FROM {layer} WHERE {where} ORDER BY id LIMIT 1) s")).mappings().one())


# --- filters ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("field,op,value,key", [
    ("code; DROP TABLE industrial_parks", "eq", "x", "dept.filter.bad_field"),
    ("geom", "eq", "x", "dept.filter.bad_field"),
    ("id", "eq", "1", "dept.filter.bad_field"),
    (None, "eq", "x", "dept.filter.bad_field"),
    ("code", "OR 1=1", "x", "dept.filter.bad_op"),
    ("code", "like", "x", "dept.filter.bad_op"),
    ("occupancy_pct", "gt", "1 OR 1=1", "dept.filter.bad_value"),
    ("occupancy_pct", "gt", "inf", "dept.filter.bad_value"),
    ("established_on", "lt", "2020-02-30", "dept.filter.bad_value"),
    ("code", "eq", "   ", "dept.filter.empty"),
    ("code", "in", ", ,", "dept.filter.empty"),
    ("code", "eq", "x" * 201, "dept.filter.too_long"),
    ("code", "eq", "a\x00b", "dept.filter.bad_value"),
])
def test_bad_filters_are_refused_with_a_catalogue_message(field, op, value, key):
    with pytest.raises(layers_data.FilterError) as err:
        layers_data.parse_filter("industrial_parks", field, op, value)
    assert err.value.key == key
    assert key in catalogue("vi") and key in catalogue("en")


def test_filter_values_are_converted_to_the_field_type():
    assert layers_data.parse_filter("forest_areas", "year", "gt", " 2010 ").value == 2010
    assert layers_data.parse_filter("industrial_parks", "occupancy_pct", "lt", "85,5").value == 85.5
    assert layers_data.parse_filter("industrial_parks", "established_on", "gt", "2005-01-01").value == date(2005, 1, 1)
    assert layers_data.parse_filter("industrial_parks", "code", "in", "A, B,C").value == ["A", "B", "C"]
    with pytest.raises(layers_data.FilterError):
        layers_data.parse_filter("no_such_layer", "code", "eq", "x")


@pytest.mark.parametrize("op", list(layers_data.OPERATORS))
@pytest.mark.parametrize("value", ["x' OR '1'='1", "'; DROP TABLE users; --", "%", "_", ":fv", "\\'"])
def test_metacharacters_never_reach_the_sql_text(op, value):
    params: dict = {}
    sql = layers_data.filter_sql(layers_data.parse_filter("industrial_parks", "code", op, value), params)
    benign = layers_data.filter_sql(layers_data.parse_filter("industrial_parks", "code", op, "benign"), {})
    assert sql == benign and "fv" in params  # the SQL text does not depend on the value at all


@pytest.mark.parametrize("value", ["x' OR '1'='1", "%", "_", "'; SELECT * FROM users; --"])
def test_metacharacter_values_match_nothing_and_leak_nothing(actx, value):
    for op in ("eq", "contains", "in"):
        flt = layers_data.parse_filter("industrial_parks", "code", op, value)
        assert len(layers_data.download_frame(actx.engine, "industrial_parks", flt)) == 0


def test_contains_and_in_find_the_right_features(actx):
    codes = list(layers_data.download_frame(actx.engine, "industrial_parks")["code"])
    some = layers_data.parse_filter("industrial_parks", "code", "in", ",".join(codes[:2]))
    assert sorted(layers_data.download_frame(actx.engine, "industrial_parks", some)["code"]) == sorted(codes[:2])
    part = codes[0][-3:].lower()
    found = layers_data.download_frame(actx.engine, "industrial_parks",
                                       layers_data.parse_filter("industrial_parks", "code", "contains", part))
    assert codes[0] in set(found["code"])


# --- display data and figure ---------------------------------------------------------------------------------

def test_boundary_version_switch_picks_units_in_force(actx):
    def levels(on: date) -> set:
        fc = layers_data.display_geojson(actx.engine, "admin_units", None, 9, on=on)
        return {f["properties"]["label"] for f in fc["features"]}, len(fc["features"])
    (before, n_before), (after, n_after) = levels(BEFORE), levels(AFTER)
    with actx.engine.connect() as conn:
        exp = dict(conn.execute(text("SELECT valid_from < DATE '2025-07-01', count(*) FROM admin_units "
                                     "GROUP BY 1")).all())
    assert (n_before, n_after) == (exp[True], exp[False]) and before != after


def test_geojson_is_limited_to_the_view_and_simplified_by_zoom(actx):
    all_parks = layers_data.display_geojson(actx.engine, "industrial_parks", None, 9)
    far = layers_data.display_geojson(actx.engine, "industrial_parks", (100.0, 20.0, 100.1, 20.1), 9)
    assert len(all_parks["features"]) == layers_data.feature_count(actx.engine, "industrial_parks") and not far["features"]
    coarse = json.dumps(layers_data.display_geojson(actx.engine, "admin_units", None, 2, on=AFTER))
    fine = json.dumps(layers_data.display_geojson(actx.engine, "admin_units", None, 16, on=AFTER))
    assert coarse.count(",") < fine.count(",")


def test_small_layers_are_drawn_from_geojson(actx, as_role):
    as_role(Role.DEPARTMENT)
    draws = dm.draws(actx, dm.allowed_layers(actx, REGISTRY.names()), AFTER, None, None, None)
    fig = layer_map(draws, "blank")
    sources = {layer["sourcetype"] for layer in fig.layout.map.layers}
    assert sources == {"geojson"} and {d.name for d in draws} == set(REGISTRY.names())
    kinds = {(layer["name"], layer["type"]) for layer in fig.layout.map.layers}
    assert ("monitoring_stations", "circle") in kinds and ("forest_areas", "fill") in kinds
    assert ("water_bodies", "line") in kinds


def test_a_large_layer_uses_an_absolute_tile_url(actx, as_role):
    as_role(Role.DEPARTMENT)
    assert use_tiles(LARGE_LAYER + 1, "http://x.vn") and not use_tiles(LARGE_LAYER + 1, None)
    assert not use_tiles(LARGE_LAYER, "http://x.vn")
    n = layers_data.feature_count(actx.engine, "park_zones")
    draws = dm.draws(actx, ["park_zones", "admin_units"], AFTER, None, None, "http://maps.example.vn/",
                     threshold=n - 1)
    fig = layer_map(draws, "blank")
    vector = [layer for layer in fig.layout.map.layers if layer["sourcetype"] == "vector"]
    assert vector and all(layer["name"] == "park_zones" for layer in vector)
    assert vector[0]["source"] == ("http://maps.example.vn/tiles/park_zones/{z}/{x}/{y}.pbf",)
    assert vector[0]["sourcelayer"] == "park_zones"
    assert {layer["sourcetype"] for layer in fig.layout.map.layers if layer["name"] == "admin_units"} == {"geojson"}
    with pytest.raises(ValueError):
        tile_url("/relative", "park_zones")


def test_tile_url_carries_the_filter(actx):
    flt = layers_data.parse_filter("industrial_parks", "code", "eq", "a&b=c")
    url = tile_url("https://x.vn", "park_zones", query=dm.filter_query(flt, None))
    assert url.startswith("https://x.vn/tiles/park_zones/{z}/{x}/{y}.pbf?") and "a%26b%3Dc" in url


def test_mixed_geometry_layers_get_one_maplibre_layer_per_family(actx):
    spec = REGISTRY.get("polluted_sites")
    fc = layers_data.display_geojson(actx.engine, "polluted_sites", None, 10)
    types = {layer["type"] for layer in map_layers(layer_draw(spec, geojson=fc))}
    assert types == {"fill", "line", "circle"}


# --- identify, history, source run ---------------------------------------------------------------------------

def test_identify_finds_the_feature_with_attributes_history_and_source(actx, as_role):
    as_role(Role.DEPARTMENT)
    park = _inside(actx.engine, "industrial_parks")
    panel, geometry = dm.identify_panel(actx, {"lon": park["lon"], "lat": park["lat"], "zoom": 14},
                                        ["industrial_parks", "admin_units"], AFTER, None, "vi")
    html = str(panel)
    assert park["code"] in html and "Chủ đầu tư hạ tầng" in html  # the registry's Vietnamese field title
    assert "thêm mới" in html and "industrial_parks.geojson" in html and "SHA-256" in html
    assert geometry["type"] == "MultiPolygon"
    english = str(dm.identify_panel(actx, {"lon": park["lon"], "lat": park["lat"], "zoom": 14},
                                    ["industrial_parks"], AFTER, None, "en")[0])
    assert "Infrastructure developer" in english and "inserted" in english


def test_identify_tolerance_follows_zoom(actx):
    station = _inside(actx.engine, "monitoring_stations")
    lon = station["lon"] + 0.0015  # about 160 m east
    near = layers_data.identify(actx.engine, ["monitoring_stations"], lon, station["lat"],
                                layers_data.tolerance_m(9, station["lat"]))
    assert station["id"] in [h["id"] for h in near]
    assert not layers_data.identify(actx.engine, ["monitoring_stations"], lon, station["lat"],
                                    layers_data.tolerance_m(17, station["lat"]))
    assert layers_data.tolerance_m(9, 11) > 50 * layers_data.tolerance_m(16, 11)


def test_identify_never_shows_a_layer_the_user_may_not_see(actx, as_role):
    as_role(Role.IP_AUTHORITY)
    site = _inside(actx.engine, "polluted_sites")
    # A forged callback input asking for the restricted layer: the server drops it.
    panel, _ = dm.identify_panel(actx, {"lon": site["lon"], "lat": site["lat"], "zoom": 14},
                                 ["polluted_sites"], AFTER, None, "vi")
    assert site["code"] not in str(panel)
    assert dm.allowed_layers(actx, ["polluted_sites", "forest_areas", "users"]) == ["forest_areas"]


def test_identify_respects_the_boundary_version_and_the_filter(actx, as_role):
    as_role(Role.DEPARTMENT)
    park = _inside(actx.engine, "industrial_parks")
    levels = lambda on: {h["attributes"]["level"] for h in layers_data.identify(  # noqa: E731
        actx.engine, ["admin_units"], park["lon"], park["lat"], 10, on=on)}
    assert levels(BEFORE) == {"province", "district"} and levels(AFTER) == {"province", "commune"}
    hits = layers_data.identify(actx.engine, ["admin_units", "industrial_parks"], park["lon"], park["lat"], 10,
                                on=BEFORE)
    assert [h["attributes"].get("level", h["layer"]) for h in hits] == ["industrial_parks", "district", "province"]
    other = layers_data.parse_filter("industrial_parks", "code", "ne", park["code"])
    assert not layers_data.identify(actx.engine, ["industrial_parks"], park["lon"], park["lat"], 10, other)


@pytest.mark.parametrize("click", [None, {}, {"lon": "x"}, {"lon": 500, "lat": 0}, {"lon": 1, "lat": 1, "zoom": "nan"},
                                   "not a dict", {"lon": [1], "lat": 2}])
def test_forged_clicks_are_ignored(actx, as_role, click):
    as_role(Role.DEPARTMENT)
    panel, geometry = dm.identify_panel(actx, click, ["admin_units"], AFTER, None, "vi")
    assert geometry is None and "Bấm vào bản đồ" in str(panel)


def test_history_lists_changed_fields(actx, air_db):
    park = _inside(air_db, "industrial_parks")
    with air_db.connect() as conn:  # a recorded update, rolled back afterwards
        run = conn.execute(text("SELECT ingest_run_id FROM industrial_parks WHERE id = :i"), {"i": park["id"]}).scalar()
        conn.execute(text(
            "INSERT INTO feature_history (run_id, layer, feature_id, feature_key, op, old_attrs, new_attrs, "
            "geom_changed) VALUES (:r, 'industrial_parks', :i, '{}', 'update', "
            "'{\"developer\": \"A\", \"notes\": null, \"updated_at\": 1}', "
            "'{\"developer\": \"B\", \"notes\": null, \"updated_at\": 2}', true)"), {"r": run, "i": park["id"]})
        rows = layers_data.history(conn, "industrial_parks", park["id"])
        # the sample is a first load: its insert is recorded by the run's span of ids, not by a history row
        span = conn.execute(text("SELECT run_id, recorded_at FROM feature_insert_spans WHERE layer = "
                                 "'industrial_parks' AND :i BETWEEN first_id AND last_id"), {"i": park["id"]}).all()
        conn.rollback()
    assert [tuple(s) for s in span] == [(run, rows[0]["at"])]
    assert [(r["op"], r["run"], r["kind"]) for r in rows] == [("insert", run, "load"), ("update", run, "load")]
    assert rows[-1]["changed"] == ["developer", "geom"] and rows[0]["file_name"] == "industrial_parks.geojson"
    assert rows[0]["changed"] == []
    src = layers_data.source_run(air_db, run)
    assert src["file_name"] == "industrial_parks.geojson" and len(src["sha256"]) == 64


# --- view, download link, texts ------------------------------------------------------------------------------

def test_view_key_snaps_small_pans_to_the_same_extent():
    a = dm.view_key({"west": 106.5, "south": 11.0, "east": 106.7, "north": 11.1, "zoom": 11.2})
    b = dm.view_key({"west": 106.5001, "south": 11.0001, "east": 106.7001, "north": 11.1001, "zoom": 11.7})
    assert a == b and a["zoom"] == 11
    assert dm.view_key({"west": "x"}) is None and dm.view_key(None) is None
    assert dm.stored_view({"bbox": [1, 2, 3], "zoom": 3}) is None
    assert dm.stored_view({"bbox": ["1", "2", "3", "4"], "zoom": 99}) is None


def test_download_href_carries_filter_bbox_and_date():
    flt = layers_data.parse_filter("admin_units", "level", "eq", "district")
    href = dm.download_href("admin_units", "gpkg", flt, (106.0, 10.0, 107.0, 11.0), BEFORE)
    assert href.startswith("/download/admin_units.gpkg?") and "field=level" in href and "date=2025-06-30" in href
    assert "bbox=106.000000%2C10.000000" in href
    assert dm.download_href("forest_areas", "csv", flt, None, BEFORE) == "/download/forest_areas.csv"
    assert dm.download_href("users", "csv", None, None, BEFORE) is None
    assert dm.download_href("forest_areas", "exe", None, None, BEFORE) is None


def test_apply_filter_reports_count_or_reason(actx, as_role):
    as_role(Role.IP_AUTHORITY)
    data, message = dm.apply_filter(actx, "forest_areas", "origin", "eq", "planted", "vi")
    with actx.engine.connect() as conn:
        n = conn.execute(text("SELECT count(*) FROM forest_areas WHERE origin = 'planted'")).scalar_one()
    assert data["field"] == "origin" and f"— {n} đối tượng" in message
    assert dm.apply_filter(actx, "polluted_sites", "code", "eq", "x", "vi")[0] is None  # not visible to this role
    data, message = dm.apply_filter(actx, "forest_areas", "year; --", "eq", "1", "en")
    assert data is None and "has no field" in message


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_every_text_exists_in_both_languages(lang):
    flat = json.dumps(dm.texts(lang), ensure_ascii=False, default=str)
    assert "dept." not in flat
    assert all(f"dept.theme.{n}" in catalogue(lang) for n in dm.THEMES)
    assert set(catalogue("vi")) == set(catalogue("en"))


# --- page and callback guards over HTTP ----------------------------------------------------------------------

def test_anonymous_is_sent_to_login(app):
    r = app.server.test_client().get("/department")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/department")


def test_staff_roles_open_the_page_and_public_users_do_not(app, air_db):
    for username, role, status in (("dm_public", "public", 403), ("dm_ipa", "ip_authority", 200),
                                   ("dm_dept", "department", 200)):
        ensure_user(air_db, username, role)
        client = app.server.test_client()
        _login(client, username)
        assert client.get("/department").status_code == status, role


def test_anonymous_callbacks_of_the_page_are_refused(app):
    body = {"output": "dept-identify.children...dept-highlight.data",
            "outputs": [{"id": "dept-identify", "property": "children"}, {"id": "dept-highlight", "property": "data"}],
            "inputs": [{"id": "dept-click", "property": "data", "value": {"lon": 106.6, "lat": 11.0, "zoom": 12}}],
            "changedPropIds": ["dept-click.data"], "state": []}
    assert app.server.test_client().post("/_dash-update-component", json=body).status_code == 403


# --- browser -------------------------------------------------------------------------------------------------

_LAYERS_JS = """() => {
    const gd = document.querySelector('#dept-map .js-plotly-plot');
    if (!gd || !gd.layout || !gd.layout.map || !gd._fullLayout.map._subplot) { return null; }
    const out = {};
    for (const l of gd.layout.map.layers || []) {
        if (l.type === 'line' || l.type === 'circle') {
            out[l.name] = (out[l.name] || 0) + (l.source.features ? l.source.features.length : 0);
        }
    }
    return out;
}"""



def _drawn(page) -> dict:  # type: ignore[no-untyped-def]
    return page.evaluate(_LAYERS_JS) or {}


def _wait_drawn(page, check, what: str) -> dict:  # type: ignore[no-untyped-def]
    for _ in range(200):
        drawn = _drawn(page)
        if check(drawn):
            return drawn
        page.wait_for_timeout(100)
    raise AssertionError(f"map never showed {what}: {_drawn(page)}")


def _click_lonlat(page, lon: float, lat: float) -> None:  # type: ignore[no-untyped-def]
    # Wait until MapLibre has drawn (a click before that is dropped).
    page.wait_for_function("document.querySelector('#dept-map .js-plotly-plot')?._fullLayout?.map?._subplot?.map"
                           "?.loaded()")
    box = page.evaluate("""([lon, lat]) => {
        const map = document.querySelector('#dept-map .js-plotly-plot')._fullLayout.map._subplot.map;
        const p = map.project([lon, lat]);
        const r = map.getCanvas().getBoundingClientRect();
        return {x: r.left + p.x, y: r.top + p.y};
    }""", [lon, lat])
    page.mouse.click(box["x"], box["y"])


def test_browser_login_toggle_switch_identify_download(browser, server_url, air_db, tmp_path):
    from playwright.sync_api import expect

    from tests.dashboards.conftest import SHOTS
    ensure_user(air_db, "dm_browser", "department")
    page = browser.new_page(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    page.goto(server_url + "/department")
    assert "/login" in page.url  # anonymous: sent to the login form first
    page.fill("#username", "dm_browser")
    page.fill("#password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator("#dept-title")).to_have_text("Bản đồ chuyên đề của Sở", timeout=30_000)
    page.wait_for_selector("#dept-map .maplibregl-canvas", timeout=30_000)
    drawn = _wait_drawn(page, lambda d: "polluted_sites" in d and d.get("admin_units"), "every layer")
    page.screenshot(path=str(SHOTS / "department_map.png"))

    page.get_by_text(REGISTRY.get("polluted_sites").title_vi, exact=True).click()
    _wait_drawn(page, lambda d: d and "polluted_sites" not in d, "polluted sites turned off")

    with air_db.connect() as conn:
        n_before = conn.execute(text("SELECT count(*) FROM admin_units WHERE valid_from <= '2025-06-30' "
                                     "AND (valid_to IS NULL OR valid_to > '2025-06-30')")).scalar_one()
    assert drawn["admin_units"] != n_before
    page.get_by_text("Trước 01/07/2025 (cấp huyện)").click()
    _wait_drawn(page, lambda d: d.get("admin_units") == n_before, "the pre-2025 districts")
    page.screenshot(path=str(SHOTS / "department_boundaries_2025-06-30.png"))

    park = _inside(air_db, "industrial_parks")
    card = page.locator("#dept-identify .feature-card[data-layer='industrial_parks']")
    for _attempt in range(4):  # a tap during a re-render of the map is lost: tap again, as a person would
        _click_lonlat(page, park["lon"], park["lat"])
        try:
            expect(card).to_contain_text(park["code"], timeout=6_000)
            break
        except AssertionError:
            continue
    expect(card).to_contain_text(park["code"], timeout=20_000)
    expect(card).to_contain_text("Chủ đầu tư hạ tầng")
    expect(card.locator(".feature-history")).to_contain_text("thêm mới")
    expect(card.locator(".run-file")).to_have_text("industrial_parks.geojson")
    page.screenshot(path=str(SHOTS / "department_identify.png"))

    link = page.locator("#dept-download-link")
    expect(link).to_have_attribute("href", re.compile(r"^/download/admin_units\.geojson\?date=2025-06-30"))
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert re.fullmatch(r"admin_units_\d{4}-\d{2}-\d{2}\.geojson", download.suggested_filename)
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    levels = {f["properties"]["level"] for f in json.loads(target.read_text(encoding="utf-8"))["features"]}
    assert levels <= {"province", "district"} and "district" in levels
    page.screenshot(path=str(SHOTS / "department_download.png"))

    page.click("#dept-lang-button")
    expect(page.locator("#dept-title")).to_have_text("Department map")
    expect(card).to_contain_text("Infrastructure developer", timeout=20_000)
    page.screenshot(path=str(SHOTS / "department_english.png"), full_page=True)
    page.close()


def test_blank_basemap_survives_a_second_update():
    # plotly drops an empty "sources" when it re-applies a style; MapLibre then refuses it and the map freezes.
    style = layer_map([], "blank").layout.map.style
    assert style["sources"] and style["version"] == 8
