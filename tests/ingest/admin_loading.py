"""Loads the real admin boundaries of ../shared/data/admin (as tests/geo/test_boundaries.py does) and a province raster."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from sqlalchemy import Engine

from geo.settings import AreaSettings, IngestSettings
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY

OLD = {"valid_from": "1997-01-01", "valid_to": "2025-07-01", "source": "dvhcvn (GPL-3.0)"}
NEW = {"valid_from": "2025-07-01", "parent_code": "79", "source": "vietnamese-provinces-database (MIT)"}
LOADS = [
    ("bd_province_pre2025_dvhcvn.geojson", {"code": "level1_id", "name_vi": "name"}, {"level": "province", **OLD}),
    # The source swaps the geometries of 723 and 726; geom_actual_* records each geometry's real owner.
    ("bd_districts_pre2025_dvhcvn.geojson", {"code": "geom_actual_level2_id", "name_vi": "geom_actual_name",
                                             "parent_code": "level1_id"}, {"level": "district", **OLD}),
    ("bd_wards_post2025_sapnhap.geojson", {"name_vi": "fullName", "name_en": "fullNameEn"},
     {"level": "commune", **NEW}),
]
# UTM 48N box around the former province (lon 106.33–106.98, lat 10.85–11.50) with a margin.
X0, Y0, X1, Y1 = 640_000.0, 1_195_000.0, 722_000.0, 1_276_000.0


def load_admin(engine: Engine, shared_data: Path, reports: Path) -> None:
    settings = IngestSettings(reports_dir=reports, user="pytest")
    for name, mapping, constants in LOADS:
        r = ingest_file(engine, REGISTRY.get("admin_units"), shared_data / "admin" / name,
                        LoadOptions(mapping=mapping, constants=constants), ingest_settings=settings,
                        area=AreaSettings())
        assert r.status == "succeeded", (name, r.error, r.problems[:3])


def province_raster(path: Path, res: float = 100.0, shift: int = 0) -> Path:
    """A class map over the province: forest (10) on a fine checkerboard (half the land), built-up (50) otherwise,
    and a nodata block; ``shift`` moves the pattern (a 'later year')."""
    w, h = int((X1 - X0) / res), int((Y1 - Y0) / res)
    rows, cols = np.indices((h, w))
    data = np.where(((rows // 3) + (cols // 3) + shift) % 2 == 0, 10, 50).astype("uint8")
    data[100:120, 300:330] = 0
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8", nodata=0,
                       crs="EPSG:32648", transform=from_origin(X0, Y1, res, res)) as ds:
        ds.write(data, 1)
    return path
