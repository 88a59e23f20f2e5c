"""Observations bulk load: foreign keys checked by the loader as sets, guard triggers on the parents.

The three foreign keys of ``measurements`` (station_code → monitoring_stations, parameter → parameters,
ingest_run_id → ingest_runs) cost a per-row RI trigger on every inserted reading (about 21 µs of a 28 µs
insert). The loader now checks them once per file, as sets, under row locks (``SELECT … FOR KEY SHARE`` of the
file's stations and parameters, the lock an RI trigger takes), and these triggers keep the other direction:

- deleting a station, a parameter or a ledger row that readings refer to is refused (as the foreign keys'
  NO ACTION did), with a message naming the row;
- renaming a station code renames it in its readings (the former ON UPDATE CASCADE); renaming a parameter
  code or a run id that readings use is refused;
- ``TRUNCATE monitoring_stations|parameters|ingest_runs … CASCADE`` also empties measurements (as the
  foreign keys made it do); without CASCADE it is refused while measurements has rows.

The btree on ``ingest_run_id`` (one index entry per reading, used only to revert a run; a BRIN index costs
about as much per row) is replaced by ``measurement_run_spans``: per run, every (station, parameter, period)
it wrote and the first and last time. The loader records them (a few rows per file), the revert finds the
run's readings through them with primary-key range scans, and the station-rename trigger keeps them in step.
Invariant: every reading with ``ingest_run_id = R`` lies inside one of R's spans. Runs without spans (rows
written by other means) are found by a scan.

Revision ID: 0019_obs_bulk_load
Revises: 0018_eip_enterprises
"""
from alembic import op

revision = "0019_obs_bulk_load"
down_revision = "0018_eip_enterprises"
branch_labels = None
depends_on = None

_FUNCTIONS = """
CREATE FUNCTION measurements_station_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM measurements WHERE station_code = OLD.code) THEN
      RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
        MESSAGE = format('trạm %s còn số liệu quan trắc, không xoá được / station %s has readings in '
                         'measurements and cannot be deleted', OLD.code, OLD.code),
        HINT = 'Revert the loads of its readings first (geo observations revert RUN).';
    END IF;
    RETURN OLD;
  END IF;
  -- A renamed station keeps its readings (what ON UPDATE CASCADE did), and the runs' spans follow them.
  UPDATE measurements SET station_code = NEW.code WHERE station_code = OLD.code;
  UPDATE measurement_run_spans SET station_code = NEW.code WHERE station_code = OLD.code;
  RETURN NEW;
END $$;

CREATE FUNCTION measurements_parameter_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM measurements WHERE parameter = OLD.code) THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('thông số %s đang được dùng trong số liệu quan trắc / parameter %s is used by readings in '
                       'measurements and cannot be deleted or renamed', OLD.code, OLD.code);
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE FUNCTION measurements_run_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF OLD.layer = 'measurements' AND EXISTS (SELECT 1 FROM measurements WHERE ingest_run_id = OLD.run_id) THEN
    RAISE EXCEPTION USING ERRCODE = 'foreign_key_violation',
      MESSAGE = format('lần nạp %s còn số liệu quan trắc / run %s wrote readings that are still in measurements; '
                       'revert it instead of deleting its ledger row', OLD.run_id, OLD.run_id);
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE FUNCTION measurements_parent_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM measurements) THEN
    RETURN NULL;
  END IF;
  -- A trigger cannot see the statement's options; the statement's text tells whether CASCADE was asked for.
  IF current_query() !~* '\\mcascade\\M' THEN
    RAISE EXCEPTION USING ERRCODE = 'feature_not_supported',
      MESSAGE = format('không thể xoá sạch %s: bảng measurements tham chiếu tới nó / cannot truncate %s: '
                       'measurements refers to it', TG_TABLE_NAME, TG_TABLE_NAME),
      HINT = 'Truncate measurements in the same statement, or use TRUNCATE ... CASCADE.';
  END IF;
  BEGIN
    TRUNCATE measurements;
  EXCEPTION WHEN object_in_use THEN
    NULL;   -- measurements is in the same TRUNCATE statement, which empties it anyway
  END;
  RETURN NULL;
END $$;
"""

_TRIGGERS = """
CREATE TRIGGER measurements_station_delete BEFORE DELETE ON monitoring_stations
  FOR EACH ROW EXECUTE FUNCTION measurements_station_guard();
CREATE TRIGGER measurements_station_rename AFTER UPDATE OF code ON monitoring_stations
  FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION measurements_station_guard();
CREATE TRIGGER measurements_parameter_delete BEFORE DELETE ON parameters
  FOR EACH ROW EXECUTE FUNCTION measurements_parameter_guard();
CREATE TRIGGER measurements_parameter_rename BEFORE UPDATE OF code ON parameters
  FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION measurements_parameter_guard();
CREATE TRIGGER measurements_run_delete BEFORE DELETE ON ingest_runs
  FOR EACH ROW EXECUTE FUNCTION measurements_run_guard();
CREATE TRIGGER measurements_run_renumber BEFORE UPDATE OF run_id ON ingest_runs
  FOR EACH ROW WHEN (OLD.run_id IS DISTINCT FROM NEW.run_id) EXECUTE FUNCTION measurements_run_guard();
CREATE TRIGGER measurements_parent_truncate BEFORE TRUNCATE ON monitoring_stations
  FOR EACH STATEMENT EXECUTE FUNCTION measurements_parent_truncate();
CREATE TRIGGER measurements_parent_truncate BEFORE TRUNCATE ON parameters
  FOR EACH STATEMENT EXECUTE FUNCTION measurements_parent_truncate();
CREATE TRIGGER measurements_parent_truncate BEFORE TRUNCATE ON ingest_runs
  FOR EACH STATEMENT EXECUTE FUNCTION measurements_parent_truncate();
"""

_DROP = """
DROP TRIGGER measurements_station_delete ON monitoring_stations;
DROP TRIGGER measurements_station_rename ON monitoring_stations;
DROP TRIGGER measurements_parameter_delete ON parameters;
DROP TRIGGER measurements_parameter_rename ON parameters;
DROP TRIGGER measurements_run_delete ON ingest_runs;
DROP TRIGGER measurements_run_renumber ON ingest_runs;
DROP TRIGGER measurements_parent_truncate ON monitoring_stations;
DROP TRIGGER measurements_parent_truncate ON parameters;
DROP TRIGGER measurements_parent_truncate ON ingest_runs;
DROP FUNCTION measurements_station_guard();
DROP FUNCTION measurements_parameter_guard();
DROP FUNCTION measurements_run_guard();
DROP FUNCTION measurements_parent_truncate();
"""


def upgrade() -> None:
    op.execute("ALTER TABLE measurements DROP CONSTRAINT measurements_station_code_fkey, "
               "DROP CONSTRAINT measurements_parameter_fkey, DROP CONSTRAINT measurements_ingest_run_id_fkey")
    op.execute("DROP INDEX measurements_run_idx")
    op.execute("""
CREATE TABLE measurement_run_spans (
  run_id bigint NOT NULL REFERENCES ingest_runs(run_id) ON DELETE CASCADE,
  station_code text NOT NULL,
  parameter text NOT NULL,
  period text NOT NULL,
  first_at timestamptz NOT NULL,
  last_at timestamptz NOT NULL
)""")
    op.execute("CREATE INDEX measurement_run_spans_run_idx ON measurement_run_spans (run_id)")
    op.execute("INSERT INTO measurement_run_spans SELECT ingest_run_id, station_code, parameter, period, "
               "min(measured_at), max(measured_at) FROM measurements GROUP BY 1, 2, 3, 4")
    op.execute(_FUNCTIONS)
    op.execute(_TRIGGERS)


def downgrade() -> None:
    op.execute(_DROP)
    op.execute("DROP TABLE measurement_run_spans")
    op.execute("CREATE INDEX measurements_run_idx ON measurements (ingest_run_id)")
    op.execute("ALTER TABLE measurements "
               "ADD CONSTRAINT measurements_station_code_fkey FOREIGN KEY (station_code) "
               "REFERENCES monitoring_stations(code) ON UPDATE CASCADE, "
               "ADD CONSTRAINT measurements_parameter_fkey FOREIGN KEY (parameter) REFERENCES parameters(code), "
               "ADD CONSTRAINT measurements_ingest_run_id_fkey FOREIGN KEY (ingest_run_id) "
               "REFERENCES ingest_runs(run_id)")
