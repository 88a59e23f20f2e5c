"""Raster ingest (COG + catalogue + ledger) and zonal statistics on the real admin boundaries, serial and dask."""
from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from rio_cogeo.cogeo import cog_validate
from sqlalchemy import text

from geo import boundaries
from geo.raster_errors import RasterError
from geo.raster_products import get_product
from geo.settings import AreaSettings, DatabaseSettings
from geo.zonal import zonal_stats
from geo.zonal_dask import ClusterOptions, zonal_stats_distributed
from ingest.rasters import ingest_raster
from ingest.zonal import compute_zonal, load_geographies
from tests.conftest import truncate_all
from tests.factories import park, square, write_geojson
from tests.ingest.admin_loading import load_admin, province_raster


@pytest.fixture(scope="module")
def world(engine, shared_data, tmp_path_factory):
    """Real boundaries, one park and one forest polygon, and two years of a synthetic province raster."""
    truncate_all(engine)
    tmp = tmp_path_factory.mktemp("rasters")
    load_admin(engine, shared_data, tmp / "reports")
    from geo.settings import IngestSettings
    from ingest.pipeline import LoadOptions, ingest_file
    from layers import REGISTRY
    settings = IngestSettings(reports_dir=tmp / "reports", user="pytest")
    parks = write_geojson(tmp / "parks.geojson", [park("KCN-A", 106.70, 11.05)])
    forest = write_geojson(tmp / "forest.geojson", [({"code": "F1", "forest_type": "protection"},
                                                     square(106.45, 11.30, 0.02))])
    for layer, path in (("industrial_parks", parks), ("forest_areas", forest)):
        r = ingest_file(engine, REGISTRY.get(layer), path, LoadOptions(), ingest_settings=settings,
                        area=AreaSettings())
        assert r.status == "succeeded", (r.error, r.problems[:3])
    db_settings = DatabaseSettings(database_url=str(engine.url.render_as_string(hide_password=False)),
                                   data_dir=tmp / "data")
    src = {2020: province_raster(tmp / "lc2020.tif"), 2024: province_raster(tmp / "lc2024.tif", shift=1)}
    ids = {y: ingest_raster(engine, "esa_worldcover", p, y, db_settings=db_settings, area=AreaSettings(),
                            who="pytest").raster_id for y, p in src.items()}
    yield {"engine": engine, "tmp": tmp, "db_settings": db_settings, "src": src, "ids": ids}
    truncate_all(engine)


def test_ingest_writes_a_cog_and_a_catalogue_row(world):
    with world["engine"].connect() as conn:
        row = conn.execute(text("SELECT r.*, ST_XMin(geom) AS xmin, i.kind, i.status FROM raster_catalogue r "
                                "JOIN ingest_runs i ON i.run_id = r.ingest_run_id WHERE raster_id = :i"),
                           {"i": world["ids"][2020]}).mappings().one()
    assert (row["product"], row["year"], row["crs"], row["res_x"]) == ("esa_worldcover", 2020, "EPSG:32648", 100.0)
    assert row["classes"]["10"]["en"] == "Tree cover" and row["forest_rule"] == {"kind": "classes",
                                                                                 "forest_classes": [10]}
    assert (row["kind"], row["status"]) == ("raster", "succeeded") and 106.2 < row["xmin"] < 106.4
    assert row["path"].startswith(str(world["db_settings"].data_dir / "rasters"))
    assert cog_validate(row["path"])[0]


def test_reingesting_the_same_file_is_unchanged(world):
    r = ingest_raster(world["engine"], "esa_worldcover", world["src"][2020], 2020,
                      db_settings=world["db_settings"], area=AreaSettings())
    assert (r.status, r.raster_id) == ("unchanged", world["ids"][2020])


def test_failed_ingest_is_recorded_in_the_ledger(world):
    bad = world["tmp"] / "bad.tif"
    bad.write_bytes(b"garbage")
    with pytest.raises(RasterError):
        ingest_raster(world["engine"], "esa_worldcover", bad, 2019, db_settings=world["db_settings"],
                      area=AreaSettings())
    with world["engine"].connect() as conn:
        status, error = conn.execute(text("SELECT status, error FROM ingest_runs WHERE kind = 'raster' "
                                          "ORDER BY run_id DESC LIMIT 1")).one()
        assert status == "failed" and "cannot read" in error
        assert conn.execute(text("SELECT count(*) FROM raster_catalogue WHERE year = 2019")).scalar() == 0


@pytest.fixture(scope="module")
def admin_results(world):
    run = compute_zonal(world["engine"], world["ids"][2020], who="pytest")
    with world["engine"].connect() as conn:
        df = pd.read_sql(text("SELECT * FROM zonal_results WHERE run_id = :r"), conn, params={"r": run.run_id})
    return run, df


def _forest(df: pd.DataFrame, level: str) -> pd.DataFrame:
    return df[(df.geography_type == "admin_unit") & (df.level == level) & (df.metric == "forest")]


def test_every_geography_type_is_computed(admin_results):
    run, df = admin_results
    assert run.by_type == {"admin_unit": 46, "industrial_park": 1, "park_buffer": 1, "forest_area": 1}
    assert df.lineage.iloc[0]["raster"]["year"] == 2020 and df.lineage.iloc[0]["method"].startswith("exactextract")
    ring = df[(df.geography_type == "park_buffer") & (df.metric == "valid")].iloc[0]
    park_area = df[(df.geography_type == "industrial_park") & (df.metric == "valid")].iloc[0].polygon_area_m2
    side = park_area ** 0.5   # the park is a ~1.1 km square; its 1 km band is (s+2000)² − s² minus rounded corners
    assert ring.polygon_area_m2 == pytest.approx((side + 2000) ** 2 - side ** 2 - (4 - np.pi) * 1e6, rel=0.01)


def test_shares_per_district_and_ward_sum_consistently(admin_results):
    _run, df = admin_results
    province = _forest(df, "province").area_m2.sum()
    assert _forest(df, "district").area_m2.sum() == pytest.approx(province, rel=0.01)
    assert _forest(df, "commune").area_m2.sum() == pytest.approx(province, rel=0.02)
    # The pattern is half forest at 300 m scale: every unit's share of its area with data is close to 50 %.
    assert _forest(df, "district").share.between(0.45, 0.55).all()
    assert province / 1e6 == pytest.approx(2694.64 / 2, rel=0.02)


def test_crosswalk_reaggregates_district_forest_to_wards(admin_results, world):
    _run, df = admin_results
    cw = boundaries.crosswalk(world["engine"], date(2025, 6, 30), date(2025, 7, 1), "district", "commune")
    district = _forest(df, "district").set_index("feature_code").area_m2
    cw["forest_m2"] = cw.source_code.map(district) * cw.share_of_source
    via = cw.groupby("target_code").forest_m2.sum()
    direct = _forest(df, "commune").set_index("feature_code").area_m2
    assert via.sum() == pytest.approx(district.sum(), rel=0.005)       # extensive values are conserved
    rel = (via.reindex(direct.index) - direct).abs() / direct
    assert set(via.index) == set(direct.index) and rel.median() < 0.03 and rel.max() < 0.15


def test_change_between_years_on_districts(world):
    run = compute_zonal(world["engine"], world["ids"][2024], compare_raster_id=world["ids"][2020],
                        types=("admin_unit",))
    with world["engine"].connect() as conn:
        df = pd.read_sql(text("SELECT feature_code, metric, area_m2 FROM zonal_results WHERE run_id = :r "
                              "AND level = 'district'"), conn, params={"r": run.run_id})
    wide = df.pivot(index="feature_code", columns="metric", values="area_m2")
    assert len(wide) == 9 and (wide.loss > 0).all() and (wide.gain > 0).all()   # the pattern flipped
    assert np.allclose(wide.net, wide.gain - wide.loss)


def test_dask_local_cluster_gives_the_serial_result(world):
    polys = load_geographies(world["engine"], ("admin_unit",))
    polys = gpd.GeoDataFrame(polys[polys.level == "district"])
    product = get_product("esa_worldcover")
    serial = zonal_stats(world["src"][2020], polys, product)
    spread = zonal_stats_distributed(world["src"][2020], polys, product, ClusterOptions(workers=2, chunk_size=3))
    key = ["fkey", "metric", "class_value"]
    a = serial.sort_values(key).reset_index(drop=True)
    b = spread.sort_values(key).reset_index(drop=True)
    assert len(a) == len(b) == 9 * 4
    assert np.allclose(a.area_m2.astype(float), b.area_m2.astype(float), rtol=1e-12)
