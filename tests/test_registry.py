"""The registry is the single description of layer families: the database and the code agree with it."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from geo.errors import RegistryError
from layers import REGISTRY
from layers.registry import Registry
from layers.spec import FieldType

ROOT = Path(__file__).resolve().parents[1]
SQL_TYPES = {FieldType.TEXT: "TEXT", FieldType.INTEGER: "BIGINT", FieldType.NUMBER: "DOUBLE PRECISION",
             FieldType.DATE: "DATE", FieldType.BOOLEAN: "BOOLEAN"}
FAMILIES = {"admin_units", "industrial_parks", "park_zones", "monitoring_stations", "forest_areas",
            "polluted_sites", "water_bodies", "water_abstraction_points", "waste_facilities", "enterprises",
            "symbiosis_links"}


def test_every_family_is_registered():
    assert set(REGISTRY.names()) == FAMILIES


def test_registry_refuses_silent_overwrite():
    reg = Registry()
    spec = REGISTRY.get("industrial_parks")
    reg.register(spec)
    with pytest.raises(RegistryError, match="already registered"):
        reg.register(spec)


def test_unknown_family_names_the_known_ones():
    with pytest.raises(RegistryError, match="industrial_parks"):
        REGISTRY.get("parks")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_table_matches_spec(engine, name):
    """Each family's migration created exactly the spec's columns, types, key and geometry."""
    spec = REGISTRY.get(name)
    cols = {c["name"]: c for c in inspect(engine).get_columns(spec.table)}
    expected = {*spec.field_names, *spec.derived_columns, "id", "geom", "ingest_run_id", "created_at",
                "updated_at"}
    assert set(cols) == expected
    for f in spec.fields:
        assert str(cols[f.name]["type"]) == SQL_TYPES[f.type], f.name
        assert cols[f.name]["nullable"] is (not f.required), f.name
    uniques = inspect(engine).get_unique_constraints(spec.table)
    assert [tuple(u["column_names"]) for u in uniques] == [spec.natural_key]
    with engine.connect() as conn:
        gtype = conn.execute(text("SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                                  "WHERE attrelid = CAST(:t AS regclass) AND attname = 'geom'"),
                             {"t": spec.table}).scalar_one()
    assert gtype.lower() == f"geometry({spec.geometry_sql},4326)".lower()


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_spec_is_complete(name):
    spec = REGISTRY.get(name)
    assert spec.title_vi and spec.title_en and spec.description_vi and spec.description_en
    assert spec.themes and set(spec.themes) <= {9, 12, 13, 14, 15}
    assert all(f.title_vi and f.title_en for f in spec.fields)


def test_polluted_site_transitions():
    spec = REGISTRY.get("polluted_sites")
    assert spec.allowed_transition("status", "suspected", "investigated")
    assert spec.allowed_transition("status", "confirmed", "confirmed")
    assert not spec.allowed_transition("status", "suspected", "remediated")
    assert not spec.allowed_transition("status", "closed", "suspected")


def test_import_direction_is_enforced():
    """geo imports nothing of layers/ingest/dashboards; layers imports only geo (import-linter contract)."""
    exe = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout
