"""Geometry normalisation and repair, vectorised with shapely 2 over whole arrays."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
from pyproj import Transformer

# shapely type ids: 0 Point, 1 LineString, 2 LinearRing, 3 Polygon, 4 MultiPoint, 5 MultiLineString,
# 6 MultiPolygon, 7 GeometryCollection
_FAMILY = {0: "Point", 4: "Point", 1: "MultiLineString", 2: "MultiLineString", 5: "MultiLineString",
           3: "MultiPolygon", 6: "MultiPolygon"}
_FAMILY_BY_ID = np.array([None, *(_FAMILY.get(i) for i in range(8))], dtype=object)


def family(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Storage family of each geometry (Point / MultiLineString / MultiPolygon), None otherwise."""
    ids = shapely.get_type_id(geoms)
    out = _FAMILY_BY_ID[ids + 1]  # id -1 (missing) → index 0 → None
    # A MultiPoint of several points has no single Point to store.
    multi_pts = (ids == 4) & (shapely.get_num_geometries(geoms) != 1)
    out[multi_pts] = None
    return out


def promote(geoms: NDArray[np.object_], fams: NDArray[np.object_]) -> NDArray[np.object_]:
    """Polygon → MultiPolygon, LineString → MultiLineString, single-point MultiPoint → Point."""
    out = geoms.copy()
    ids = shapely.get_type_id(geoms)
    poly = np.flatnonzero(ids == 3)
    if poly.size:
        out[poly] = shapely.multipolygons(geoms[poly], indices=np.arange(poly.size))
    line = np.flatnonzero((ids == 1) | (ids == 2))
    if line.size:
        as_lines = shapely.linestrings(shapely.get_coordinates(geoms[line]),
                                       indices=np.repeat(np.arange(line.size),
                                                         shapely.get_num_coordinates(geoms[line])))
        out[line] = shapely.multilinestrings(as_lines, indices=np.arange(line.size))
    one_pt = (ids == 4) & (fams == "Point")
    out[one_pt] = shapely.get_geometry(geoms[one_pt], 0)
    return out


def repair(geoms: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.bool_]]:
    """Make invalid geometries valid with GEOS make_valid (structure method); return the mask repaired."""
    invalid = ~shapely.is_valid(geoms) & ~shapely.is_missing(geoms)
    out = geoms.copy()
    if invalid.any():
        out[invalid] = shapely.make_valid(geoms[invalid], method="structure", keep_collapsed=False)
    return out, invalid


def invalid_reasons(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """GEOS's explanation of why each geometry is invalid ('Valid Geometry' otherwise)."""
    return shapely.is_valid_reason(geoms)


_METRIC_EPSG = 32648  # UTM 48N: the metric CRS of every derived measure (same as the database's ST_Transform)


@lru_cache(maxsize=1)
def _to_metric() -> Transformer:
    return Transformer.from_crs(4326, _METRIC_EPSG, always_xy=True)


def metric_measures(geoms: NDArray[np.object_]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(area in ha of each MultiPolygon, length in m of each MultiLineString) of WGS 84 geometries, NaN
    for the other types; computed in UTM 48N like ``ST_Area/ST_Length(ST_Transform(g, 32648))``."""
    ids = shapely.get_type_id(geoms)
    area = np.full(len(geoms), np.nan)
    length = np.full(len(geoms), np.nan)
    measured = np.flatnonzero((ids == 6) | (ids == 5))
    if measured.size:
        metric = shapely.transform(geoms[measured], lambda xy: np.column_stack(
            _to_metric().transform(xy[:, 0], xy[:, 1])))
        polys = ids[measured] == 6
        area[measured[polys]] = shapely.area(metric[polys]) / 10000.0
        length[measured[~polys]] = shapely.length(metric[~polys])
    return area, length
