"""Eco-enterprise certificates (Decree 35 Art. 40(2)): issued by the Management Board in force on the date, revocable.

One active certificate per enterprise at a time (re-issuance = revoke, then record the new one). Every issue and
revocation is appended to ``eip_certificate_history`` with who, when and the document it rests on.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from geo.eip_workflow import WorkflowError, authority_on

STATUSES = ("active", "revoked")
TITLES = {"active": ("Còn hiệu lực", "Active"), "revoked": ("Đã thu hồi", "Revoked")}


class CertificateError(WorkflowError):
    """A certificate that cannot be recorded or revoked as asked."""


@dataclass
class NewCertificate:
    enterprise_code: str
    certificate_no: str
    issued_on: date
    evidence_ref: str
    recorded_by: str
    issuing_body: str | None = None
    park_code: str | None = None  # when given (the scorecard's park), the enterprise must belong to it


def _lock(conn: Connection, enterprise: str) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext('eip_certificate:' || :e))"), {"e": enterprise})


def record(conn: Connection, new: NewCertificate) -> dict[str, Any]:
    """Store a certificate; the issuing body defaults to the authority in force on the certificate date."""
    enterprise, number = (new.enterprise_code or "").strip(), (new.certificate_no or "").strip()
    evidence, who = (new.evidence_ref or "").strip(), (new.recorded_by or "").strip()
    if not enterprise or not number:
        raise CertificateError("cần mã doanh nghiệp và số giấy chứng nhận / the enterprise code and the certificate "
                               "number are required")
    if not evidence:
        raise CertificateError("cần căn cứ (số văn bản, quyết định) / a document reference is required")
    if not who:
        raise CertificateError("cần người ghi nhận / who records it is required")
    if new.issued_on is None:
        raise CertificateError("cần ngày cấp / the issue date is required")
    _lock(conn, enterprise)
    park = conn.execute(text("SELECT park_code FROM enterprises WHERE code = :e"), {"e": enterprise}).scalar()
    if park is None or (new.park_code and park != new.park_code):
        vi, en = (f" trong KCN {new.park_code}", f" in park {new.park_code}") if new.park_code else ("", "")
        raise CertificateError(f"không có doanh nghiệp {enterprise}{vi} / no enterprise {enterprise}{en}")
    if conn.execute(text("SELECT 1 FROM eip_enterprise_certificates WHERE certificate_no = :n"),
                    {"n": number}).first():
        raise CertificateError(f"số giấy chứng nhận {number} đã có / certificate number {number} already recorded")
    active = conn.execute(text("SELECT certificate_no FROM eip_enterprise_certificates WHERE enterprise_code = :e "
                               "AND status = 'active'"), {"e": enterprise}).scalar()
    if active:
        raise CertificateError(f"doanh nghiệp đang có giấy chứng nhận còn hiệu lực {active}; hãy thu hồi trước / the "
                               f"enterprise holds active certificate {active}; revoke it first")
    body = (new.issuing_body or "").strip() or authority_on(conn, new.issued_on).name_vi
    row = conn.execute(text(
        "INSERT INTO eip_enterprise_certificates (certificate_no, enterprise_code, park_code, issued_on, issuing_body, "
        "evidence_ref, recorded_by) VALUES (:n, :e, :p, :d, :b, :ev, :who) RETURNING *"),
        {"n": number, "e": enterprise, "p": park, "d": new.issued_on, "b": body, "ev": evidence,
         "who": who}).mappings().one()
    conn.execute(text("INSERT INTO eip_certificate_history (certificate_id, action, effective_on, changed_by, "
                      "evidence_ref) VALUES (:c, 'issued', :d, :who, :ev)"),
                 {"c": row["id"], "d": new.issued_on, "who": who, "ev": evidence})
    return dict(row)


def revoke(conn: Connection, certificate_no: str, revoked_on: date, who: str, reason: str,
           evidence_ref: str) -> dict[str, Any]:
    if not (reason or "").strip() or not (evidence_ref or "").strip() or not (who or "").strip():
        raise CertificateError("thu hồi cần lý do, căn cứ và người thực hiện / a revocation needs a reason, a "
                               "document reference and who made it")
    row = conn.execute(text("SELECT * FROM eip_enterprise_certificates WHERE certificate_no = :n FOR UPDATE"),
                       {"n": certificate_no.strip()}).mappings().first()
    if row is None:
        raise CertificateError(f"không có giấy chứng nhận {certificate_no} / no certificate {certificate_no}")
    if row["status"] != "active":
        raise CertificateError(f"giấy chứng nhận {certificate_no} đã bị thu hồi / certificate {certificate_no} is "
                               "already revoked")
    if revoked_on < row["issued_on"]:
        raise CertificateError("ngày thu hồi trước ngày cấp / the revocation date is before the issue date")
    out = conn.execute(text("UPDATE eip_enterprise_certificates SET status = 'revoked', revoked_on = :d WHERE id = :i "
                            "RETURNING *"), {"d": revoked_on, "i": row["id"]}).mappings().one()
    conn.execute(text("INSERT INTO eip_certificate_history (certificate_id, action, effective_on, changed_by, reason, "
                      "evidence_ref) VALUES (:c, 'revoked', :d, :who, :r, :ev)"),
                 {"c": row["id"], "d": revoked_on, "who": who.strip(), "r": reason.strip(), "ev": evidence_ref.strip()})
    return dict(out)


def for_park(conn: Connection, park: str, on: date | None = None) -> list[dict[str, Any]]:
    """The certificates of the park's enterprises, each with its status on ``on`` (today's status if None)."""
    rows = conn.execute(text(
        "SELECT c.*, CASE WHEN CAST(:on AS date) IS NULL THEN c.status "
        "WHEN c.issued_on > :on THEN 'not_yet_issued' "
        "WHEN c.revoked_on IS NOT NULL AND c.revoked_on <= :on THEN 'revoked' ELSE 'active' END AS status_on "
        "FROM eip_enterprise_certificates c WHERE c.park_code = :p ORDER BY c.issued_on, c.id"),
        {"p": park, "on": on}).mappings().all()
    return [dict(r) for r in rows]


def history(conn: Connection, certificate_no: str) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(
        "SELECT h.action, h.effective_on, h.changed_by, h.changed_at, h.reason, h.evidence_ref FROM "
        "eip_certificate_history h JOIN eip_enterprise_certificates c ON c.id = h.certificate_id "
        "WHERE c.certificate_no = :n ORDER BY h.effective_on, h.id"), {"n": certificate_no}).mappings()]


def active_on(certs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """enterprise code → its certificate active on the date the list was taken for."""
    return {c["enterprise_code"]: c for c in certs if c["status_on"] == "active"}
