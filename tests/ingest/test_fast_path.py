"""First loads written straight into the layer (no stage, no upsert) give exactly what the staged upsert gives."""
from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from geo.db import raw_connection
from ingest import history, loader
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import park, write_geojson

PARKS = REGISTRY.get("industrial_parks")
WATER = REGISTRY.get("water_bodies")


def load(engine, path, settings, area, spec=PARKS, **opts):  # type: ignore[no-untyped-def]
    return ingest_file(engine, spec, path, LoadOptions(**opts), ingest_settings=settings, area=area)


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def snapshot(engine: Engine) -> list[tuple]:
    """Every stored column but the id, the run and the timestamps."""
    return rows(engine, "SELECT code, name_vi, name_en, developer, area_declared_ha, established_on, occupancy_pct, "
                        "operating_status, source, notes, ST_AsEWKB(geom), area_ha FROM industrial_parks ORDER BY code")


def parks_file(tmp_path, name="parks.geojson"):  # type: ignore[no-untyped-def]
    features = [park(f"P{i:02d}", 106.60 + 0.012 * i, 10.95 + 0.007 * (i % 5), name_vi=f"KCN Số {i} – \"Đông\" \\ A",
                     occupancy_pct=i * 3.3, established_on=f"20{10 + i % 9}-0{1 + i % 8}-15",
                     developer=None if i % 4 == 0 else "Becamex IDC")
                for i in range(12)]
    return write_geojson(tmp_path / name, features)


def test_first_load_matches_the_staged_upsert(db, tmp_path, ingest_settings, area, monkeypatch):
    monkeypatch.setattr(loader, "_REBUILD_MIN_ROWS", 1)  # exercise the spatial index rebuild on a small file
    f = parks_file(tmp_path)
    fast = load(db, f, ingest_settings, area)
    assert (fast.status, fast.inserted) == ("succeeded", 12)
    fast_rows = snapshot(db)
    with raw_connection(db) as conn:
        fast_diff = [(c.op, c.layer, c.key, c.fields, c.geom_changed) for c in history.diff(conn, fast.run_id)]
    # ids follow file order, one span of history covers exactly them (no per-row history), and the spatial
    # index is back with its definition
    assert rows(db, "SELECT code FROM industrial_parks ORDER BY id") == [(f"P{i:02d}",) for i in range(12)]
    assert rows(db, "SELECT s.run_id, s.layer, s.first_id = min(p.id), s.last_id = max(p.id), "
                    "s.last_id - s.first_id + 1 FROM feature_insert_spans s, industrial_parks p "
                    "GROUP BY s.history_id") == [(fast.run_id, "industrial_parks", True, True, 12)]
    assert rows(db, "SELECT count(*) FROM feature_history") == [(0,)]
    assert fast_diff == [("insert", "industrial_parks", {"code": f"P{i:02d}"}, [], None) for i in range(12)]
    assert rows(db, "SELECT indexdef FROM pg_indexes WHERE indexname = 'industrial_parks_geom_idx'") == [
        ("CREATE INDEX industrial_parks_geom_idx ON public.industrial_parks USING gist (geom)",)]

    # The same file through the staged upsert: one of its keys is already there, unchanged.
    with db.begin() as conn:
        conn.execute(text("TRUNCATE industrial_parks, feature_history, feature_insert_spans"))
    one = load(db, write_geojson(tmp_path / "one.geojson", [park("P03", 106.60 + 0.036, 10.95 + 0.021,
                                                                 name_vi="KCN Số 3 – \"Đông\" \\ A",
                                                                 occupancy_pct=3 * 3.3, established_on="2013-04-15",
                                                                 developer="Becamex IDC")]), ingest_settings, area)
    staged = load(db, f, ingest_settings, area)
    assert (staged.status, staged.inserted, staged.unchanged) == ("succeeded", 11, 1)
    assert snapshot(db) == fast_rows
    assert rows(db, "SELECT op, count(*), bool_and(old_attrs IS NULL AND old_geom IS NULL AND new_attrs IS NULL) "
                    f"FROM feature_history WHERE run_id = {staged.run_id} GROUP BY op") == [("insert", 11, True)]
    # The diffs agree: the fast run's span lists what the two staged runs' inserts list, key for key.
    with raw_connection(db) as conn:
        staged_diff = [(c.op, c.layer, c.key, c.fields, c.geom_changed)
                       for run in (one.run_id, staged.run_id) for c in history.diff(conn, run)]
    assert sorted(staged_diff, key=lambda c: c[2]["code"]) == fast_diff


def test_area_and_length_agree_with_postgis(db, tmp_path, ingest_settings, area):
    f = parks_file(tmp_path)
    load(db, f, ingest_settings, area)
    diff = rows(db, "SELECT max(abs(area_ha - ST_Area(ST_Transform(geom, 32648)) / 10000.0) / area_ha) "
                    "FROM industrial_parks")[0][0]
    assert diff < 1e-9
    river = {"type": "LineString", "coordinates": [[106.60, 11.00], [106.65, 11.02], [106.70, 11.01]]}
    lake = {"type": "Polygon", "coordinates": [[[106.6, 11.1], [106.61, 11.1], [106.61, 11.11], [106.6, 11.1]]]}
    w = write_geojson(tmp_path / "water.geojson", [
        ({"code": "S1", "name_vi": "Sông", "kind": "river"}, river),
        ({"code": "H1", "name_vi": "Hồ", "kind": "lake"}, lake)])
    r = load(db, w, ingest_settings, area, spec=WATER)
    assert r.status == "succeeded", (r.error, r.problems)
    got = rows(db, "SELECT code, area_ha IS NULL, length_m IS NULL, abs(coalesce(length_m - "
                   "ST_Length(ST_Transform(geom, 32648)), area_ha - ST_Area(ST_Transform(geom, 32648)) / 1e4)) "
                   "FROM water_bodies ORDER BY code")
    assert [g[:3] for g in got] == [("H1", False, True), ("S1", True, False)]
    assert all(g[3] < 1e-6 for g in got)


def test_revert_and_diff_of_a_fast_load(db, tmp_path, ingest_settings, area):
    r = load(db, parks_file(tmp_path), ingest_settings, area)
    with raw_connection(db) as conn:
        listed = history.diff(conn, r.run_id)
        assert sorted((c.op, c.key["code"]) for c in listed) == [("insert", f"P{i:02d}") for i in range(12)]
        history.revert(conn, r.run_id, "pytest")
    assert rows(db, "SELECT count(*) FROM industrial_parks") == [(0,)]
    # The same file loads again afterwards (into the now empty table: the fast path again).
    again = load(db, parks_file(tmp_path, "again.geojson"), ingest_settings, area)
    assert (again.status, again.inserted) == ("succeeded", 12)


def test_the_ledger_is_append_only(db, tmp_path, ingest_settings, area):
    r = load(db, parks_file(tmp_path), ingest_settings, area)
    with pytest.raises(Exception, match="append-only"), db.begin() as conn:
        conn.execute(text(f"DELETE FROM ingest_runs WHERE run_id = {r.run_id}"))
    assert rows(db, f"SELECT count(*) FROM ingest_runs WHERE run_id = {r.run_id}") == [(1,)]


def test_invalid_geometry_never_reaches_the_table(db, tmp_path, ingest_settings, area):
    """The CHECK (ST_IsValid) is gone (the loader tests validity): a bow-tie is repaired or refused first."""
    bowtie = {"type": "Polygon", "coordinates": [[[106.6, 11.0], [106.62, 11.02], [106.62, 11.0], [106.6, 11.02],
                                                  [106.6, 11.0]]]}
    f = write_geojson(tmp_path / "bow.geojson", [({"code": "X", "name_vi": "X", "operating_status": "operating"},
                                                  bowtie)])
    r = load(db, f, ingest_settings, area)
    assert r.status == "succeeded"
    assert rows(db, "SELECT bool_and(ST_IsValid(geom)), count(*) FROM industrial_parks") == [(True, 1)]
