"""The area of interest used by the checks: former Bình Dương from the database, a file, or a box."""
from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from numpy.typing import NDArray
from sqlalchemy import Engine, text

from geo.crs import METRIC_EPSG, STORAGE_EPSG
from geo.settings import AreaSettings


@dataclass(frozen=True)
class AreaOfInterest:
    """A lon/lat polygon (already grown by the margin) and a label saying where it came from."""

    polygon: shapely.Geometry
    label: str

    def __post_init__(self) -> None:
        shapely.prepare(self.polygon)

    def contains(self, geoms: NDArray[np.object_]) -> NDArray[np.bool_]:
        return shapely.intersects(self.polygon, geoms)

    def distance_km(self, geoms: NDArray[np.object_]) -> NDArray[np.float64]:
        metric = gpd.GeoSeries(geoms, crs=STORAGE_EPSG).to_crs(METRIC_EPSG)
        area = gpd.GeoSeries([self.polygon], crs=STORAGE_EPSG).to_crs(METRIC_EPSG).iloc[0]
        return metric.distance(area).to_numpy() / 1000.0


def _grow(polygon: shapely.Geometry, margin_m: float) -> shapely.Geometry:
    """Buffer in metres (UTM 48N), not in degrees."""
    metric = gpd.GeoSeries([polygon], crs=STORAGE_EPSG).to_crs(METRIC_EPSG).buffer(margin_m)
    return metric.to_crs(STORAGE_EPSG).iloc[0]


def resolve_aoi(settings: AreaSettings, engine: Engine | None) -> AreaOfInterest:
    """File if configured; else the frozen province from admin_units; else the bounding box."""
    margin = f"+{settings.margin_m:g} m"
    if settings.path is not None:
        frame = gpd.read_file(settings.path).to_crs(STORAGE_EPSG)
        return AreaOfInterest(_grow(frame.union_all(), settings.margin_m), f"{settings.path.name} {margin}")
    if engine is not None:
        with engine.connect() as conn:
            wkb = conn.execute(text(
                "SELECT ST_AsBinary(geom) FROM admin_units WHERE level = 'province' AND code = :code "
                "AND valid_from <= CAST(:d AS date) AND (valid_to IS NULL OR valid_to > CAST(:d AS date))"),
                {"code": settings.province_code, "d": settings.province_date}).scalar()
        if wkb is not None:
            return AreaOfInterest(_grow(shapely.from_wkb(bytes(wkb)), settings.margin_m),
                                  f"province {settings.province_code} on {settings.province_date} {margin}")
    box = shapely.box(*settings.bbox)
    return AreaOfInterest(_grow(box, settings.margin_m), f"bbox {settings.bbox} {margin}")
