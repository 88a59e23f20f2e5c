"""Raster validation and COG writing: tiled, overviews, COG layout, validated like `rio cogeo validate`."""
from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate
from shapely.geometry import box

from geo.cog import check_overlap, cog_layout, inspect_raster, write_cog
from geo.raster_errors import RasterError


def _tif(path, crs="EPSG:32648", x0=650_000.0, y0=1_230_000.0, size=1200):
    data = (np.arange(size * size, dtype="uint32").reshape(size, size) % 5 * 10 + 10).astype("uint8")
    data[:50, :50] = 0
    profile = dict(driver="GTiff", width=size, height=size, count=1, dtype="uint8", nodata=0,
                   transform=from_origin(x0, y0, 10, 10))
    if crs:
        profile["crs"] = crs
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(data, 1)
    return path


def test_cog_is_tiled_with_overviews_and_valid(tmp_path):
    cog = write_cog(_tif(tmp_path / "in.tif"), tmp_path / "out" / "cog.tif", "classes")
    layout = cog_layout(cog)
    assert layout["tiled"] and layout["blockxsize"] == 512 and layout["layout"] == "COG"
    assert layout["overviews"] == [2, 4]
    valid, errors, _warnings = cog_validate(str(cog))
    assert valid and not errors
    with rasterio.open(cog) as ds:
        assert ds.nodata == 0 and ds.crs.to_epsg() == 32648
    assert not (tmp_path / "out" / "cog.tif.part").exists()


def test_raster_without_crs_is_refused(tmp_path):
    with pytest.raises(RasterError, match="no CRS"):
        inspect_raster(_tif(tmp_path / "nocrs.tif", crs=None))


def test_unreadable_file_is_refused(tmp_path):
    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"not a tiff")
    with pytest.raises(RasterError, match="cannot read"):
        inspect_raster(bad)


def test_raster_outside_the_area_is_refused(tmp_path):
    info = inspect_raster(_tif(tmp_path / "far.tif", x0=200_000.0, y0=2_300_000.0))  # northern Vietnam
    with pytest.raises(RasterError, match="does not overlap"):
        check_overlap(info, box(106.33, 10.85, 106.98, 11.50), "bbox")


def test_bounds_in_wgs84_for_a_vn2000_raster(tmp_path):
    info = inspect_raster(_tif(tmp_path / "vn.tif", crs="EPSG:3405"))
    minx, miny, maxx, maxy = info.bounds_4326.bounds
    assert 106.3 < minx < maxx < 107.0 and 10.9 < miny < maxy < 11.2
    assert info.crs_label == "EPSG:3405" and info.res_x == 10
