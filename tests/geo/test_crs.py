"""CRS handling: VN-2000 definitions agree with EPSG, user input resolves, mislabelled files are refused."""
from __future__ import annotations

import pytest
from pyproj import CRS, Transformer

from geo.crs import check_plausible, resolve_crs, vn2000_binh_duong
from geo.errors import CrsError


def test_binh_duong_zone_agrees_with_epsg_3405_path():
    """A VN-2000 ground point via the provincial zone and via UTM 48N lands on the same WGS84 position."""
    lon, lat = 106.65, 11.0
    bd = vn2000_binh_duong()
    x1, y1 = Transformer.from_crs(4756, bd, always_xy=True).transform(lon, lat)
    x2, y2 = Transformer.from_crs(4756, 3405, always_xy=True).transform(lon, lat)
    a = Transformer.from_crs(bd, 4326, always_xy=True).transform(x1, y1)
    b = Transformer.from_crs(3405, 4326, always_xy=True).transform(x2, y2)
    assert a == pytest.approx(b, abs=1e-9)
    assert 590_000 < x1 < 610_000 and 1_210_000 < y1 < 1_220_000


def test_published_towgs84_string_agrees_within_a_metre():
    """The provincial PROJ string (position-vector towgs84) matches our EPSG-based definition."""
    s = ("+proj=tmerc +lat_0=0 +lon_0=105.75 +k=0.9999 +x_0=500000 +y_0=0 +ellps=WGS84 "
         "+towgs84=-191.90441429,-39.30318279,-111.45032835,0.00928836,-0.01975479,0.00427372,0.252906278 "
         "+units=m +no_defs")
    x, y = 598352.74, 1216491.77
    p1 = Transformer.from_crs(vn2000_binh_duong(), 32648, always_xy=True).transform(x, y)
    p2 = Transformer.from_crs(CRS(s), 32648, always_xy=True).transform(x, y)
    assert ((p1[0] - p2[0]) ** 2 + (p1[1] - p2[1]) ** 2) ** 0.5 < 1.0


@pytest.mark.parametrize("text,epsg", [("EPSG:3405", 3405), ("4326", 4326), ("VN2000-UTM48", 3405),
                                       ("wgs84", 4326), ("VN2000", 4756)])
def test_resolve_named_crs(text, epsg):
    assert resolve_crs(text).to_epsg() == epsg


def test_resolve_unknown_crs_is_a_clear_error():
    with pytest.raises(CrsError, match="unknown CRS 'EPSG:99999999'"):
        resolve_crs("EPSG:99999999")


def test_vn2000_metres_labelled_as_degrees_are_refused():
    with pytest.raises(CrsError, match="VN-2000 metres"):
        check_plausible((598_000, 1_216_000, 600_000, 1_218_000), CRS.from_epsg(4326), "f.geojson")


def test_degrees_labelled_as_metres_are_refused():
    with pytest.raises(CrsError, match="look like degrees"):
        check_plausible((106.6, 10.9, 106.7, 11.0), CRS.from_epsg(3405), "f.geojson")


def test_plausible_coordinates_pass():
    check_plausible((106.6, 10.9, 106.7, 11.0), CRS.from_epsg(4326), "f.geojson")
    check_plausible((598_000, 1_216_000, 600_000, 1_218_000), CRS.from_epsg(3405), "f.geojson")
