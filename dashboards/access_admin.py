"""Administrators' controls of access: per-layer level overrides and the database roles that follow them."""
from __future__ import annotations

from sqlalchemy import Engine, text

from geo.access import Level
from geo.db_roles import ensure_roles
from geo.errors import GeoError
from layers import REGISTRY

# Public-path tables besides public layers: observations, indices, lookups, cache versions.
PUBLIC_SUPPORT = ("measurements", "parameters", "aqi_hourly", "aqi_daily", "wqi_results", "qcvn_exceedances",
                  "qcvn_summaries", "data_versions", "spatial_ref_sys", "layer_access")


def levels(engine: Engine) -> dict[str, tuple[str, str]]:
    """Every layer's level and where it comes from (registry default or override)."""
    with engine.connect() as conn:
        overrides = dict(conn.execute(text("SELECT layer, level FROM layer_access")).all())
    return {s.name: (overrides[s.name], "override") if s.name in overrides else (s.access.value, "registry")
            for s in REGISTRY}


def set_level(engine: Engine, layer: str, level: str, by: str, reason: str | None = None) -> None:
    REGISTRY.get(layer)
    if level not in {lv.value for lv in Level}:
        raise GeoError(f"mức truy cập không hợp lệ / unknown level {level!r} (public, internal, restricted)")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO layer_access (layer, level, set_by, reason) VALUES (:l, :v, :b, :r) "
                          "ON CONFLICT (layer) DO UPDATE SET level = :v, set_by = :b, reason = :r, set_at = now()"),
                     {"l": layer, "v": level, "b": by, "r": reason})
        # Caches key on data versions: bump it so every cached layer list changes at once.
        conn.execute(text("INSERT INTO data_versions (layer, version) VALUES ('layer_access', 1) "
                          "ON CONFLICT (layer) DO UPDATE SET version = data_versions.version + 1, changed_at = now()"))


def public_tables(engine: Engine) -> list[str]:
    return [name for name, (level, _) in levels(engine).items() if level == Level.PUBLIC.value] + \
        list(PUBLIC_SUPPORT)


def ensure_db_roles(engine: Engine, app_user: str, reader_user: str, password: str | None) -> list[str]:
    tables = public_tables(engine)
    with engine.connect() as conn:
        # aqi_hourly and aqi_daily are views (over their store tables, migration 0020): grant them like tables.
        existing = {r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                                    "UNION SELECT viewname FROM pg_views WHERE schemaname = 'public'"))}
    tables = [t for t in tables if t in existing or t == "spatial_ref_sys"]
    ensure_roles(engine, app_user, reader_user, tables, password)
    return tables
