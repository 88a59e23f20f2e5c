"""Eco-enterprise certificates: issuing body by date, one active per firm, unique numbers, revocation with history."""
from __future__ import annotations

from datetime import date

import pytest

from geo import eip_certificates as ec
from tests.eip.eip_world import build


@pytest.fixture
def world(db, tmp_path, ingest_settings):
    build(db, tmp_path, ingest_settings)
    return db


def new(firm: str, no: str, on: str, **kw) -> ec.NewCertificate:
    return ec.NewCertificate(firm, no, date.fromisoformat(on), kw.pop("evidence", f"QĐ-{no}"), "pytest", **kw)


def test_issuing_body_defaults_to_the_board_in_force_on_the_date(world):
    with world.begin() as conn:
        a = ec.record(conn, new("A", "GCN-1", "2025-07-27"))
        c = ec.record(conn, new("C", "GCN-2", "2025-07-28"))
        e = ec.record(conn, new("E", "GCN-3", "2025-09-01", issuing_body="Ban khác (ghi tay)"))
    assert a["issuing_body"] == "Ban Quản lý các khu công nghiệp Bình Dương" and a["park_code"] == "P1"
    assert c["issuing_body"] == "Ban Quản lý các khu chế xuất và công nghiệp Thành phố Hồ Chí Minh"
    assert e["issuing_body"] == "Ban khác (ghi tay)" and e["status"] == "active" and e["recorded_by"] == "pytest"


@pytest.mark.parametrize("cert, message", [
    (new("ZZ", "GCN-9", "2025-01-01"), "no enterprise ZZ"),
    (new("E", "GCN-9", "2025-01-01", park_code="P1"), "no enterprise E in park P1"),
    (new("A", "GCN-9", "2025-01-01", evidence=" "), "document reference is required"),
    (new("A", " ", "2025-01-01"), "certificate number are required"),
])
def test_bad_certificates_are_refused_with_a_bilingual_message(world, cert, message):
    with pytest.raises(ec.CertificateError, match=message), world.begin() as conn:
        ec.record(conn, cert)


def test_one_active_certificate_per_firm_and_unique_numbers(world):
    with world.begin() as conn:
        ec.record(conn, new("A", "GCN-1", "2024-01-01"))
    with pytest.raises(ec.CertificateError, match="revoke it first"), world.begin() as conn:
        ec.record(conn, new("A", "GCN-2", "2024-06-01"))
    with pytest.raises(ec.CertificateError, match="already recorded"), world.begin() as conn:
        ec.record(conn, new("B", "GCN-1", "2024-06-01"))


def test_revocation_keeps_history_and_dates(world):
    with world.begin() as conn:
        ec.record(conn, new("A", "GCN-1", "2024-01-01"))
        with pytest.raises(ec.CertificateError, match="before the issue date"):
            ec.revoke(conn, "GCN-1", date(2023, 1, 1), "pytest", "x", "QĐ-TH")
        with pytest.raises(ec.CertificateError, match="needs a reason"):
            ec.revoke(conn, "GCN-1", date(2025, 1, 1), "pytest", "", "QĐ-TH")
    with world.begin() as conn:
        out = ec.revoke(conn, "GCN-1", date(2025, 3, 1), "pytest", "Không còn đáp ứng", "QĐ-TH-1")
        again = ec.record(conn, new("A", "GCN-2", "2025-09-01"))  # re-issued after revocation
    assert out["status"] == "revoked" and again["status"] == "active"
    with world.connect() as conn:
        hist = ec.history(conn, "GCN-1")
        on_2024 = {c["certificate_no"]: c["status_on"] for c in ec.for_park(conn, "P1", date(2024, 6, 1))}
        on_2025 = {c["certificate_no"]: c["status_on"] for c in ec.for_park(conn, "P1", date(2025, 6, 1))}
        with pytest.raises(ec.CertificateError, match="already revoked"):
            ec.revoke(conn, "GCN-1", date(2025, 4, 1), "pytest", "x", "y")
    assert [(h["action"], str(h["effective_on"])) for h in hist] == [("issued", "2024-01-01"), ("revoked", "2025-03-01")]
    assert on_2024 == {"GCN-1": "active", "GCN-2": "not_yet_issued"}
    assert on_2025 == {"GCN-1": "revoked", "GCN-2": "not_yet_issued"}
