"""Migration 0020: stored AQI rows of the former jsonb tables come back through the views exactly, both ways."""
from __future__ import annotations

import psycopg
import pytest
from alembic import command
from sqlalchemy.engine import make_url

from geo import migrate
from geo.db import make_engine, raw_connection
from geo.settings import DatabaseSettings
from tests.conftest import _test_url
from tests.ingest.former_indices import former_module
from tests.ingest.test_indices import STATIONS, store_frame, synthetic

BEFORE = "0019_obs_bulk_load"
ROWS = {"aqi_hourly": "station_code, scheme, hour_end, aqi, category, dominant, provisional, beyond_scale, "
                      "detail::text, computed_at",
        "aqi_daily": "station_code, scheme, day, aqi, category, dominant, provisional, beyond_scale, detail::text, "
                     "computed_at"}


@pytest.fixture
def old_schema_db():
    """A database of its own, migrated to the revision before the typed store tables."""
    url = make_url(_test_url())
    name = f"{url.database}_mig"
    admin = url.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(DatabaseSettings(database_url=url.set(database=name).render_as_string(hide_password=False)))
    migrate.upgrade(engine, BEFORE)
    yield engine
    engine.dispose()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _rows(engine) -> dict[str, list[tuple]]:  # noqa: ANN001
    with raw_connection(engine) as conn:
        return {t: conn.execute(f"SELECT {cols} FROM {t} ORDER BY 1, 2, 3").fetchall() for t, cols in ROWS.items()}


def test_former_rows_survive_the_upgrade_and_the_downgrade(old_schema_db, tmp_path):
    former = former_module()
    if former is None:
        pytest.skip("git history with the former implementation is not available")
    engine = old_schema_db
    with raw_connection(engine) as conn:
        conn.execute("INSERT INTO monitoring_stations (code, name_vi, medium, mode, status, geom) "
                     "SELECT s, 'Trạm ' || s, 'air', 'automatic', 'active', "
                     "ST_SetSRID(ST_MakePoint(106.7, 11.0), 4326) "
                     "FROM unnest(%s::text[]) s", (list(STATIONS),))
        conn.commit()
    store_frame(engine, synthetic("2024-02-01 01:00", 6 * 24, seed=4))
    with raw_connection(engine) as conn:
        spans = {s: (lo, hi) for s, lo, hi in conn.execute(
            "SELECT station_code, min(measured_at), max(measured_at) FROM measurements GROUP BY 1").fetchall()}
        former.refresh_touched(conn, former.Touched(air=spans))
        conn.commit()
    before = _rows(engine)
    assert len(before["aqi_hourly"]) == 2 * len(STATIONS) * 6 * 24
    migrate.upgrade(engine, "0020_index_store_fast")
    assert _rows(engine) == before                       # every column, detail and computed_at included
    with raw_connection(engine) as conn:
        assert conn.execute("SELECT count(*) FROM qcvn_monthly_sums").fetchone()[0] == len(STATIONS) * 6
    config = migrate._config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, BEFORE)
    assert _rows(engine) == before
