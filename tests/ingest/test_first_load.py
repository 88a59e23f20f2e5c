"""The streamed first load of an empty layer: same rows, problems and history as the whole-file load, and it
steps aside (rolling back what it streamed) whenever the whole file has to be judged."""
from __future__ import annotations

import hashlib
import threading

import geopandas as gpd
import pytest
import shapely
from sqlalchemy import Engine, text

from geo.db import raw_connection
from ingest import first_load, history
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import data_fingerprint, park, write_geojson

PARKS = REGISTRY.get("industrial_parks")
STREAMED = "streamed COPY"


def load(engine, path, settings, area, *, messages=None, **opts):  # type: ignore[no-untyped-def]
    say = (lambda m: messages.append(m)) if messages is not None else None
    return ingest_file(engine, PARKS, path, LoadOptions(**opts), ingest_settings=settings, area=area, progress=say)


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def snapshot(engine: Engine) -> list[tuple]:
    return rows(engine, "SELECT id, code, name_vi, name_en, developer, area_declared_ha, established_on, "
                        "occupancy_pct, operating_status, source, notes, ST_AsEWKB(geom), area_ha FROM industrial_parks "
                        "ORDER BY id")


def empty(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(text("TRUNCATE industrial_parks, feature_history, feature_insert_spans RESTART IDENTITY"))


def parks_frame(n: int = 23, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    """n parks: squares, one with a hole, one bow-tie (repaired with a warning), dates and missing values."""
    geoms = [shapely.box(106.60 + 0.01 * (i % 10), 10.95 + 0.01 * (i // 10), 106.605 + 0.01 * (i % 10),
                         10.955 + 0.01 * (i // 10)) for i in range(n)]
    geoms[4] = shapely.Polygon(geoms[4].exterior.coords, [[(106.641, 10.951), (106.643, 10.951), (106.643, 10.953),
                                                           (106.641, 10.951)]])
    if n > 17:  # a bow-tie
        geoms[17] = shapely.Polygon([(106.67, 11.06), (106.675, 11.065), (106.675, 11.06), (106.67, 11.065)])
    frame = gpd.GeoDataFrame({
        "code": [f"S{i:03d}" for i in range(n)],
        "name_vi": [f"Khu công nghiệp Số {i} – “Đông”" for i in range(n)],
        "developer": [None if i % 3 == 0 else "Becamex IDC" for i in range(n)],
        "occupancy_pct": [None if i % 5 == 0 else 2.5 * i for i in range(n)],
        "established_on": gpd.pd.to_datetime([None if i % 7 == 0 else f"2015-0{1 + i % 9}-1{i % 10}"
                                              for i in range(n)]),
        "operating_status": ["operating" if i % 4 else "planned" for i in range(n)],
    }, geometry=geoms, crs="EPSG:4326")
    return frame.to_crs(crs)


def write_gpkg(path, frame: gpd.GeoDataFrame):  # type: ignore[no-untyped-def]
    frame.to_file(path, layer="parks", driver="GPKG", engine="pyogrio")
    return path


@pytest.fixture
def small_batches(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(first_load, "BATCH_ROWS", 5)


@pytest.fixture
def whole_file_only(monkeypatch):  # type: ignore[no-untyped-def]
    def disabled(*_a, **_k) -> bool:
        return False
    return lambda: monkeypatch.setattr(first_load, "load_streamed", disabled)


def test_streamed_load_equals_the_whole_file_load(db, tmp_path, ingest_settings, area, small_batches,
                                                  whole_file_only):
    f = write_gpkg(tmp_path / "parks.gpkg", parks_frame())
    said: list[str] = []
    streamed = load(db, f, ingest_settings, area, messages=said)
    assert (streamed.status, streamed.inserted, streamed.n_read) == ("succeeded", 23, 23)
    assert sum(STREAMED in m for m in said) == 5  # 23 features in batches of 5
    assert any("spatial index" not in m for m in said)
    got = snapshot(db)
    spans = rows(db, f"SELECT layer, first_id, last_id FROM feature_insert_spans WHERE run_id = {streamed.run_id}")
    # The repaired bow-tie (record 18) is reported with its number in the whole file, as a warning.
    warned = [(p.record, p.field, p.severity) for p in streamed.problems]
    assert warned == [(18, "geometry", "warning")]

    empty(db)
    whole_file_only()
    said.clear()
    whole = load(db, f, ingest_settings, area, messages=said)
    assert not any(STREAMED in m for m in said)
    assert (whole.status, whole.inserted) == ("succeeded", 23)
    assert snapshot(db) == got
    assert [(p.record, p.field, p.severity, p.reason) for p in whole.problems] == [
        (p.record, p.field, p.severity, p.reason) for p in streamed.problems]
    assert spans == [("industrial_parks", 1, 23)]
    assert (whole.notes, whole.source_crs, whole.warnings) == (streamed.notes, streamed.source_crs, streamed.warnings)
    # the checksum, computed alongside the load, is on both runs
    digest = (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_size)
    assert rows(db, f"SELECT sha256, size_bytes FROM ingest_runs WHERE run_id IN ({streamed.run_id}, {whole.run_id})"
                    " ORDER BY run_id") == [digest, digest]


def test_stored_geometry_and_area_match_postgis(db, tmp_path, ingest_settings, area, small_batches):
    f = write_gpkg(tmp_path / "parks.gpkg", parks_frame())
    load(db, f, ingest_settings, area)
    assert rows(db, "SELECT count(*) FILTER (WHERE GeometryType(geom) = 'MULTIPOLYGON' AND ST_SRID(geom) = 4326 "
                    "AND ST_IsValid(geom)), max(abs(area_ha - ST_Area(ST_Transform(geom, 32648)) / 1e4) / area_ha) < 1e-9 "
                    "FROM industrial_parks") == [(23, True)]
    # the hole of S004 is kept and subtracted
    hole = rows(db, "SELECT ST_NumInteriorRings(ST_GeometryN(geom, 1)), area_ha < (SELECT area_ha FROM "
                    "industrial_parks WHERE code = 'S005') FROM industrial_parks WHERE code = 'S004'")
    assert hole == [(1, True)]


def test_reprojected_file_streams_with_the_same_result(db, tmp_path, ingest_settings, area, small_batches,
                                                       whole_file_only):
    f = write_gpkg(tmp_path / "vn2000.gpkg", parks_frame(12, crs="EPSG:3405"))
    said: list[str] = []
    r = load(db, f, ingest_settings, area, messages=said)
    assert (r.status, r.inserted) == ("succeeded", 12) and any(STREAMED in m for m in said)
    got = snapshot(db)
    empty(db)
    whole_file_only()
    load(db, f, ingest_settings, area)
    assert snapshot(db) == got


def test_a_rejected_feature_in_a_later_batch_falls_back_and_writes_nothing(db, tmp_path, ingest_settings, area,
                                                                          small_batches):
    frame = parks_frame()
    frame.loc[21, "operating_status"] = "exploded"
    f = write_gpkg(tmp_path / "bad.gpkg", frame)
    before = data_fingerprint(db)
    said: list[str] = []
    r = load(db, f, ingest_settings, area, messages=said)
    assert any(STREAMED in m for m in said)  # it started streaming, then handed over
    assert r.status == "rejected"
    assert [(p.record, p.field) for p in r.problems if p.severity == "error"] == [(22, "operating_status")]
    assert data_fingerprint(db) == before
    # with --skip-invalid the others load, through the whole-file path
    r2 = load(db, f, ingest_settings, area, skip_invalid=True)
    assert (r2.status, r2.inserted, r2.rejected) == ("succeeded_with_rejects", 22, 1)


def test_keys_repeated_across_batches_are_reported_like_any_duplicate(db, tmp_path, ingest_settings, area,
                                                                     small_batches):
    frame = parks_frame()
    frame.loc[19, "code"] = "S002"
    f = write_gpkg(tmp_path / "dup.gpkg", frame)
    before = data_fingerprint(db)
    r = load(db, f, ingest_settings, area)
    assert r.status == "rejected"
    dup = sorted(p.record for p in r.problems if "duplicate key" in p.reason)
    assert dup == [3, 20]
    assert data_fingerprint(db) == before


def test_a_layer_with_features_is_not_streamed(db, tmp_path, ingest_settings, area, small_batches):
    load(db, write_geojson(tmp_path / "one.geojson", [park("X1")]), ingest_settings, area)
    said: list[str] = []
    r = load(db, write_gpkg(tmp_path / "parks.gpkg", parks_frame()), ingest_settings, area, messages=said)
    assert (r.status, r.inserted) == ("succeeded", 23)
    assert not any(STREAMED in m for m in said)
    assert rows(db, "SELECT count(*) FROM industrial_parks") == [(24,)]


def test_geojson_and_shapefile_stream_kml_does_not(db, tmp_path, ingest_settings, area, small_batches):
    frame = parks_frame(12)
    paths = {"geojson": tmp_path / "p.geojson", "shp": tmp_path / "p.shp", "kml": tmp_path / "p.kml"}
    frame.to_file(paths["geojson"], driver="GeoJSON", engine="pyogrio")
    with pytest.warns(UserWarning, match="truncated"):
        frame.assign(established_on=frame["established_on"].dt.strftime("%Y-%m-%d")).to_file(
            paths["shp"], driver="ESRI Shapefile", engine="pyogrio")
    (tmp_path / "p.cpg").write_text("UTF-8")
    frame[["code", "name_vi", "operating_status", "geometry"]].to_file(paths["kml"], driver="KML", engine="pyogrio")
    results = {}
    for kind, path in paths.items():
        empty(db)
        said: list[str] = []
        # the shapefile's field names are cut to 10 characters: mapped back, as a user would
        mapping = {"operating_status": "operating_", "occupancy_pct": "occupancy_",
                   "established_on": "establishe"} if kind == "shp" else {}
        r = load(db, path, ingest_settings, area, messages=said, mapping=mapping)
        results[kind] = (r.status, r.inserted, any(STREAMED in m for m in said))
    assert results == {"geojson": ("succeeded", 12, True), "shp": ("succeeded", 12, True),
                       "kml": ("succeeded", 12, False)}


def test_history_diff_and_revert_of_a_streamed_load(db, tmp_path, ingest_settings, area, small_batches):
    r = load(db, write_gpkg(tmp_path / "parks.gpkg", parks_frame()), ingest_settings, area)
    with raw_connection(db) as conn:
        changes = history.diff(conn, r.run_id)
        assert [(c.op, c.key["code"]) for c in changes] == [("insert", f"S{i:03d}") for i in range(23)]
        history.revert(conn, r.run_id, "pytest")
    assert rows(db, "SELECT count(*) FROM industrial_parks") == [(0,)]


def test_read_ahead_hands_over_errors_and_stops_when_the_consumer_stops():
    def items():
        yield 1
        yield 2
        raise ValueError("broken batch")

    got = []
    with pytest.raises(ValueError, match="broken batch"):
        for x in first_load._ahead(items()):
            got.append(x)
    assert got == [1, 2]

    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    gen = first_load._ahead(endless(), depth=2)
    assert [next(gen) for _ in range(3)] == [0, 1, 2]
    gen.close()
    assert not any(t.name == "ingest-read-ahead" for t in threading.enumerate())
    assert len(produced) <= 3 + 2 + 1  # at most depth (+ the one being put) beyond what was consumed


def test_loading_the_same_file_again_changes_nothing(db, tmp_path, ingest_settings, area, small_batches):
    """The second load goes through the staged upsert, which compares every column with what the database
    derives itself (ST_Area of the stored geometry): the streamed values must be exactly the same."""
    f = write_gpkg(tmp_path / "parks.gpkg", parks_frame())
    load(db, f, ingest_settings, area)
    before = snapshot(db)
    again = load(db, f, ingest_settings, area)
    assert (again.status, again.inserted, again.updated, again.unchanged) == ("succeeded", 0, 0, 23)
    assert snapshot(db) == before


# ------------------------------------------------------------------ batches certified clean from their Arrow columns
def _batches(path):  # type: ignore[no-untyped-def]
    from ingest.readers import open_stream
    with open_stream(path, batch_size=1000) as stream:
        return list(stream.batches)


def _aoi():  # type: ignore[no-untyped-def]
    from geo.settings import AreaSettings
    from ingest.aoi import resolve_aoi
    return resolve_aoi(AreaSettings(), None)


def test_arrow_check_gives_what_check_gives(tmp_path):
    from ingest import loader
    from ingest.checks import check, check_arrow
    frame = parks_frame()
    frame["area_declared_ha"] = [float("nan") if i % 6 == 0 else 10.0 + i for i in range(len(frame))]
    (batch,) = _batches(write_gpkg(tmp_path / "p.gpkg", frame))
    aoi = _aoi()
    fast = check_arrow(batch.attrs, batch.geoms, batch.wkb, batch.crs, "p.gpkg", PARKS, aoi=aoi)
    full = check(batch.source(), PARKS, aoi=aoi, duplicates=False)
    assert fast is not None and full.n_rejected == 0
    for f in PARKS.fields:
        want = loader._arrow_column(f.type, full.attrs[f.name].reset_index(drop=True))
        assert fast.attrs.column(f.name).combine_chunks().cast(want.type).equals(want), f.name
    assert fast.attrs.column("area_declared_ha").null_count == 4  # NaN read as missing, as pandas does
    assert list(shapely.equals_exact(fast.geoms, full.geoms, 0)) == [True] * 23
    assert [(p.record, p.key, p.reason) for p in fast.problems] == [(p.record, p.key, p.reason) for p in full.problems]
    assert fast.problems[0].key == "S017" and (fast.source_crs, fast.ignored_columns) == (full.source_crs,
                                                                                       full.ignored_columns)
    assert fast.wkb is not None and fast.wkb.null_count == 1  # the repaired bow-tie is written again by GEOS


@pytest.mark.parametrize("change", ["padded text", "not allowed", "above maximum", "missing required",
                                    "number as text", "code as number", "outside the area"])
def test_arrow_check_declines_whenever_check_has_to_judge(tmp_path, change):
    from ingest.checks import check_arrow
    frame = parks_frame(8)
    if change == "padded text":
        frame.loc[3, "name_vi"] = " KCN có khoảng trắng"
    elif change == "not allowed":
        frame.loc[3, "operating_status"] = "đang chạy"
    elif change == "above maximum":
        frame.loc[3, "occupancy_pct"] = 120.0
    elif change == "missing required":
        frame.loc[3, "name_vi"] = None
    elif change == "number as text":
        frame["occupancy_pct"] = frame["occupancy_pct"].astype(str)
    elif change == "code as number":
        frame["code"] = range(8)
    elif change == "outside the area":
        frame.loc[3, "geometry"] = shapely.box(105.0, 10.0, 105.01, 10.01)
    (batch,) = _batches(write_gpkg(tmp_path / "p.gpkg", frame))
    assert check_arrow(batch.attrs, batch.geoms, batch.wkb, batch.crs, "p.gpkg", PARKS, aoi=_aoi()) is None


def test_arrow_check_leaves_layers_with_row_checks_to_check(tmp_path):
    from ingest.checks import check_arrow
    admin = REGISTRY.get("admin_units")
    assert admin.row_checks
    (batch,) = _batches(write_gpkg(tmp_path / "p.gpkg", parks_frame(6)))
    assert check_arrow(batch.attrs, batch.geoms, batch.wkb, batch.crs, "p.gpkg", admin, aoi=None) is None


def test_a_file_that_cannot_be_hashed_still_loads_and_says_so(db, tmp_path, ingest_settings, area, monkeypatch):
    from ingest import ledger

    def unreadable(_path):  # type: ignore[no-untyped-def]
        raise PermissionError("gone")

    monkeypatch.setattr(ledger, "sha256_of", unreadable)
    r = load(db, write_gpkg(tmp_path / "parks.gpkg", parks_frame(6)), ingest_settings, area)
    assert (r.status, r.inserted) == ("succeeded", 6)
    assert any("checksum not recorded" in n for n in r.notes)
    assert rows(db, f"SELECT sha256 IS NULL, size_bytes > 0 FROM ingest_runs WHERE run_id = {r.run_id}") == [
        (True, True)]
