"""The layer registry: every layer family registered once, read by ingest, dashboards, API, docs, tests."""
from __future__ import annotations

from layers import (admin_units, forest_areas, industrial_parks, monitoring_stations, park_zones,
                    polluted_sites, waste_facilities, water_abstraction_points, water_bodies)
from layers import enterprises, symbiosis_links
from layers.registry import Registry
from layers.spec import AccessLevel, FieldSpec, FieldType, GeometryKind, LayerSpec

REGISTRY = Registry()
REGISTRY.register(admin_units.SPEC)
REGISTRY.register(industrial_parks.SPEC)
REGISTRY.register(park_zones.SPEC)
REGISTRY.register(monitoring_stations.SPEC)
REGISTRY.register(forest_areas.SPEC)
REGISTRY.register(polluted_sites.SPEC)
REGISTRY.register(water_bodies.SPEC)
REGISTRY.register(water_abstraction_points.SPEC)
REGISTRY.register(waste_facilities.SPEC)
REGISTRY.register(enterprises.SPEC)
REGISTRY.register(symbiosis_links.SPEC)

__all__ = ["REGISTRY", "AccessLevel", "FieldSpec", "FieldType", "GeometryKind", "LayerSpec", "Registry"]
