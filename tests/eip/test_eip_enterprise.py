"""Enterprise-level criteria per firm on constructed parks: results with figures, scope, storage with the park."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from geo import eip_assess
from tests.eip.eip_world import build

ON = date(2025, 6, 30)


@pytest.fixture
def world(db, tmp_path, ingest_settings):
    build(db, tmp_path, ingest_settings)
    return db


def by_firm(a: eip_assess.Assessment) -> dict[tuple[str, str], eip_assess.ent.EnterpriseResult]:
    return {(r.enterprise_code, r.criterion.code): r for r in a.enterprise_results}


def assess(engine, park: str, on: date = ON, version: str | None = None) -> eip_assess.Assessment:
    with engine.connect() as conn:
        return eip_assess.assess(conn, park, on, version)


def test_every_firm_gets_every_enterprise_criterion_of_the_same_register(world):
    a = assess(world, "P1")
    codes = [c.code for c in a.register.enterprise_criteria()]
    assert a.register.version == "2025.2" and {"D35-37.2a", "D35-37.2b", "D35-2.8-RECP", "B5-SOC.1-DN",
                                                 "B5-SOC.2-DN", "B5-SOC.4-DN", "B5-SOC.6-DN"} == set(codes)
    assert sorted({r.enterprise_code for r in a.enterprise_results}) == ["A", "B", "C", "D"]  # not E, F (P3)
    assert len(a.enterprise_results) == 4 * len(codes)
    # The older version has only its own three enterprise criteria.
    assert {r.criterion.code for r in assess(world, "P1", version="2025.1").enterprise_results} == {
        "D35-37.2a", "D35-37.2b", "D35-2.8-RECP"}


def test_recp_and_symbiosis_per_firm(world):
    r = by_firm(assess(world, "P1"))
    assert [r[(f, "D35-2.8-RECP")].result for f in "ABCD"] == ["pass", "pass", "fail", "unknown"]
    assert r[("D", "D35-2.8-RECP")].figures["reason"] == "not_recorded"
    # L1 (A–B) and the cross-park L2 (C–E) are in operation; L3 (B–D) ended in 2019.
    assert {f: r[(f, "D35-37.2b")].figures["links"] for f in "ABCD"} == {"A": ["L1"], "B": ["L1"], "C": ["L2"],
                                                                          "D": []}
    assert [r[(f, "D35-37.2b")].result for f in "ABCD"] == ["pass", "pass", "pass", "fail"]
    assert ("E", "D35-37.2b") not in r  # E is in P3; the link counts for it there
    e = by_firm(assess(world, "P3"))
    assert e[("E", "D35-37.2b")].figures["links"] == ["L2"] and e[("F", "D35-37.2b")].result == "fail"


def test_rules_for_firms_over_100_workers(world):
    r = by_firm(assess(world, "P1"))
    soc1 = {f: r[(f, "B5-SOC.1-DN")] for f in "ABCD"}
    assert soc1["A"].result == "pass" and soc1["A"].figures["workers"] == 150
    assert soc1["B"].result == "not_applicable"  # 50 workers: grievance rules are not required (and are absent)
    assert soc1["C"].result == "pass"
    assert soc1["D"].result == "unknown" and soc1["D"].figures["reason"] == "workers_unknown"
    assert all(r[(f, "B5-SOC.2-DN")].result == "unknown" for f in "ABCD")  # disclosure not recorded


def test_enterprise_evidence_is_per_firm_and_dated(world):
    with world.begin() as conn:
        conn.execute(text("INSERT INTO eip_evidence (park_code, enterprise_code, criterion_code, document_ref, "
                          "document_date, reviewed_by, reviewed_on, accepted) VALUES "
                          "('P1', 'A', 'D35-37.2a', 'XN-A', '2025-01-01', 'x', '2025-02-01', true), "
                          "('P1', 'C', 'D35-37.2a', 'XN-C', '2025-01-01', 'x', '2025-02-01', false), "
                          "('P1', 'B', 'D35-37.2a', 'XN-B', '2025-01-01', 'x', '2025-08-01', true)"))
    r = by_firm(assess(world, "P1"))
    assert (r[("A", "D35-37.2a")].result, r[("A", "D35-37.2a")].figures["document_ref"]) == ("pass", "XN-A")
    assert r[("C", "D35-37.2a")].result == "fail"
    assert r[("B", "D35-37.2a")].result == "unknown"  # reviewed after the date
    park = {x.criterion.code: x for x in assess(world, "P1").results}
    assert "D35-37.2a" not in park  # an enterprise criterion never shows as a park result


def test_summary_gives_counts_and_shares_only(world):
    s = assess(world, "P1").summary()["enterprises"]
    soc1 = s["by_criterion"]["B5-SOC.1-DN"]
    assert (soc1["pass"], soc1["not_applicable"], soc1["unknown"], soc1["fail"]) == (2, 1, 1, 0)
    assert soc1["share_pass_pct"] == pytest.approx(66.67)
    assert s["n_enterprises"] == 4 and s["all_pass"] == 0


def test_a_park_with_no_enterprises_has_no_enterprise_results(world):
    a = assess(world, "P2")
    assert a.enterprise_results == [] and a.summary()["enterprises"]["n_enterprises"] == 0


def test_stored_with_the_park_assessment_and_in_its_hash(world):
    with world.begin() as conn:
        a = eip_assess.assess(conn, "P1", ON)
        aid = eip_assess.store(conn, a, "pytest")
    with world.connect() as conn:
        head = conn.execute(text("SELECT register_version, inputs_sha256, inputs_scheme FROM eip_assessments "
                                 "WHERE id = :a"), {"a": aid}).one()
        rows = eip_assess.stored_enterprise_results(conn, aid)
    assert tuple(head) == ("2025.2", a.inputs_sha256, 2)
    assert len(rows) == len(a.enterprise_results)
    got = {(x["enterprise_code"], x["criterion_code"]): (x["result"], x["figures"]) for x in rows}
    assert got[("B", "B5-SOC.1-DN")] == ("not_applicable", {"flag": "has_grievance_rules", "answer": False,
                                                            "workers": 50, "scope": "workers > 100"})
    # Enterprise evidence changes no park result, only a firm's: the hash still changes.
    with world.begin() as conn:
        conn.execute(text("INSERT INTO eip_evidence (park_code, enterprise_code, criterion_code, document_ref, "
                          "document_date, reviewed_by, reviewed_on, accepted) VALUES "
                          "('P1', 'A', 'D35-37.2a', 'XN-A', '2025-01-01', 'x', '2025-02-01', true)"))
    b = assess(world, "P1")
    assert [(r.criterion.code, r.result) for r in b.results] == [(r.criterion.code, r.result) for r in a.results]
    assert b.inputs_sha256 != a.inputs_sha256
    # Assessments stored before the enterprise results existed (scheme 1) are still re-checkable.
    b.scheme = 1
    assert "enterprise_results" not in eip_assess.canonical(b)
