"""Zonal statistics with exactextract: exact class and forest areas per polygon, change between two years.

Areas are in square metres of a metric measure, never in degrees:
- a raster in a projected CRS (UTM 48N, VN-2000 …): every cell has the same planar area |det(transform)|,
  so an area is (sum of coverage fractions) × cell area, exactly what the raster's own grid says;
- a raster in a geographic CRS (EPSG:4326 WorldCover tiles): cells shrink with latitude, so each cell is
  weighted by its true area on the raster's ellipsoid (integral of M·N·cosφ over the cell; see
  :func:`cell_areas_geographic`). exactextract's own ``area_spherical_m2`` weighting uses a sphere (errors of a
  few tenths of a percent at this latitude) and misreads projected grids, hence our own weight source.
Polygons are reprojected to the raster's CRS, so coverage fractions are computed on the raster's own grid.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import rasterio
import shapely
from exactextract import exact_extract
from exactextract.feature import Feature, FeatureSource
from exactextract.operation import Operation
from exactextract.raster import RasterSource
from pyproj import CRS, Geod
from rasterio.windows import Window

from geo.raster_errors import RasterError
from geo.raster_products import RasterProduct
from geo.zonal_tiles import LARGE_CELLS, Totals, bbox_cells, split, tile_totals

KEY = "fkey"   # the column naming each polygon (exactextract's include_cols; not 'id', which it treats as FID)
# Gauss–Legendre nodes/weights on [-1, 1]: 3 points integrate the smooth area element to ~1e-15 per cell.
_GL_X = np.array([-np.sqrt(3 / 5), 0.0, np.sqrt(3 / 5)])
_GL_W = np.array([5 / 9, 8 / 9, 5 / 9])


def cell_areas_geographic(lat_top: np.ndarray, lat_bottom: np.ndarray, dlon_deg: float,
                          a: float, rf: float) -> np.ndarray:
    """Exact ellipsoidal area (m²) of lat/lon cells between two parallels, ``dlon_deg`` wide.

    Integrates the area element b²·cosφ / (1 − e²·sin²φ)² dφ dλ by Gauss–Legendre quadrature instead of
    differencing the closed-form zone areas, which loses precision to cancellation for 10 m cells.
    """
    f = 1 / rf if rf else 0.0
    e2 = f * (2 - f)
    b2 = (a * (1 - f)) ** 2
    p1, p2 = np.radians(lat_bottom), np.radians(lat_top)
    half, mid = (p2 - p1) / 2, (p2 + p1) / 2
    phi = mid[..., None] + half[..., None] * _GL_X
    integrand = b2 * np.cos(phi) / (1 - e2 * np.sin(phi) ** 2) ** 2
    return np.abs(np.radians(dlon_deg) * half * (integrand * _GL_W).sum(axis=-1))


class _DerivedSource(RasterSource):
    """A raster computed window by window on ``ds``'s grid (a forest mask, cell areas, a change code)."""

    def __init__(self, ds: rasterio.DatasetReader, derive: Callable[[Window], np.ndarray], name: str) -> None:
        super().__init__()
        self.ds, self.derive = ds, derive
        # exactextract caches pixel windows by source name: distinct sources need distinct names.
        self.set_name(name)

    def res(self) -> tuple[float, float]:
        return abs(self.ds.res[0]), abs(self.ds.res[1])

    def srs_wkt(self) -> str:
        return self.ds.crs.wkt

    def extent(self) -> tuple[float, float, float, float]:
        b = self.ds.bounds
        return b.left, b.bottom, b.right, b.top

    def nodata_value(self) -> None:
        return None   # derived windows are masked arrays; the mask is the nodata

    def read_window(self, x0: int, y0: int, nx: int, ny: int) -> np.ndarray:
        return self.derive(Window(x0, y0, nx, ny))


def _masked(ds: rasterio.DatasetReader, window: Window) -> np.ma.MaskedArray:
    return ds.read(1, window=window, masked=True)


def _row_areas(ds: rasterio.DatasetReader, window: Window) -> np.ndarray:
    """Ellipsoidal area (m²) of one cell in each row of ``window``, as a column (h, 1)."""
    ell = CRS.from_wkt(ds.crs.wkt).ellipsoid
    t = ds.transform
    rows = np.arange(window.row_off, window.row_off + window.height, dtype="float64")
    top, bottom = t.f + rows * t.e, t.f + (rows + 1) * t.e
    return cell_areas_geographic(top, bottom, abs(t.a), ell.semi_major_metre, ell.inverse_flattening)[:, None]


def _area_deriver(ds: rasterio.DatasetReader, mask_of: Callable[[Window], np.ndarray]) -> Callable[[Window], np.ndarray]:
    """Ellipsoidal cell areas of the window's rows, masked where ``mask_of`` says there is no data."""
    def derive(window: Window) -> np.ndarray:
        mask = mask_of(window)
        return np.ma.masked_array(np.broadcast_to(_row_areas(ds, window), mask.shape).astype("float64"), mask=mask)
    return derive


def _forest_deriver(ds: rasterio.DatasetReader, product: RasterProduct) -> Callable[[Window], np.ndarray]:
    def derive(window: Window) -> np.ndarray:
        values = _masked(ds, window)
        return np.ma.masked_array(product.forest_mask(values.filled(0)).astype("int32"),
                                  mask=np.ma.getmaskarray(values))
    return derive


@dataclass(frozen=True)
class Grid:
    """How areas are measured on a raster's grid."""

    geographic: bool
    cell_area_m2: float | None   # projected grids only


def grid_of(ds: rasterio.DatasetReader) -> Grid:
    if ds.crs is None:
        raise RasterError("raster không có hệ tọa độ / the raster has no CRS", file=ds.name)
    if ds.transform.b != 0 or ds.transform.d != 0:
        raise RasterError("raster bị xoay không được hỗ trợ / rotated rasters are not supported", file=ds.name)
    if ds.crs.is_geographic:
        return Grid(True, None)
    factor = ds.crs.linear_units_factor[1]   # metres per CRS unit (1 for UTM / VN-2000)
    return Grid(False, abs(ds.transform.a * ds.transform.e) * factor ** 2)


def polygon_areas_m2(polygons: gpd.GeoDataFrame, grid: Grid) -> np.ndarray:
    """Polygon areas measured like the cells: planar in a projected CRS, geodesic on the ellipsoid otherwise."""
    if not grid.geographic:
        return polygons.geometry.area.to_numpy() * polygons.crs.axis_info[0].unit_conversion_factor ** 2
    ell = polygons.crs.ellipsoid
    geod = Geod(a=ell.semi_major_metre, rf=ell.inverse_flattening)
    return np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in polygons.geometry])


class _KeepAlive(list):
    """A list of operations that also keeps their raster sources referenced."""

    def __init__(self, ops: list[Operation], sources: list[object]) -> None:
        super().__init__(ops)
        self.sources = sources


def _operations(ds: rasterio.DatasetReader, classes: RasterSource, grid: Grid,
                mean_of: RasterSource | None = None) -> list[Operation]:
    """unique + (area-weighted) frac + valid area, and the mean of ``mean_of`` (canopy %) when given.

    The sources are attached to the returned list: exactextract's C++ side holds plain pointers to them, so a
    source that Python garbage-collects mid-extraction crashes the process.
    """
    ops = [Operation("unique", "unique", classes)]
    if grid.geographic:
        def no_data(w: Window) -> np.ndarray:
            return np.ma.getmaskarray(classes.read_window(int(w.col_off), int(w.row_off), int(w.width),
                                                          int(w.height)))
        area = _DerivedSource(ds, _area_deriver(ds, no_data), "cell_area_m2")
        ops += [Operation("weighted_frac", "frac", classes, area), Operation("sum", "valid_m2", area)]
        if mean_of is not None:
            ops.append(Operation("weighted_mean", "mean", mean_of, area))
    else:
        ops += [Operation("frac", "frac", classes), Operation("count", "valid_cells", classes)]
        if mean_of is not None:
            ops.append(Operation("mean", "mean", mean_of))
    return _KeepAlive(ops, sources=[classes, mean_of] + ([area] if grid.geographic else []))


COLUMNS = [KEY, "metric", "class_value", "area_m2", "share", "value", "polygon_area_m2"]


def _row(key: str, metric: str, poly_m2: float, *, class_value: int | None = None, area_m2: float | None = None,
         share: float | None = None, value: float | None = None) -> dict:
    return {KEY: key, "metric": metric, "class_value": class_value, "area_m2": area_m2, "share": share,
            "value": value, "polygon_area_m2": poly_m2}


Part = tuple[str, dict[int, float], float, float, float | None]


class _WkbFeature(Feature):
    """A feature handing exactextract WKB: its GeoPandas source goes through GeoJSON text per feature,
    which cost a quarter of the run with thousands of boundary pieces."""

    def __init__(self, key: str, wkb: bytes) -> None:
        super().__init__()
        self.key, self.wkb = key, wkb

    def geometry(self) -> bytes:
        return self.wkb

    def set_geometry_format(self) -> str:
        return "wkb"

    def get(self, name: str) -> str:
        return self.key   # KEY is the only field

    def fields(self) -> list[str]:
        return [KEY]


class _WkbSource(FeatureSource):
    def __init__(self, frame: gpd.GeoDataFrame) -> None:
        super().__init__()
        self.keys, self.wkbs, self.wkt = list(frame[KEY]), shapely.to_wkb(frame.geometry.values), frame.crs.to_wkt()

    def count(self) -> int:
        return len(self.keys)

    def __iter__(self):  # type: ignore[no-untyped-def]
        for key, wkb in zip(self.keys, self.wkbs):
            yield _WkbFeature(key, wkb)

    def srs_wkt(self) -> str:
        return self.wkt


def _exact_parts(work: gpd.GeoDataFrame, ops: list[Operation], classes: RasterSource, grid: Grid,
                 strategy: str) -> list[tuple[str, dict[int, float], float, float]]:
    """exactextract on whole small polygons and boundary pieces: (key, {class: weight}, valid, Σ value·weight)."""
    if work.empty:
        return []
    if strategy == "auto":
        # Many small features: read each raster block once for all of them (measured 1.5× faster here).
        strategy = "raster-sequential" if len(work) >= 200 else "feature-sequential"
    out = exact_extract(classes, _WkbSource(work), ops, include_cols=[KEY], output="pandas", strategy=strategy)
    parts = []
    for rec in out.to_dict("records"):
        valid = float(rec["valid_m2"] if grid.geographic else rec["valid_cells"])
        uniques = [] if rec["unique"] is None else np.asarray(rec["unique"], dtype="int64")
        fracs = [] if rec["frac"] is None else np.asarray(rec["frac"], dtype="float64")
        mean = rec.get("mean")
        value_sum = float(mean) * valid if mean is not None and np.isfinite(mean) and valid > 0 else 0.0
        parts.append((str(rec[KEY]), {int(u): float(f) * valid for u, f in zip(uniques, fracs)}, valid, value_sum))
    return parts


def _extract(ds: rasterio.DatasetReader, polygons: gpd.GeoDataFrame, classes: _DerivedSource,
             mean_of: _DerivedSource | None = None, strategy: str = "auto") -> list[Part]:
    """Per polygon: (key, {class: area m²}, valid area m², polygon area m², mean).

    Large polygons are cut on a tile grid (see :mod:`geo.zonal_tiles`): interior tiles are summed as
    histograms, boundary pieces and small polygons go to exactextract; the sums are the same cells either way.
    """
    grid = grid_of(ds)
    local = polygons[[KEY, "geometry"]].to_crs(ds.crs)
    local[KEY] = local[KEY].astype(str)
    poly_m2 = dict(zip(local[KEY], polygon_areas_m2(local, grid)))
    # Only polygons wholly inside the raster are tiled: pieces cut at the raster's own edge lost a cell or two
    # to floating point on geographic grids (tests/geo/test_zonal_tiles.py); the rare rest go whole.
    b, rx, ry = ds.bounds, abs(ds.transform.a), abs(ds.transform.e)
    pb = local.geometry.bounds
    inside = ((pb.minx > b.left + rx) & (pb.maxx < b.right - rx) & (pb.miny > b.bottom + ry)
              & (pb.maxy < b.top - ry)).to_numpy()
    large = (bbox_cells(local.geometry, ds.transform) > LARGE_CELLS) & inside
    pieces, interior = split(local[large], KEY, ds.transform, ds.shape)
    work = pd.concat([local[~large], pieces], ignore_index=True) if len(pieces) else local[~large]
    ops = _operations(ds, classes, grid, mean_of)   # held here: exact_extract rebinds its own reference
    totals = {k: Totals() for k in local[KEY]}
    for key, areas, valid, value_sum in _exact_parts(work, ops, classes, grid, strategy):
        totals[key].add(areas, valid, value_sum)
    weights = (lambda w: _row_areas(ds, w)) if grid.geographic else (lambda w: None)
    needed = set().union(*interior.values()) if interior else set()
    tiles = tile_totals(needed, ds.shape, classes.derive, mean_of.derive if mean_of else None, weights)
    for key, cells in interior.items():
        for tile in cells:
            totals[key].add(tiles[tile].areas, tiles[tile].valid, tiles[tile].value_sum)
    unit = 1.0 if grid.geographic else grid.cell_area_m2   # weights are cells on a projected grid
    return [(key, {c: a * unit for c, a in sorted(t.areas.items())}, t.valid * unit, float(poly_m2[key]),
             t.value_sum / t.valid if mean_of is not None and t.valid > 0 else None)
            for key, t in totals.items()]


def zonal_stats(raster: Path, polygons: gpd.GeoDataFrame, product: RasterProduct,
                strategy: str = "auto") -> pd.DataFrame:
    """Per polygon (column ``fkey``): valid area, area and share of every class, forest area and share.

    Shares are of the area with data (nodata excluded); the ``valid`` row's share is the data coverage of the
    polygon. Percent products are classed into 0 (below) / 1 (at or above the canopy threshold) and also get
    the (area-weighted) mean canopy %. One row per (fkey, metric, class_value).
    """
    if polygons.empty:
        return pd.DataFrame(columns=COLUMNS)
    with rasterio.open(raster) as ds:
        # Masked reads (nodata → mask) wrapped like the derived sources, so the tiled path reads them alike.
        raw = _DerivedSource(ds, lambda w: _masked(ds, w), "values")
        if product.kind == "percent":
            extracted = _extract(ds, polygons, _DerivedSource(ds, _forest_deriver(ds, product), "forest"), raw,
                                 strategy)
        else:
            extracted = _extract(ds, polygons, raw, strategy=strategy)
    rows: list[dict] = []
    for key, areas, valid, poly_m2, mean in extracted:
        rows.append(_row(key, "valid", poly_m2, area_m2=valid, share=valid / poly_m2 if poly_m2 else None))
        for value, area in sorted(areas.items()):
            rows.append(_row(key, "class", poly_m2, class_value=value, area_m2=area,
                             share=area / valid if valid else None))
        forest_classes = (1,) if product.kind == "percent" else product.forest_classes
        forest = sum(a for v, a in areas.items() if v in forest_classes)
        rows.append(_row(key, "forest", poly_m2, area_m2=forest, share=forest / valid if valid else None))
        if product.kind == "percent":
            rows.append(_row(key, "mean", poly_m2, value=mean))
    return pd.DataFrame(rows, columns=COLUMNS)


def _same_grid(a: rasterio.DatasetReader, b: rasterio.DatasetReader) -> None:
    if a.crs != b.crs or a.shape != b.shape or not a.transform.almost_equals(b.transform):
        raise RasterError("hai raster không cùng lưới / the two rasters are not on the same grid (CRS, size and "
                          "origin must match for a pixel-by-pixel change); resample one onto the other first",
                          file=f"{a.name} / {b.name}")


def zonal_change(raster_from: Path, raster_to: Path, polygons: gpd.GeoDataFrame,
                 product: RasterProduct) -> pd.DataFrame:
    """Forest loss, gain and net change (m², and as a share of the area with data in both years) per polygon.

    Pixel by pixel on a common grid: loss = forest then and not now, gain = the reverse; net = gain − loss.
    """
    if polygons.empty:
        return pd.DataFrame(columns=COLUMNS)
    with rasterio.open(raster_from) as a, rasterio.open(raster_to) as b:
        _same_grid(a, b)

        def code(window: Window) -> np.ndarray:
            va, vb = _masked(a, window), _masked(b, window)
            fa, fb = product.forest_mask(va.filled(0)), product.forest_mask(vb.filled(0))
            # 0 non-forest both years, 1 gain, 2 loss, 3 forest both years
            return np.ma.masked_array(fa.astype("int32") * 2 + fb.astype("int32"),
                                      mask=np.ma.getmaskarray(va) | np.ma.getmaskarray(vb))
        extracted = _extract(a, polygons, _DerivedSource(a, code, "change"))
    rows: list[dict] = []
    for key, areas, valid, poly_m2, _mean in extracted:
        gain, loss = areas.get(1, 0.0), areas.get(2, 0.0)
        for metric, area in (("loss", loss), ("gain", gain), ("net", gain - loss)):
            rows.append(_row(key, metric, poly_m2, area_m2=area, share=area / valid if valid else None))
    return pd.DataFrame(rows, columns=COLUMNS)
