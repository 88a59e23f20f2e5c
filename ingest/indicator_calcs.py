"""Named indicator computations from PostGIS layers, zonal results and measurements (one function per name)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import Connection, text

from geo.aqi import daily_aqi_frame
from geo.wqi import wqi

# Geographies (targets.md convention 3): the frozen former province (code 74, in force the day before the
# 2025 merger), its pre-2025 districts, and the post-2025 wards.
FORMER_DATE = "2025-06-30"
NEW_DATE = "2025-07-01"
UNITS = f"""units AS (
  SELECT level AS geography_type, code, valid_from, geom, ST_Transform(geom, 32648) AS g FROM admin_units
  WHERE (level = 'province' AND code = '74' OR level = 'district')
    AND valid_from <= DATE '{FORMER_DATE}' AND (valid_to IS NULL OR valid_to > DATE '{FORMER_DATE}')
  UNION ALL
  SELECT level, code, valid_from, geom, ST_Transform(geom, 32648) FROM admin_units
  WHERE level = 'commune' AND valid_from <= DATE '{NEW_DATE}' AND (valid_to IS NULL OR valid_to > DATE '{NEW_DATE}'))"""
WQI_GOOD = 76
AQI_GOOD = 100
COVERAGE_BUFFER_M = 5000.0


@dataclass
class Computed:
    """Rows (geography_type, geography_code, boundary_valid_from, year, value, details) and their lineage."""

    rows: pd.DataFrame
    layers: dict[str, list[int]] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)


def _frame(conn: Connection, sql: str, **params: object) -> pd.DataFrame:
    return pd.read_sql(text(sql), conn, params=params)


def layer_runs(conn: Connection, *tables: str) -> dict[str, list[int]]:
    """The ingest runs that loaded the rows a computation read (lineage, convention 2)."""
    out = {}
    for t in tables:
        runs = conn.execute(text(f"SELECT DISTINCT ingest_run_id FROM {t} WHERE ingest_run_id IS NOT NULL "
                                 "ORDER BY 1")).scalars().all()
        out[t] = [int(r) for r in runs]
    return out


def _with_year(df: pd.DataFrame, year: int) -> pd.DataFrame:
    df = df.copy()
    df["year"] = year
    if "details" not in df:
        df["details"] = [{} for _ in range(len(df))]
    return df


def forest_cover_share(conn: Connection, year: int | None) -> Computed:
    """T12.2: forest share (%) of each unit's area with data, from the zonal results of each raster year."""
    df = _frame(conn, """
SELECT DISTINCT ON (z.level, z.feature_code, z.valid_from, r.year)
  z.level AS geography_type, z.feature_code AS geography_code, z.valid_from AS boundary_valid_from, r.year,
  100.0 * z.share AS value, z.raster_id, z.run_id
FROM zonal_results z JOIN raster_catalogue r USING (raster_id)
WHERE z.geography_type = 'admin_unit' AND z.metric = 'forest' AND z.compare_raster_id IS NULL
  AND z.share IS NOT NULL AND (CAST(:y AS integer) IS NULL OR r.year = :y)
ORDER BY z.level, z.feature_code, z.valid_from, r.year, r.product""", y=year)
    df["details"] = [{"raster_id": int(r), "zonal_run": int(u)} for r, u in zip(df.raster_id, df.run_id)]
    rasters = sorted({int(r) for r in df.raster_id})
    return Computed(df.drop(columns=["raster_id", "run_id"]), layer_runs(conn, "admin_units"),
                    {"raster_ids": rasters, "zonal_runs": sorted({int(u) for u in df.run_id})})


_PARK_FLAGS = """parks AS (
  SELECT p.code, p.geom, ST_Area(ST_Transform(p.geom, 32648)) AS area_m2,
    EXISTS (SELECT 1 FROM park_zones z WHERE z.park_code = p.code AND z.zone_type = 'wwtp') AS has_wwtp,
    EXISTS (SELECT 1 FROM monitoring_stations s WHERE s.medium = 'wastewater' AND s.mode = 'automatic'
            AND s.status = 'active' AND ST_Intersects(s.geom, p.geom)) AS has_station,
    (SELECT COALESCE(SUM(ST_Area(ST_Transform(ST_Intersection(z.geom, p.geom), 32648))), 0) FROM park_zones z
     WHERE z.park_code = p.code AND z.zone_type = ANY(:zones)) AS zone_m2
  FROM industrial_parks p WHERE p.operating_status = 'operating')"""


def _park_share(conn: Connection, year: int, value_sql: str, zones: list[str]) -> pd.DataFrame:
    # A park belongs to the unit holding a point on its surface, so each park counts once per version.
    return _with_year(_frame(conn, f"""
WITH {UNITS}, {_PARK_FLAGS}
SELECT u.geography_type, u.code AS geography_code, u.valid_from AS boundary_valid_from,
       {value_sql.replace('@', 'p.')} AS value, count(*) AS n_parks
FROM units u JOIN parks p ON ST_Intersects(u.geom, ST_PointOnSurface(p.geom))
GROUP BY 1, 2, 3
UNION ALL
SELECT 'industrial_park', p.code, NULL::date, {value_sql.replace('@', 'p.')}, 1 FROM parks p GROUP BY p.code""",
                                  zones=zones), year)


def parks_wwtp_auto_station_share(conn: Connection, year: int | None) -> Computed:
    """T15.2: share (%) of operating parks with a WWTP zone and an active automatic wastewater station inside."""
    df = _park_share(conn, year, "100.0 * avg(CASE WHEN @has_wwtp AND @has_station THEN 1 ELSE 0 END)", [])
    return Computed(df, layer_runs(conn, "industrial_parks", "park_zones", "monitoring_stations", "admin_units"))


def park_green_share(conn: Connection, year: int | None) -> Computed:
    """T12.8: green-space zones as a share (%) of park area."""
    df = _park_share(conn, year, "100.0 * sum(@zone_m2) / NULLIF(sum(@area_m2), 0)", ["green_space"])
    return Computed(df, layer_runs(conn, "industrial_parks", "park_zones", "admin_units"))


def park_green_road_shared_share(conn: Connection, year: int | None) -> Computed:
    """T9.3: green + road + shared-infrastructure zones as a share (%) of park area (criterion ≥ 25 %)."""
    df = _park_share(conn, year, "100.0 * sum(@zone_m2) / NULLIF(sum(@area_m2), 0)",
                     ["green_space", "road", "shared_infrastructure"])
    return Computed(df, layer_runs(conn, "industrial_parks", "park_zones", "admin_units"))


def _count_in_units(conn: Connection, year: int, table: str, where: str) -> pd.DataFrame:
    return _with_year(_frame(conn, f"""
WITH {UNITS}
SELECT u.geography_type, u.code AS geography_code, u.valid_from AS boundary_valid_from,
       count(t.id)::double precision AS value
FROM units u LEFT JOIN {table} t ON {where} AND ST_Intersects(u.geom, ST_PointOnSurface(t.geom))
GROUP BY 1, 2, 3"""), year)


def air_station_count(conn: Connection, year: int | None) -> Computed:
    """T14.2: active ambient-air monitoring points (any mode) per unit."""
    df = _count_in_units(conn, year, "monitoring_stations", "t.medium = 'air' AND t.status = 'active'")
    return Computed(df, layer_runs(conn, "monitoring_stations", "admin_units"))


def automatic_air_station_count(conn: Connection, year: int | None) -> Computed:
    """T14.3: active automatic ambient-air stations per unit."""
    df = _count_in_units(conn, year, "monitoring_stations",
                         "t.medium = 'air' AND t.mode = 'automatic' AND t.status = 'active'")
    return Computed(df, layer_runs(conn, "monitoring_stations", "admin_units"))


def air_station_coverage(conn: Connection, year: int | None) -> Computed:
    """T14.2c: share (%) of each unit's area within 5 km of an active air point (buffers in UTM 48N)."""
    df = _with_year(_frame(conn, f"""
WITH {UNITS}, cover AS (
  SELECT ST_Union(ST_Buffer(ST_Transform(geom, 32648), :r)) AS g FROM monitoring_stations
  WHERE medium = 'air' AND status = 'active')
SELECT u.geography_type, u.code AS geography_code, u.valid_from AS boundary_valid_from,
       100.0 * COALESCE(ST_Area(ST_Intersection(u.g, c.g)), 0) / ST_Area(u.g) AS value
FROM units u CROSS JOIN cover c""", r=COVERAGE_BUFFER_M), year)
    return Computed(df, layer_runs(conn, "monitoring_stations", "admin_units"), {"buffer_m": COVERAGE_BUFFER_M})


def polluted_sites_count(conn: Connection, year: int | None) -> Computed:
    """T15.9: polluted sites not closed, per unit; the count by status goes into the details."""
    df = _frame(conn, f"""
WITH {UNITS}
SELECT u.geography_type, u.code AS geography_code, u.valid_from AS boundary_valid_from,
       count(t.id) FILTER (WHERE t.status <> 'closed')::double precision AS value
FROM units u LEFT JOIN polluted_sites t ON ST_Intersects(u.geom, ST_PointOnSurface(t.geom))
GROUP BY 1, 2, 3""")
    by_status = _frame(conn, f"""
WITH {UNITS}
SELECT u.geography_type, u.code AS geography_code, t.status, count(*) AS n
FROM units u JOIN polluted_sites t ON ST_Intersects(u.geom, ST_PointOnSurface(t.geom)) GROUP BY 1, 2, 3""")
    counts = {k: dict(zip(g.status, g.n.astype(int))) for k, g in by_status.groupby(["geography_type",
                                                                                        "geography_code"])}
    df["details"] = [{"by_status": counts.get((t, c), {})} for t, c in zip(df.geography_type, df.geography_code)]
    return Computed(_with_year(df, year), layer_runs(conn, "polluted_sites", "admin_units"))


def active_landfills(conn: Connection, year: int | None) -> Computed:
    """T13.3p (proxy of T13.3): active landfills per unit."""
    df = _count_in_units(conn, year, "waste_facilities", "t.kind = 'landfill' AND t.landfill_status = 'active'")
    return Computed(df, layer_runs(conn, "waste_facilities", "admin_units"))


def _station_units(conn: Connection, medium: str) -> pd.DataFrame:
    return _frame(conn, f"""
WITH {UNITS}
SELECT s.code AS station_code, u.geography_type, u.code AS geography_code, u.valid_from AS boundary_valid_from
FROM monitoring_stations s JOIN units u ON ST_Intersects(u.geom, s.geom) WHERE s.medium = :m""", m=medium)


def _measurements(conn: Connection, medium: str, period: str, year: int | None) -> pd.DataFrame:
    return _frame(conn, """
SELECT m.station_code, m.parameter, m.measured_at, m.value, m.ingest_run_id
FROM measurements m JOIN monitoring_stations s ON s.code = m.station_code
WHERE s.medium = :m AND m.period = :p AND m.qc_flag = 'valid' AND m.value IS NOT NULL
  AND (CAST(:y AS integer) IS NULL OR EXTRACT(year FROM m.measured_at AT TIME ZONE 'Asia/Ho_Chi_Minh') = :y)""",
                  m=medium, p=period, y=year)


def _no_data(conn: Connection, year: int | None, tables: tuple[str, ...]) -> Computed:
    units = _frame(conn, f"WITH {UNITS} SELECT geography_type, code AS geography_code, "
                         "valid_from AS boundary_valid_from FROM units")
    units["value"] = np.nan
    return Computed(_with_year(units, year), layer_runs(conn, *tables), {"no_data": "no measurements"})


def _share_by_unit(conn: Connection, per_station: pd.DataFrame, medium: str) -> pd.DataFrame:
    """Aggregate per-station (good, total) counts by year to every unit holding the stations."""
    joined = per_station.merge(_station_units(conn, medium), on="station_code")
    keys = ["geography_type", "geography_code", "boundary_valid_from", "year"]
    agg = joined.groupby(keys, dropna=False).agg(good=("good", "sum"), total=("total", "sum"),
                                                 stations=("station_code", "nunique")).reset_index()
    agg["value"] = 100.0 * agg.good / agg.total
    agg["details"] = [{"good": int(g), "total": int(t), "stations": int(s)}
                      for g, t, s in zip(agg.good, agg.total, agg.stations)]
    return agg[keys + ["value", "details"]]


def river_wqi_good_share(conn: Connection, year: int | None) -> Computed:
    """T15.4: share (%) of surface-water points whose mean VN_WQI over the year's samples is ≥ 76."""
    tables = ("measurements", "monitoring_stations", "admin_units")
    m = _measurements(conn, "surface_water", "sample", year)
    if m.empty:
        return _no_data(conn, year, tables)
    rename = {"temperature": "T_C", **{p: f"{p}_ugL" for p in ("Aldrin", "BHC", "Dieldrin", "DDTs", "Heptachlor")}}
    m["parameter"] = m.parameter.replace(rename)
    samples = m.pivot_table(index=["station_code", "measured_at"], columns="parameter", values="value",
                            aggfunc="mean")
    scores = [wqi({k: v for k, v in row.items() if pd.notna(v)}).wqi_rounded for row in samples.to_dict("records")]
    s = samples.index.to_frame(index=False).assign(wqi=scores).dropna(subset=["wqi"])
    s["year"] = s.measured_at.dt.tz_convert("Asia/Ho_Chi_Minh").dt.year
    per = s.groupby(["station_code", "year"]).wqi.mean().reset_index()
    per["good"], per["total"] = (per.wqi >= WQI_GOOD).astype(int), 1
    runs = sorted({int(r) for r in m.ingest_run_id})
    return Computed(_share_by_unit(conn, per, "surface_water"), layer_runs(conn, *tables[1:]),
                    {"measurement_runs": runs, "threshold": WQI_GOOD})


def air_good_days_share(conn: Connection, year: int | None) -> Computed:
    """T14.6: share (%) of station-days whose daily VN_AQI is ≤ 100 (days without an AQI are not counted)."""
    tables = ("measurements", "monitoring_stations", "admin_units")
    m = _measurements(conn, "air", "1h", year)
    if m.empty:
        return _no_data(conn, year, tables)
    parts = []
    for station, g in m.groupby("station_code"):
        hourly = g.pivot_table(index="measured_at", columns="parameter", values="value", aggfunc="mean")
        daily = daily_aqi_frame(hourly, "vn")
        daily = daily[daily.aqi.notna()]
        parts.append(pd.DataFrame({"station_code": station, "year": daily.index.year,
                                   "good": (daily.aqi <= AQI_GOOD).astype(int).to_numpy(), "total": 1}))
    per = pd.concat(parts).groupby(["station_code", "year"]).sum().reset_index()
    runs = sorted({int(r) for r in m.ingest_run_id})
    return Computed(_share_by_unit(conn, per, "air"), layer_runs(conn, *tables[1:]),
                    {"measurement_runs": runs, "threshold": AQI_GOOD})


COMPUTATIONS: dict[str, Callable[[Connection, int | None], Computed]] = {
    f.__name__: f for f in (forest_cover_share, parks_wwtp_auto_station_share, park_green_share,
                            park_green_road_shared_share, air_station_count, automatic_air_station_count,
                            air_station_coverage, polluted_sites_count, active_landfills, river_wqi_good_share,
                            air_good_days_share)}
