"""Conversion status: allowed and refused transitions, history, certificates, the responsible authority by date."""
from __future__ import annotations

from datetime import date

import pytest

from geo.eip_workflow import Change, WorkflowError, authority_on, change_status, current_status, history
from tests.factories import park
from tests.eip.eip_world import load


@pytest.fixture
def parks(db, tmp_path, ingest_settings):
    load(db, tmp_path, "industrial_parks", [park("K1"), park("K2", lon=106.75)], ingest_settings)
    return db


def step(conn, to: str, on: str, **kw) -> dict:
    return change_status(conn, Change("K1", to, "tester", f"lý do {to}", date.fromisoformat(on), **kw))


def test_the_full_procedure_is_recorded_with_history(parks):
    with parks.begin() as conn:
        step(conn, "assessing", "2025-01-01")
        step(conn, "meets_criteria", "2025-03-01")
        step(conn, "dossier_submitted", "2025-04-01", evidence_ref="HS-1")
        cert = step(conn, "certified", "2025-09-01", certificate_no="GCN-1", certificate_date=date(2025, 9, 1))
        step(conn, "revoked", "2026-01-01", evidence_ref="QĐ-9")
    with parks.connect() as conn:
        rows = history(conn, "K1")
        assert [(r["from_status"], r["to_status"]) for r in rows] == [
            ("not_assessed", "assessing"), ("assessing", "meets_criteria"), ("meets_criteria", "dossier_submitted"),
            ("dossier_submitted", "certified"), ("certified", "revoked")]
        assert all(r["changed_by"] == "tester" and r["reason"] for r in rows)
        assert current_status(conn, "K1")["to_status"] == "revoked"
        assert current_status(conn, "K1", date(2025, 10, 1))["to_status"] == "certified"
        assert current_status(conn, "K2")["to_status"] == "not_assessed"
    # After 2025-07-28 the HCMC board issues certificates for former Bình Dương parks.
    assert cert["issuing_body"].startswith("Ban Quản lý các khu chế xuất và công nghiệp")


@pytest.mark.parametrize("to, kw, message", [
    ("certified", {}, "not allowed"),
    ("meets_criteria", {}, "not allowed"),
    ("assessing", {"reason": " "}, "reason"),
    ("flying", {}, "unknown status"),
])
def test_refused_changes_leave_no_trace(parks, to, kw, message):
    ch = Change("K1", to, "tester", kw.get("reason", "vì"), date(2025, 1, 1))
    with pytest.raises(WorkflowError, match=message), parks.begin() as conn:
        change_status(conn, ch)
    with parks.connect() as conn:
        assert history(conn, "K1") == []


def test_certification_needs_a_certificate_and_submission_a_reference(parks):
    with parks.begin() as conn:
        step(conn, "assessing", "2025-01-01")
        step(conn, "meets_criteria", "2025-02-01")
        with pytest.raises(WorkflowError, match="document reference"):
            step(conn, "dossier_submitted", "2025-03-01")
        step(conn, "dossier_submitted", "2025-03-01", evidence_ref="HS-2")
        with pytest.raises(WorkflowError, match="certificate number"):
            step(conn, "certified", "2025-04-01", evidence_ref="x")
        with pytest.raises(WorkflowError, match="before the previous change"):
            step(conn, "assessing", "2024-01-01")
        cert = step(conn, "certified", "2025-04-01", certificate_no="GCN-2", certificate_date=date(2025, 4, 1))
    assert cert["issuing_body"] == "Ban Quản lý các khu công nghiệp Bình Dương"


def test_responsible_authority_changes_on_2025_07_28(db):
    with db.connect() as conn:
        assert authority_on(conn, date(2025, 7, 27)).code == "BQL-KCN-BD"
        assert authority_on(conn, date(2025, 7, 28)).code == "BQL-KCX-KCN-HCM"
        assert authority_on(conn, date(2010, 1, 1)).code == "BQL-KCN-BD"


def test_unknown_park_is_refused(db):
    with pytest.raises(WorkflowError, match="no industrial park"), db.begin() as conn:
        change_status(conn, Change("NOPE", "assessing", "t", "r", date(2025, 1, 1)))
