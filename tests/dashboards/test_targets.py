"""Targets page: data, crosswalk and choropleth on the real admin boundaries, lineage, export, guards, browser."""
from __future__ import annotations

import csv
import io
import re

import openpyxl
import pandas as pd
import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from dashboards import targets_data as data
from dashboards.pages import targets as page
from geo import users
from geo.boundaries import crosswalk
from geo.indicator_register import register
from geo.settings import AreaSettings, DatabaseSettings
from ingest.indicators import compute_indicators, report_value
from ingest.rasters import ingest_raster
from ingest.zonal import compute_zonal
from tests.dashboards.conftest import SHOTS
from tests.ingest.admin_loading import load_admin, province_raster

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def world(air_db, shared_data, tmp_path_factory):
    """Real boundaries in place of the sample's, two land-cover years, computed and reported indicators."""
    engine, tmp = air_db, tmp_path_factory.mktemp("targets")
    with engine.begin() as conn:   # the sample's synthetic units would overlap the real ones: set them aside
        conn.execute(text("DROP TABLE IF EXISTS targets_saved_admin"))
        conn.execute(text("CREATE TABLE targets_saved_admin AS SELECT * FROM admin_units"))
        conn.execute(text("DELETE FROM admin_units"))
    load_admin(engine, shared_data, tmp / "reports")
    dbs = DatabaseSettings(database_url=engine.url.render_as_string(hide_password=False), data_dir=tmp / "data")
    for year, shift in ((2020, 0), (2024, 1)):
        rid = ingest_raster(engine, "esa_worldcover", province_raster(tmp / f"lc{year}.tif", shift=shift), year,
                            db_settings=dbs, area=AreaSettings()).raster_id
        compute_zonal(engine, rid, types=("admin_unit",))
    compute_indicators(engine)
    report_value(engine, "T13.1", "province", "74", 2023, 97.0, "baobinhduong a338712")
    report_value(engine, "T13.1", "province", "74", 2025, 97.2, "Sở TN&MT báo cáo 2025")
    with engine.begin() as conn:   # T14.2c only on districts: the wards must come through the crosswalk
        conn.execute(text("DELETE FROM indicator_values WHERE indicator_id = 'T14.2c' "
                          "AND geography_type = 'commune'"))
        conn.execute(text("DELETE FROM users WHERE username LIKE 'targets-%'"))
    users.add_user(engine, "targets-dept", PASSWORD, "department", "Cán bộ Sở")
    users.add_user(engine, "targets-public", PASSWORD, "public")
    yield engine
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM admin_units"))
        conn.execute(text("INSERT INTO admin_units SELECT * FROM targets_saved_admin"))
        conn.execute(text("DROP TABLE targets_saved_admin"))


def _text(component) -> str:  # type: ignore[no-untyped-def]
    """All the text inside a Dash component tree."""
    if component is None:
        return ""
    if isinstance(component, (str, int, float)):
        return str(component)
    if isinstance(component, (list, tuple)):
        return " ".join(_text(c) for c in component)
    return _text(getattr(component, "children", None))


def test_cards_show_value_target_status_and_confidence(world):
    cards = {c.indicator.indicator_id: c for c in data.cards(world, "12")}
    forest = cards["T12.2"]
    assert forest.value == pytest.approx(50.0, abs=2) and forest.year == 2024
    assert forest.progress.status.value == "deterioration"   # "maintain 57.5 %" and 50 % is below it
    shown = _text(page.card_view(forest, "vi"))
    assert "57.5 %" in shown and "Đi xuống" in shown and "Đã xác nhận (nguồn thứ cấp)" in shown
    unconfirmed = _text(page.card_view(cards["T12.3"], "en"))
    assert "UNCONFIRMED" in unconfirmed and "No numeric target" in unconfirmed
    reported = {c.indicator.indicator_id: c for c in data.cards(world, "13")}["T13.1"]
    assert reported.value == 97.2 and reported.source_kind == "reported"


def test_every_theme_has_a_tab_and_its_indicators():
    assert set(data.THEMES) == {i.theme for i in register().values()}
    assert all(page.indicator_options(th, "vi") for th in data.THEMES)


def test_units_of_both_versions_are_the_real_boundaries(world):
    pre, post = data.units(world, "pre2025"), data.units(world, "post2025")
    assert len(pre) == 9 and len(post) == 36
    fc = data.feature_collection(post)
    assert {f["id"] for f in fc["features"]} == set(post.code)
    assert all(f["geometry"]["type"] in ("Polygon", "MultiPolygon") for f in fc["features"])


def test_reaggregation_on_the_real_crosswalk(world):
    """Shares are area-weighted means (a uniform share stays uniform); counts are split by overlap area."""
    walk = crosswalk(world, data.FORMER_DATE, data.NEW_DATE, "district", "commune")
    districts = data.units(world, "pre2025")
    share = data.reaggregate(pd.DataFrame({"code": districts.code, "value": 40.0}), walk, intensive=True)
    assert len(share) == 36 and share.value.to_numpy() == pytest.approx(40.0)
    counts = pd.DataFrame({"code": districts.code, "value": range(1, 10)})
    split = data.reaggregate(counts.astype({"value": float}), walk, intensive=False)
    assert split.value.sum() == pytest.approx(counts.value.sum(), rel=0.02)


def test_unit_values_direct_or_through_the_crosswalk(world):
    ind = register()["T14.2c"]
    direct, how = data.unit_values(world, ind, "pre2025")
    assert how == "direct" and len(direct) == 9
    wards, how = data.unit_values(world, ind, "post2025")
    assert how == "crosswalk" and len(wards) == 36 and wards.value.between(0, 100).all()


def test_choropleth_on_real_boundaries(world, app):
    actx = app.server.config["GEO_CONTEXT"]
    fig, trend, lineage = page.figures(actx, "T12.2", "post2025", "vi")
    located = [c for tr in fig.data for c in tr.locations]
    assert sorted(located) == sorted(data.units(world, "post2025").code)
    assert len(fig.data[0].geojson["features"]) == 36
    assert any(tr.name.startswith("Mục tiêu") for tr in trend.data)   # the target line
    assert "bd_wards_post2025_sapnhap.geojson" in _text(lineage)


def test_lineage_names_layers_runs_files_checksums_and_rasters(world):
    lin = data.lineage(world, "T12.2")
    assert lin["geography"] == "province 74" and lin["computed_at"]
    files = {r["file_name"] for r in lin["runs"].values() if r["file_name"]}
    assert {"bd_province_pre2025_dvhcvn.geojson", "bd_districts_pre2025_dvhcvn.geojson"} <= files
    assert len(lin["rasters"]) >= 1 and all(len(r["sha256"]) == 64 for r in lin["rasters"])
    assert lin["compute_runs"]
    reported = page.lineage_view(data.lineage(world, "T13.1"), "en")
    assert "Sở TN&MT báo cáo 2025" in _text(reported)


def _login(client, username: str) -> None:  # type: ignore[no-untyped-def]
    form = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    r = client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD, "next": "/"})
    assert r.status_code == 302


def test_export_csv_and_xlsx_for_staff_only(world, app):
    client = app.server.test_client()
    path = "/targets/export/T12.2.csv?version=post2025"
    assert client.get(path).status_code == 302          # anonymous: to the login page
    _login(client, "targets-public")
    assert client.get(path).status_code == 403
    client = app.server.test_client()
    _login(client, "targets-dept")
    r = client.get(path)
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.data.decode("utf-8-sig"))))
    assert len(rows) == 36 and rows[0]["method"] == "direct" and rows[0]["indicator_id"] == "T12.2"
    x = client.get("/targets/export/T12.2.xlsx?version=pre2025")
    sheet = openpyxl.load_workbook(io.BytesIO(x.data)).active
    assert x.status_code == 200 and sheet.max_row == 10 and sheet["A1"].value == "indicator_id"
    assert client.get("/targets/export/NOPE.csv").status_code == 404


def test_page_and_callbacks_are_guarded(world, app):
    client = app.server.test_client()
    assert client.get("/targets").status_code == 302
    body = {"output": "targets-cards.children", "outputs": {"id": "targets-cards", "property": "children"},
            "inputs": [], "changedPropIds": []}
    assert client.post("/_dash-update-component", json=body).status_code == 403


def test_texts_exist_in_both_languages():
    vi, en = page.texts("vi"), page.texts("en")
    assert vi[0].startswith("Mục tiêu") and en[0].startswith("Green-growth")
    assert all(not str(x).startswith("targets.") for x in (*vi, *en) if isinstance(x, str))



def test_targets_page_in_the_browser(world, browser, server_url):
    """Log in as a department user; tabs, boundary-version switch and the lineage panel; screenshots."""
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(server_url + "/login?next=/targets")
    pg.fill("#username", "targets-dept")
    pg.fill("#password", PASSWORD)
    pg.click("#login-submit")
    expect(pg.locator("#targets-title")).to_have_text("Mục tiêu tăng trưởng xanh — Bình Dương (cũ)", timeout=30_000)
    expect(pg.locator("[id='targets-card-T12.2'] .card-value")).to_contain_text("%", timeout=30_000)
    pg.wait_for_selector("#targets-map-pre2025 .maplibregl-canvas, #targets-map-pre2025 canvas", timeout=30_000)
    expect(pg.locator("#targets-lineage")).to_contain_text("bd_districts_pre2025_dvhcvn.geojson", timeout=30_000)
    pg.screenshot(path=str(SHOTS / "targets_theme12_districts.png"), full_page=True)
    def n_units(version: str) -> str:
        return (f"document.querySelector('#targets-map-{version} .js-plotly-plot')?._fullData"
                ".reduce((n, t) => n + (t.locations || []).length, 0)")
    pg.wait_for_function(f"{n_units('pre2025')} === 9", timeout=30_000)
    pg.get_by_text("Phường/xã từ 1/7/2025").click()
    pg.wait_for_function(f"{n_units('post2025')} === 36", timeout=30_000)
    expect(pg.locator("#targets-map-pre2025")).to_be_hidden()
    pg.wait_for_timeout(1500)   # MapLibre repaints after plotly updates its data
    pg.screenshot(path=str(SHOTS / "targets_wards_post2025.png"), full_page=True)
    pg.locator("#targets-lineage-title").scroll_into_view_if_needed()
    pg.locator(".targets-side").screenshot(path=str(SHOTS / "targets_lineage.png"))
    pg.get_by_text("13 · Chất thải rắn").click()
    expect(pg.locator("[id='targets-card-T13.1'] .card-value")).to_contain_text("97.2", timeout=30_000)
    expect(pg.locator("#targets-lineage")).to_contain_text("Sở TN&MT báo cáo 2025", timeout=30_000)
    pg.screenshot(path=str(SHOTS / "targets_theme13.png"), full_page=True)
    pg.click("#targets-lang-button")
    expect(pg.locator("#targets-title")).to_have_text("Green-growth targets — former Bình Dương")
    expect(pg.locator("#targets-lineage-title")).to_have_text("Where does this number come from?")
    pg.screenshot(path=str(SHOTS / "targets_english.png"), full_page=True)
    pg.close()
