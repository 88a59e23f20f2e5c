"""Raster files: inspect and validate a GeoTIFF (readable, has a CRS, overlaps the area), write it as a COG."""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import rasterio
import rasterio.shutil
from rasterio.errors import RasterioError
from pyproj import CRS
from rasterio.warp import transform_bounds
from shapely.geometry import Polygon, box

from geo.crs import describe
from geo.raster_errors import RasterError

# Class maps must never be averaged when overviews are built: a mean of classes 10 and 30 is not class 20.
OVERVIEW_RESAMPLING = {"classes": "NEAREST", "percent": "AVERAGE"}


@dataclass(frozen=True)
class RasterInfo:
    """What the catalogue records about a raster."""

    path: Path
    crs_label: str
    crs_wkt: str
    width: int
    height: int
    res_x: float
    res_y: float
    dtype: str
    nodata: float | None
    bounds: tuple[float, float, float, float]
    bounds_4326: Polygon


def inspect_raster(path: Path) -> RasterInfo:
    """Open a raster and describe it; unreadable files and files without a CRS are refused."""
    try:
        with rasterio.open(path) as ds:
            if ds.crs is None:
                raise RasterError("raster không có hệ tọa độ / the raster has no CRS; assign one (gdal_edit.py "
                                  "-a_srs) before ingesting", file=str(path))
            west, south, east, north = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=21)
            return RasterInfo(path, describe(CRS.from_wkt(ds.crs.to_wkt())), ds.crs.to_wkt(), ds.width, ds.height, abs(ds.res[0]),
                              abs(ds.res[1]), ds.dtypes[0], ds.nodata, tuple(ds.bounds),
                              box(west, south, east, north))
    except RasterioError as exc:
        raise RasterError(f"không đọc được raster / cannot read the raster: {exc}", file=str(path)) from exc


def check_overlap(info: RasterInfo, area: Polygon, label: str) -> float:
    """Share of the area of interest covered by the raster's bounds; refuse a raster that misses it."""
    covered = info.bounds_4326.intersection(area).area / area.area if area.area else 0.0
    if covered <= 0:
        b = info.bounds_4326.bounds
        raise RasterError(f"raster nằm ngoài khu vực / the raster does not overlap the area ({label}); its bounds "
                          f"are lon {b[0]:.3f}–{b[2]:.3f}, lat {b[1]:.3f}–{b[3]:.3f}", file=str(info.path))
    return covered


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_cog(src: Path, dst: Path, kind: str = "classes", blocksize: int = 512) -> Path:
    """Write ``src`` as a Cloud-Optimized GeoTIFF (tiled, DEFLATE, internal overviews) at ``dst``.

    Written to a temporary name and renamed, so a crash never leaves a half-written COG under the real name.
    """
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".part")
    try:
        rasterio.shutil.copy(str(src), str(tmp), driver="COG", COMPRESS="DEFLATE", BLOCKSIZE=blocksize,
                             OVERVIEWS="AUTO", OVERVIEW_RESAMPLING=OVERVIEW_RESAMPLING[kind],
                             BIGTIFF="IF_SAFER", NUM_THREADS="ALL_CPUS")
    except RasterioError as exc:
        tmp.unlink(missing_ok=True)
        raise RasterError(f"không ghi được COG / cannot write the COG: {exc}", file=str(src)) from exc
    os.replace(tmp, dst)
    return dst


def cog_layout(path: Path) -> dict[str, object]:
    """Tiling, block size and overview levels of a written file (for checks and the catalogue)."""
    with rasterio.open(path) as ds:
        return {"tiled": ds.profile.get("tiled", False), "blockxsize": ds.profile.get("blockxsize"),
                "overviews": ds.overviews(1), "layout": ds.tags(ns="IMAGE_STRUCTURE").get("LAYOUT"),
                "driver": ds.driver}
