"""Monitoring observations: parameters (seeded), month-partitioned measurements and their change log.

Revision ID: 0011_observations
Revises: 0010_waste_facilities
"""
from alembic import op

revision = "0011_observations"
down_revision = "0010_waste_facilities"
branch_labels = None
depends_on = None

# (code, medium, canonical unit, molecular weight, min, max, name_vi, name_en, aliases)
# Air is stored in µg/m³ — CO too — because VN_AQI's breakpoints are all µg/m³ (reference §2.2).
# min: PM readings down to −10 µg/m³ are instrument noise of continuous monitors (EPA AQS accepts them) and are
# kept; project convention 7 drops negatives before any average. Everything else must be ≥ 0.
# max: far above anything ever measured in ambient air / surface water; above it a reading is impossible.
_PARAMETERS = [
    ("pm25", "air", "µg/m³", None, -10, 2000, "Bụi PM2,5", "PM2.5",
     ["pm2.5", "pm2,5", "pm 2.5", "pm2_5", "pm2.5 - principal"]),
    ("pm10", "air", "µg/m³", None, -10, 5000, "Bụi PM10", "PM10", ["pm 10", "pm10 - principal"]),
    ("o3", "air", "µg/m³", 48.00, 0, 2400, "Ôzôn (O3)", "Ozone (O3)", ["ozone", "o₃"]),
    ("no2", "air", "µg/m³", 46.01, 0, 8000, "Nitơ điôxít (NO2)", "Nitrogen dioxide (NO2)", ["no₂"]),
    ("so2", "air", "µg/m³", 64.07, 0, 8000, "Lưu huỳnh điôxít (SO2)", "Sulphur dioxide (SO2)", ["so₂"]),
    ("co", "air", "µg/m³", 28.01, 0, 300000, "Cacbon monoxit (CO)", "Carbon monoxide (CO)", []),
    ("pH", "water", "pH", None, 0, 14, "pH", "pH", []),
    ("temperature", "water", "°C", None, -5, 60, "Nhiệt độ nước", "Water temperature", ["temp", "t", "nhiet_do"]),
    ("DO", "water", "mg/L", None, 0, 30, "Ôxy hòa tan (DO)", "Dissolved oxygen (DO)", ["oxy hoa tan"]),
    ("BOD5", "water", "mg/L", None, 0, 20000, "BOD5", "BOD5", ["bod", "bod5 (20°c)"]),
    ("COD", "water", "mg/L", None, 0, 50000, "COD", "COD", []),
    ("TOC", "water", "mg/L", None, 0, 20000, "TOC", "TOC", []),
    ("NNH4", "water", "mg/L", None, 0, 1000, "Amoni (N-NH4)", "Ammonium (N-NH4)", ["n-nh4", "nh4+", "n_nh4"]),
    ("NNO3", "water", "mg/L", None, 0, 1000, "Nitrat (N-NO3)", "Nitrate (N-NO3)", ["n-no3", "no3-", "n_no3"]),
    ("NNO2", "water", "mg/L", None, 0, 1000, "Nitrit (N-NO2)", "Nitrite (N-NO2)", ["n-no2", "no2-", "n_no2"]),
    ("PPO4", "water", "mg/L", None, 0, 1000, "Phosphat (P-PO4)", "Phosphate (P-PO4)", ["p-po4", "po43-", "p_po4"]),
    ("As", "water", "mg/L", None, 0, 100, "Asen (As)", "Arsenic (As)", ["arsenic"]),
    ("Cd", "water", "mg/L", None, 0, 100, "Cadimi (Cd)", "Cadmium (Cd)", ["cadmium"]),
    ("Pb", "water", "mg/L", None, 0, 100, "Chì (Pb)", "Lead (Pb)", ["lead"]),
    ("Cr6", "water", "mg/L", None, 0, 100, "Crom VI (Cr6+)", "Chromium VI (Cr6+)", ["cr6+", "cr(vi)", "cr vi"]),
    ("Cu", "water", "mg/L", None, 0, 100, "Đồng (Cu)", "Copper (Cu)", ["copper"]),
    ("Zn", "water", "mg/L", None, 0, 100, "Kẽm (Zn)", "Zinc (Zn)", ["zinc"]),
    ("Hg", "water", "mg/L", None, 0, 100, "Thủy ngân (Hg)", "Mercury (Hg)", ["mercury"]),
    ("Coliform", "water", "MPN/100 mL", None, 0, 1e10, "Tổng Coliform", "Total coliform", ["tong coliform"]),
    ("Ecoli", "water", "MPN/100 mL", None, 0, 1e10, "E. coli", "E. coli", ["e. coli", "e.coli", "e coli"]),
    # Pesticides are tabulated in µg/L by 1460/QĐ-TCMT (group II), so they are stored in µg/L.
    ("Aldrin", "water", "µg/L", None, 0, 1e5, "Aldrin", "Aldrin", []),
    ("BHC", "water", "µg/L", None, 0, 1e5, "BHC", "BHC", []),
    ("Dieldrin", "water", "µg/L", None, 0, 1e5, "Dieldrin", "Dieldrin", []),
    ("DDTs", "water", "µg/L", None, 0, 1e5, "DDTs", "DDTs", ["ddt"]),
    ("Heptachlor", "water", "µg/L", None, 0, 1e5, "Heptachlor & Heptachlorepoxide", "Heptachlor & epoxide", []),
]


def _literal(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, list):
        return "ARRAY[" + ", ".join(_literal(x) for x in v) + "]::text[]" if v else "'{}'::text[]"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def upgrade() -> None:
    op.execute("""
CREATE TABLE parameters (
  code text PRIMARY KEY,
  medium text NOT NULL CHECK (medium IN ('air', 'water')),
  unit text NOT NULL,
  molecular_weight double precision,
  min_value double precision NOT NULL,
  max_value double precision NOT NULL,
  name_vi text NOT NULL,
  name_en text NOT NULL,
  aliases text[] NOT NULL DEFAULT '{}'
)""")
    rows = ",\n".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in _PARAMETERS)
    op.execute("INSERT INTO parameters (code, medium, unit, molecular_weight, min_value, max_value, name_vi, "
               f"name_en, aliases) VALUES\n{rows}")
    # station_code references monitoring_stations.code (unique): a reading can never name a station the
    # platform does not know, and a station cannot be deleted while it has readings. ON UPDATE CASCADE
    # because the code is the stations' natural key and the readings must follow a renamed code.
    op.execute("""
CREATE TABLE measurements (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE,
  parameter text NOT NULL REFERENCES parameters(code),
  measured_at timestamptz NOT NULL,
  period text NOT NULL CHECK (period IN ('1h', '24h', 'sample')),
  value double precision,
  original_value double precision,
  original_unit text,
  qc_flag text NOT NULL CHECK (qc_flag IN ('valid', 'invalid', 'missing', 'suspect')),
  status text NOT NULL DEFAULT 'provisional' CHECK (status IN ('provisional', 'validated')),
  instrument_status text CHECK (instrument_status IN ('measuring', 'calibrating', 'error')),
  ingest_run_id bigint NOT NULL REFERENCES ingest_runs(run_id),
  CONSTRAINT measurements_missing_has_no_value CHECK ((qc_flag = 'missing') = (value IS NULL)),
  PRIMARY KEY (station_code, parameter, measured_at, period)
) PARTITION BY RANGE (measured_at)""")
    # Revert deletes a run's rows by ingest_run_id; without this index it would scan every partition.
    op.execute("CREATE INDEX measurements_run_idx ON measurements (ingest_run_id)")
    # Rows outside any monthly partition land here instead of failing; loads create their months first,
    # so it stays empty (a non-empty default partition would make creating that month's partition fail).
    op.execute("CREATE TABLE measurements_default PARTITION OF measurements DEFAULT")
    op.execute("""
CREATE FUNCTION ensure_measurement_partitions(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  m timestamptz := date_trunc('month', p_from AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  name text;
  created integer := 0;
BEGIN
  -- Monthly partitions on UTC month boundaries, named measurements_yYYYYmMM.
  WHILE m <= p_to LOOP
    name := format('measurements_y%sm%s', to_char(m AT TIME ZONE 'UTC', 'YYYY'), to_char(m AT TIME ZONE 'UTC', 'MM'));
    IF to_regclass(name) IS NULL THEN
      EXECUTE format('CREATE TABLE %I PARTITION OF measurements FOR VALUES FROM (%L) TO (%L)',
                     name, m, m + interval '1 month');
      created := created + 1;
    END IF;
    m := m + interval '1 month';
  END LOOP;
  RETURN created;
END $$""")
    # The previous version of every row a run changed, so that the run can be reverted exactly. Rows a run
    # inserted need no entry: they carry ingest_run_id = run and have no 'update' entry of that run (this keeps
    # the log as small as the real changes on the common path, a first load of new hours).
    op.execute("""
CREATE TABLE measurement_changes (
  change_id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
  run_id bigint NOT NULL REFERENCES ingest_runs(run_id),
  station_code text NOT NULL,
  parameter text NOT NULL,
  measured_at timestamptz NOT NULL,
  period text NOT NULL,
  op text NOT NULL CHECK (op IN ('update', 'delete')),
  old_row jsonb NOT NULL,
  old_run_id bigint,
  recorded_at timestamptz NOT NULL DEFAULT now()
)""")
    op.execute("CREATE INDEX measurement_changes_run_idx ON measurement_changes (run_id)")
    # Revert looks for later runs that overwrote this run's rows through the old row's run id.
    op.execute("CREATE INDEX measurement_changes_old_run_idx ON measurement_changes (old_run_id)")


def downgrade() -> None:
    op.execute("DROP TABLE measurement_changes")
    op.execute("DROP TABLE measurements")
    op.execute("DROP FUNCTION ensure_measurement_partitions(timestamptz, timestamptz)")
    op.execute("DROP TABLE parameters")
