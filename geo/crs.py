"""Coordinate reference systems: VN-2000 definitions, resolving user input, spotting mislabelled files."""
from __future__ import annotations

from functools import lru_cache

from pyproj import CRS
from pyproj.crs import ProjectedCRS
from pyproj.crs.coordinate_operation import TransverseMercatorConversion
from pyproj.exceptions import CRSError as PyprojCRSError

from geo.errors import CrsError

STORAGE_EPSG = 4326
# Areas and lengths: WGS84 / UTM 48N covers the whole area with small scale error (see admin-boundaries.md).
METRIC_EPSG = 32648
VN2000_GEOGRAPHIC_EPSG = 4756
VN2000_UTM48_EPSG = 3405
BD_CENTRAL_MERIDIAN = 105.75  # 105°45′, Bình Dương's provincial 3° zone


@lru_cache(maxsize=1)
def vn2000_binh_duong() -> CRS:
    """VN-2000 3° TM zone of Bình Dương (lon_0 105°45′, k 0.9999, FE 500 km).

    Built on the EPSG VN-2000 datum (EPSG:4756) rather than a +towgs84 string, so PROJ applies the same
    EPSG datum transformation as for EPSG:3405 and the two systems agree exactly (tested).
    """
    conversion = TransverseMercatorConversion(
        latitude_natural_origin=0, longitude_natural_origin=BD_CENTRAL_MERIDIAN, false_easting=500_000,
        false_northing=0, scale_factor_natural_origin=0.9999)
    return CRS(ProjectedCRS(name="VN-2000 / Binh Duong TM-3 (105°45')", conversion=conversion,
                            geodetic_crs=CRS.from_epsg(VN2000_GEOGRAPHIC_EPSG)).to_wkt())


ALIASES = {
    "VN2000-BD": vn2000_binh_duong,
    "VN2000-TM3-BD": vn2000_binh_duong,
    "VN2000-UTM48": lambda: CRS.from_epsg(VN2000_UTM48_EPSG),
    "VN2000": lambda: CRS.from_epsg(VN2000_GEOGRAPHIC_EPSG),
    "WGS84": lambda: CRS.from_epsg(STORAGE_EPSG),
}


def resolve_crs(text: str) -> CRS:
    """Turn what a user typed (EPSG:3405, 4326, VN2000-BD, a PROJ or WKT string) into a CRS."""
    key = text.strip().upper()
    if key in ALIASES:
        return ALIASES[key]()
    try:
        return CRS.from_user_input(int(key) if key.isdigit() else text.strip())
    except PyprojCRSError as exc:
        names = ", ".join(ALIASES)
        raise CrsError(f"Không nhận ra hệ tọa độ '{text}' / unknown CRS '{text}' "
                       f"(use EPSG:nnnn or one of {names})") from exc


def describe(crs: CRS) -> str:
    """A short, stable label for the ledger: EPSG code when there is one, else the CRS name."""
    epsg = crs.to_epsg(min_confidence=90)
    return f"EPSG:{epsg}" if epsg else crs.name


# Plain VN-2000 metres around Bình Dương (UTM 48N or the 105°45′ zone both land in these ranges).
_VN2000_X = (300_000.0, 900_000.0)
_VN2000_Y = (1_000_000.0, 1_500_000.0)


def check_plausible(bounds: tuple[float, float, float, float], crs: CRS, file: str) -> None:
    """Refuse coordinates that cannot be in the stated CRS (the classic VN-2000-labelled-WGS84 mix-up)."""
    minx, miny, maxx, maxy = bounds
    if crs.is_geographic:
        if _inside(bounds, _VN2000_X, _VN2000_Y):
            raise CrsError(
                "tọa độ có vẻ là mét VN-2000 nhưng tệp khai báo kinh độ/vĩ độ / coordinates look like "
                f"VN-2000 metres (x {minx:,.0f}–{maxx:,.0f}, y {miny:,.0f}–{maxy:,.0f}) but the file says "
                f"{describe(crs)}; re-run with --crs VN2000-BD (Bình Dương 3° zone) or --crs VN2000-UTM48 "
                "(EPSG:3405)", file=file)
        if minx < -180 or maxx > 180 or miny < -90 or maxy > 90:
            raise CrsError(f"tọa độ vượt quá giới hạn độ / coordinates out of degree range "
                           f"({minx:.3f}, {miny:.3f}, {maxx:.3f}, {maxy:.3f}) for {describe(crs)}; "
                           "give the right CRS with --crs", file=file)
    elif max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90:
        raise CrsError(f"tọa độ có vẻ là độ nhưng tệp khai báo hệ mét / coordinates look like degrees "
                       f"({minx:.4f}, {miny:.4f}) but the file says {describe(crs)}; "
                       "re-run with --crs EPSG:4326", file=file)


def _inside(bounds: tuple[float, float, float, float], xr: tuple[float, float],
            yr: tuple[float, float]) -> bool:
    minx, miny, maxx, maxy = bounds
    return xr[0] <= minx and maxx <= xr[1] and yr[0] <= miny and maxy <= yr[1]
