"""Deterministic synthetic shapes for `geo sample`: irregular parks, zone tilings, grid tilings, GeoJSON."""
from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import shapely
import shapely.affinity
from shapely.geometry import LineString, Point, Polygon, box, mapping

GRID = 1e-6  # degrees (~0.1 m): coordinates are written with at most 6 decimals, snapped before writing
_M_PER_DEG_LAT = 110_574.0


@dataclass(frozen=True)
class LocalPlane:
    """An equirectangular plane in metres around a centre; accurate to <1 % over a few km at 11° N."""

    lon0: float
    lat0: float

    @property
    def kx(self) -> float:
        return 111_320.0 * math.cos(math.radians(self.lat0))

    def to_lonlat(self, geom: shapely.Geometry) -> shapely.Geometry:
        out = shapely.transform(geom, lambda xy: xy / [self.kx, _M_PER_DEG_LAT] + [self.lon0, self.lat0])
        return snap(out)


def snap(geom: shapely.Geometry) -> shapely.Geometry:
    """Snap to the 1e-6° grid so that what is written is exactly what was checked for validity."""
    return shapely.set_precision(geom, GRID)


def star_polygon(rng: random.Random, plane: LocalPlane, area_ha: float, n: int = 14,
                 jitter: float = 0.25, aspect: float = 1.0) -> Polygon:
    """An irregular star-shaped (hence simple) polygon of ``area_ha`` in the local plane, in metres."""
    angles = [2 * math.pi * (i + rng.uniform(-0.3, 0.3)) / n for i in range(n)]
    radii = [1.0 + rng.uniform(-jitter, jitter) for _ in range(n)]
    unit = Polygon([(r * math.cos(a) * aspect, r * math.sin(a) / aspect) for a, r in zip(angles, radii)])
    scale = math.sqrt(area_ha * 10_000.0 / unit.area)
    return shapely.affinity.scale(unit, scale, scale, origin=(0, 0))


def _bisect(target: float, measure: Callable[[float], float], lo: float, hi: float, steps: int = 40) -> float:
    """The parameter in [lo, hi] where the increasing ``measure`` reaches ``target``."""
    for _ in range(steps):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if measure(mid) < target else (lo, mid)
    return (lo + hi) / 2


@dataclass(frozen=True)
class ZoneShares:
    """Target shares of a park's area; factories take the rest (wwtp 0 means the park has none)."""

    green: float
    road: float
    shared: float
    wwtp: float


def zone_park(park: Polygon, shares: ZoneShares) -> list[tuple[str, shapely.Geometry]]:
    """Tile a park (metres) into (zone_type, geometry): a green belt, a road cross, service blocks, factories."""
    total = park.area
    w = _bisect(shares.green * total, lambda d: park.difference(park.buffer(-d, join_style="mitre")).area,
                0.0, math.sqrt(total) / 4)
    inner = park.buffer(-w, join_style="mitre")
    cx, cy = inner.centroid.x, inner.centroid.y
    big = math.sqrt(total) * 4

    def cross(width: float) -> shapely.Geometry:
        return box(cx - width / 2, cy - big, cx + width / 2, cy + big).union(
            box(cx - big, cy - width / 2, cx + big, cy + width / 2))

    rw = _bisect(shares.road * total, lambda d: inner.intersection(cross(d)).area, 0.0, math.sqrt(total) / 3)
    roads = inner.intersection(cross(rw))
    rest = inner.difference(cross(rw))
    zones: list[tuple[str, shapely.Geometry]] = [("green_space", park.difference(inner)), ("road", roads)]
    # Service blocks sit at the corner of two roads (north-east: shared services, south-west: the WWTP).
    taken: list[shapely.Geometry] = []
    for kind, share, sx, sy in (("shared_infrastructure", shares.shared, 1, 1), ("wwtp", shares.wwtp, -1, -1)):
        if share <= 0:
            continue
        x0, y0 = cx + sx * rw / 2, cy + sy * rw / 2

        def corner(s: float, x0: float = x0, y0: float = y0, sx: int = sx, sy: int = sy) -> shapely.Geometry:
            return box(min(x0, x0 + sx * s), min(y0, y0 + sy * s), max(x0, x0 + sx * s), max(y0, y0 + sy * s))

        s = _bisect(share * total, lambda d, c=corner: rest.intersection(c(d)).area, 0.0, math.sqrt(total))
        block = rest.intersection(corner(s))
        zones.append((kind, block))
        taken.append(corner(s))
    factories = rest.difference(shapely.union_all(taken)) if taken else rest
    parts = sorted(shapely.get_parts(factories), key=lambda g: (-round(g.centroid.y), round(g.centroid.x)))
    zones += [("factory", p) for p in parts if p.area > 1.0]
    return zones


def disjoint(pieces: list[tuple[str, shapely.Geometry]], within: shapely.Geometry
             ) -> list[tuple[str, shapely.Geometry]]:
    """Rebuild the pieces as one planar partition of ``within``: neighbours share identical edges.

    Snapping pieces one by one leaves centimetre overlaps along shared edges; instead all boundaries are
    noded once on the 1e-6° grid and polygonised, and every face goes to the piece that holds it.
    """
    lines = shapely.union_all([within.boundary, *(g.boundary for _, g in pieces)], grid_size=GRID)
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(lines)))
    owned: dict[int, list[shapely.Geometry]] = {}
    for face in faces:
        probe = face.point_on_surface()
        if not within.covers(probe):
            continue
        holder = next((i for i, (_, g) in enumerate(pieces) if g.covers(probe)), None)
        if holder is None:  # a snapping gap: give it to the nearest piece
            holder = min(range(len(pieces)), key=lambda i: (pieces[i][1].distance(probe), i))
        owned.setdefault(holder, []).append(face)
    return [(pieces[i][0], shapely.union_all(owned[i])) for i in sorted(owned)]


def _areal(geom: shapely.Geometry) -> shapely.Geometry:
    """Only the polygons of a geometry (overlays may add collapsed lines or points)."""
    polys = [p for p in shapely.get_parts(geom) if shapely.get_type_id(p) == 3]
    return shapely.multipolygons(polys) if len(polys) > 1 else (polys[0] if polys else Polygon())


def grid_tiling(rng: random.Random, bounds: tuple[float, float, float, float], xs: Sequence[float],
                ys: Sequence[float], jitter: float) -> list[Polygon]:
    """Cells of a jittered grid (interior cut positions ``xs``/``ys``), row by row from the north-west.

    Interior nodes move by up to ``jitter`` degrees and every interior edge gets a shared bent midpoint,
    so neighbouring cells share their boundaries exactly and the cells tile ``bounds``.
    """
    minx, miny, maxx, maxy = bounds
    cx, cy = [minx, *xs, maxx], [maxy, *sorted(ys, reverse=True), miny]
    nx, ny = len(cx) - 1, len(cy) - 1
    node = {}
    for j in range(ny + 1):
        for i in range(nx + 1):
            dx = rng.uniform(-jitter, jitter) if 0 < i < nx else 0.0
            dy = rng.uniform(-jitter, jitter) if 0 < j < ny else 0.0
            node[i, j] = (cx[i] + dx, cy[j] + dy)
    mid: dict[tuple, tuple[float, float]] = {}

    def edge(a: tuple[int, int], b: tuple[int, int]) -> list[tuple[float, float]]:
        key = (min(a, b), max(a, b))
        on_border = (a[0] == b[0] and a[0] in (0, nx)) or (a[1] == b[1] and a[1] in (0, ny))
        if not on_border and key not in mid:
            (x1, y1), (x2, y2) = node[key[0]], node[key[1]]
            bend = rng.uniform(-jitter, jitter)
            mid[key] = ((x1 + x2) / 2 + bend * (y2 != y1), (y1 + y2) / 2 + bend * (x2 != x1))
        return [node[a], *([mid[key]] if key in mid else [])]

    cells = []
    for j in range(ny):
        for i in range(nx):
            ring = [(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1)]
            coords = [pt for k in range(4) for pt in edge(ring[k], ring[(k + 1) % 4])]
            cells.append(snap(Polygon(coords)))
    return cells


def polyline(coords: Sequence[tuple[float, float]]) -> LineString:
    return snap(LineString(coords))


def on_line(line: LineString, fraction: float) -> Point:
    """The point at ``fraction`` of the line's length (for stations and intakes on a river)."""
    return snap(line.interpolate(fraction, normalized=True))


def bowtie(lon: float, lat: float, d: float) -> Polygon:
    """A self-intersecting 'bow-tie' ring: invalid, but repairable into two triangles."""
    return Polygon([(lon, lat), (lon + d, lat + d), (lon + d, lat), (lon, lat + d), (lon, lat)])


def geometry_json(geom: shapely.Geometry) -> dict[str, Any]:
    """GeoJSON geometry with plain lists (so json.dumps output is stable)."""
    def plain(v: Any) -> Any:
        return [plain(x) for x in v] if isinstance(v, (list, tuple)) else float(v)
    g = mapping(shapely.orient_polygons(geom))  # RFC 7946: exterior rings counter-clockwise
    if g["type"] == "GeometryCollection":
        raise ValueError("GeometryCollection is not a sample geometry")
    return {"type": g["type"], "coordinates": plain(g["coordinates"])}
