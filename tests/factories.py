"""Tiny builders for test input files (GeoJSON written into a temp folder)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text


def square(lon: float, lat: float, d: float = 0.01) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d],
                                                [lon, lat]]]}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def write_geojson(path: Path, features: list[tuple[dict[str, Any], dict[str, Any] | None]]) -> Path:
    fc = {"type": "FeatureCollection",
          "features": [{"type": "Feature", "properties": p, "geometry": g} for p, g in features]}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def park(code: str, lon: float = 106.70, lat: float = 11.00, **props: Any) -> tuple[dict, dict]:
    base = {"code": code, "name_vi": f"KCN {code}", "operating_status": "operating"}
    base.update(props)
    return base, square(lon, lat)


def table_fingerprint(engine: Engine, table: str) -> tuple[int, str | None]:
    """Row count and an md5 over all rows (ordered by id): equal fingerprints mean identical content."""
    with engine.connect() as conn:
        return tuple(conn.execute(text(
            f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM {table} t")).one())  # type: ignore


def data_fingerprint(engine: Engine) -> dict[str, tuple[int, str | None]]:
    tables = ("admin_units", "industrial_parks", "park_zones", "monitoring_stations", "forest_areas",
              "polluted_sites", "water_bodies", "water_abstraction_points", "waste_facilities")
    out = {t: table_fingerprint(engine, t) for t in tables}
    with engine.connect() as conn:
        out["feature_history"] = tuple(conn.execute(text(
            "SELECT count(*), md5(string_agg(h::text, '|' ORDER BY history_id)) FROM feature_history h")).one())
        out["feature_insert_spans"] = tuple(conn.execute(text(
            "SELECT count(*), md5(string_agg(s::text, '|' ORDER BY history_id)) FROM feature_insert_spans s")).one())
    return out
