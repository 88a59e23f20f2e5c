"""Computed eco-park measures from PostGIS: land shares, WWTP, stations and polluted sites nearby, enterprises, links."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, text

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
BUFFER_M = 1000.0
UTM48N = 32648  # areas in metres in UTM 48N, as everywhere in the platform, never in degrees
WATER_MEDIA = ("surface_water", "groundwater", "wastewater")


@dataclass
class Measure:
    """A computed value with the bounds it may take given unknown inputs, and the figures behind it.

    ``low``/``high`` let a threshold be judged three-valued: pass only if even ``low`` passes, fail only if
    even ``high`` fails, unknown otherwise (e.g. RECP not recorded for some firms).
    """

    value: float | None
    low: float | None = None
    high: float | None = None
    figures: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.low is None and self.high is None and self.value is not None:
            self.low = self.high = self.value


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(float(x), nd)


def share(yes: int, unknown: int, total: int, **figures: Any) -> Measure:
    """Share of ``total`` in %, bounded by how the ``unknown`` ones could fall; no members → no value."""
    figs = {"n": total, "n_yes": yes, "n_unknown": unknown, **figures}
    if total == 0:
        return Measure(None, figures={**figs, "reason": "no_members"})
    known = total - unknown
    value = _r(100.0 * yes / known, 2) if known else None
    return Measure(value, _r(100.0 * yes / total, 2), _r(100.0 * (yes + unknown) / total, 2), figs)


def park_exists(conn: Connection, park: str) -> bool:
    return conn.execute(text("SELECT 1 FROM industrial_parks WHERE code = :c"), {"c": park}).first() is not None


def land_measures(conn: Connection, park: str) -> dict[str, Measure]:
    """Zone shares clipped to the park boundary: a zone drawn past the boundary counts only inside it.

    Each type is unioned before measuring so overlapping zones are not counted twice.
    """
    row = conn.execute(text(f"""
WITH p AS (SELECT geom FROM industrial_parks WHERE code = :c),
z AS (SELECT z.zone_type, z.geom AS whole, ST_CollectionExtract(ST_Intersection(z.geom, p.geom), 3) AS g
      FROM park_zones z, p WHERE z.park_code = :c),
m AS (SELECT zone_type, ST_Area(ST_Transform(ST_Union(g), {UTM48N})) AS a FROM z GROUP BY zone_type)
SELECT (SELECT ST_Area(ST_Transform(geom, {UTM48N})) FROM p) AS park_m2,
       (SELECT count(*) FROM z) AS n_zones,
       (SELECT count(*) FROM z WHERE NOT ST_CoveredBy(whole, (SELECT geom FROM p))) AS n_clipped,
       (SELECT coalesce(sum(ST_Area(ST_Transform(whole, {UTM48N})) - ST_Area(ST_Transform(g, {UTM48N}))), 0)
          FROM z) AS outside_m2,
       (SELECT ST_Area(ST_Transform(ST_Union(g), {UTM48N})) FROM z
          WHERE zone_type IN ('green_space', 'road', 'shared_infrastructure')) AS open_m2,
       (SELECT count(*) FROM z WHERE zone_type = 'wwtp' AND ST_Area(g) > 0) AS n_wwtp,
       (SELECT jsonb_object_agg(zone_type, a) FROM m) AS by_type"""), {"c": park}).mappings().one()
    by_type = row["by_type"] or {}
    park_m2 = row["park_m2"] or 0.0
    ha = {k: _r((by_type.get(k) or 0.0) / 10_000) for k in ("green_space", "road", "shared_infrastructure", "wwtp")}
    open_ha = _r((row["open_m2"] or 0.0) / 10_000)
    figs = {"park_area_ha": _r(park_m2 / 10_000), "green_space_ha": ha["green_space"], "road_ha": ha["road"],
            "shared_infrastructure_ha": ha["shared_infrastructure"], "open_land_ha": open_ha,
            "n_zones": row["n_zones"], "n_zones_clipped": row["n_clipped"],
            "outside_boundary_ha_excluded": _r(row["outside_m2"] / 10_000)}
    open_share = (Measure(None, figures={**figs, "reason": "no_zones"}) if not row["n_zones"] or not park_m2
                  else Measure(_r(100.0 * (row["open_m2"] or 0.0) / park_m2, 2), figures=figs))
    wwtp = Measure(float(row["n_wwtp"]), figures={"n_wwtp_zones": row["n_wwtp"], "wwtp_ha": ha["wwtp"],
                                                  "n_zones": row["n_zones"]})
    if not row["n_zones"]:
        wwtp = Measure(None, figures={"n_zones": 0, "reason": "no_zones"})
    return {"open_land_share_pct": open_share, "wwtp_zones": wwtp}


def _day_end(on: date) -> datetime:
    return datetime.combine(on + timedelta(days=1), time(0), LOCAL)


def latest_reading(conn: Connection, station: str, medium: str, on: date) -> dict[str, Any] | None:
    """The last index or reading at or before the end of ``on`` (local day): VN_AQI, WQI, else a measurement."""
    end = _day_end(on)
    if medium == "air":
        row = conn.execute(text("SELECT hour_end AS at, aqi, category FROM aqi_hourly WHERE station_code = :s "
                                "AND scheme = 'vn' AND hour_end < :e AND aqi IS NOT NULL "
                                "ORDER BY hour_end DESC LIMIT 1"), {"s": station, "e": end}).mappings().first()
        if row:
            return {"kind": "VN_AQI", "at": row["at"].isoformat(), "value": row["aqi"], "category": row["category"]}
    if medium == "surface_water":
        row = conn.execute(text("SELECT sampled_at AS at, wqi, category FROM wqi_results WHERE station_code = :s "
                                "AND sampled_at < :e AND wqi IS NOT NULL ORDER BY sampled_at DESC LIMIT 1"),
                           {"s": station, "e": end}).mappings().first()
        if row:
            return {"kind": "VN_WQI", "at": row["at"].isoformat(), "value": row["wqi"], "category": row["category"]}
    row = conn.execute(text("SELECT measured_at AS at, parameter, value FROM measurements WHERE station_code = :s "
                            "AND measured_at < :e AND value IS NOT NULL ORDER BY measured_at DESC, parameter LIMIT 1"),
                       {"s": station, "e": end}).mappings().first()
    if row:
        return {"kind": row["parameter"], "at": row["at"].isoformat(), "value": _r(row["value"])}
    return None


def nearby_stations(conn: Connection, park: str, on: date) -> list[dict[str, Any]]:
    """Stations inside the park or within 1 km of its boundary (distance on the spheroid, in metres)."""
    rows = conn.execute(text("""
WITH p AS (SELECT geom FROM industrial_parks WHERE code = :c)
SELECT s.code, s.name_vi, s.medium, s.mode, s.status, ST_Intersects(s.geom, p.geom) AS inside,
       round(ST_Distance(s.geom::geography, p.geom::geography)::numeric, 1)::float AS distance_m,
       ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat
FROM monitoring_stations s, p
WHERE ST_DWithin(s.geom::geography, p.geom::geography, :b)
  AND (s.commissioned_on IS NULL OR s.commissioned_on <= :on)
ORDER BY inside DESC, distance_m, s.code"""), {"c": park, "b": BUFFER_M, "on": on}).mappings().all()
    out = []
    for r in rows:
        item = {**dict(r), "lon": _r(r["lon"], 6), "lat": _r(r["lat"], 6)}
        item["latest"] = latest_reading(conn, r["code"], r["medium"], on)
        out.append(item)
    return out


def station_measures(stations: list[dict[str, Any]]) -> dict[str, Measure]:
    auto_ww = [s["code"] for s in stations if s["inside"] and s["medium"] == "wastewater"
               and s["mode"] == "automatic" and s["status"] == "active"]
    air = [s["code"] for s in stations if s["medium"] == "air" and s["status"] == "active"]
    water = [s["code"] for s in stations if s["medium"] in WATER_MEDIA and s["status"] == "active"]
    return {"auto_wastewater_stations": Measure(float(len(auto_ww)), figures={"stations": auto_ww}),
            "air_stations_1km": Measure(float(len(air)), figures={"stations": air, "buffer_m": BUFFER_M}),
            "water_stations_1km": Measure(float(len(water)), figures={"stations": water, "buffer_m": BUFFER_M})}


def nearby_polluted(conn: Connection, park: str) -> list[dict[str, Any]]:
    rows = conn.execute(text("""
WITH p AS (SELECT geom FROM industrial_parks WHERE code = :c)
SELECT s.code, s.name_vi, s.pollutant_group, s.severity, s.status, ST_Intersects(s.geom, p.geom) AS inside,
       round(ST_Distance(s.geom::geography, p.geom::geography)::numeric, 1)::float AS distance_m,
       round(ST_X(ST_PointOnSurface(s.geom))::numeric, 6)::float AS lon,
       round(ST_Y(ST_PointOnSurface(s.geom))::numeric, 6)::float AS lat
FROM polluted_sites s, p WHERE ST_DWithin(s.geom::geography, p.geom::geography, :b)
ORDER BY inside DESC, distance_m, s.code"""), {"c": park, "b": BUFFER_M}).mappings().all()
    return [dict(r) for r in rows]


# Flags counted over all the park's firms, or only over firms with more than 100 workers (Circular 05 B.5).
SHARE_FLAGS = {"recp_applied_share_pct": ("recp_applied", False), "recp_aware_share_pct": ("recp_aware", False),
               "symbiosis_plan_share_pct": ("symbiosis_plan", False),
               "disclosure_share_pct": ("discloses_information", False),
               "anti_harassment_share_pct": ("anti_harassment", False),
               "grievance_share_pct": ("has_grievance_rules", True),
               "gender_equality_share_pct": ("gender_equality", True)}
LARGE_FIRM_WORKERS = 100


def enterprise_measures(conn: Connection, park: str) -> dict[str, Measure]:
    """Shares of the park's enterprises (records whose park_code is the park) meeting each flag."""
    parts = []
    for metric, (flag, large) in SHARE_FLAGS.items():
        scope = f"workers > {LARGE_FIRM_WORKERS}" if large else "true"
        parts.append(f"count(*) FILTER (WHERE {scope}) AS {metric}_n, "
                     f"count(*) FILTER (WHERE {scope} AND {flag}) AS {metric}_yes, "
                     f"count(*) FILTER (WHERE {scope} AND {flag} IS NULL) AS {metric}_unknown")
    row = conn.execute(text(f"SELECT count(*) AS n, count(*) FILTER (WHERE workers IS NULL) AS workers_unknown, "
                            f"{', '.join(parts)} FROM enterprises WHERE park_code = :c"), {"c": park}).mappings().one()
    out = {}
    for metric, (flag, large) in SHARE_FLAGS.items():
        extra = {"flag": flag, "n_enterprises": row["n"]}
        if large:
            extra |= {"scope": f"workers > {LARGE_FIRM_WORKERS}", "n_workers_unknown_excluded": row["workers_unknown"]}
        out[metric] = share(row[f"{metric}_yes"], row[f"{metric}_unknown"], row[f"{metric}_n"], **extra)
    return out


def active_links(conn: Connection, park: str, on: date) -> list[dict[str, Any]]:
    """Links in operation on ``on`` with at least one end in the park (a start date not recorded counts as before)."""
    rows = conn.execute(text("""
SELECT l.code, l.from_enterprise, l.to_enterprise, l.link_type, l.started_on, l.quantity, l.unit,
       ef.park_code AS from_park, et.park_code AS to_park
FROM symbiosis_links l
LEFT JOIN enterprises ef ON ef.code = l.from_enterprise
LEFT JOIN enterprises et ON et.code = l.to_enterprise
WHERE (ef.park_code = :c OR et.park_code = :c)
  AND (l.started_on IS NULL OR l.started_on <= :on) AND (l.ended_on IS NULL OR l.ended_on > :on)
ORDER BY l.code"""), {"c": park, "on": on}).mappings().all()
    return [{**dict(r), "started_on": r["started_on"].isoformat() if r["started_on"] else None} for r in rows]


def symbiosis_measures(conn: Connection, park: str, links: list[dict[str, Any]]) -> dict[str, Measure]:
    """Count of links and share of the park's firms in one; a link between two parks counts for both parks."""
    n_firms = conn.execute(text("SELECT count(*) FROM enterprises WHERE park_code = :c"), {"c": park}).scalar_one()
    cross = [link["code"] for link in links if link["from_park"] != link["to_park"]]
    members = sorted({e for link in links for e, p in ((link["from_enterprise"], link["from_park"]),
                                                        (link["to_enterprise"], link["to_park"])) if p == park})
    by_type: dict[str, int] = {}
    for link in links:
        by_type[link["link_type"]] = by_type.get(link["link_type"], 0) + 1
    figs = {"links": [link["code"] for link in links], "by_type": dict(sorted(by_type.items())),
            "cross_park_links": cross, "n_enterprises": n_firms}
    count = (Measure(None, figures={**figs, "reason": "no_enterprises"}) if n_firms == 0
             else Measure(float(len(links)), figures=figs))
    members_share = share(len(members), 0, n_firms, enterprises_in_links=members, cross_park_links=cross)
    return {"symbiosis_links": count, "symbiosis_enterprise_share_pct": members_share}
