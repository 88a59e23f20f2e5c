"""Stored indices (hourly/daily AQI, VN_WQI, QCVN 05 exceedances) and per-layer data versions for caches.

Revision ID: 0013_indices
Revises: 0012_rasters_indicators
"""
from alembic import op

revision = "0013_indices"
down_revision = "0012_rasters_indicators"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Maps and the API read these instead of recomputing: refreshed for the stations and hours a load touches.
    op.execute("""
CREATE TABLE aqi_hourly (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE,
  scheme text NOT NULL CHECK (scheme IN ('vn', 'us')),
  hour_end timestamptz NOT NULL,
  aqi smallint,
  category text,
  dominant text,
  provisional boolean NOT NULL DEFAULT false,
  beyond_scale boolean NOT NULL DEFAULT false,
  detail jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_code, scheme, hour_end)
)""")
    op.execute("""
CREATE TABLE aqi_daily (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE,
  scheme text NOT NULL CHECK (scheme IN ('vn', 'us')),
  day date NOT NULL,
  aqi smallint,
  category text,
  dominant text,
  provisional boolean NOT NULL DEFAULT false,
  beyond_scale boolean NOT NULL DEFAULT false,
  detail jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_code, scheme, day)
)""")
    op.execute("""
CREATE TABLE wqi_results (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE,
  sampled_at timestamptz NOT NULL,
  wqi smallint,
  category text,
  formula text,
  reason text,
  detail jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_code, sampled_at)
)""")
    # Only the periods that exceed are kept row by row; every period counts in the monthly/annual summaries.
    op.execute("""
CREATE TABLE qcvn_exceedances (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE,
  parameter text NOT NULL,
  period text NOT NULL,
  period_end timestamptz NOT NULL,
  value double precision NOT NULL,
  limit_value double precision NOT NULL,
  regulation text NOT NULL,
  n_hours integer,
  provisional boolean NOT NULL DEFAULT false,
  PRIMARY KEY (station_code, parameter, period, period_end)
)""")
    op.execute("""
CREATE TABLE qcvn_summaries (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE,
  parameter text NOT NULL,
  period text NOT NULL,
  freq text NOT NULL CHECK (freq IN ('month', 'year')),
  period_start date NOT NULL,
  regulation text NOT NULL,
  limit_value double precision NOT NULL,
  n_valid integer NOT NULL,
  n_exceeding integer NOT NULL,
  share double precision,
  max_value double precision,
  n_provisional integer NOT NULL,
  -- A month that straddles a change of limit (September 2023) has one row per regulation.
  PRIMARY KEY (station_code, parameter, period, freq, period_start, regulation)
)""")
    # One row per layer, bumped in the same transaction as the change: caches key on it, so a cached
    # response can never outlive the data it came from.
    op.execute("""
CREATE TABLE data_versions (
  layer text PRIMARY KEY,
  version bigint NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
)""")
    op.execute("""
CREATE FUNCTION bump_data_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status IN ('succeeded', 'succeeded_with_rejects') THEN
    INSERT INTO data_versions (layer, version, changed_at) VALUES (NEW.layer, NEW.run_id, now())
    ON CONFLICT (layer) DO UPDATE SET version = greatest(data_versions.version, EXCLUDED.version) + 0,
                                      changed_at = now();
  END IF;
  RETURN NEW;
END $$""")
    op.execute("CREATE TRIGGER ingest_runs_bump_version AFTER UPDATE OF status ON ingest_runs "
               "FOR EACH ROW EXECUTE FUNCTION bump_data_version()")


def downgrade() -> None:
    op.execute("DROP TRIGGER ingest_runs_bump_version ON ingest_runs")
    op.execute("DROP FUNCTION bump_data_version()")
    for t in ("data_versions", "qcvn_summaries", "qcvn_exceedances", "wqi_results", "aqi_daily", "aqi_hourly"):
        op.execute(f"DROP TABLE {t}")
