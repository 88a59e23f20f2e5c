"""`geo sample`: deterministic synthetic files for every family, labelled, loadable with exactly the planted rejects."""
from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest
import shapely
from shapely.geometry import shape
from sqlalchemy import Engine, text

from geo.settings import AreaSettings, IngestSettings
from ingest.pipeline import LoadResult
from ingest.sample import REJECTED, SOURCE, WARNING, SampleManifest, generate, load_sample
from ingest.summary import summarize
from layers import REGISTRY
from tests.factories import data_fingerprint


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleManifest:
    return generate(tmp_path_factory.mktemp("sample"))


def records(manifest: SampleManifest, layer: str) -> list[tuple[dict[str, Any], shapely.Geometry]]:
    """The written features of one family, read back without GDAL (attributes as written)."""
    path = manifest.files[layer]
    if path.suffix == ".csv":
        with path.open(encoding="utf-8", newline="") as fh:
            return [(row, shapely.Point(float(row["lon"]), float(row["lat"]))) for row in csv.DictReader(fh)]
    fc = json.loads(path.read_text(encoding="utf-8"))
    return [(f["properties"], shape(f["geometry"])) for f in fc["features"]]


def load(engine: Engine, manifest: SampleManifest, settings: IngestSettings,
         area: AreaSettings) -> dict[str, LoadResult]:
    return {r.layer: r for r in load_sample(engine, manifest, ingest_settings=settings, area=area)}


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    a, b, c = generate(tmp_path / "a", seed=3), generate(tmp_path / "b", seed=3), generate(tmp_path / "c", seed=4)
    names = sorted(p.name for p in a.out_dir.iterdir())
    assert names == sorted(p.name for p in b.out_dir.iterdir())
    for name in names:
        assert (a.out_dir / name).read_bytes() == (b.out_dir / name).read_bytes(), name
    assert (a.out_dir / "park_zones.geojson").read_bytes() != (c.out_dir / "park_zones.geojson").read_bytes()


def test_every_family_has_one_file_and_a_csv_shows_another_format(sample: SampleManifest) -> None:
    assert list(sample.files)[0] == "admin_units"
    assert set(sample.files) == set(REGISTRY.names())
    assert all(p.is_file() and p.stat().st_size > 0 for p in sample.files.values())
    assert {p.suffix for p in sample.files.values()} == {".geojson", ".csv"}
    readme = (sample.out_dir / "README.txt").read_text(encoding="utf-8")
    assert "SYNTHETIC" in readme and "TỔNG HỢP" in readme


@pytest.mark.parametrize("layer", REGISTRY.names())
def test_every_feature_is_labelled_and_coded_as_sample(sample: SampleManifest, layer: str) -> None:
    rows = records(sample, layer)
    assert len(rows) == sample.counts[layer] > 0
    for props, _ in rows:
        assert props["source"] == SOURCE
        for key in ("code", "zone_code", "park_code"):
            if props.get(key):
                assert props[key].startswith("SMP-"), props[key]


def test_parks_are_valid_disjoint_and_about_their_declared_size(sample: SampleManifest) -> None:
    rows = [(p, g) for p, g in records(sample, "industrial_parks") if "deliberately bad" not in (p["notes"] or "")]
    assert len(rows) == 8
    metric = gpd.GeoSeries([g for _, g in rows], crs=4326).to_crs(32648)
    for (props, geom), ha in zip(rows, metric.area / 10_000):
        assert geom.is_valid
        assert ha == pytest.approx(props["area_declared_ha"], rel=0.02), props["code"]
    assert not any(a.intersects(b) for (_, a), (_, b) in itertools.combinations(rows, 2))


def test_zones_tile_their_parks_with_varied_shares(sample: SampleManifest) -> None:
    parks = {p["code"]: g for p, g in records(sample, "industrial_parks")}
    zones = records(sample, "park_zones")
    open_share, with_wwtp = {}, set()
    for code, group in itertools.groupby(sorted(zones, key=lambda z: z[0]["park_code"]),
                                         key=lambda z: z[0]["park_code"]):
        group = list(group)
        geoms = [g for _, g in group]
        assert sum(a.intersection(b).area for a, b in itertools.combinations(geoms, 2)) == 0.0
        assert shapely.union_all(geoms).symmetric_difference(parks[code]).area == pytest.approx(0.0, abs=1e-12)
        kinds = {p["zone_type"] for p, _ in group}
        assert {"factory", "road", "green_space", "shared_infrastructure"} <= kinds
        with_wwtp |= {code} if "wwtp" in kinds else set()
        opened = sum(g.area for p, g in group if p["zone_type"] in ("green_space", "road", "shared_infrastructure"))
        open_share[code] = opened / parks[code].area
    assert any(s >= 0.25 for s in open_share.values()) and any(s < 0.25 for s in open_share.values())
    assert len(open_share) / 2 < len(with_wwtp) < len(open_share)


def test_load_keeps_all_but_the_planted_faults(db: Engine, sample: SampleManifest,
                                               ingest_settings: IngestSettings, area: AreaSettings) -> None:
    results = load(db, sample, ingest_settings, area)
    assert sum(sample.expected(layer) for layer in sample.files) == 8
    for layer, r in results.items():
        assert r.status in ("succeeded", "succeeded_with_rejects"), (layer, r.error)
        assert r.rejected == sample.expected(layer, REJECTED), (layer, [p.reason for p in r.problems])
        assert r.warnings == sample.expected(layer, WARNING), layer
        assert r.inserted == sample.counts[layer] - r.rejected


def test_accepted_features_lie_inside_the_bbox(db: Engine, sample: SampleManifest,
                                              ingest_settings: IngestSettings, area: AreaSettings) -> None:
    load(db, sample, ingest_settings, area)
    with db.connect() as conn:
        for layer in sample.files:
            outside = conn.execute(text(
                f'SELECT count(*) FROM "{layer}" WHERE NOT ST_CoveredBy(geom, ST_MakeEnvelope(:a, :b, :c, :d, 4326))'),
                dict(zip("abcd", area.bbox))).scalar_one()
            assert outside == 0, layer


def test_second_load_changes_nothing(db: Engine, sample: SampleManifest,
                                     ingest_settings: IngestSettings, area: AreaSettings) -> None:
    load(db, sample, ingest_settings, area)
    before = data_fingerprint(db)
    again = load(db, sample, ingest_settings, area)
    for layer, r in again.items():
        assert (r.inserted, r.updated, r.deleted) == (0, 0, 0), layer
        assert r.unchanged == sample.counts[layer] - sample.expected(layer), layer
    assert data_fingerprint(db) == before


def test_summary_matches_the_load(db: Engine, sample: SampleManifest,
                                  ingest_settings: IngestSettings, area: AreaSettings) -> None:
    results = load(db, sample, ingest_settings, area)
    by_layer = {s.layer: s for s in summarize(db)}
    assert set(by_layer) == set(REGISTRY.names())
    minx, miny, maxx, maxy = area.bbox
    for layer, r in results.items():
        s = by_layer[layer]
        assert s.features == sample.counts[layer] - sample.expected(layer)
        assert s.last_run_id == r.run_id and s.last_run_status == r.status and s.last_run_at is not None
        assert s.bbox is not None and minx <= s.bbox[0] <= s.bbox[2] <= maxx and miny <= s.bbox[1] <= s.bbox[3] <= maxy
        assert (s.area_ha is not None) == REGISTRY.get(layer).is_polygonal
    assert by_layer["park_zones"].area_ha == pytest.approx(by_layer["industrial_parks"].area_ha, rel=1e-6)
