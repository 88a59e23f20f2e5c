"""Large polygons cut on a tile grid: interior tiles summed with numpy, only the boundary tiles go to exactextract.

Why: exactextract computes a coverage fraction for every cell of a polygon's bounding box and feeds each cell
to its statistics, so a province-sized polygon costs ~50 ns per cell over tens of millions of cells, three
times over when provinces, districts and wards cover the same land. But every cell of a tile that lies wholly
inside the polygon has coverage exactly 1: its class areas are a plain histogram, computed once per tile (and
shared by the nested units of every boundary version). Only the pieces of the polygon clipped to the tiles its
boundary crosses need exact partial coverage; they are small polygons, which exactextract handles fast.
Tile edges are pixel edges, so a clipped piece covers exactly the cells the polygon covers in that tile.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from rasterio.windows import Window

TILE = 64                      # pixels per tile side (a divisor of the usual 256/512 GeoTIFF block)
LARGE_CELLS = 64 * TILE * TILE  # polygons whose bounding box exceeds this many cells are tiled


@dataclass
class Totals:
    """Sums over the cells of one polygon, in weight units (cells on a projected grid, m² on a geographic one)."""

    areas: dict[int, float] = field(default_factory=dict)
    valid: float = 0.0
    value_sum: float = 0.0     # Σ value × weight of the mean_of raster (canopy %), for an area-weighted mean

    def add(self, areas: dict[int, float], valid: float, value_sum: float) -> None:
        for k, a in areas.items():
            self.areas[k] = self.areas.get(k, 0.0) + a
        self.valid += valid
        self.value_sum += value_sum


def bbox_cells(geoms: gpd.GeoSeries, transform: Affine) -> np.ndarray:
    b = geoms.bounds.to_numpy()
    return (b[:, 2] - b[:, 0]) / abs(transform.a) * (b[:, 3] - b[:, 1]) / abs(transform.e)


def _tile_boxes(transform: Affine, shape: tuple[int, int], bounds: tuple[float, ...]) -> tuple[np.ndarray, ...]:
    """Tile indices (rows, cols) and boxes of the tiles meeting ``bounds``.

    Boxes of edge tiles are NOT clipped to the raster: a clip at the raster's edge, computed in floating point,
    can fall a hair inside the last cell and lose it, while exactextract itself ignores what lies outside.
    """
    h, w = shape
    inv = ~transform
    c0, r0 = inv @ (bounds[0], bounds[3])
    c1, r1 = inv @ (bounds[2], bounds[1])
    tr = np.arange(max(int(min(r0, r1)) // TILE, 0), min(int(max(r0, r1)) // TILE, (h - 1) // TILE) + 1)
    tc = np.arange(max(int(min(c0, c1)) // TILE, 0), min(int(max(c0, c1)) // TILE, (w - 1) // TILE) + 1)
    rows, cols = (a.ravel() for a in np.meshgrid(tr, tc, indexing="ij"))
    xa, ya = transform @ (cols * TILE, rows * TILE)
    xb, yb = transform @ ((cols + 1) * TILE, (rows + 1) * TILE)
    boxes = shapely.box(np.minimum(xa, xb), np.minimum(ya, yb), np.maximum(xa, xb), np.maximum(ya, yb))
    return rows, cols, boxes


def split(polygons: gpd.GeoDataFrame, key: str, transform: Affine,
          shape: tuple[int, int]) -> tuple[gpd.GeoDataFrame, dict[str, list[tuple[int, int]]]]:
    """Pieces of each polygon in the tiles its boundary crosses, and the tiles wholly inside it (per key)."""
    piece_keys, pieces, interior = [], [], {}
    for k, poly in zip(polygons[key], polygons.geometry):
        rows, cols, boxes = _tile_boxes(transform, shape, poly.bounds)
        shapely.prepare(poly)
        inside = shapely.contains_properly(poly, boxes)
        edge = ~inside & shapely.intersects(poly, boxes)
        interior[k] = list(zip(rows[inside].tolist(), cols[inside].tolist()))
        for b in boxes[edge]:
            # clip_by_rect is linear in the vertices (intersection is not): the tile is an axis-aligned rectangle.
            piece = shapely.clip_by_rect(poly, *b.bounds)
            if not piece.is_empty and piece.area > 0:
                piece_keys.append(k)
                pieces.append(piece)
    return gpd.GeoDataFrame({key: piece_keys}, geometry=pieces, crs=polygons.crs), interior


Reader = Callable[[Window], np.ma.MaskedArray]
Weights = Callable[[Window], np.ndarray | None]


def tile_totals(tiles: set[tuple[int, int]], shape: tuple[int, int], classes: Reader,
                mean_of: Reader | None, weights: Weights) -> dict[tuple[int, int], Totals]:
    """Histogram of classes (weighted) per tile, one read per row of tiles."""
    out: dict[tuple[int, int], Totals] = {}
    by_row: dict[int, list[int]] = {}
    for r, c in tiles:
        by_row.setdefault(r, []).append(c)
    h, w = shape
    for r, cols in sorted(by_row.items()):
        c_lo, c_hi = min(cols), max(cols)
        window = Window(c_lo * TILE, r * TILE, min((c_hi + 1) * TILE, w) - c_lo * TILE,
                        min((r + 1) * TILE, h) - r * TILE)
        strip = _strip_totals(window, classes, mean_of, weights)
        for c in cols:
            out[(r, c)] = strip[c - c_lo]
    return out


def _strip_totals(window: Window, classes: Reader, mean_of: Reader | None, weights: Weights) -> list[Totals]:
    values = classes(window)
    valid = ~np.ma.getmaskarray(values)
    wts = weights(window)
    n = -(-int(window.width) // TILE)
    tile_of = np.broadcast_to(np.arange(int(window.width)) // TILE, values.shape)
    data = np.asarray(values.data)
    if not valid.any():
        return [Totals() for _ in range(n)]
    present = data[valid]
    lo, hi = int(present.min()), int(present.max())
    integral = np.issubdtype(data.dtype, np.integer) and (hi - lo + 1) * n <= 5_000_000
    uniq, codes = ((np.arange(lo, hi + 1), data.astype("int64") - lo) if integral
                   else np.unique(np.where(valid, data, present[0]), return_inverse=True))
    k = len(uniq)
    # Cells without data go to a bucket past the last (tile, class) pair, dropped below.
    key = np.where(valid, tile_of * k + codes.reshape(values.shape), n * k).ravel()
    wv = None if wts is None else np.broadcast_to(wts, values.shape).ravel()
    hist = np.bincount(key, weights=wv, minlength=n * k + 1)[:-1].reshape(n, k)
    valid_w = hist.sum(axis=1)
    sums = np.zeros(n)
    if mean_of is not None:
        x = np.ma.filled(mean_of(window).astype("float64"), 0.0) * (1.0 if wts is None else np.broadcast_to(wts, values.shape))
        sums = np.bincount(np.where(valid, tile_of, n).ravel(), weights=x.ravel(), minlength=n + 1)[:-1]
    return [Totals({int(uniq[j]): float(hist[i, j]) for j in np.flatnonzero(hist[i])}, float(valid_w[i]),
                   float(sums[i])) for i in range(n)]
