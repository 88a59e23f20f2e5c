"""`geo eip …` end to end in a subprocess: register sync, assess (printed and stored), status, certificates, links."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from tests.eip.eip_world import build


@pytest.fixture
def world(db, tmp_path, ingest_settings):
    build(db, tmp_path, ingest_settings)
    return db


@pytest.fixture
def geo(db_settings, tmp_path):
    env = {**os.environ, "GEO_DATABASE_URL": db_settings.url(), "GEO_INGEST_REPORTS_DIR": str(tmp_path / "r"),
           "GEO_INGEST_USER": "cli-test", "COLUMNS": "250"}

    def run(*args: str, code: int = 0) -> subprocess.CompletedProcess:
        p = subprocess.run([sys.executable, "-m", "geo", "eip", *args], env=env, capture_output=True, text=True,
                           timeout=180)
        assert p.returncode == code, (p.stdout, p.stderr)
        assert "Traceback" not in p.stderr
        return p
    return run


def test_register_sync_lists_the_stored_versions(world, geo):
    out = geo("register", "sync").stdout
    assert "2025.1" in out and "2025.2" in out and "added" in out


def test_assess_prints_the_criteria_with_figures_and_stores_it(world, geo):
    out = geo("assess", "P1", "--date", "2025-06-30").stdout
    assert "D82-25PCT" in out and "không đạt / fail" in out and "green_space_ha" in out
    assert "B5-SOC.1-DN" in out and "stored assessment #" in out
    with world.connect() as conn:
        row = conn.execute(text("SELECT id, register_version, created_by, assessed_on::text FROM eip_assessments")).one()
        n = conn.execute(text("SELECT count(*) FROM eip_enterprise_results WHERE assessment_id = :a"),
                         {"a": row.id}).scalar_one()
    assert (row.register_version, row.created_by, row.assessed_on) == ("2025.2", "cli-test", "2025-06-30")
    assert n == 4 * 7


@pytest.mark.parametrize("args, code, message", [
    (("assess", "NOPE"), 1, "không có KCN NOPE / no industrial park NOPE"),
    (("assess", "P1", "--date", "2025-02-30"), 2, "invalid date '2025-02-30'"),
    (("status", "P1", "certified", "--why", "x"), 1, "is not allowed"),
    (("status", "P1", "bogus", "--why", "x"), 1, "unknown status 'bogus'"),
    (("status", "P1", "assessing", "--why", " "), 1, "a reason is required"),
    (("links", "load", "/nonexistent/links.csv"), 2, "no such file"),
    (("certificate", "add", "ZZ", "GCN-1", "--evidence", "QĐ"), 1, "no enterprise ZZ"),
])
def test_bad_input_gives_a_bilingual_message_not_a_traceback(world, geo, args, code, message):
    err = " ".join(geo(*args, code=code).stderr.split())
    assert "Lỗi / error" in err and message in err


def test_status_through_to_certified_with_the_board_of_the_date(world, geo):
    geo("status", "P1", "assessing", "--why", "Bắt đầu đánh giá", "--date", "2025-01-10")
    geo("status", "P1", "meets_criteria", "--why", "Tự đánh giá đạt", "--date", "2025-03-01")
    geo("status", "P1", "dossier_submitted", "--why", "Nộp hồ sơ", "--evidence", "HS-1", "--date", "2025-04-01")
    out = geo("status", "P1", "certified", "--why", "Được chứng nhận", "--certificate", "GCN-KCNST-1",
              "--date", "2025-08-01").stdout
    assert "dossier_submitted → certified" in out and "Thành phố Hồ Chí Minh" in " ".join(out.split())
    with world.connect() as conn:
        rows = conn.execute(text("SELECT to_status, changed_by, certificate_date::text FROM eip_status_history "
                                 "ORDER BY id")).all()
    assert [r[0] for r in rows] == ["assessing", "meets_criteria", "dossier_submitted", "certified"]
    assert rows[-1][1:] == ("cli-test", "2025-08-01")


def test_certificate_add_and_revoke(world, geo):
    out = " ".join(geo("certificate", "add", "A", "GCN-DN-1", "--evidence", "QĐ-1", "--date", "2025-07-01").stdout
                   .split())
    assert "GCN-DN-1: A (P1), 2025-07-01, Ban Quản lý các khu công nghiệp Bình Dương" in out
    geo("certificate", "revoke", "GCN-DN-1", "--why", "Vi phạm", "--evidence", "QĐ-TH", "--date", "2025-09-01")
    with world.connect() as conn:
        assert conn.execute(text("SELECT status FROM eip_enterprise_certificates")).scalar_one() == "revoked"


def test_links_load_draws_lines_from_the_firms(world, geo, tmp_path):
    path = tmp_path / "links.csv"
    path.write_text("code,from_enterprise,to_enterprise,link_type,started_on\nL9,A,C,energy,2024-01-01\n",
                    encoding="utf-8")
    geo("links", "load", str(path))
    with world.connect() as conn:
        wkt = conn.execute(text("SELECT ST_AsText(geom) FROM symbiosis_links WHERE code = 'L9'")).scalar_one()
    assert wkt == "MULTILINESTRING((106.702 11.002,106.704 11.004))"
