"""A park's conversion status towards eco-industrial park: allowed transitions, history, responsible authority by date."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from geo.errors import GeoError

STATUSES = ("not_assessed", "assessing", "meets_criteria", "dossier_submitted", "certified", "revoked")
# Forward along the procedure (Decree 35 Art. 41); back to assessing when a self-assessment or a dossier
# falls short; a revoked park may start again. Certification is reached only through a submitted dossier.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "not_assessed": ("assessing",),
    "assessing": ("meets_criteria", "not_assessed"),
    "meets_criteria": ("dossier_submitted", "assessing"),
    "dossier_submitted": ("certified", "assessing"),
    "certified": ("revoked",),
    "revoked": ("assessing",),
}
TITLES = {"not_assessed": ("Chưa đánh giá", "Not assessed"), "assessing": ("Đang đánh giá", "Assessing"),
          "meets_criteria": ("Đạt tiêu chí (tự đánh giá)", "Meets criteria (self-assessed)"),
          "dossier_submitted": ("Đã nộp hồ sơ", "Dossier submitted"),
          "certified": ("Đã được chứng nhận", "Certified"), "revoked": ("Bị thu hồi", "Revoked")}
COLOURS = {"not_assessed": "#bdbdbd", "assessing": "#fdae61", "meets_criteria": "#a6d96a",
           "dossier_submitted": "#66bd63", "certified": "#1a9850", "revoked": "#d73027"}


class WorkflowError(GeoError):
    """A status change that the procedure does not allow, or that lacks what it needs."""


@dataclass(frozen=True)
class Authority:
    code: str
    name_vi: str
    name_en: str
    valid_from: date | None
    valid_to: date | None
    basis: str


def authority_on(conn: Connection, day: date) -> Authority:
    """The body responsible for the parks of former Bình Dương on ``day`` (half-open validity)."""
    row = conn.execute(text("SELECT code, name_vi, name_en, valid_from, valid_to, basis FROM responsible_authorities "
                            "WHERE (valid_from IS NULL OR valid_from <= :d) AND (valid_to IS NULL OR valid_to > :d)"),
                       {"d": day}).first()
    if row is None:
        raise WorkflowError(f"không có cơ quan quản lý ngày {day} / no responsible authority on {day}")
    return Authority(*row)


def current_status(conn: Connection, park: str, on: date | None = None) -> dict[str, Any]:
    """The last recorded change effective on or before ``on`` (all of them if None); none → not_assessed."""
    row = conn.execute(text(
        "SELECT * FROM eip_status_history WHERE park_code = :p AND (CAST(:on AS date) IS NULL OR effective_on <= :on) "
        "ORDER BY effective_on DESC, id DESC LIMIT 1"), {"p": park, "on": on}).mappings().first()
    return dict(row) if row else {"park_code": park, "to_status": "not_assessed", "effective_on": None}


def history(conn: Connection, park: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(
        "SELECT * FROM eip_status_history WHERE park_code = :p ORDER BY effective_on, id"), {"p": park}).mappings()]


def allowed_targets(status: str) -> tuple[str, ...]:
    return TRANSITIONS.get(status, ())


@dataclass
class Change:
    """One requested status change: who, when, why, on what evidence (and the certificate when certifying)."""

    park_code: str
    to_status: str
    changed_by: str
    reason: str
    effective_on: date
    evidence_ref: str | None = None
    certificate_no: str | None = None
    certificate_date: date | None = None
    issuing_body: str | None = None
    assessment_id: int | None = None


def _check(ch: Change, current: str) -> None:
    if ch.to_status not in STATUSES:
        raise WorkflowError(f"trạng thái không hợp lệ / unknown status {ch.to_status!r}")
    if ch.to_status not in allowed_targets(current):
        raise WorkflowError(f"không được chuyển {current} → {ch.to_status} / the change {current} → {ch.to_status} "
                            f"is not allowed (allowed: {', '.join(allowed_targets(current)) or '—'})")
    if not (ch.reason or "").strip():
        raise WorkflowError("cần nêu lý do / a reason is required")
    if not (ch.changed_by or "").strip():
        raise WorkflowError("cần người thực hiện / who made the change is required")
    if ch.to_status == "certified" and not (ch.certificate_no and ch.certificate_date):
        raise WorkflowError("chứng nhận cần số và ngày giấy chứng nhận / certification needs the certificate number "
                            "and date")
    if ch.to_status in ("dossier_submitted", "certified", "revoked") and not (ch.evidence_ref or ch.certificate_no):
        raise WorkflowError("cần căn cứ (số văn bản) / a document reference is required for this step")


def change_status(conn: Connection, ch: Change) -> dict[str, Any]:
    """Record an allowed change; concurrent changes of one park are serialised by an advisory lock."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('eip_status:' || :p))"), {"p": ch.park_code})
    if conn.execute(text("SELECT 1 FROM industrial_parks WHERE code = :p"), {"p": ch.park_code}).first() is None:
        raise WorkflowError(f"không có KCN {ch.park_code} / no industrial park {ch.park_code}")
    latest = current_status(conn, ch.park_code)
    current = latest["to_status"]
    _check(ch, current)
    if latest.get("effective_on") and ch.effective_on < latest["effective_on"]:
        raise WorkflowError("ngày hiệu lực trước lần đổi trước / the effective date is before the previous change")
    if ch.to_status == "certified" and not ch.issuing_body:
        # The body in force on the certificate date issues it (time-versioned: Bình Dương board, then HCMC).
        ch.issuing_body = authority_on(conn, ch.certificate_date).name_vi  # type: ignore[arg-type]
    row = conn.execute(text(
        "INSERT INTO eip_status_history (park_code, from_status, to_status, effective_on, changed_by, reason, "
        "evidence_ref, certificate_no, certificate_date, issuing_body, assessment_id) VALUES (:p, :f, :t, :e, :by, "
        ":r, :ev, :cn, :cd, :ib, :a) RETURNING *"),
        {"p": ch.park_code, "f": current, "t": ch.to_status, "e": ch.effective_on,
         "by": ch.changed_by, "r": ch.reason.strip(), "ev": ch.evidence_ref, "cn": ch.certificate_no,
         "cd": ch.certificate_date, "ib": ch.issuing_body, "a": ch.assessment_id}).mappings().one()
    return dict(row)


def portfolio_statuses(conn: Connection) -> dict[str, dict[str, Any]]:
    """The current status row of every park that has one."""
    rows = conn.execute(text("SELECT DISTINCT ON (park_code) * FROM eip_status_history "
                             "ORDER BY park_code, effective_on DESC, id DESC")).mappings().all()
    return {r["park_code"]: dict(r) for r in rows}
