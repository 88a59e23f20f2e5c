"""Queries behind the public air-quality page and API: stations with their current index, series, readings."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pandas as pd
from sqlalchemy import Engine, text

# Layers whose loads change what these queries return (cache keys depend on their versions).
AIR_LAYERS = ("monitoring_stations", "measurements")

_CURRENT = text("""
SELECT s.code, s.name_vi, s.name_en, s.operator, s.mode, s.status,
       ST_X(s.geom) AS lon, ST_Y(s.geom) AS lat,
       h.hour_end, h.aqi, h.category, h.dominant, h.provisional, h.beyond_scale, h.detail,
       last.last_hour
FROM monitoring_stations s
LEFT JOIN LATERAL (SELECT max(hour_end) AS last_hour FROM aqi_hourly a
                   WHERE a.station_code = s.code AND a.scheme = :scheme AND a.aqi IS NOT NULL) last ON true
LEFT JOIN aqi_hourly h ON h.station_code = s.code AND h.scheme = :scheme AND h.hour_end = last.last_hour
                      AND last.last_hour >= :fresh_after
WHERE s.medium = 'air' AND s.status <> 'decommissioned'
ORDER BY s.code""")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def stations_current(engine: Engine, scheme: str, stale_after_hours: int, now: datetime | None = None) -> pd.DataFrame:
    """Every air station with its latest index if that is recent; ``aqi`` is null (never 0) otherwise."""
    fresh_after = (now or now_utc()) - timedelta(hours=stale_after_hours)
    with engine.connect() as conn:
        return pd.read_sql(_CURRENT, conn, params={"scheme": scheme, "fresh_after": fresh_after})


def station(engine: Engine, code: str) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT code, name_vi, name_en, operator, mode, status, medium, "
                                "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM monitoring_stations WHERE code = :c"),
                           {"c": code}).mappings().first()
    return dict(row) if row else None


def hourly_index(engine: Engine, code: str, scheme: str, start: datetime, end: datetime) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(
            "SELECT hour_end, aqi, category, dominant, provisional, beyond_scale, detail FROM aqi_hourly "
            "WHERE station_code = :c AND scheme = :s AND hour_end > :a AND hour_end <= :b ORDER BY hour_end"),
            conn, params={"c": code, "s": scheme, "a": start, "b": end})


def daily_index(engine: Engine, code: str, scheme: str, start: datetime, end: datetime) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text(
            "SELECT day, aqi, category, dominant, provisional, beyond_scale, detail FROM aqi_daily "
            "WHERE station_code = :c AND scheme = :s AND day >= CAST(:a AS date) AND day <= CAST(:b AS date) "
            "ORDER BY day"), conn, params={"c": code, "s": scheme, "a": start, "b": end})


def measurements(engine: Engine, code: str, start: datetime, end: datetime,
                 parameters: list[str] | None = None) -> pd.DataFrame:
    """Raw readings (canonical unit, with the original value/unit and flags) in (start, end]."""
    with engine.connect() as conn:
        return pd.read_sql(text(
            "SELECT measured_at, parameter, period, value, original_value, original_unit, qc_flag, status, "
            "instrument_status FROM measurements WHERE station_code = :c AND measured_at > :a "
            "AND measured_at <= :b AND (CAST(:p AS text[]) IS NULL OR parameter = ANY(CAST(:p AS text[]))) "
            "ORDER BY measured_at, parameter"), conn, params={"c": code, "a": start, "b": end, "p": parameters})


def nearest_station(engine: Engine, lon: float, lat: float) -> dict | None:
    """The closest active air station, with its distance on the ellipsoid (km)."""
    with engine.connect() as conn:
        row = conn.execute(text(
            "SELECT code, name_vi, name_en, ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(:x, :y), 4326)"
            "::geography) / 1000.0 AS km FROM monitoring_stations WHERE medium = 'air' "
            "AND status <> 'decommissioned' ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1"),
            {"x": lon, "y": lat}).mappings().first()
    return dict(row) if row else None


def parameters(engine: Engine, medium: str | None = None) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text(
            "SELECT code FROM parameters WHERE CAST(:m AS text) IS NULL OR medium = :m ORDER BY code"), {"m": medium})]
