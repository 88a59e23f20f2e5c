"""The load of one file: idempotency, history, diff, revert, sync, transitions, all-or-nothing writes."""
from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from geo.db import raw_connection
from geo.errors import RevertConflict, RunError
from ingest import history, ledger
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import data_fingerprint, park, point, square, write_geojson

PARKS = REGISTRY.get("industrial_parks")


def load(engine, path, settings, area, spec=PARKS, **opts):  # type: ignore[no-untyped-def]
    return ingest_file(engine, spec, path, LoadOptions(**opts), ingest_settings=settings, area=area)


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_first_load_inserts_and_records_history(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "parks.geojson", [park("A"), park("B", 106.72)])
    r = load(db, f, ingest_settings, area)
    assert (r.status, r.inserted, r.updated, r.unchanged) == ("succeeded", 2, 0, 0)
    assert rows(db, "SELECT code, ingest_run_id FROM industrial_parks ORDER BY code") == [("A", r.run_id),
                                                                                        ("B", r.run_id)]
    # A first load records its inserts as one span of ids; diff lists them as it lists per-row inserts.
    ids = rows(db, "SELECT min(id), max(id) FROM industrial_parks")[0]
    assert rows(db, "SELECT run_id, layer, first_id, last_id FROM feature_insert_spans") == [
        (r.run_id, "industrial_parks", *ids)]
    assert rows(db, "SELECT count(*) FROM feature_history") == [(0,)]
    with raw_connection(db) as conn:
        assert [(c.op, c.key) for c in history.diff(conn, r.run_id)] == [("insert", {"code": "A"}),
                                                                          ("insert", {"code": "B"})]
    run = rows(db, f"SELECT status, n_inserted, sha256 IS NOT NULL, who FROM ingest_runs WHERE run_id={r.run_id}")
    assert run == [("succeeded", 2, True, "pytest")]


def test_computed_area_is_metric(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "p.geojson", [park("A")])
    load(db, f, ingest_settings, area)
    (ha,) = rows(db, "SELECT area_ha FROM industrial_parks")[0]
    # 0.01° × 0.01° near 11° N ≈ 1,106 m × 1,092 m ≈ 120.8 ha
    assert ha == pytest.approx(120.8, rel=0.01)


def test_reingest_same_file_changes_nothing(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "parks.geojson", [park("A"), park("B", 106.72)])
    load(db, f, ingest_settings, area)
    before = data_fingerprint(db)
    r2 = load(db, f, ingest_settings, area)
    assert (r2.status, r2.inserted, r2.updated, r2.unchanged) == ("succeeded", 0, 0, 2)
    assert data_fingerprint(db) == before


def test_update_keeps_previous_version_and_diff_names_fields(db, tmp_path, ingest_settings, area):
    load(db, write_geojson(tmp_path / "v1.geojson", [park("A", occupancy_pct=50), park("B", 106.72)]),
         ingest_settings, area)
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park("A", occupancy_pct=80), park("B", 106.73)]),
              ingest_settings, area)
    assert (r2.inserted, r2.updated, r2.unchanged) == (0, 2, 0)
    with raw_connection(db) as conn:
        changes = {c.key["code"]: c for c in history.diff(conn, r2.run_id)}
    assert changes["A"].op == "update" and changes["A"].fields == ["occupancy_pct"]
    assert "geom" in changes["B"].fields and "area_ha" not in changes["A"].fields
    old = rows(db, f"SELECT old_attrs->>'occupancy_pct' FROM feature_history WHERE run_id={r2.run_id} "
                   "AND feature_key->>'code'='A'")
    assert old == [("50.0",)] or old == [("50",)]


def test_revert_restores_exactly_and_can_be_reverted(db, tmp_path, ingest_settings, area):
    load(db, write_geojson(tmp_path / "v1.geojson", [park("A", occupancy_pct=50), park("B", 106.72)]),
         ingest_settings, area)
    before = data_fingerprint(db)
    snapshot = rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id")
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park("A", occupancy_pct=80), park("C", 106.75)]),
              ingest_settings, area, sync=True)
    assert (r2.inserted, r2.updated, r2.deleted) == (1, 1, 1)
    with raw_connection(db) as conn:
        rev = history.revert(conn, r2.run_id, "pytest")
    assert rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id") == snapshot
    assert data_fingerprint(db)["industrial_parks"] == before["industrial_parks"]
    with raw_connection(db) as conn:
        assert ledger.get(conn, r2.run_id)["reverted_by_run_id"] == rev
        with pytest.raises(RunError):
            history.revert(conn, r2.run_id, "pytest")
        history.revert(conn, rev, "pytest")  # revert the revert: back to version 2
    assert rows(db, "SELECT code, occupancy_pct FROM industrial_parks ORDER BY code") == [("A", 80.0), ("C", None)]


def test_revert_refuses_to_overwrite_a_later_change(db, tmp_path, ingest_settings, area):
    r1 = load(db, write_geojson(tmp_path / "v1.geojson", [park("A", occupancy_pct=50)]), ingest_settings, area)
    load(db, write_geojson(tmp_path / "v2.geojson", [park("A", occupancy_pct=60)]), ingest_settings, area)
    before = data_fingerprint(db)
    with raw_connection(db) as conn, pytest.raises(RevertConflict, match="changed again later"):
        history.revert(conn, r1.run_id, "pytest")
    assert data_fingerprint(db)["industrial_parks"] == before["industrial_parks"]


def test_any_rejected_feature_writes_nothing_by_default(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "p.geojson", [park("A"), park("B", occupancy_pct=150)])
    before = data_fingerprint(db)
    r = load(db, f, ingest_settings, area)
    assert r.status == "rejected" and r.rejected == 1
    assert data_fingerprint(db) == before
    assert "record 2" in r.rejects_path.read_text() or ",2," in r.rejects_path.read_text()
    r2 = load(db, f, ingest_settings, area, skip_invalid=True)
    assert (r2.status, r2.inserted, r2.rejected) == ("succeeded_with_rejects", 1, 1)


def test_dry_run_writes_nothing_but_reports(db, tmp_path, ingest_settings, area):
    f = write_geojson(tmp_path / "p.geojson", [park("A"), park("A", 106.75)])
    before = data_fingerprint(db)
    r = load(db, f, ingest_settings, area, dry_run=True)
    assert r.status == "dry_run" and r.rejected == 2 and r.run_id is None
    assert data_fingerprint(db) == before
    assert all("duplicate key" in p.reason for p in r.problems)


def test_database_refusal_mid_file_rolls_everything_back(db, tmp_path, ingest_settings, area):
    """The checks pass but PostGIS refuses the 3rd unit (overlapping validity): nothing is written."""
    units = REGISTRY.get("admin_units")
    base = {"level": "district", "name_vi": "Huyện A", "valid_from": "2000-01-01", "valid_to": "2025-07-01"}
    load(db, write_geojson(tmp_path / "a.geojson", [({**base, "code": "900"}, square(106.6, 11.0))]),
         ingest_settings, area, spec=units)
    before = data_fingerprint(db)
    clash = {**base, "code": "900", "valid_from": "2020-01-01", "valid_to": None}
    f = write_geojson(tmp_path / "b.geojson", [({**base, "code": "901"}, square(106.62, 11.0)),
                                               ({**base, "code": "902"}, square(106.64, 11.0)),
                                               (clash, square(106.6, 11.0))])
    r = load(db, f, ingest_settings, area, spec=units)
    assert r.status == "failed" and "admin_units_no_overlap" in r.error
    assert data_fingerprint(db) == before


def test_status_transitions_are_enforced(db, tmp_path, ingest_settings, area):
    sites = REGISTRY.get("polluted_sites")
    props = {"code": "S1", "pollutant_group": "heavy_metals"}
    load(db, write_geojson(tmp_path / "1.geojson", [({**props, "status": "suspected"}, point(106.7, 11.0))]),
         ingest_settings, area, spec=sites)
    before = data_fingerprint(db)
    bad = load(db, write_geojson(tmp_path / "2.geojson", [({**props, "status": "remediated"}, point(106.7, 11.0))]),
               ingest_settings, area, spec=sites)
    assert bad.status == "rejected" and "suspected → remediated" in bad.problems[0].reason
    assert data_fingerprint(db) == before
    ok = load(db, write_geojson(tmp_path / "3.geojson", [({**props, "status": "investigated"}, point(106.7, 11.0))]),
              ingest_settings, area, spec=sites)
    assert (ok.status, ok.updated) == ("succeeded", 1)


def test_interrupted_runs_are_marked(db, tmp_path, ingest_settings):
    with raw_connection(db) as conn:
        run = ledger.start(conn, ledger.RunStart("load", "industrial_parks", "pytest", {}, "x.geojson"))
        ledger.set_backend(conn, run, 999_999)  # a backend that does not exist
        conn.execute("UPDATE ingest_runs SET started_at = now() - interval '1 minute' WHERE run_id = %s", (run,))
        conn.commit()
        assert ledger.mark_interrupted(conn) == 1
        conn.commit()
        assert ledger.get(conn, run)["status"] == "interrupted"


def test_missing_file_is_a_clear_failure(db, tmp_path, ingest_settings, area):
    r = load(db, Path(tmp_path / "nope.geojson"), ingest_settings, area)
    assert r.status == "failed" and "not found" in r.error
