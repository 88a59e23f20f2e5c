"""Administrative boundaries over time: units in force on a date, the unit containing a point, crosswalks."""
from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy import Engine, text

_IN_FORCE = "valid_from <= :d AND (valid_to IS NULL OR valid_to > :d)"


def units_in_force(engine: Engine, on: date, level: str | None = None) -> pd.DataFrame:
    """Units valid on ``on`` (validity is [valid_from, valid_to)), with area in km²."""
    q = text(f"SELECT level, code, name_vi, name_en, parent_code, valid_from, valid_to, area_ha / 100.0 AS area_km2 "
             f"FROM admin_units WHERE {_IN_FORCE} AND (CAST(:level AS text) IS NULL OR level = :level) "
             "ORDER BY level, code")
    with engine.connect() as conn:
        return pd.read_sql(q, conn, params={"d": on, "level": level})


def unit_at(engine: Engine, lon: float, lat: float, on: date, level: str | None = None) -> pd.DataFrame:
    """Units containing the point (lon, lat in WGS84) on ``on``; the finest level first."""
    q = text(f"SELECT level, code, name_vi, name_en, valid_from, valid_to FROM admin_units "
             f"WHERE {_IN_FORCE} AND (CAST(:level AS text) IS NULL OR level = :level) "
             "AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) "
             "ORDER BY CASE level WHEN 'commune' THEN 0 WHEN 'district' THEN 1 ELSE 2 END, code")
    with engine.connect() as conn:
        return pd.read_sql(q, conn, params={"d": on, "level": level, "lon": lon, "lat": lat})


def crosswalk(engine: Engine, from_date: date, to_date: date, from_level: str, to_level: str,
              min_share: float = 0.001) -> pd.DataFrame:
    """Area overlap between two boundary versions, in UTM 48N: shares of source and target units.

    ``share_of_source`` re-aggregates an extensive value (area, count) from source to target units;
    slivers below ``min_share`` of both units (digitising noise between two sources) are dropped.
    """
    q = text(f"""
WITH s AS (SELECT code, name_vi, ST_Transform(geom, 32648) g FROM admin_units
           WHERE level = :fl AND {_IN_FORCE.replace(':d', ':fd')}),
     t AS (SELECT code, name_vi, ST_Transform(geom, 32648) g FROM admin_units
           WHERE level = :tl AND {_IN_FORCE.replace(':d', ':td')}),
     o AS (SELECT s.code AS source_code, s.name_vi AS source_name, t.code AS target_code,
                  t.name_vi AS target_name, ST_Area(ST_Intersection(s.g, t.g)) AS overlap_m2,
                  ST_Area(s.g) AS source_m2, ST_Area(t.g) AS target_m2
           FROM s JOIN t ON ST_Intersects(s.g, t.g))
SELECT source_code, source_name, target_code, target_name, overlap_m2 / 1e6 AS overlap_km2,
       overlap_m2 / source_m2 AS share_of_source, overlap_m2 / target_m2 AS share_of_target
FROM o WHERE overlap_m2 / source_m2 >= :ms OR overlap_m2 / target_m2 >= :ms
ORDER BY source_code, overlap_m2 DESC""")
    with engine.connect() as conn:
        return pd.read_sql(q, conn, params={"fl": from_level, "tl": to_level, "fd": from_date, "td": to_date,
                                            "ms": min_share})
