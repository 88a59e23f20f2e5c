"""Acceptance on the real boundaries in ../shared/data/admin: versions, areas, point queries, crosswalk."""
from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text

from geo import boundaries
from ingest.aoi import resolve_aoi
from ingest.pipeline import LoadOptions, ingest_file
from ingest.readers import read_vector
from layers import REGISTRY
from tests.conftest import truncate_all

OFFICIAL_KM2 = 2694.64
OLD = {"valid_from": "1997-01-01", "valid_to": "2025-07-01", "source": "dvhcvn (GPL-3.0)"}
NEW = {"valid_from": "2025-07-01", "parent_code": "79", "source": "vietnamese-provinces-database (MIT)"}


@pytest.fixture(scope="module")
def admin_db(engine, shared_data, tmp_path_factory):
    """Load the province, the 9 districts (with the source's swapped geometries corrected) and 36 wards."""
    truncate_all(engine)
    admin = shared_data / "admin"
    from geo.settings import AreaSettings, IngestSettings
    settings = IngestSettings(reports_dir=tmp_path_factory.mktemp("reports"), user="pytest")
    loads = [
        ("bd_province_pre2025_dvhcvn.geojson", {"code": "level1_id", "name_vi": "name"}, {"level": "province", **OLD}),
        # The source swaps the geometries of 723 and 726; geom_actual_* records each geometry's real owner.
        ("bd_districts_pre2025_dvhcvn.geojson", {"code": "geom_actual_level2_id", "name_vi": "geom_actual_name",
                                                 "parent_code": "level1_id"}, {"level": "district", **OLD}),
        ("bd_wards_post2025_sapnhap.geojson", {"name_vi": "fullName", "name_en": "fullNameEn"},
         {"level": "commune", **NEW}),
    ]
    for name, mapping, constants in loads:
        r = ingest_file(engine, REGISTRY.get("admin_units"), admin / name,
                        LoadOptions(mapping=mapping, constants=constants), ingest_settings=settings,
                        area=AreaSettings())
        assert r.status == "succeeded", (name, r.error, r.problems[:3])
    yield engine
    truncate_all(engine)


def test_versions_load_with_their_validity(admin_db):
    old = boundaries.units_in_force(admin_db, date(2024, 6, 1))
    new = boundaries.units_in_force(admin_db, date(2025, 8, 1))
    assert old.groupby("level").size().to_dict() == {"district": 9, "province": 1}
    assert new.groupby("level").size().to_dict() == {"commune": 36}
    assert set(old.loc[old.level == "district", "code"]) == {str(c) for c in range(718, 727)}


@pytest.mark.parametrize("on,level", [(date(2024, 6, 1), "district"), (date(2024, 6, 1), "province"),
                                      (date(2025, 8, 1), "commune")])
def test_total_area_of_each_version_within_one_percent(admin_db, on, level):
    units = boundaries.units_in_force(admin_db, on, level)
    assert units.area_km2.sum() == pytest.approx(OFFICIAL_KM2, rel=0.01)


def test_units_on_the_changeover_date(admin_db):
    """Validity is half-open: on 2025-07-01 the wards are in force and the districts are not."""
    assert set(boundaries.units_in_force(admin_db, date(2025, 6, 30)).level) == {"province", "district"}
    assert set(boundaries.units_in_force(admin_db, date(2025, 7, 1)).level) == {"commune"}


def test_point_in_thu_dau_mot_on_two_dates(admin_db):
    before = boundaries.unit_at(admin_db, 106.65, 10.98, date(2024, 6, 1))
    after = boundaries.unit_at(admin_db, 106.65, 10.98, date(2025, 8, 1))
    assert before.iloc[0][["level", "code"]].tolist() == ["district", "718"]
    assert "Thủ Dầu Một" in before.iloc[0]["name_vi"]
    assert after.iloc[0][["level", "code"]].tolist() == ["commune", "25747"]
    assert after.iloc[0]["name_vi"] == "Phường Thủ Dầu Một"


def test_swapped_source_geometries_are_loaded_under_their_real_codes(admin_db):
    # Tân Uyên (723) lies south of Bắc Tân Uyên (726).
    with admin_db.connect() as conn:
        lat = dict(conn.execute(text("SELECT code, ST_Y(ST_Centroid(geom)) FROM admin_units "
                                     "WHERE code IN ('723', '726')")).all())
    assert lat["723"] < lat["726"]


def test_crosswalk_agrees_with_official_mapping_at_district_level(admin_db, shared_data):
    """Each new ward's main source district (by area) is a district whose communes the mapping sends there."""
    cw = boundaries.crosswalk(admin_db, date(2025, 6, 30), date(2025, 7, 1), "district", "commune")
    mapping = pd.read_csv(shared_data / "admin" / "bd_commune_mapping_2025_dvhcvn.csv", dtype=str)
    communes = pd.read_csv(shared_data / "admin" / "bd_communes_pre2025_gso_list.csv", dtype=str)
    official = mapping.merge(communes[["level3_id", "level2_id"]], left_on="old_level3_id", right_on="level3_id")
    expected = official.groupby("new_ward_code").level2_id.agg(set).to_dict()
    assert set(cw.target_code) == set(expected)
    main = cw.sort_values("share_of_target", ascending=False).drop_duplicates("target_code")
    disagree = [(r.target_code, r.source_code, expected[r.target_code]) for r in main.itertuples()
                if r.source_code not in expected[r.target_code]]
    assert disagree == []
    # Shares of each source district add up to ~1: the wards cover the old districts. Dầu Tiếng (724) is the
    # loosest (0.96): the two sources draw the reservoir shore differently.
    assert cw.groupby("source_code").share_of_source.sum().between(0.95, 1.01).all()


def test_osm_park_centroids_inside_are_accepted_and_outside_flagged(admin_db, shared_data):
    from geo.settings import AreaSettings
    aoi = resolve_aoi(AreaSettings(), admin_db)
    assert aoi.label.startswith("province 74")
    src = read_vector(shared_data / "industrial" / "osm_industrial_park_centroids_bd_region.csv")
    inside = aoi.contains(src.frame.geometry.to_numpy())
    truth = src.frame["inside_old_binh_duong"].str.lower() == "true"
    assert inside.sum() == 4 and (inside == truth.to_numpy()).all()


def test_osm_centroids_through_the_pipeline_checks(admin_db, shared_data, tmp_path):
    """As monitoring points (same AOI check as every layer): 4 accepted, 5 rejected as outside."""
    from geo.settings import AreaSettings, IngestSettings
    r = ingest_file(admin_db, REGISTRY.get("monitoring_stations"),
                    shared_data / "industrial" / "osm_industrial_park_centroids_bd_region.csv",
                    LoadOptions(mapping={"code": "id", "name_vi": "name"},
                                constants={"medium": "air", "mode": "periodic", "status": "planned"},
                                dry_run=True),
                    ingest_settings=IngestSettings(reports_dir=tmp_path), area=AreaSettings())
    outside = {p.key for p in r.problems if "outside the area of interest" in p.reason}
    assert r.n_read == 9 and outside == {"linh-trung-3", "amata", "bien-hoa-2", "tan-phu-trung", "xuyen-a"}
