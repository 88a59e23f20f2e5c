"""Computed criteria on constructed parks: clipped zones, no enterprises, cross-park links, three-valued shares."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text

from geo import eip_assess
from geo.eip_register import RegisterError
from tests.eip.eip_world import build

ON = date(2025, 6, 30)


@pytest.fixture
def world(db, tmp_path, ingest_settings):
    build(db, tmp_path, ingest_settings)
    return db


def results(engine, park: str, on: date = ON, version: str | None = None) -> dict[str, eip_assess.Result]:
    with engine.connect() as conn:
        return {r.criterion.code: r for r in eip_assess.assess(conn, park, on, version).results}


def test_zones_overlapping_the_boundary_count_only_inside(world):
    r = results(world, "P1")["D82-25PCT"]
    assert r.value == pytest.approx(20.0, abs=0.05)  # 10 % green + 10 % of the road inside; 30 % outside ignored
    assert r.result == "fail"
    assert r.figures["n_zones_clipped"] == 1 and r.figures["outside_boundary_ha_excluded"] > 0
    assert r.figures["road_ha"] == pytest.approx(r.figures["green_space_ha"], rel=1e-3)


def test_wwtp_zone_and_automatic_wastewater_station_inside(world):
    res = results(world, "P1")
    assert res["D35-37.1b-XLNT"].result == "pass" and res["D35-37.1b-XLNT"].value == 1
    assert res["MON-NT-TD"].result == "pass" and res["MON-NT-TD"].figures["stations"] == ["WW1"]


def test_stations_and_polluted_sites_within_one_km(world):
    res = results(world, "P1")
    assert res["MON-KK-1KM"].figures["stations"] == ["AIR-NEAR"]  # the one 2 km away is not counted
    assert res["MON-NUOC-1KM"].result == "pass"
    assert res["MON-ONĐ-1KM"].result == "info" and res["MON-ONĐ-1KM"].figures["sites"] == ["PS1"]


def test_latest_reading_of_a_nearby_station_is_shown(world):
    with world.begin() as conn:
        # Stored AQI rows are read through the aqi_hourly view; category 1 = Trung bình, 2 = Kém.
        conn.execute(text("INSERT INTO aqi_hourly_store (station_code, hour_end, present, vn_aqi, vn_category, "
                          "vn_provisional, vn_beyond_scale, us_provisional, us_beyond_scale) VALUES "
                          "('AIR-NEAR', '2025-06-30 10:00+07', 0, 87, 1, false, false, false, false), "
                          "('AIR-NEAR', '2025-07-02 10:00+07', 0, 150, 2, false, false, false, false)"))
    with world.connect() as conn:
        a = eip_assess.assess(conn, "P1", ON)
    near = next(s for s in a.context["stations"] if s["code"] == "AIR-NEAR")
    assert near["latest"]["value"] == 87 and not near["inside"] and 400 < near["distance_m"] < 600


def test_recp_share_is_three_valued_when_answers_are_missing(world):
    res = results(world, "P1")
    recp = res["B5-ENV.2"]  # A, B yes, C no, D not recorded: between 50 % and 75 %, both ≥ 20 %
    assert (recp.result, recp.figures["low"], recp.figures["high"]) == ("pass", 50.0, 75.0)
    aware = res["D82-RECP-90"]  # 75 %..100 % around the 90 % reference threshold: cannot be decided
    assert aware.result == "unknown"


def test_large_firm_scope_excludes_firms_without_a_worker_count(world):
    r = results(world, "P1")["B5-SOC.1"]
    assert r.result == "pass" and r.figures["n"] == 2 and r.figures["n_workers_unknown_excluded"] == 1


def test_a_park_with_no_enterprises_is_unknown_not_fail(world):
    res = results(world, "P2")
    for code in ("B5-ENV.2", "D82-RECP-90", "A5-ENV.1", "D82-SYMB-10", "B5-SOC.2", "D82-25PCT", "D35-37.1b-XLNT"):
        assert res[code].result == "unknown", code


def test_a_link_between_two_parks_counts_for_both(world):
    p1, p3 = results(world, "P1"), results(world, "P3")
    assert p1["A5-ENV.1"].value == 2 and p1["A5-ENV.1"].figures["cross_park_links"] == ["L2"]
    assert p3["A5-ENV.1"].value == 1 and p3["A5-ENV.1"].figures["cross_park_links"] == ["L2"]
    assert p1["D82-SYMB-10"].value == 75.0  # A, B, C of four firms; the ended link L3 would add D
    assert p3["D82-SYMB-10"].figures["enterprises_in_links"] == ["E"]


def test_links_count_only_while_in_operation(world):
    # Before Decree 35 no register is in force: the version is named explicitly (and refused otherwise).
    assert results(world, "P1", date(2019, 6, 1), "2025.1")["A5-ENV.1"].figures["links"] == ["L3"]
    assert results(world, "P3", date(2021, 6, 1), "2025.1")["A5-ENV.1"].result == "fail"
    with pytest.raises(RegisterError, match="no criteria register in force"):
        results(world, "P1", date(2019, 6, 1))


def test_evidence_and_declarations(world):
    with world.begin() as conn:
        conn.execute(text("INSERT INTO eip_evidence (park_code, criterion_code, document_ref, document_date, reviewed_by, "
                          "reviewed_on, accepted) VALUES ('P1', 'D35-37.1a', 'CV-1', '2025-01-01', 'x', '2025-02-01', true),"
                          "('P1', 'D35-37.1c', 'CV-2', '2025-01-01', 'x', '2025-02-01', false), "
                          "('P1', 'D35-37.1d', 'CV-3', '2025-01-01', 'x', '2025-08-01', true)"))
        conn.execute(text("INSERT INTO eip_declarations (park_code, criterion_code, value_bool, value_number, "
                          "declared_on, declared_by) VALUES ('P1', 'A5-PM.1', true, NULL, '2025-01-01', 'y'), "
                          "('P1', 'A5-PM.2', false, NULL, '2025-01-01', 'y'), ('P1', 'A5-ENV.3', NULL, 30, '2025-01-01', 'y')"))
    res = results(world, "P1")
    assert res["D35-37.1a"].result == "pass" and res["D35-37.1a"].figures["document_ref"] == "CV-1"
    assert res["D35-37.1c"].result == "fail"
    assert res["D35-37.1d"].result == "unknown"  # reviewed after the assessment date
    assert (res["A5-PM.1"].result, res["A5-PM.2"].result) == ("pass", "fail")
    assert res["A5-ENV.3"].result == "info" and res["A5-ENV.3"].value == 30
    assert res["A5-ECO.1"].result == "unknown"


def test_reassessing_the_same_date_and_data_gives_the_same_result(world):
    with world.begin() as conn:
        a = eip_assess.assess(conn, "P1", ON)
        first = eip_assess.store(conn, a, "pytest")
        b = eip_assess.assess(conn, "P1", ON)
        eip_assess.store(conn, b, "pytest")
    assert a.inputs_sha256 == b.inputs_sha256 and eip_assess.canonical(a) == eip_assess.canonical(b)
    with world.connect() as conn:
        stored = conn.execute(text("SELECT criterion_code, result, value, figures FROM eip_assessment_results "
                                   "WHERE assessment_id = :a ORDER BY position"), {"a": first}).all()
        again = conn.execute(text("SELECT criterion_code, result, value, figures FROM eip_assessment_results "
                                  "WHERE assessment_id = :a ORDER BY position"), {"a": b.id}).all()
        hashes = conn.execute(text("SELECT DISTINCT inputs_sha256, register_version FROM eip_assessments")).all()
    assert stored == again and len(hashes) == 1 and hashes[0][1] == "2025.2"  # 2025.2 amends 2025.1
    with world.begin() as conn:
        conn.execute(text("UPDATE enterprises SET recp_applied = true WHERE code = 'C'"))
        assert eip_assess.assess(conn, "P1", ON).inputs_sha256 != a.inputs_sha256
