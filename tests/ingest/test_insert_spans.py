"""A first load records its inserts as one span of ids: diff, revert, conflicts and a feature's history read it as
they read per-row 'insert' history, alongside the per-row history of staged loads."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from dashboards import layers_data
from geo.db import raw_connection
from geo.errors import RevertConflict
from ingest import history, ledger
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import data_fingerprint, park, write_geojson

PARKS = REGISTRY.get("industrial_parks")


def load(engine, path, settings, area, spec=PARKS, **opts):  # type: ignore[no-untyped-def]
    r = ingest_file(engine, spec, path, LoadOptions(**opts), ingest_settings=settings, area=area)
    assert r.status == "succeeded", (r.error, r.problems)
    return r


def rows(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def diff(engine: Engine, run_id: int) -> list[tuple]:
    with raw_connection(engine) as conn:
        return [(c.op, c.key["code"], c.fields) for c in history.diff(conn, run_id)]


def revert(engine: Engine, run_id: int) -> int:
    with raw_connection(engine) as conn:
        return history.revert(conn, run_id, "pytest")


def ids(engine: Engine) -> dict[str, int]:
    return dict(rows(engine, "SELECT code, id FROM industrial_parks"))


def at(i: int) -> float:
    """The longitude of the i-th park of a file (one shape per key, whatever the file)."""
    return 106.60 + 0.02 * i


def first_load(db, tmp_path, settings, area, codes="ABCD", name="v1.geojson"):  # type: ignore[no-untyped-def]
    f = write_geojson(tmp_path / name, [park(c, at(i), occupancy_pct=10 * i) for i, c in enumerate(codes)])
    return load(db, f, settings, area)


def test_diff_of_a_first_load_lists_every_key_from_one_span(db, tmp_path, ingest_settings, area):
    r = first_load(db, tmp_path, ingest_settings, area)
    got = ids(db)
    assert rows(db, "SELECT run_id, layer, first_id, last_id, history_id > 0 FROM feature_insert_spans") == [
        (r.run_id, "industrial_parks", got["A"], got["D"], True)]
    assert got["D"] - got["A"] == 3
    assert rows(db, "SELECT count(*) FROM feature_history") == [(0,)]
    assert diff(db, r.run_id) == [("insert", c, []) for c in "ABCD"]
    with raw_connection(db) as conn:
        change = history.diff(conn, r.run_id)[0]
    assert (change.layer, change.key, change.geom_changed) == ("industrial_parks", {"code": "A"}, None)


def test_diff_keeps_the_key_of_a_spanned_feature_a_later_run_deleted(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    gone = ids(db)["B"]
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park(c, at(i), occupancy_pct=10 * i)
                                                          for i, c in enumerate("ABCD") if c != "B"]),
              ingest_settings, area, sync=True)
    assert (r2.deleted, r2.updated, r2.unchanged) == (1, 0, 3)
    assert rows(db, "SELECT count(*) FROM industrial_parks WHERE id = :i", i=gone) == [(0,)]
    assert diff(db, r1.run_id) == [("insert", c, []) for c in "ABCD"]
    assert diff(db, r2.run_id) == [("delete", "B", [])]


def test_revert_of_a_first_load_deletes_exactly_its_features_and_records_them(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    # another first-load span, of new keys, into the (no longer empty) layer: it must survive the revert of r1
    r2 = first_load(db, tmp_path, ingest_settings, area, codes="XY", name="v2.geojson")
    assert rows(db, "SELECT run_id FROM feature_insert_spans ORDER BY history_id") == [(r1.run_id,), (r2.run_id,)]
    before = rows(db, "SELECT id, code, to_jsonb(t) - 'geom', ST_AsEWKB(geom) FROM industrial_parks t "
                      "WHERE ingest_run_id = :r ORDER BY id", r=r1.run_id)
    rev = revert(db, r1.run_id)
    assert rows(db, "SELECT code FROM industrial_parks ORDER BY code") == [("X",), ("Y",)]
    with raw_connection(db) as conn:
        run = ledger.get(conn, rev)
        assert (run["kind"], run["reverts_run_id"], run["n_deleted"], run["n_inserted"], run["n_updated"]) == (
            "revert", r1.run_id, 4, 0, 0)
        assert ledger.get(conn, r1.run_id)["reverted_by_run_id"] == rev
    deleted = rows(db, "SELECT feature_id, feature_key->>'code', old_attrs, ST_AsEWKB(old_geom) FROM feature_history "
                       "WHERE run_id = :r AND op = 'delete' ORDER BY feature_id", r=rev)
    assert deleted == before
    assert rows(db, "SELECT count(*) FROM feature_history WHERE run_id = :r", r=rev) == [(4,)]
    assert diff(db, rev) == [("delete", c, []) for c in "ABCD"]
    assert diff(db, r1.run_id) == [("insert", c, []) for c in "ABCD"]  # keys now from the deletes' history rows


def test_revert_of_the_revert_restores_the_same_ids(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    snapshot = rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id")
    fingerprint = data_fingerprint(db)["industrial_parks"]
    rev = revert(db, r1.run_id)
    assert rows(db, "SELECT count(*) FROM industrial_parks") == [(0,)]
    back = revert(db, rev)
    assert rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id") == snapshot
    assert data_fingerprint(db)["industrial_parks"] == fingerprint
    assert diff(db, back) == [("insert", c, []) for c in "ABCD"]
    with raw_connection(db) as conn:
        assert ledger.get(conn, back)["n_inserted"] == 4
    # and the re-inserted features are still the original load's ids: the first diff is unchanged
    assert diff(db, r1.run_id) == [("insert", c, []) for c in "ABCD"]


def test_revert_is_refused_when_a_later_run_changed_a_spanned_feature(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park("C", at(2), occupancy_pct=99)]), ingest_settings,
              area)
    assert (r2.updated, r2.inserted) == (1, 0)
    before = data_fingerprint(db)
    with raw_connection(db) as conn, pytest.raises(RevertConflict, match="changed again later") as exc:
        history.revert(conn, r1.run_id, "pytest")
    assert "1 feature(s)" in str(exc.value) and "'code': 'C'" in str(exc.value) and f"run {r2.run_id}" in str(exc.value)
    assert data_fingerprint(db) == before
    assert rows(db, "SELECT count(*) FROM ingest_runs WHERE kind = 'revert'") == [(0,)]


def test_revert_is_refused_when_a_later_run_deleted_a_spanned_feature(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area, codes="AB")
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park("A", at(0), occupancy_pct=0)]), ingest_settings, area,
              sync=True)
    assert r2.deleted == 1
    with raw_connection(db) as conn, pytest.raises(RevertConflict, match=f"'code': 'B'}} \\(run {r2.run_id}\\)"):
        history.revert(conn, r1.run_id, "pytest")


def test_feature_history_shows_the_spans_insert_event(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    fid = ids(db)["B"]
    assert [(h["op"], h["run"], h["kind"], h["file_name"], h["changed"])
            for h in layers_data.history(db, "industrial_parks", fid)] == [
        ("insert", r1.run_id, "load", "v1.geojson", [])]
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park("B", at(1), occupancy_pct=55)]), ingest_settings, area)
    rev = revert(db, r2.run_id)
    got = layers_data.history(db, "industrial_parks", fid)
    assert [(h["op"], h["run"], h["kind"], h["file_name"], h["changed"]) for h in got] == [
        ("insert", r1.run_id, "load", "v1.geojson", []),
        ("update", r2.run_id, "load", "v2.geojson", ["occupancy_pct"]),
        ("update", rev, "revert", None, ["occupancy_pct"])]
    assert got[0]["at"] <= got[1]["at"]
    # features outside the span, and other layers, see none of it
    assert layers_data.history(db, "industrial_parks", ids(db)["D"] + 1) == []
    assert layers_data.history(db, "water_bodies", fid) == []


def test_staged_load_after_a_first_load_diffs_and_reverts(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    v1 = rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id")
    # A and C changed, B and D unchanged, E and F new: the staged upsert with per-row history
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [
        park("A", at(0), occupancy_pct=1), park("B", at(1), occupancy_pct=10), park("C", at(2), occupancy_pct=2),
        park("D", at(3), occupancy_pct=30), park("E", at(4)), park("F", at(5))]), ingest_settings, area)
    assert (r2.inserted, r2.updated, r2.unchanged) == (2, 2, 2)
    v2 = rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id")
    # spans and history rows share one order: the span precedes every row of the later run
    assert rows(db, "SELECT (SELECT history_id FROM feature_insert_spans) < min(history_id) FROM feature_history") == [
        (True,)]
    assert diff(db, r1.run_id) == [("insert", c, []) for c in "ABCD"]
    assert sorted(diff(db, r2.run_id)) == [("insert", "E", []), ("insert", "F", []), ("update", "A", ["occupancy_pct"]),
                                           ("update", "C", ["occupancy_pct"])]
    with raw_connection(db) as conn, pytest.raises(RevertConflict, match=r"2 feature\(s\).*'A'.*'C'"):
        history.revert(conn, r1.run_id, "pytest")

    rev2 = revert(db, r2.run_id)
    assert rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id") == v1
    with raw_connection(db) as conn:
        run = ledger.get(conn, rev2)
    assert (run["n_deleted"], run["n_updated"], run["n_inserted"]) == (2, 2, 0)
    assert sorted(diff(db, rev2)) == [("delete", "E", []), ("delete", "F", []), ("update", "A", ["occupancy_pct"]),
                                      ("update", "C", ["occupancy_pct"])]
    revert(db, rev2)  # back to version 2, the new features with their ids
    assert rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id") == v2
    assert diff(db, r1.run_id) == [("insert", c, []) for c in "ABCD"]


def test_revert_of_a_first_load_leaves_a_later_runs_new_features(db, tmp_path, ingest_settings, area):
    r1 = first_load(db, tmp_path, ingest_settings, area)
    # --sync into a non-empty layer takes the staged path: E and F get per-row 'insert' history
    r2 = load(db, write_geojson(tmp_path / "v2.geojson", [park(c, at(i), occupancy_pct=10 * i)
                                                          for i, c in enumerate("ABCDEF")]),
              ingest_settings, area, sync=True)
    assert (r2.inserted, r2.updated, r2.unchanged, r2.deleted) == (2, 0, 4, 0)
    assert rows(db, "SELECT op, feature_key->>'code' FROM feature_history ORDER BY history_id") == [
        ("insert", "E"), ("insert", "F")]
    e_and_f = rows(db, "SELECT t::text FROM industrial_parks t WHERE code IN ('E', 'F') ORDER BY id")
    rev = revert(db, r1.run_id)
    assert rows(db, "SELECT t::text FROM industrial_parks t ORDER BY id") == e_and_f
    assert sorted(diff(db, rev)) == [("delete", c, []) for c in "ABCD"]
    rev2 = revert(db, r2.run_id)
    assert rows(db, "SELECT count(*) FROM industrial_parks") == [(0,)]
    assert diff(db, rev2) == [("delete", "E", []), ("delete", "F", [])]
