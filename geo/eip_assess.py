"""Assess a park against the criteria register in force on a date; store the result with its inputs, reproducibly."""
from __future__ import annotations

import hashlib
import json
import operator as op
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Connection, text

from geo import eip_enterprise as ent
from geo import eip_metrics as m
from geo.eip_register import Criterion, Register, RegisterError, register_in_force

RESULTS = ("pass", "fail", "unknown", "info")
# 1: park results only (assessments stored before migration 0018); 2: park and enterprise results.
INPUTS_SCHEME = 2
_OPS = {">=": op.ge, "<=": op.le, ">": op.gt, "<": op.lt, "==": op.eq}


@dataclass(frozen=True)
class Result:
    criterion: Criterion
    result: str
    value: float | None
    figures: dict[str, Any]


@dataclass
class Assessment:
    park_code: str
    assessed_on: date
    register: Register
    results: list[Result]
    context: dict[str, Any] = field(default_factory=dict)
    enterprise_results: list[ent.EnterpriseResult] = field(default_factory=list)
    inputs_sha256: str = ""
    id: int | None = None
    scheme: int = INPUTS_SCHEME

    def summary(self) -> dict[str, Any]:
        counts = {r: sum(x.result == r for x in self.results) for r in RESULTS}
        by_cat: dict[str, dict[str, int]] = {}
        for x in self.results:
            by_cat.setdefault(x.criterion.category, {r: 0 for r in RESULTS})[x.result] += 1
        return {"counts": counts, "by_category": by_cat, "enterprises": ent.summary(self.enterprise_results)}


def judge(c: Criterion, measure: m.Measure) -> str:
    """pass/fail only when the bounds agree; no threshold → info (context figures, not a requirement)."""
    if c.threshold is None:
        return "info"
    if measure.low is None or measure.high is None:
        return "unknown"
    at_low, at_high = (_OPS[c.operator](x, c.threshold) for x in (measure.low, measure.high))
    if at_low and at_high:
        return "pass"
    if not at_low and not at_high:
        return "fail"
    return "unknown"


def _evidence(conn: Connection, park: str, c: Criterion, on: date) -> Result:
    """The latest reviewed record up to ``on`` decides: accepted → pass, rejected → fail, none → unknown."""
    row = conn.execute(text(
        "SELECT id, document_ref, document_date, reviewed_by, reviewed_on, accepted FROM eip_evidence "
        "WHERE park_code = :p AND criterion_code = :c AND enterprise_code IS NULL AND reviewed_on <= :on "
        "ORDER BY reviewed_on DESC, id DESC LIMIT 1"), {"p": park, "c": c.code, "on": on}).mappings().first()
    if row is None:
        return Result(c, "unknown", None, {"reason": "no_evidence"})
    figs = {"evidence_id": row["id"], "document_ref": row["document_ref"],
            "document_date": row["document_date"].isoformat(), "reviewed_by": row["reviewed_by"],
            "reviewed_on": row["reviewed_on"].isoformat(), "accepted": row["accepted"]}
    return Result(c, "pass" if row["accepted"] else "fail", None, figs)


def _declared(conn: Connection, park: str, c: Criterion, on: date) -> Result:
    row = conn.execute(text(
        "SELECT id, value_bool, value_number, declared_on, declared_by, source_ref FROM eip_declarations "
        "WHERE park_code = :p AND criterion_code = :c AND enterprise_code IS NULL AND declared_on <= :on ORDER BY declared_on DESC, id DESC "
        "LIMIT 1"), {"p": park, "c": c.code, "on": on}).mappings().first()
    if row is None:
        return Result(c, "unknown", None, {"reason": "not_declared"})
    figs = {"declaration_id": row["id"], "declared_on": row["declared_on"].isoformat(),
            "declared_by": row["declared_by"], "source_ref": row["source_ref"], "value_bool": row["value_bool"],
            "value_number": row["value_number"]}
    if row["value_number"] is not None:
        value = float(row["value_number"])
        return Result(c, judge(c, m.Measure(value)), value, figs)
    if c.threshold is not None:  # a yes/no answer cannot meet a numeric threshold
        return Result(c, "unknown", None, {**figs, "reason": "number_expected"})
    return Result(c, "pass" if row["value_bool"] else "fail", None, figs)


def measures(conn: Connection, park: str, on: date) -> tuple[dict[str, m.Measure], dict[str, Any]]:
    """Every computed measure of the park on ``on``, and the context lists (stations, sites, links)."""
    stations = m.nearby_stations(conn, park, on)
    polluted = m.nearby_polluted(conn, park)
    links = m.active_links(conn, park, on)
    out = {**m.land_measures(conn, park), **m.station_measures(stations), **m.enterprise_measures(conn, park),
           **m.symbiosis_measures(conn, park, links)}
    out["polluted_sites_1km"] = m.Measure(float(len(polluted)), figures={"sites": [s["code"] for s in polluted],
                                                                         "buffer_m": m.BUFFER_M})
    return out, {"stations": stations, "polluted_sites": polluted, "links": links}


def assess(conn: Connection, park: str, on: date, version: str | None = None) -> Assessment:
    """Evaluate every criterion of the register in force on ``on`` (or of ``version``): the park-level ones for
    the park, the enterprise-level ones for each of its firms (same register, same date, same hash)."""
    if not m.park_exists(conn, park):
        raise RegisterError(f"không có KCN {park} / no industrial park {park}")
    register = register_in_force(conn, on, version)
    values, context = measures(conn, park, on)
    results = []
    for c in register.park_criteria():
        if c.evaluation == "computed":
            if c.metric not in values:
                raise RegisterError(f"tiêu chí {c.code}: chỉ số không biết / unknown metric {c.metric!r}")
            mv = values[c.metric]
            results.append(Result(c, judge(c, mv), mv.value, {**mv.figures, "low": mv.low, "high": mv.high}))
        elif c.evaluation == "evidence":
            results.append(_evidence(conn, park, c, on))
        else:
            results.append(_declared(conn, park, c, on))
    firm_results = ent.evaluate(conn, park, on, register, context["links"])
    a = Assessment(park, on, register, results, context, firm_results)
    a.inputs_sha256 = inputs_hash(a)
    return a


def canonical(a: Assessment) -> str:
    doc = {"park": a.park_code, "on": a.assessed_on.isoformat(), "register": a.register.version,
           "register_sha256": a.register.sha256,
           "results": [[r.criterion.code, r.result, r.value, r.figures] for r in a.results]}
    if a.scheme >= 2:
        doc["enterprise_results"] = [[r.enterprise_code, r.criterion.code, r.result, r.value, r.figures]
                                     for r in a.enterprise_results]
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str)


def inputs_hash(a: Assessment) -> str:
    return hashlib.sha256(canonical(a).encode()).hexdigest()


def store(conn: Connection, a: Assessment, who: str) -> int:
    """Write the assessment and its results (figures included); returns its id."""
    a.id = conn.execute(text(
        "INSERT INTO eip_assessments (park_code, assessed_on, register_version, inputs_sha256, inputs_scheme, summary, "
        "created_by) VALUES (:p, :on, :v, :h, :sc, CAST(:s AS jsonb), :who) RETURNING id"),
        {"p": a.park_code, "on": a.assessed_on, "v": a.register.version, "h": a.inputs_sha256, "sc": a.scheme,
         "s": json.dumps(a.summary()), "who": who}).scalar_one()
    for i, r in enumerate(a.results):
        conn.execute(text("INSERT INTO eip_assessment_results (assessment_id, position, criterion_code, result, value, "
                          "figures) VALUES (:a, :i, :c, :r, :v, CAST(:f AS jsonb))"),
                     {"a": a.id, "i": i, "c": r.criterion.code, "r": r.result, "v": r.value,
                      "f": json.dumps(r.figures, ensure_ascii=False, default=str)})
    positions = {c.code: i for i, c in enumerate(a.register.criteria)}
    if a.enterprise_results:
        conn.execute(text("INSERT INTO eip_enterprise_results (assessment_id, enterprise_code, criterion_code, position, "
                          "result, value, figures) VALUES (:a, :e, :c, :i, :r, :v, CAST(:f AS jsonb))"),
                     [{"a": a.id, "e": r.enterprise_code, "c": r.criterion.code, "i": positions[r.criterion.code],
                       "r": r.result, "v": r.value, "f": json.dumps(r.figures, ensure_ascii=False, default=str)}
                      for r in a.enterprise_results])
    return a.id


def stored_enterprise_results(conn: Connection, assessment_id: int) -> list[dict[str, Any]]:
    return [dict(r) for r in conn.execute(text(
        "SELECT enterprise_code, criterion_code, result, value, figures FROM eip_enterprise_results "
        "WHERE assessment_id = :a ORDER BY enterprise_code, position"), {"a": assessment_id}).mappings()]


def latest_stored(conn: Connection, park: str) -> dict[str, Any] | None:
    row = conn.execute(text("SELECT id, assessed_on, register_version, inputs_sha256, summary, created_by, created_at "
                            "FROM eip_assessments WHERE park_code = :p ORDER BY created_at DESC, id DESC LIMIT 1"),
                       {"p": park}).mappings().first()
    return dict(row) if row else None
