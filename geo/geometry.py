"""Geometry normalisation and repair, vectorised with shapely 2 over whole arrays."""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from numpy.typing import NDArray
import pyarrow as pa
import pyarrow.compute as pc
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
    """(area in ha of each polygon, length in m of each line) of WGS 84 geometries, NaN for the other types;
    computed in UTM 48N like ``ST_Area/ST_Length(ST_Transform(g, 32648))``.

    Only the coordinates are projected (one pyproj call for all of them); areas and lengths are summed per ring
    and per part from the flat coordinate array, without building projected geometries. Areas use the same
    shifted shoelace formula as PostGIS (``ptarray_signed_area``), holes subtracted.
    """
    ids = shapely.get_type_id(geoms)
    area = np.full(len(geoms), np.nan)
    length = np.full(len(geoms), np.nan)
    polys = np.flatnonzero((ids == 3) | (ids == 6))
    if polys.size:
        area[polys] = _planar_areas(geoms[polys]) / 10000.0
    lines = np.flatnonzero((ids == 1) | (ids == 2) | (ids == 5))
    if lines.size:
        length[lines] = _planar_lengths(geoms[lines])
    return area, length


def _projected(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    xy = shapely.get_coordinates(geoms)
    x, y = np.ascontiguousarray(xy[:, 0]), np.ascontiguousarray(xy[:, 1])
    _to_metric().transform(x, y, inplace=True)
    return np.column_stack([x, y])


def _parts(geoms: NDArray[np.object_], multi_id: int) -> tuple[NDArray[np.object_], NDArray[np.intp]]:
    """Single parts of each geometry and the index of the geometry each part came from."""
    if not (shapely.get_type_id(geoms) == multi_id).any():
        return geoms, np.arange(len(geoms))
    return shapely.get_parts(geoms, return_index=True)


def _planar_areas(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    parts, owner = _parts(geoms, 6)
    if shapely.get_num_interior_rings(parts).any():
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        first = np.r_[True, ring_part[1:] != ring_part[:-1]]  # the exterior ring opens each polygon
        sign = np.where(first, 1.0, -1.0)
        owner = owner[ring_part]
    else:
        rings, sign = parts, np.ones(len(parts))
    size = shapely.get_num_coordinates(rings)
    xy = _projected(rings)
    start = np.cumsum(size) - size
    ring = np.repeat(np.arange(len(rings)), size)
    x = xy[:, 0] - xy[start, 0][ring]  # shifted by each ring's first x, as PostGIS does
    y = xy[:, 1]
    # term at vertex i: (x_i - x0) * (y_{i-1} - y_{i+1}) for the interior vertices of each ring
    term = np.zeros(len(x))
    inner = np.ones(len(x), dtype=bool)
    inner[start] = False
    inner[start + size - 1] = False
    idx = np.flatnonzero(inner)
    term[idx] = x[idx] * (y[idx - 1] - y[idx + 1])
    signed = np.bincount(ring, weights=term, minlength=len(rings)) / 2.0
    return np.bincount(owner, weights=sign * np.abs(signed), minlength=len(geoms))


def _planar_lengths(geoms: NDArray[np.object_]) -> NDArray[np.float64]:
    parts, owner = _parts(geoms, 5)
    size = shapely.get_num_coordinates(parts)
    xy = _projected(parts)
    part = np.repeat(np.arange(len(parts)), size)
    dx, dy = np.diff(xy[:, 0]), np.diff(xy[:, 1])
    seg = np.sqrt(dx * dx + dy * dy)  # not hypot: the same rounding as PostGIS's ptarray_length_2d
    same = part[1:] == part[:-1]
    per_part = np.bincount(part[1:][same], weights=seg[same], minlength=len(parts))
    return np.bincount(owner, weights=per_part, minlength=len(geoms))


# WKB type codes (2-D) and the EWKB flag that says an SRID follows the type.
_WKB_MULTILINESTRING, _WKB_MULTIPOLYGON = 5, 6
_EWKB_SRID_FLAG = 0x20000000
_WKB_TYPE_BY_ID = np.array([0, 1, 2, 2, 3, 4, 5, 6, 7])  # shapely type id + 1 → WKB type (missing → 0)


def storage_wkb(geoms: NDArray[np.object_], srid: int | None = None, *, source: pa.Array | None = None) -> pa.Array:
    """Little-endian 2-D WKB of each geometry as stored (Polygon → MultiPolygon, LineString/LinearRing →
    MultiLineString, single-point MultiPoint → Point), as an Arrow binary array; EWKB carrying ``srid`` when
    given.

    The promotion is done on the bytes: a one-part multi geometry is a header (byte order, type, part count)
    followed by the part's own WKB, so no geometry is rebuilt in GEOS. The SRID is spliced in after the header
    of the outer geometry. ``source``, when given, is the WKB each geometry was read from (NULL where the
    geometry has changed since): rows whose source is already little-endian 2-D WKB reuse those bytes instead
    of being written out again by GEOS.
    """
    geoms = np.asarray(geoms, dtype=object)
    ids = shapely.get_type_id(geoms)
    one_pt = (ids == 4) & (shapely.get_num_geometries(geoms) == 1)
    if one_pt.any():
        geoms = geoms.copy()
        geoms[one_pt] = shapely.get_geometry(geoms[one_pt], 0)
        ids = shapely.get_type_id(geoms)
    n = len(geoms)
    if source is not None:
        source = (source.combine_chunks() if isinstance(source, pa.ChunkedArray) else source).cast(pa.binary())
    reuse = _plain_wkb_rows(source) & ~one_pt if source is not None and len(source) == n else np.zeros(n, bool)
    if reuse.all():
        wkb = source
    else:
        rest = np.flatnonzero(~reuse)
        written = np.full(n, None, dtype=object)
        written[rest] = shapely.to_wkb(geoms[rest], output_dimension=2, byte_order=1, flavor="iso")
        wkb = pa.array(written, type=pa.binary())
        if reuse.any():
            wkb = pc.if_else(pa.array(reuse), source, wkb)
    srid_flag = _EWKB_SRID_FLAG if srid is not None else 0
    srid_bytes = b"" if srid is None else int(srid).to_bytes(4, "little")
    # Outer type: the multi type for single parts, the geometry's own type otherwise (NULL stays NULL).
    outer = np.where(ids == 3, _WKB_MULTIPOLYGON, np.where((ids == 1) | (ids == 2), _WKB_MULTILINESTRING,
                                                           _WKB_TYPE_BY_ID[ids + 1]))
    wrap = (ids == 1) | (ids == 2) | (ids == 3)
    header = np.zeros((n, 5), dtype=np.uint8)
    header[:, 0] = 1
    header[:, 1:5] = (outer.astype("<u4") | np.uint32(srid_flag)).astype("<u4").view(np.uint8).reshape(n, 4)
    count = np.where(wrap, 1, 0).astype("<u4").view(np.uint8).reshape(n, 4)
    head = np.concatenate([header, np.tile(np.frombuffer(srid_bytes, np.uint8), (n, 1)) if srid_bytes else
                           np.zeros((n, 0), np.uint8), count], axis=1)
    head_w = head.shape[1]
    # Wrapped rows: new header + count + the whole part WKB. Other rows: new header + the WKB after its own
    # 5-byte header (their count, if any, is already there): drop the 4 count bytes from ``head``.
    head_arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(head_w), n, [None, pa.py_buffer(head.tobytes())])
    short_arr = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(head_w - 4), n, [None, pa.py_buffer(np.ascontiguousarray(head[:, :head_w - 4]).tobytes())])
    mask = pa.array(wrap)
    prefix = pc.if_else(mask, head_arr.cast(pa.binary()), short_arr.cast(pa.binary()))
    body = pc.if_else(mask, wkb, pc.binary_slice(wkb, 5, 1 << 30))
    out = pc.binary_join_element_wise(prefix, body, b"")
    return pc.if_else(pc.is_null(wkb), pa.nulls(n, pa.binary()), out)


def _plain_wkb_rows(wkb: pa.Array) -> NDArray[np.bool_]:
    """Rows of a WKB array that are little-endian 2-D WKB of a simple-features type (what GEOS would write)."""
    n = len(wkb)
    offsets = np.frombuffer(wkb.buffers()[1], dtype=np.int32, count=n + 1, offset=wkb.offset * 4).astype(np.int64)
    data = np.frombuffer(wkb.buffers()[2], dtype=np.uint8) if wkb.buffers()[2] is not None else np.zeros(0, np.uint8)
    long_enough = (offsets[1:] - offsets[:-1]) >= 5
    valid = long_enough if wkb.null_count == 0 else long_enough & np.asarray(wkb.is_valid())
    start = offsets[:-1][valid]
    ok = np.zeros(n, dtype=bool)
    if start.size:
        head = data[start[:, None] + np.arange(5)]
        wkb_type = head[:, 1:5].copy().view("<u4").ravel()
        ok[valid] = (head[:, 0] == 1) & (wkb_type >= 1) & (wkb_type <= 7)
    return ok
