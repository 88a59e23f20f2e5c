"""Errors of rasters, zonal statistics and the indicator register (subclasses of the platform's root)."""
from __future__ import annotations

from geo.errors import GeoError, InputError


class RasterError(InputError):
    """A raster cannot be used: unreadable, without CRS, outside the area, or on an incompatible grid."""


class ProductError(GeoError):
    """A raster product or an indicator is unknown, or its definition file is malformed."""


class IndicatorError(GeoError):
    """An indicator value cannot be recorded or computed (unknown id, geography, wrong input)."""
