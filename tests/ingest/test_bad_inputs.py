"""The bad-input corpus (tests/data/bad/): every defect ends in a clear message and an untouched database.

File-level defects end 'failed' with a message that names the file; feature-level defects end 'rejected' (by
default nothing is written) with the record number, field and reason in the result and in the rejects CSV.
The one repairable defect (a bowtie polygon) loads with a warning.
"""
from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from dataclasses import dataclass
from dataclasses import field as dc_field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pyproj import Geod
from sqlalchemy import Engine, text

from geo.settings import AreaSettings, IngestSettings
from ingest.pipeline import LoadOptions, LoadResult, ingest_file
from layers import REGISTRY
from tests.conftest import TEST_DATA
from tests.factories import data_fingerprint, point, square, write_geojson

BAD = TEST_DATA / "bad"
GEOD = Geod(ellps="WGS84")


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


CORPUS = _module(BAD / "make_corpus.py")


@dataclass(frozen=True)
class Case:
    """One corpus file, how it is loaded and what must come out."""

    file: str
    layer: str
    status: str  # failed | rejected | succeeded (repaired with a warning)
    message: str  # in the run's error (failed) or in the reason of every reported record (otherwise)
    records: tuple[int, ...] = ()  # records that must be reported (1-based, file order)
    field: str | None = None  # the field they are reported against
    options: dict[str, Any] = dc_field(default_factory=dict)
    before: str | None = None  # a corpus file loaded first (the two-step status change)

    @property
    def id(self) -> str:
        return self.file + "".join(f"[{k}={v}]" for k, v in self.options.items())


P, S = "industrial_parks", "monitoring_stations"
FAILED = [
    Case("truncated.geojson", P, "failed", "cannot read the file: Failed to read GeoJSON data"),
    Case("not_json.geojson", P, "failed", "not recognized as being in a supported file format"),
    Case("empty.geojson", P, "failed", "the file is empty"),
    Case("no_features.geojson", P, "failed", "the file has no features"),
    Case("shp_no_prj/parks.shp", P, "failed", "the file has no CRS; name it with --crs"),
    Case("shp_no_prj.zip", P, "failed", "the file has no CRS; name it with --crs"),
    Case("shp_no_dbf/parks.shp", P, "failed", "the shapefile's .dbf file is missing"),
    Case("two_shapefiles.zip", P, "failed", "the zip holds several shapefiles (kcn_thuan_an.shp, kcn_ben_cat.shp)"),
    Case("corrupted.zip", P, "failed", "not a readable zip archive"),
    Case("vn2000_metres_as_wgs84.geojson", P, "failed", "coordinates look like VN-2000 metres"),
    Case("metres_in_lonlat.csv", S, "failed", "coordinates look like VN-2000 metres"),
    Case("degrees_as_3405.geojson", P, "failed", "coordinates look like degrees"),
    Case("cp1258.csv", S, "failed", "row 2: văn bản không phải UTF-8 / text is not UTF-8"),
    Case("cp1258.csv", S, "failed", "unknown encoding 'cp9999'", options={"encoding": "cp9999"}),
    Case("shp_cp1258/parks.shp", P, "failed", "attributes are not UTF-8; give --encoding"),
    Case("missing_required_column.geojson", P, "failed", "required field(s) missing: operating_status"),
    Case("csv_no_coordinates.csv", S, "failed", "no coordinate columns: expected lon/lat, x/y or WKT"),
    Case("csv_wkt_no_crs.csv", S, "failed", "the file has no CRS"),
    Case("two_layers.gpkg", P, "failed", "the file has several layers (kcn_thuan_an, kcn_ben_cat)"),
    Case("bad_coordinates.kml", S, "failed", "row 2: tọa độ KML không đọc được / KML coordinates could not be parsed"),
    Case("not_xml.kml", S, "failed", "cannot read the file: ERROR parsing kml"),
]
REJECTED = [
    Case("collapsed_polygon.geojson", P, "rejected", "repair would change its type", (2,), "geometry"),
    Case("degenerate_river_line.geojson", "water_bodies", "rejected", "repair would change its type", (2,),
         "geometry"),
    Case("empty_geometry.geojson", P, "rejected", "empty or missing geometry", (2,), "geometry"),
    Case("point_in_polygon_layer.geojson", P, "rejected", "wrong geometry type Point; 'industrial_parks' takes "
         "MultiPolygon", (2,), "geometry"),
    Case("line_in_point_layer.geojson", S, "rejected", "wrong geometry type LineString", (2,), "geometry"),
    Case("mixed_geometry.geojson", P, "rejected", "wrong geometry type", (2, 3), "geometry"),
    Case("multipoint_station.geojson", S, "rejected", "wrong geometry type MultiPoint", (2,), "geometry"),
    Case("duplicate_keys.geojson", P, "rejected", "duplicate key code=KCN-VSIP1", (1, 3), "code"),
    Case("outside_area_hanoi.geojson", P, "rejected", "outside the area of interest", (2,), "geometry"),
    Case("required_value_empty.geojson", P, "rejected", "required value is missing", (2,), "operating_status"),
    Case("value_not_allowed.geojson", P, "rejected", "value 'open' not allowed", (2,), "operating_status"),
    Case("number_is_text.geojson", P, "rejected", "not a valid number: 'abc'", (2,), "area_declared_ha"),
    Case("negative_area.geojson", P, "rejected", "value -377 outside [0, ∞]", (2,), "area_declared_ha"),
    Case("occupancy_150.geojson", P, "rejected", "value 150 outside [0, 100]", (2,), "occupancy_pct"),
    Case("bad_date.geojson", P, "rejected", "not a valid date: '2024-13-45'", (2,), "established_on"),
    Case("admin_valid_to_before_from.geojson", "admin_units", "rejected", "valid_to must be after valid_from",
         (2,), "valid_to"),
    Case("lake_as_line.geojson", "water_bodies", "rejected", "a lake/reservoir/pond must be a polygon", (2,),
         "kind"),
    Case("landfill_without_status.geojson", "waste_facilities", "rejected", "a landfill needs landfill_status",
         (2,), "landfill_status"),
    Case("polluted_status_2_remediated.geojson", "polluted_sites", "rejected",
         "status change suspected → remediated is not allowed", (1,), "status",
         before="polluted_status_1_suspected.geojson"),
]
REPAIRED = [
    Case("bowtie_polygon.geojson", P, "succeeded", "invalid geometry repaired (Self-intersection", (2,), "geometry"),
]
CASES = FAILED + REJECTED + REPAIRED
PAIR_SETUP = {"polluted_status_1_suspected.geojson"}  # good on its own: the first step of the pair


def load(engine: Engine, family: str, path: Path, settings: IngestSettings, area: AreaSettings,
         **options: Any) -> LoadResult:
    return ingest_file(engine, REGISTRY.get(family), path, LoadOptions(**options), ingest_settings=settings,
                       area=area)


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


# A previous good state of each layer, using the same keys as the corpus's valid records but other values:
# a partial write of a bad file would show in the fingerprint.
BASELINE: dict[str, list[tuple[dict, dict]]] = {
    P: [(dict(CORPUS.VSIP1, occupancy_pct=95.0), CORPUS.GEOM_VSIP1),
        (dict(CORPUS.MYPHUOC, occupancy_pct=90.0), CORPUS.GEOM_MYPHUOC),
        (dict(CORPUS.BAUBANG, operating_status="under_construction"), CORPUS.GEOM_BAUBANG)],
    S: [(dict(CORPUS.STATION_TDM, status="inactive"), point(*CORPUS.LONLAT_TDM)),
        (dict(CORPUS.STATION_DIAN, status="planned"), point(*CORPUS.LONLAT_DIAN))],
    "water_bodies": [({"code": "SONG-SG", "name_vi": "Sông Sài Gòn", "kind": "river"},
                      {"type": "LineString", "coordinates": [[106.65, 10.96], [106.64, 11.0]]}),
                     ({"code": "HO-DT", "name_vi": "Hồ Dầu Tiếng", "kind": "reservoir"}, square(106.46, 11.25))],
    "admin_units": [({"level": "commune", "code": "25741", "name_vi": "Phường Phú Cường", "valid_from": "2019-01-01"},
                     square(106.645, 10.975, 0.015))],
    "waste_facilities": [({"code": "XL-NTL", "name_vi": "Khu liên hợp xử lý chất thải rắn Nam Bình Dương",
                           "kind": "treatment_plant"}, point(106.588, 11.128))],
}


def prepare(case: Case, engine: Engine, tmp_path: Path, settings: IngestSettings, area: AreaSettings) -> None:
    """Put the layer in a known non-empty state before the bad file arrives."""
    if case.before:
        first = load(engine, case.layer, BAD / case.before, settings, area)
        assert first.status == "succeeded", first.error
        return
    base = write_geojson(tmp_path / f"baseline_{case.layer}.geojson", BASELINE[case.layer])
    r = load(engine, case.layer, base, settings, area)
    assert r.status == "succeeded" and r.inserted == len(BASELINE[case.layer]), (r.error, r.problems)


def rejects(path: Path | None) -> list[dict[str, str]]:
    assert path is not None and path.is_file(), "a rejects report must be written"
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def ledger_row(engine: Engine, run_id: int | None) -> tuple:
    return rows(engine, "SELECT status, error, n_rejected FROM ingest_runs WHERE run_id = :r", r=run_id)[0]


# ------------------------------------------------------------------------------------------------- the corpus

def test_corpus_is_complete_documented_and_tested() -> None:
    inputs = sorted(str(p.relative_to(BAD)) for p in BAD.rglob("*") if p.is_file()
                    and p.suffix not in (".py", ".md", ".pyc") and "__pycache__" not in p.parts)
    entries = {c.file for c in CASES} | PAIR_SETUP
    assert len(entries) >= 32
    # Every case file is in the corpus, and every corpus file (sidecars aside) has a case.
    assert entries <= set(inputs)
    sidecars = {i for i in inputs if i not in entries and i.split("/")[0] in {e.split("/")[0] for e in entries}}
    assert set(inputs) == entries | sidecars
    readme = (BAD / "README.md").read_text(encoding="utf-8")
    for name in entries:
        assert f"`{name}`" in readme, f"README.md does not describe {name}"
    assert [n for n, _ in CORPUS.BUILDERS] and set(n for n, _ in CORPUS.BUILDERS) == entries


def test_corpus_generator_is_deterministic(tmp_path: Path) -> None:
    """make_corpus.py reproduces the committed files byte for byte."""
    CORPUS.build(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert made, "the generator wrote nothing"
    for rel in made:
        assert (BAD / rel).read_bytes() == (tmp_path / rel).read_bytes(), f"{rel} differs from a fresh build"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_bad_input_is_refused_cleanly(case: Case, db: Engine, tmp_path: Path, ingest_settings: IngestSettings,
                                      area: AreaSettings) -> None:
    prepare(case, db, tmp_path, ingest_settings, area)
    before = data_fingerprint(db)
    (runs_before,) = rows(db, "SELECT count(*) FROM ingest_runs")[0]

    result = load(db, case.layer, BAD / case.file, ingest_settings, area, **case.options)  # must not raise

    name = Path(case.file).name
    assert result.status == case.status, (result.error, result.problems)
    assert result.file == name
    (runs_after,) = rows(db, "SELECT count(*) FROM ingest_runs")[0]
    assert runs_after == runs_before + 1, "exactly one ledger row per attempt"
    status, error, n_rejected = ledger_row(db, result.run_id)
    assert (status, error) == (case.status, result.error)
    if case.status in ("failed", "rejected"):
        assert data_fingerprint(db) == before, "a refused file must leave every data table as it was"
    if case.status == "failed":
        assert error is not None and error.startswith(name), f"the message must name the file: {error}"
        assert case.message in error
        assert "Traceback" not in error and "internal error" not in error
        assert result.problems == [] and result.rejects_path is None
        return
    reported = [p for p in result.problems if p.record in case.records]
    assert sorted({p.record for p in reported}) == sorted(case.records), result.problems
    for p in reported:
        assert p.field == case.field and case.message in p.reason, p
    report = rejects(result.rejects_path)
    listed = {int(r["record"]) for r in report if r["field"] == case.field and case.message in r["reason"]}
    assert listed == set(case.records)
    assert all(r["file"] == name for r in report)
    if case.status == "rejected":
        assert n_rejected == len(case.records) and "nothing was written" in error
        assert all(r["severity"] == "error" for r in report if int(r["record"]) in case.records)
    else:  # repaired: loaded, with a warning and a valid stored geometry
        assert result.warnings == 1 and report[0]["severity"] == "warning"
        assert data_fingerprint(db) != before
        assert rows(db, "SELECT bool_and(ST_IsValid(geom)), bool_and(NOT ST_IsEmpty(geom)), "
                        "max(GeometryType(geom)) FROM industrial_parks") == [(True, True, "MULTIPOLYGON")]


@pytest.mark.parametrize("case", [c for c in REJECTED + REPAIRED], ids=lambda c: c.id)
def test_skip_invalid_loads_only_the_valid_features(case: Case, db: Engine, tmp_path: Path,
                                                    ingest_settings: IngestSettings, area: AreaSettings) -> None:
    prepare(case, db, tmp_path, ingest_settings, area)
    result = load(db, case.layer, BAD / case.file, ingest_settings, area, skip_invalid=True)
    n_bad = 0 if case.status == "succeeded" else len(case.records)
    assert result.status == ("succeeded_with_rejects" if n_bad else "succeeded"), result.error
    assert result.rejected == n_bad
    assert result.inserted + result.updated + result.unchanged == result.n_read - n_bad
    table = REGISTRY.get(case.layer).table
    assert rows(db, f"SELECT count(*) FROM {table} WHERE geom IS NULL OR ST_IsEmpty(geom) "
                    "OR NOT ST_IsValid(geom)") == [(0,)]


# ------------------------------------------------------------------------------------------------- remedies

def _distance_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    return GEOD.inv(a[0], a[1], b[0], b[1])[2]


VSIP1_CENTRE = (106.7075, 10.9325)
REMEDIES = [
    ("shp_no_prj/parks.shp", P, "--crs", {"crs": "EPSG:4326"}, "KCN-VSIP1", CORPUS.VSIP1["name_vi"]),
    ("shp_no_prj.zip", P, "--crs", {"crs": "EPSG:4326"}, "KCN-VSIP1", CORPUS.VSIP1["name_vi"]),
    ("vn2000_metres_as_wgs84.geojson", P, "--crs VN2000-BD", {"crs": "VN2000-BD"}, "KCN-VSIP1", VSIP1_CENTRE),
    ("metres_in_lonlat.csv", S, "--crs VN2000-BD", {"crs": "VN2000-BD"}, "QT-KK-01", CORPUS.LONLAT_TDM),
    ("degrees_as_3405.geojson", P, "--crs EPSG:4326", {"crs": "EPSG:4326"}, "KCN-VSIP1", VSIP1_CENTRE),
    ("csv_wkt_no_crs.csv", S, "--crs", {"crs": "EPSG:4326"}, "QT-KK-01", CORPUS.LONLAT_TDM),
    ("two_shapefiles.zip", P, "--layer", {"layer": "kcn_ben_cat"}, "KCN-MP1", CORPUS.MYPHUOC["name_vi"]),
    ("two_layers.gpkg", P, "--layer", {"layer": "kcn_thuan_an"}, "KCN-VSIP1", CORPUS.VSIP1["name_vi"]),
    ("cp1258.csv", S, "--encoding", {"encoding": "cp1258"}, "QT-KK-01", CORPUS.STATION_TDM["name_vi"]),
    ("shp_cp1258/parks.shp", P, "--encoding", {"encoding": "cp1258"}, "KCN-MP1", CORPUS.MYPHUOC["name_vi"]),
]


@pytest.mark.parametrize(("file", "layer", "hint", "options", "code", "expected"),
                         [pytest.param(*r, id=f"{r[0]}[{r[3]}]") for r in REMEDIES])
def test_the_fix_the_message_suggests_works(file: str, layer: str, hint: str, options: dict, code: str,
                                            expected: object, db: Engine, ingest_settings: IngestSettings,
                                            area: AreaSettings) -> None:
    failed = load(db, layer, BAD / file, ingest_settings, area)
    assert failed.status == "failed" and hint in failed.error
    fixed = load(db, layer, BAD / file, ingest_settings, area, **options)
    assert fixed.status == "succeeded", (fixed.error, fixed.problems)
    table = REGISTRY.get(layer).table
    name, lon, lat = rows(db, f"SELECT name_vi, ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM {table} "
                              "WHERE code = :c", c=code)[0]
    if isinstance(expected, str):  # text recovered intact (composed, as typed)
        assert name == expected
    else:  # put back where it belongs
        assert _distance_m((lon, lat), expected) < 1.0


# ------------------------------------------------------------------------------------------------- the CLI

CLI_CASES = [
    (Case("empty.geojson", P, "failed", "empty.geojson: tệp rỗng / the file is empty"), []),
    (Case("vn2000_metres_as_wgs84.geojson", P, "failed", "re-run with --crs VN2000-BD"), []),
    (Case("two_shapefiles.zip", P, "failed", "choose one with --layer NAME"), []),
    (Case("cp1258.csv", S, "failed", "unknown encoding 'cp9999'"), ["--encoding", "cp9999"]),
    (Case("bad_coordinates.kml", S, "failed", "bad_coordinates.kml, row 2: tọa độ KML không đọc được"), []),
    (Case("value_not_allowed.geojson", P, "rejected", "value_not_allowed.geojson, record 2 [KCN-MP1], field "
          "'operating_status': giá trị không cho phép / value 'open' not allowed"), []),
]


@pytest.mark.parametrize(("case", "args"), CLI_CASES, ids=lambda v: v.id if isinstance(v, Case) else "")
def test_cli_refuses_bad_input_without_traceback(case: Case, args: list[str], db: Engine, db_settings: Any,
                                                 tmp_path: Path, ingest_settings: IngestSettings,
                                                 area: AreaSettings) -> None:
    prepare(case, db, tmp_path, ingest_settings, area)
    before = data_fingerprint(db)
    env = {**os.environ, "GEO_DATABASE_URL": db_settings.url(), "GEO_INGEST_REPORTS_DIR": str(tmp_path / "r"),
           "GEO_INGEST_USER": "cli-test", "COLUMNS": "250"}
    p = subprocess.run([sys.executable, "-m", "geo", "ingest", case.layer, str(BAD / case.file), *args],
                       env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 1, out
    assert "Traceback" not in out, out
    assert case.message in out, out
    assert data_fingerprint(db) == before
    assert rows(db, "SELECT status, who FROM ingest_runs ORDER BY run_id DESC LIMIT 1") == [(case.status, "cli-test")]
    if case.status == "rejected":
        assert list((tmp_path / "r").glob(f"run_*_{case.file}.rejects.csv"))
