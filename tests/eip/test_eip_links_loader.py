"""A links CSV without geometry gets its lines from the enterprises' points and loads through the pipeline."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from geo.errors import InputError
from geo.settings import AreaSettings
from ingest.eip_links import load_links
from ingest.pipeline import LoadOptions
from tests.eip.eip_world import firm, load
from tests.factories import park


@pytest.fixture
def firms(db, tmp_path, ingest_settings):
    load(db, tmp_path, "industrial_parks", [park("Q1")], ingest_settings)
    load(db, tmp_path, "enterprises", [firm("X", "Q1", 106.702, 11.002), firm("Y", "Q1", 106.706, 11.006)],
         ingest_settings)
    return db


def test_links_without_geometry_are_drawn_between_the_firms(firms, tmp_path, ingest_settings):
    path = tmp_path / "links.csv"
    path.write_text("code,tu_doanh_nghiep,den_doanh_nghiep,loai,ngay_bat_dau\nK1,X,Y,water,01/02/2024\n",
                    encoding="utf-8")
    r = load_links(firms, path, LoadOptions(), ingest_settings=ingest_settings, area=AreaSettings())
    assert r.status == "succeeded" and r.inserted == 1
    with firms.connect() as conn:
        wkt, length = conn.execute(text("SELECT ST_AsText(geom), length_m FROM symbiosis_links")).one()
    assert wkt == "MULTILINESTRING((106.702 11.002,106.706 11.006))" and 550 < length < 700


def test_an_unknown_enterprise_names_its_row(firms, tmp_path, ingest_settings):
    path = tmp_path / "links.csv"
    path.write_text("code,from_enterprise,to_enterprise,link_type\nK1,X,Y,water\nK2,X,NOPE,energy\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"links.csv.*3.*NOPE"):
        load_links(firms, path, LoadOptions(), ingest_settings=ingest_settings, area=AreaSettings())


def test_a_firm_linked_to_itself_is_rejected_by_the_row_check(firms, tmp_path, ingest_settings):
    path = tmp_path / "links.csv"
    path.write_text("code,from_enterprise,to_enterprise,link_type\nK1,X,X,water\n", encoding="utf-8")
    r = load_links(firms, path, LoadOptions(), ingest_settings=ingest_settings, area=AreaSettings())
    assert r.status in ("rejected", "failed")
