"""The tiled path for large polygons (interior tiles as histograms, boundary pieces to exactextract) gives the
same areas as exactextract on whole polygons: projected and geographic grids, nodata, percent products, change."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import Polygon

import geo.zonal as zonal
import geo.zonal_tiles as tiles
from geo.raster_products import get_product

N = 300   # pixels per side


def _raster(path, crs, x0, y0, res, seed, values=(10, 20, 40), nodata=0):  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    data = np.repeat(np.repeat(rng.choice(np.array(values, dtype="uint8"), size=(N // 6, N // 6)), 6, 0), 6, 1)
    data[40:70, 100:160] = nodata
    with rasterio.open(path, "w", driver="GTiff", width=N, height=N, count=1, dtype="uint8", nodata=nodata, crs=crs,
                       transform=from_origin(x0, y0 + N * res, res, res)) as ds:
        ds.write(data, 1)
    return path


def _polygons(x0, y0, res, crs):  # type: ignore[no-untyped-def]
    s = N * res
    big = Polygon([(x0 + 0.03 * s, y0 + 0.05 * s), (x0 + 0.97 * s, y0 + 0.11 * s), (x0 + 0.88 * s, y0 + 0.93 * s),
                   (x0 + 0.41 * s, y0 + 0.71 * s), (x0 + 0.07 * s, y0 + 0.96 * s)])
    half = Polygon([(x0 + 0.5 * s, y0 - 0.2 * s), (x0 + 1.3 * s, y0 + 0.3 * s), (x0 + 0.6 * s, y0 + 0.6 * s)])
    small = Polygon([(x0 + 0.2 * s, y0 + 0.2 * s), (x0 + 0.23 * s, y0 + 0.21 * s), (x0 + 0.21 * s, y0 + 0.24 * s)])
    return gpd.GeoDataFrame({"fkey": ["big", "off-edge", "small"]}, geometry=[big, half, small], crs=crs)


def _both(monkeypatch, run):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(zonal, "LARGE_CELLS", 10**12)    # nothing is tiled: exactextract on whole polygons
    whole = run()
    monkeypatch.setattr(zonal, "LARGE_CELLS", 2_000)     # the big polygons are tiled
    monkeypatch.setattr(tiles, "TILE", 16)
    tiled = run()
    return whole.sort_values(["fkey", "metric", "class_value"]).reset_index(drop=True), \
        tiled.sort_values(["fkey", "metric", "class_value"]).reset_index(drop=True)


@pytest.mark.parametrize("crs,x0,y0,res", [("EPSG:32648", 650_000.0, 1_220_000.0, 10.0),
                                          ("EPSG:4326", 106.6, 11.0, 0.0001)])
def test_tiled_class_areas_equal_whole_polygon_areas(tmp_path, monkeypatch, crs, x0, y0, res):
    path = _raster(tmp_path / "c.tif", crs, x0, y0, res, seed=3)
    polys = _polygons(x0, y0, res, crs)
    whole, tiled = _both(monkeypatch, lambda: zonal.zonal_stats(path, polys, get_product("esa_worldcover")))
    assert len(whole) == len(tiled) and whole.metric.tolist() == tiled.metric.tolist()
    assert tiled.area_m2.to_numpy(float) == pytest.approx(whole.area_m2.to_numpy(float), rel=1e-9, abs=1e-6)


def test_tiled_percent_product_mean_and_change(tmp_path, monkeypatch):
    x0, y0, res = 650_000.0, 1_220_000.0, 10.0
    pct = _raster(tmp_path / "p.tif", "EPSG:32648", x0, y0, res, seed=4, values=(5, 35, 80), nodata=255)
    polys = _polygons(x0, y0, res, "EPSG:32648")
    whole, tiled = _both(monkeypatch, lambda: zonal.zonal_stats(pct, polys, get_product("tree_cover_pct")))
    for col in ("area_m2", "value"):
        assert tiled[col].to_numpy(float) == pytest.approx(whole[col].to_numpy(float), rel=1e-9, nan_ok=True)
    a = _raster(tmp_path / "a.tif", "EPSG:32648", x0, y0, res, seed=5)
    b = _raster(tmp_path / "b.tif", "EPSG:32648", x0, y0, res, seed=6)
    whole, tiled = _both(monkeypatch, lambda: zonal.zonal_change(a, b, polys, get_product("esa_worldcover")))
    assert tiled.area_m2.to_numpy(float) == pytest.approx(whole.area_m2.to_numpy(float), rel=1e-9, abs=1e-6)
