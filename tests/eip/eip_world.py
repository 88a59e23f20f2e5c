"""Constructed parks for the eco-park tests, loaded through the real pipeline (files written to a temp folder)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from geo.settings import AreaSettings, IngestSettings
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import point, square, write_geojson

D = 0.01  # park side in degrees (~1.1 km)


def rect(x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def line(a: tuple[float, float], b: tuple[float, float]) -> dict[str, Any]:
    return {"type": "LineString", "coordinates": [list(a), list(b)]}


def load(engine: Engine, tmp: Path, layer: str, features: list, settings: IngestSettings) -> None:
    path = write_geojson(tmp / f"{layer}.geojson", features)
    r = ingest_file(engine, REGISTRY.get(layer), path, LoadOptions(), ingest_settings=settings, area=AreaSettings())
    assert r.status == "succeeded", (layer, r.error, [p.reason for p in r.problems])


def firm(code: str, park: str, lon: float, lat: float, **flags: Any) -> tuple[dict, dict]:
    # Flags as "có"/"không": GDAL reads a JSON boolean column holding nulls as 1.0/0.0, which the boolean
    # check refuses (reported; see docs/EIP.md), and Vietnamese yes/no is what the authority's files carry.
    values = {k: ({True: "có", False: "không"}.get(v, v) if isinstance(v, bool) else v) for k, v in flags.items()}
    return {"code": code, "name_vi": f"Công ty {code}", "park_code": park, **values}, point(lon, lat)


def build(engine: Engine, tmp: Path, settings: IngestSettings) -> None:
    """P1 zoned (a road drawn past the east boundary), P2 empty, P3 linked to P1 by one cross-park link."""
    parks = [({"code": c, "name_vi": f"KCN {c}", "operating_status": "operating"}, square(x, y, D))
             for c, x, y in (("P1", 106.70, 11.00), ("P2", 106.75, 11.00), ("P3", 106.72, 11.05))]
    load(engine, tmp, "industrial_parks", parks, settings)
    zones = [({"park_code": "P1", "zone_code": "G1", "zone_type": "green_space"}, rect(106.700, 11.0, 106.701, 11.01)),
             # 10 % of the park inside, three times as much outside: clipped, the open share is 20 %, not 50 %.
             ({"park_code": "P1", "zone_code": "R1", "zone_type": "road"}, rect(106.709, 11.0, 106.713, 11.01)),
             ({"park_code": "P1", "zone_code": "W1", "zone_type": "wwtp"}, rect(106.703, 11.0, 106.704, 11.001)),
             ({"park_code": "P1", "zone_code": "F1", "zone_type": "factory"}, rect(106.701, 11.001, 106.709, 11.01))]
    load(engine, tmp, "park_zones", zones, settings)
    stations = [
        ({"code": "WW1", "name_vi": "Nước thải P1", "medium": "wastewater", "mode": "automatic", "status": "active"},
         point(106.7035, 11.0005)),
        ({"code": "AIR-NEAR", "name_vi": "KK gần P1", "medium": "air", "mode": "automatic", "status": "active"},
         point(106.7145, 11.005)),   # ~500 m east of P1
        ({"code": "AIR-FAR", "name_vi": "KK xa", "medium": "air", "mode": "periodic", "status": "active"},
         point(106.70, 11.03))]      # ~2 km north of P1
    load(engine, tmp, "monitoring_stations", stations, settings)
    load(engine, tmp, "polluted_sites", [({"code": "PS1", "pollutant_group": "heavy_metals", "status": "suspected"},
                                          point(106.705, 11.005))], settings)
    firms = [firm("A", "P1", 106.702, 11.002, recp_applied=True, recp_aware=True, workers=150, has_grievance_rules=True),
             firm("B", "P1", 106.703, 11.003, recp_applied=True, recp_aware=True, workers=50, has_grievance_rules=False),
             firm("C", "P1", 106.704, 11.004, recp_applied=False, recp_aware=True, workers=500, has_grievance_rules=True),
             firm("D", "P1", 106.705, 11.006, recp_aware=None),
             firm("E", "P3", 106.722, 11.052, recp_applied=True),
             firm("F", "P3", 106.724, 11.054, recp_applied=False)]
    load(engine, tmp, "enterprises", firms, settings)
    links = [({"code": "L1", "from_enterprise": "A", "to_enterprise": "B", "link_type": "water",
               "started_on": "2020-01-01"}, line((106.702, 11.002), (106.703, 11.003))),
             ({"code": "L2", "from_enterprise": "C", "to_enterprise": "E", "link_type": "waste_scrap",
               "started_on": "2022-01-01"}, line((106.704, 11.004), (106.722, 11.052))),
             ({"code": "L3", "from_enterprise": "B", "to_enterprise": "D", "link_type": "energy",
               "started_on": "2018-01-01", "ended_on": "2019-12-31"}, line((106.703, 11.003), (106.705, 11.006)))]
    load(engine, tmp, "symbiosis_links", links, settings)
