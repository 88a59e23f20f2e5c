"""Eco-park pages and exports against the real app: access, scorecard content, status change, XLSX/PDF/CSV."""
from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import text

from geo import users

PASSWORD = "correct horse battery"
PARK = "SMP-KCN-MP3"


@pytest.fixture
def eip_users(air_db):
    with air_db.begin() as conn:
        conn.execute(text("DELETE FROM users WHERE username IN ('eip_ipa', 'eip_dept', 'eip_pub')"))
    users.add_user(air_db, "eip_ipa", PASSWORD, "ip_authority", "Cán bộ BQL")
    users.add_user(air_db, "eip_dept", PASSWORD, "department")
    users.add_user(air_db, "eip_pub", PASSWORD, "public")
    return air_db


def logged_in(app, username: str):  # type: ignore[no-untyped-def]
    client = app.server.test_client()
    form = client.get("/login").data.decode()
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/login", data={"csrf_token": token, "username": username, "password": PASSWORD,
                                       "next": "/eip"}).status_code == 302
    return client


@pytest.mark.parametrize("path", ["/eip", f"/eip/park?park={PARK}"])
def test_anonymous_is_sent_to_login(app, path):
    r = app.server.test_client().get(path)
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


@pytest.mark.parametrize("path", [f"/eip/export/scorecard/{PARK}.xlsx", f"/eip/export/scorecard/{PARK}.pdf",
                                  "/eip/export/portfolio.csv"])
def test_exports_are_404_for_anonymous_and_public(app, eip_users, path):
    assert app.server.test_client().get(path).status_code == 404
    assert logged_in(app, "eip_pub").get(path).status_code == 404


def test_ip_authority_opens_the_pages(app, eip_users):
    client = logged_in(app, "eip_ipa")
    assert client.get("/eip").status_code == 200
    assert client.get(f"/eip/park?park={PARK}").status_code == 200


def test_scorecard_layout_shows_criteria_and_withholds_polluted_sites_from_the_authority(app, eip_users):
    from dashboards.pages.eip_scorecard import layout
    actx = app.server.config["GEO_CONTEXT"]
    client = logged_in(app, "eip_ipa")
    with app.server.test_request_context(headers={"Cookie": f"geo_session={client.get_cookie('geo_session').value}"}):
        app.server.preprocess_request()
        page = str(layout(actx, park=PARK))
    assert "D82-25PCT" in page and "ngưỡng tham chiếu, chưa xác nhận cho NĐ 35" in page
    assert "không hiển thị (lớp dữ liệu hạn chế)" in page and "Khu vực ô nhiễm đất trong KCN và trong 1 km" not in page


def test_scorecard_xlsx_opens_with_openpyxl(app, eip_users):
    from openpyxl import load_workbook
    r = logged_in(app, "eip_ipa").get(f"/eip/export/scorecard/{PARK}.xlsx?on=2025-12-01")
    assert r.status_code == 200
    wb = load_workbook(io.BytesIO(r.data))
    ws = wb["Scorecard"]
    assert ws["B1"].value == "KCN Mỹ Phước 3"
    codes = [ws.cell(row=i, column=2).value for i in range(6, ws.max_row + 1)]
    assert "D82-25PCT" in codes and "B5-ENV.2" in codes
    assert [c.value for c in wb["History"][2]][2] == "assessing"


def test_scorecard_pdf_has_the_park_name(app, eip_users):
    r = logged_in(app, "eip_ipa").get(f"/eip/export/scorecard/{PARK}.pdf?lang=en")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    # The title metadata carries the name (UTF-16 hex when not ASCII; the English name is ASCII).
    assert b"My Phuoc 3 Industrial Park" in r.data


def test_portfolio_csv_lists_every_park_with_its_status(app, eip_users):
    # Other modules of this package share the sample database and change statuses (the browser test starts
    # assessing Cây Trường; the callback test below, Tân Bình): compare with the recorded history, not with a
    # fixed list, and check the sample stages only for parks nobody but the sample loader has changed.
    from geo.eip_workflow import portfolio_statuses
    from ingest.sample_eip import STAGES, WHO
    r = logged_in(app, "eip_ipa").get("/eip/export/portfolio.csv")
    body = r.data.decode("utf-8-sig")
    assert r.status_code == 200 and "SMP-KCN-VSIP1,KCN Việt Nam – Singapore I (VSIP I)" in body
    statuses = {line.split(",")[0]: line.split(",")[3] for line in body.splitlines()[1:]}
    with eip_users.connect() as conn:
        parks = [c for (c,) in conn.execute(text("SELECT code FROM industrial_parks ORDER BY code"))]
        recorded = portfolio_statuses(conn)
        touched = {p for (p,) in conn.execute(text("SELECT DISTINCT park_code FROM eip_status_history "
                                                   "WHERE changed_by <> :w"), {"w": WHO})}
    assert sorted(statuses) == parks
    assert statuses == {p: recorded.get(p, {}).get("to_status", "not_assessed") for p in parks}
    expected = {p: steps[-1][0] for p, steps in STAGES.items()} | {"SMP-KCN-CT": "not_assessed",
                                                                   "SMP-KCN-TB": "not_assessed"}
    untouched = {p: s for p, s in expected.items() if p not in touched}
    assert {"SMP-KCN-VSIP1", "SMP-KCN-ST2"} <= set(untouched)  # no test changes the certified and revoked ones
    assert {p: statuses[p] for p in untouched} == untouched


def test_status_change_through_the_callback_needs_csrf_and_records_the_user(app, eip_users):
    from dashboards.pages.eip_scorecard import apply_change
    actx = app.server.config["GEO_CONTEXT"]
    client = logged_in(app, "eip_ipa")
    body = {"output": "eip-s-message.children", "outputs": {"id": "eip-s-message", "property": "children"},
            "inputs": [], "changedPropIds": []}
    assert client.post("/_dash-update-component", json=body).status_code == 403  # no X-CSRFToken
    with app.server.test_request_context(headers={"Cookie": f"geo_session={client.get_cookie('geo_session').value}"}):
        app.server.preprocess_request()
        msg, status = apply_change(actx, "SMP-KCN-TB", {"to": "certified", "reason": "x",
                                                        "effective": "2026-01-01"}, "en")
        assert status is None and "not allowed" in msg
        msg, status = apply_change(actx, "SMP-KCN-TB", {"to": "assessing", "reason": "Bắt đầu đánh giá",
                                                        "effective": "2026-01-01"}, "vi")
    assert status == "assessing"
    with actx.engine.connect() as conn:
        who = conn.execute(text("SELECT changed_by FROM eip_status_history WHERE park_code = 'SMP-KCN-TB'")).scalar()
    assert who == "eip_ipa"


def _page(app, username: str, park: str = PARK) -> str:
    from dashboards.pages.eip_scorecard import layout
    client = logged_in(app, username)
    with app.server.test_request_context(headers={"Cookie": f"geo_session={client.get_cookie('geo_session').value}"}):
        app.server.preprocess_request()
        return str(layout(app.server.config["GEO_CONTEXT"], park=park, on="2025-12-01"))


def test_enterprise_criteria_per_firm_for_the_department_counts_only_for_the_authority(app, eip_users):
    dept = _page(app, "eip_dept")
    assert "eip-s-firm-SMP-DN-MP3-01" in dept and "Công ty mẫu MP3-01" in dept and "B5-SOC.1-DN" in dept
    ipa = _page(app, "eip_ipa")
    assert "eip-s-firm-counts" in ipa and "B5-SOC.1-DN" in ipa
    assert "Công ty mẫu" not in ipa and "eip-s-firm-SMP-DN" not in ipa


def test_certificate_form_records_for_the_authority_and_shows_in_the_exports(app, eip_users):
    from openpyxl import load_workbook
    from dashboards.pages.eip_scorecard import apply_certificate
    actx = app.server.config["GEO_CONTEXT"]
    values = {"enterprise": "SMP-DN-MP3-03", "no": "T-GCN-DNST-MP3", "issued_on": "2025-12-01",
              "evidence": "T-QĐ-1"}
    with eip_users.begin() as conn:
        conn.execute(text("DELETE FROM eip_enterprise_certificates WHERE certificate_no = 'T-GCN-DNST-MP3'"))
    for who in ("eip_pub",):
        client = logged_in(app, who)
        with app.server.test_request_context(headers={"Cookie": f"geo_session={client.get_cookie('geo_session').value}"}):
            app.server.preprocess_request()
            msg, ok = apply_certificate(actx, PARK, values, "en")
        assert not ok
    client = logged_in(app, "eip_ipa")
    with app.server.test_request_context(headers={"Cookie": f"geo_session={client.get_cookie('geo_session').value}"}):
        app.server.preprocess_request()
        msg, ok = apply_certificate(actx, PARK, {**values, "enterprise": "SMP-DN-VSIP1-02"}, "en")
        assert not ok and "no enterprise SMP-DN-VSIP1-02 in park SMP-KCN-MP3" in msg  # not a firm of this park
        msg, ok = apply_certificate(actx, PARK, values, "vi")
    assert ok and "HCMC" not in msg and "Thành phố Hồ Chí Minh" in msg  # the board in force on 2025-12-01
    with eip_users.connect() as conn:
        who = conn.execute(text("SELECT recorded_by FROM eip_enterprise_certificates "
                                "WHERE certificate_no = 'T-GCN-DNST-MP3'")).scalar_one()
    assert who == "eip_ipa"
    wb = load_workbook(io.BytesIO(client.get(f"/eip/export/scorecard/{PARK}.xlsx?on=2025-12-01").data))
    assert "T-GCN-DNST-MP3" in [r[0] for r in wb["Certificates"].iter_rows(values_only=True)]
    assert wb["Enterprises"]["A1"].value == "criterion"  # counts only for the authority
    dept = logged_in(app, "eip_dept")
    wb = load_workbook(io.BytesIO(dept.get(f"/eip/export/scorecard/{PARK}.xlsx?on=2025-12-01").data))
    firms = list(wb["Enterprises"].iter_rows(values_only=True))
    assert firms[0][0] == "enterprise_code" and ("SMP-DN-MP3-03", "T-GCN-DNST-MP3") in {(r[0], r[6]) for r in firms}
    csv_rows = client.get("/eip/export/portfolio.csv").data.decode("utf-8-sig").splitlines()
    assert csv_rows[0].endswith("n_eco_enterprise_certificates")
    assert int(next(r for r in csv_rows if r.startswith(PARK + ",")).split(",")[-1]) >= 1
    assert client.get(f"/eip/export/scorecard/{PARK}.pdf").data.startswith(b"%PDF")
