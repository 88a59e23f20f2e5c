"""exactextract class and forest areas against hand-computed exact areas (several CRSs, nodata, edge-crossing)."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import CRS, Geod
from rasterio.transform import from_origin
from shapely.geometry import Polygon, box
from shapely.ops import unary_union

from geo.crs import vn2000_binh_duong
from geo.raster_errors import RasterError
from geo.raster_products import get_product
from geo.zonal import cell_areas_geographic, zonal_change, zonal_stats

WORLDCOVER = get_product("esa_worldcover")
# 6 × 5 cells; 0 = nodata. Classes 10 (tree), 20, 30 in a pattern that makes every polygon cross class edges.
GRID = np.array([[10, 10, 20, 20, 30, 10],
                 [10, 0, 20, 30, 30, 10],
                 [20, 20, 10, 10, 0, 20],
                 [30, 10, 10, 20, 20, 20],
                 [30, 30, 10, 10, 10, 0]], dtype="uint8")


def _write(path: Path, data: np.ndarray, crs: object, transform: object, nodata: float | None = 0) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype, crs=crs, transform=transform, nodata=nodata) as ds:
        ds.write(data, 1)
    return path


def _cells(transform: object, data: np.ndarray, value: int) -> Polygon:
    """Union of the cells holding ``value`` as exact polygons in the raster's CRS."""
    cells = []
    for r, c in zip(*np.nonzero(data == value)):
        x0, y0 = transform @ (c, r)
        x1, y1 = transform @ (c + 1, r + 1)
        cells.append(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
    return unary_union(cells)


def _polygon(x0: float, y0: float, size: float) -> Polygon:
    """A pentagon with slanted edges crossing cells at arbitrary fractions."""
    s = size
    return Polygon([(x0 + 0.37 * s, y0 + 0.21 * s), (x0 + 4.83 * s, y0 + 0.55 * s), (x0 + 5.61 * s, y0 + 3.12 * s),
                    (x0 + 2.94 * s, y0 + 4.77 * s), (x0 + 0.12 * s, y0 + 2.66 * s)])


PROJECTED = [("EPSG:32648", 650_000.0, 1_220_000.0, 10.0), ("EPSG:3405", 650_100.0, 1_219_950.0, 30.0),
             ("VN2000-BD", 550_000.0, 1_218_000.0, 20.0)]


@pytest.mark.parametrize("crs_name,x0,y0,size", PROJECTED)
def test_projected_class_areas_are_exact(tmp_path, crs_name, x0, y0, size):
    crs = vn2000_binh_duong() if crs_name == "VN2000-BD" else CRS.from_user_input(crs_name)
    transform = from_origin(x0, y0 + 5 * size, size, size)
    path = _write(tmp_path / "c.tif", GRID, crs.to_wkt(), transform)
    poly = _polygon(x0, y0, size)
    out = zonal_stats(path, gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[poly], crs=crs), WORLDCOVER)
    got = {(m, None if np.isnan(c) else int(c)): a for m, c, a in zip(out.metric, out.class_value.astype(float),
                                                                     out.area_m2)}
    exact = {v: poly.intersection(_cells(transform, GRID, v)).area for v in (10, 20, 30)}
    valid = sum(exact.values())
    for v, area in exact.items():
        assert got[("class", v)] == pytest.approx(area, rel=1e-6)
    assert got[("forest", None)] == pytest.approx(exact[10], rel=1e-6)
    assert got[("valid", None)] == pytest.approx(valid, rel=1e-6)
    assert valid < poly.area   # the nodata cells the polygon crosses are not counted
    share = out.loc[out.metric == "forest", "share"].iloc[0]
    assert share == pytest.approx(exact[10] / valid, rel=1e-6)


def test_geographic_raster_weights_true_cell_areas(tmp_path):
    """EPSG:4326 cells shrink with latitude: areas match the geodesic areas of the exact intersections."""
    size, x0, y0 = 0.001, 106.60, 11.00
    transform = from_origin(x0, y0 + 5 * size, size, size)
    path = _write(tmp_path / "g.tif", GRID, "EPSG:4326", transform)
    poly = _polygon(x0, y0, size)
    out = zonal_stats(path, gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[poly], crs=4326), WORLDCOVER)
    geod = Geod(ellps="WGS84")
    for v in (10, 20, 30):
        exact = abs(geod.geometry_area_perimeter(poly.intersection(_cells(transform, GRID, v)))[0])
        got = out.loc[(out.metric == "class") & (out.class_value == v), "area_m2"].iloc[0]
        assert got == pytest.approx(exact, rel=1e-5)


def test_ellipsoidal_cell_area_matches_geodesic_polygon():
    geod = Geod(ellps="WGS84")
    exact = abs(geod.polygon_area_perimeter([106.6, 106.7, 106.7, 106.6], [11.1, 11.1, 11.0, 11.0])[0])
    got = cell_areas_geographic(np.array([11.1]), np.array([11.0]), 0.1, 6378137.0, 298.257223563)[0]
    # A geodesic edge between two points of a parallel bulges poleward slightly: agreement to ~1e-6.
    assert got == pytest.approx(exact, rel=1e-5)


def test_tree_cover_percent_threshold_and_mean(tmp_path):
    pct = np.array([[0, 29, 30], [100, 50, 10]], dtype="uint8")
    transform = from_origin(600_000, 1_200_020, 10, 10)
    path = _write(tmp_path / "p.tif", pct, "EPSG:32648", transform, nodata=255)
    poly = box(600_000, 1_200_000, 600_030, 1_200_020)
    out = zonal_stats(path, gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[poly], crs=32648),
                      get_product("tree_cover_pct"))
    forest = out.loc[out.metric == "forest"].iloc[0]
    assert forest.area_m2 == pytest.approx(300.0) and forest.share == pytest.approx(0.5)
    assert out.loc[out.metric == "mean", "value"].iloc[0] == pytest.approx(219 / 6)
    lower = zonal_stats(path, gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[poly], crs=32648),
                        get_product("tree_cover_pct").with_threshold(25))
    assert lower.loc[lower.metric == "forest", "area_m2"].iloc[0] == pytest.approx(400.0)


def test_polygons_in_another_crs_are_reprojected(tmp_path):
    transform = from_origin(650_000, 1_220_050, 10, 10)
    path = _write(tmp_path / "c.tif", GRID, "EPSG:32648", transform)
    poly = _polygon(650_000, 1_220_000, 10)
    in_4326 = gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[poly], crs=32648).to_crs(4326)
    out = zonal_stats(path, in_4326, WORLDCOVER)
    exact = poly.intersection(_cells(transform, GRID, 10)).area
    assert out.loc[out.metric == "forest", "area_m2"].iloc[0] == pytest.approx(exact, rel=1e-4)


def test_change_between_years(tmp_path):
    transform = from_origin(650_000, 1_220_050, 10, 10)
    later = GRID.copy()
    later[0, 0], later[2, 1] = 40, 10      # one forest cell lost, one gained
    a = _write(tmp_path / "a.tif", GRID, "EPSG:32648", transform)
    b = _write(tmp_path / "b.tif", later, "EPSG:32648", transform)
    poly = box(650_000, 1_220_000, 650_060, 1_220_050)   # the whole grid
    out = zonal_change(a, b, gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[poly], crs=32648), WORLDCOVER)
    got = dict(zip(out.metric, out.area_m2))
    assert got == pytest.approx({"loss": 100.0, "gain": 100.0, "net": 0.0})


def test_change_refuses_different_grids(tmp_path):
    a = _write(tmp_path / "a.tif", GRID, "EPSG:32648", from_origin(650_000, 1_220_050, 10, 10))
    b = _write(tmp_path / "b.tif", GRID, "EPSG:32648", from_origin(650_005, 1_220_050, 10, 10))
    poly = gpd.GeoDataFrame({"fkey": ["p"]}, geometry=[box(650_000, 1_220_000, 650_060, 1_220_050)], crs=32648)
    with pytest.raises(RasterError, match="same grid"):
        zonal_change(a, b, poly, WORLDCOVER)
