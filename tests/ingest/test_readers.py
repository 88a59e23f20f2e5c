"""Every supported format loads the same stations into PostGIS: count, Vietnamese names, SRID 4326, positions."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from pyproj import Geod, Transformer
from sqlalchemy import Engine, text

from geo.crs import vn2000_binh_duong
from geo.settings import AreaSettings, IngestSettings
from ingest.pipeline import LoadOptions, LoadResult, ingest_file
from layers import REGISTRY
from tests.conftest import TEST_DATA

READERS = TEST_DATA / "readers"
STATIONS_SPEC = REGISTRY.get("monitoring_stations")
GEOD = Geod(ellps="WGS84")


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


FIXTURES = _module(READERS / "make_fixtures.py")
TRUTH = {s[0]: s for s in FIXTURES.STATIONS}  # code → (code, name, medium, mode, status, park, since, lon, lat)
FIRST3 = tuple(s[0] for s in FIXTURES.STATIONS[:3])
AIR = tuple(s[0] for s in FIXTURES.AIR)
WATER = tuple(s[0] for s in FIXTURES.WATER)


def load(engine: Engine, path: Path, settings: IngestSettings, area: AreaSettings, **options: Any) -> LoadResult:
    return ingest_file(engine, STATIONS_SPEC, path, LoadOptions(**options), ingest_settings=settings, area=area)


def stored(engine: Engine) -> dict[str, tuple]:
    """code → (name_vi, medium, mode, status, srid, lon, lat, geometry type) as PostGIS holds them."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT code, name_vi, medium, mode, status, ST_SRID(geom), ST_X(geom), ST_Y(geom), "
            "GeometryType(geom) FROM monitoring_stations ORDER BY code"))
        return {r[0]: tuple(r[1:]) for r in rows}


def distance_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    return GEOD.inv(lon1, lat1, lon2, lat2)[2]


def assert_stations(engine: Engine, codes: tuple[str, ...], tolerance_m: float = 0.05) -> dict[str, tuple]:
    rows = stored(engine)
    assert sorted(rows) == sorted(codes)
    for code, (name, medium, mode, status, srid, lon, lat, gtype) in rows.items():
        truth = TRUTH[code]
        assert name == truth[1], "Vietnamese names must survive exactly (composed, with diacritics)"
        assert (medium, mode, status) == truth[2:5]
        assert (srid, gtype) == (4326, "POINT")
        assert distance_m(lon, lat, truth[7], truth[8]) < tolerance_m
    return rows


FORMATS = [
    # file, options, codes, tolerance (m): projected sources were rounded to 1 cm
    ("stations.geojson", {}, FIRST3, 0.05),
    ("stations.gpkg", {"layer": "tram_nuoc"}, WATER, 0.05),
    ("stations.gpkg", {"layer": "tram_khong_khi"}, AIR, 0.05),
    ("stations_shp/stations.shp", {}, FIRST3, 0.05),
    ("stations_shp.zip", {}, FIRST3, 0.05),
    ("stations.kml", {}, AIR + WATER[:1], 0.05),
    ("stations.kmz", {}, AIR + WATER[:1], 0.05),
    ("stations_lonlat.csv", {}, FIRST3, 0.05),
    ("stations_wkt_utm48.csv", {"crs": "EPSG:32648"}, FIRST3, 1.0),
    ("stations_vn2000_bd.csv", {"crs": "VN2000-BD"}, FIRST3, 1.0),
    ("stations_epsg3405.geojson", {}, FIRST3, 1.0),
    ("stations.xlsx", {}, FIRST3, 0.05),
]


def test_fixture_generator_is_deterministic(tmp_path: Path) -> None:
    FIXTURES.build(tmp_path)
    made = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert len(made) >= 12
    for rel in made:
        assert (READERS / rel).read_bytes() == (tmp_path / rel).read_bytes(), f"{rel} differs from a fresh build"
    readme = (READERS / "README.md").read_text(encoding="utf-8")
    for rel in made:
        top = rel.parts[0]
        assert f"`{top}`" in readme or f"`{top}/`" in readme, f"README.md does not describe {top}"


@pytest.mark.parametrize(("file", "options", "codes", "tolerance"),
                         [pytest.param(*f, id=f"{f[0]}{f[1] or ''}") for f in FORMATS])
def test_format_loads_into_postgis(file: str, options: dict, codes: tuple[str, ...], tolerance: float,
                                   db: Engine, ingest_settings: IngestSettings, area: AreaSettings) -> None:
    result = load(db, READERS / file, ingest_settings, area, **options)
    assert result.status == "succeeded", (result.error, result.problems)
    assert (result.n_read, result.inserted, result.rejected, result.warnings) == (len(codes), len(codes), 0, 0)
    assert_stations(db, codes, tolerance)
    # Loading the same file again changes nothing (idempotent in every format).
    again = load(db, READERS / file, ingest_settings, area, **options)
    assert (again.status, again.inserted, again.updated, again.unchanged) == ("succeeded", 0, 0, len(codes))


def test_shapefile_cpg_keeps_diacritics(db: Engine, ingest_settings: IngestSettings, area: AreaSettings) -> None:
    assert (READERS / "stations_shp" / "stations.cpg").read_text().strip().upper() in ("UTF-8", "UTF8")
    result = load(db, READERS / "stations_shp" / "stations.shp", ingest_settings, area)
    assert result.status == "succeeded" and not any(n.startswith("no .cpg") for n in result.notes)
    names = {code: row[0] for code, row in stored(db).items()}
    assert names["QT-NM-02"] == "Trạm quan trắc nước mặt sông Sài Gòn – cầu Phú Cường"
    assert names["QT-NT-03"] == "Trạm quan trắc nước thải KCN Việt Nam – Singapore I"


def test_gpkg_layer_choice_and_kml_folders(db: Engine, ingest_settings: IngestSettings, area: AreaSettings) -> None:
    r = load(db, READERS / "stations.gpkg", ingest_settings, area, layer="tram_nuoc")
    assert r.status == "succeeded" and stored(db).keys() == set(WATER)
    k = load(db, READERS / "stations.kml", ingest_settings, area)
    # Both KML folders ("Không khí", "Nước") are read; KML's own columns are reported as ignored.
    assert k.status == "succeeded" and k.n_read == 3
    assert any("ignored" in n and "description" in n for n in k.notes)


def test_vn2000_binh_duong_csv_lands_within_a_metre(db: Engine, ingest_settings: IngestSettings,
                                                     area: AreaSettings) -> None:
    """x/y in the VN-2000 Bình Dương zone: expected WGS84 from pyproj with geo.crs.vn2000_binh_duong()."""
    path = READERS / "stations_vn2000_bd.csv"
    result = load(db, path, ingest_settings, area, crs="VN2000-BD")
    assert result.status == "succeeded" and "VN-2000" in (result.source_crs or "")
    to_wgs84 = Transformer.from_crs(vn2000_binh_duong(), 4326, always_xy=True)
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    rows = stored(db)
    for line in lines[1:]:
        rec = dict(zip(header, line.split(","), strict=True))
        x, y = float(rec["x"]), float(rec["y"])
        assert 500_000 < x < 700_000 and 1_150_000 < y < 1_300_000  # really metres of the 105°45′ zone
        exp_lon, exp_lat = to_wgs84.transform(x, y)
        _, *_, lon, lat, _ = rows[rec["code"]]
        assert distance_m(lon, lat, exp_lon, exp_lat) < 1.0
        assert distance_m(lon, lat, TRUTH[rec["code"]][7], TRUTH[rec["code"]][8]) < 1.0


def test_geojson_legacy_crs_member_is_honoured(db: Engine, ingest_settings: IngestSettings,
                                                area: AreaSettings) -> None:
    result = load(db, READERS / "stations_epsg3405.geojson", ingest_settings, area)
    assert result.status == "succeeded" and result.source_crs == "EPSG:3405"
    rows = assert_stations(db, FIRST3, tolerance_m=1.0)
    assert all(106 < r[5] < 107 and 10 < r[6] < 12 for r in rows.values())  # transformed, not copied


def test_column_mapping(db: Engine, ingest_settings: IngestSettings, area: AreaSettings) -> None:
    path = READERS / "stations_mapped.csv"
    unmapped = load(db, path, ingest_settings, area)
    assert unmapped.status == "failed" and "required field(s) missing" in unmapped.error and "--map" in unmapped.error
    mapping = {"code": "Mã trạm", "name_vi": "Tên trạm", "medium": "Thành phần MT", "mode": "Hình thức QT",
               "status": "Tình trạng"}
    result = load(db, path, ingest_settings, area, mapping=mapping)
    assert result.status == "succeeded", (result.error, result.problems)
    assert_stations(db, FIRST3)
    wrong = load(db, path, ingest_settings, area, mapping={"code": "Mã KCN"})
    assert wrong.status == "failed" and "--map names columns the file does not have: Mã KCN" in wrong.error


def test_constants_with_set(db: Engine, ingest_settings: IngestSettings, area: AreaSettings) -> None:
    path = READERS / "stations_set.csv"
    result = load(db, path, ingest_settings, area,
                  constants={"medium": "air", "mode": "periodic", "status": "active", "source": "Sở TN&MT, 2025"})
    assert result.status == "succeeded", (result.error, result.problems)
    rows = stored(db)
    assert sorted(rows) == sorted(AIR)
    assert {r[1:4] for r in rows.values()} == {("air", "periodic", "active")}
    with db.connect() as conn:
        assert conn.execute(text("SELECT DISTINCT source FROM monitoring_stations")).all() == [("Sở TN&MT, 2025",)]
    bad = load(db, path, ingest_settings, area, constants={"medium": "air", "mode": "daily", "status": "active"})
    assert bad.status == "rejected" and {p.field for p in bad.problems} == {"mode"}
    assert all("value 'daily' not allowed" in p.reason for p in bad.problems)


def test_map_and_set_through_the_cli(db: Engine, db_settings: Any, tmp_path: Path) -> None:
    env = {**os.environ, "GEO_DATABASE_URL": db_settings.url(), "GEO_INGEST_REPORTS_DIR": str(tmp_path / "r"),
           "COLUMNS": "250"}
    args = ["--map", "code=Mã trạm", "--map", "name_vi=Tên trạm", "--map", "medium=Thành phần MT",
            "--map", "status=Tình trạng", "--set", "mode=periodic"]
    p = subprocess.run([sys.executable, "-m", "geo", "ingest", "monitoring_stations",
                        str(READERS / "stations_mapped.csv"), *args],
                       env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)
    assert p.returncode == 0 and "Traceback" not in p.stdout + p.stderr, p.stdout + p.stderr
    assert "succeeded" in p.stdout
    rows = stored(db)
    assert sorted(rows) == sorted(FIRST3) and {r[2] for r in rows.values()} == {"periodic"}
