"""Enterprise-level eco-park criteria (Decree 35 Art. 37(2), Circular 05 form B.5), evaluated for each firm of a park.

Each firm of the park (records whose park_code is the park) gets one result per enterprise-level criterion of the
register: pass / fail / unknown, or not_applicable when the criterion covers only firms with more than 100 workers
and the firm has fewer. The figures behind each result are kept (flag, workers, links, evidence record).
The firms' attributes are the records as currently loaded; links, evidence and certificates are taken on the date.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from geo.eip_metrics import LARGE_FIRM_WORKERS, Measure
from geo.eip_register import Criterion, Register, RegisterError

ENTERPRISE_RESULTS = ("pass", "fail", "unknown", "info", "not_applicable")
# metric → (enterprises column, applies only to firms with more than 100 workers)
FLAG_METRICS = {"enterprise_recp": ("recp_applied", False), "enterprise_recp_aware": ("recp_aware", False),
                "enterprise_symbiosis_plan": ("symbiosis_plan", False),
                "enterprise_disclosure": ("discloses_information", False),
                "enterprise_grievance": ("has_grievance_rules", True),
                "enterprise_gender_equality": ("gender_equality", True),
                "enterprise_anti_harassment": ("anti_harassment", False)}
LINK_METRIC = "enterprise_in_symbiosis"
METRICS = (*FLAG_METRICS, LINK_METRIC)


@dataclass(frozen=True)
class EnterpriseResult:
    enterprise_code: str
    criterion: Criterion
    result: str
    value: float | None
    figures: dict[str, Any]


def firms(conn: Connection, park: str) -> list[dict[str, Any]]:
    cols = ", ".join(sorted({c for c, _ in FLAG_METRICS.values()}))
    return [dict(r) for r in conn.execute(text(
        f"SELECT code, workers, {cols} FROM enterprises WHERE park_code = :p ORDER BY code"), {"p": park}).mappings()]


def _links_by_firm(links: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for link in links:
        for end in (link["from_enterprise"], link["to_enterprise"]):
            out.setdefault(end, []).append(link["code"])
    return {k: sorted(set(v)) for k, v in out.items()}


def _flag(c: Criterion, firm: dict[str, Any], column: str, large_only: bool) -> EnterpriseResult:
    from geo.eip_assess import judge  # the same three-valued judgement as the park criteria
    value = firm[column]
    figs: dict[str, Any] = {"flag": column, "answer": value, "workers": firm["workers"]}
    if large_only:
        figs["scope"] = f"workers > {LARGE_FIRM_WORKERS}"
        if firm["workers"] is not None and firm["workers"] <= LARGE_FIRM_WORKERS:
            return EnterpriseResult(firm["code"], c, "not_applicable", None, figs)
        if firm["workers"] is None and value is not True:
            # Whether the rule applies is unknown; a "yes" meets it either way, a "no" or no answer does not tell.
            return EnterpriseResult(firm["code"], c, "unknown", None, {**figs, "reason": "workers_unknown"})
    if value is None:
        return EnterpriseResult(firm["code"], c, "unknown", None, {**figs, "reason": "not_recorded"})
    x = 1.0 if value else 0.0
    return EnterpriseResult(firm["code"], c, judge(c, Measure(x)), x, figs)


def _evidence(conn: Connection, park: str, firm: str, c: Criterion, on: date) -> EnterpriseResult:
    row = conn.execute(text(
        "SELECT id, document_ref, document_date, reviewed_by, reviewed_on, accepted FROM eip_evidence "
        "WHERE park_code = :p AND enterprise_code = :e AND criterion_code = :c AND reviewed_on <= :on "
        "ORDER BY reviewed_on DESC, id DESC LIMIT 1"), {"p": park, "e": firm, "c": c.code, "on": on}).mappings().first()
    if row is None:
        return EnterpriseResult(firm, c, "unknown", None, {"reason": "no_evidence"})
    figs = {"evidence_id": row["id"], "document_ref": row["document_ref"],
            "document_date": row["document_date"].isoformat(), "reviewed_by": row["reviewed_by"],
            "reviewed_on": row["reviewed_on"].isoformat(), "accepted": row["accepted"]}
    return EnterpriseResult(firm, c, "pass" if row["accepted"] else "fail", None, figs)


def _declared(conn: Connection, park: str, firm: str, c: Criterion, on: date) -> EnterpriseResult:
    from geo.eip_assess import judge
    row = conn.execute(text(
        "SELECT id, value_bool, value_number, declared_on, declared_by FROM eip_declarations WHERE park_code = :p "
        "AND enterprise_code = :e AND criterion_code = :c AND declared_on <= :on ORDER BY declared_on DESC, id DESC "
        "LIMIT 1"), {"p": park, "e": firm, "c": c.code, "on": on}).mappings().first()
    if row is None:
        return EnterpriseResult(firm, c, "unknown", None, {"reason": "not_declared"})
    figs = {"declaration_id": row["id"], "declared_on": row["declared_on"].isoformat(),
            "declared_by": row["declared_by"], "value_bool": row["value_bool"], "value_number": row["value_number"]}
    if row["value_number"] is not None:
        x = float(row["value_number"])
        return EnterpriseResult(firm, c, judge(c, Measure(x)), x, figs)
    if c.threshold is not None:
        return EnterpriseResult(firm, c, "unknown", None, {**figs, "reason": "number_expected"})
    return EnterpriseResult(firm, c, "pass" if row["value_bool"] else "fail", None, figs)


def evaluate(conn: Connection, park: str, on: date, register: Register,
             links: list[dict[str, Any]]) -> list[EnterpriseResult]:
    """Every enterprise-level criterion for every firm of the park, ordered by firm then register position."""
    from geo.eip_assess import judge
    criteria = register.enterprise_criteria()
    for c in criteria:
        if c.evaluation == "computed" and c.metric not in METRICS:
            raise RegisterError(f"tiêu chí {c.code}: chỉ số doanh nghiệp không biết / unknown enterprise metric "
                                f"{c.metric!r}")
    by_firm = _links_by_firm(links)
    out: list[EnterpriseResult] = []
    for firm in firms(conn, park):
        code = firm["code"]
        for c in criteria:
            if c.evaluation == "evidence":
                out.append(_evidence(conn, park, code, c, on))
            elif c.evaluation == "declared":
                out.append(_declared(conn, park, code, c, on))
            elif c.metric == LINK_METRIC:
                mine = by_firm.get(code, [])
                x = float(len(mine))
                out.append(EnterpriseResult(code, c, judge(c, Measure(x)), x, {"links": mine}))
            else:
                column, large = FLAG_METRICS[c.metric]  # type: ignore[index]
                out.append(_flag(c, firm, column, large))
    return out


def summary(results: list[EnterpriseResult]) -> dict[str, Any]:
    """Counts and shares only (what the industrial-parks authority may see): per criterion and overall.

    ``share_pass_pct`` is over the firms the criterion applies to; ``all_pass`` counts the firms passing every
    applicable criterion (candidates for the eco-enterprise certificate, Art. 40(2)).
    """
    by_crit: dict[str, dict[str, Any]] = {}
    by_firm: dict[str, list[str]] = {}
    for r in results:
        d = by_crit.setdefault(r.criterion.code, {k: 0 for k in ENTERPRISE_RESULTS})
        d[r.result] += 1
        by_firm.setdefault(r.enterprise_code, []).append(r.result)
    for d in by_crit.values():
        applicable = sum(d[k] for k in ("pass", "fail", "unknown"))
        d["share_pass_pct"] = round(100.0 * d["pass"] / applicable, 2) if applicable else None
    all_pass = sum(all(x in ("pass", "not_applicable", "info") for x in v) for v in by_firm.values())
    return {"n_enterprises": len(by_firm), "all_pass": all_pass, "by_criterion": by_crit}
