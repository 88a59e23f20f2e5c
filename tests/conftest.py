"""Test harness: a real PostGIS database per session (migrated once), emptied before each test that asks."""
from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from geo import migrate
from geo.db import make_engine
from geo.settings import AreaSettings, DatabaseSettings, IngestSettings

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
SHARED_DATA = SHARED / "data"
TEST_DATA = ROOT / "tests" / "data"
ARTIFACTS = ROOT / "test-artifacts"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/geo_test"
DATA_TABLES = ("admin_units", "industrial_parks", "park_zones", "monitoring_stations", "forest_areas",
               "polluted_sites", "water_bodies", "water_abstraction_points", "waste_facilities",
               "feature_history", "feature_insert_spans", "ingest_runs", "data_versions")
DATA_TABLES += ("enterprises", "symbiosis_links", "eip_evidence", "eip_declarations", "eip_assessment_results",
                "eip_assessments", "eip_status_history")
DATA_TABLES += ("eip_enterprise_results", "eip_certificate_history", "eip_enterprise_certificates")


def _test_url() -> str:
    return os.environ.get("GEO_TEST_DATABASE_URL", DEFAULT_URL)


def _recreate_database(url: str) -> None:
    """Drop and create the test database so that every session starts from the migrations."""
    u = make_url(url)
    admin = u.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{u.database}"')
    except psycopg.OperationalError as exc:
        # Never skip: a test run without its database is a failed run (on CI and elsewhere).
        pytest.exit(f"PostGIS test database unreachable at {u.render_as_string(hide_password=True)}: {exc}. "
                    "Run `./dev test`, which sets one up, or set GEO_TEST_DATABASE_URL.", returncode=3)


@pytest.fixture(scope="session")
def db_settings() -> DatabaseSettings:
    return DatabaseSettings(database_url=_test_url())


@pytest.fixture(scope="session")
def engine(db_settings: DatabaseSettings) -> Iterator[Engine]:
    _recreate_database(db_settings.url())
    eng = make_engine(db_settings)
    migrate.upgrade(eng)
    yield eng
    eng.dispose()


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {', '.join(DATA_TABLES)} RESTART IDENTITY CASCADE")


@pytest.fixture
def db(engine: Engine) -> Engine:
    """An empty, migrated database (tables truncated before the test)."""
    truncate_all(engine)
    return engine


@pytest.fixture
def ingest_settings(tmp_path: Path) -> IngestSettings:
    return IngestSettings(reports_dir=tmp_path / "reports", user="pytest")


@pytest.fixture
def area() -> AreaSettings:
    return AreaSettings()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.exit(f"../shared/data is missing ({SHARED_DATA}); acceptance tests need it beside the repo",
                    returncode=3)
    return SHARED_DATA
