"""Stored indices written in bulk: typed store tables behind the aqi_hourly / aqi_daily views, monthly QCVN sums.

Revision ID: 0020_index_store_fast
Revises: 0019_obs_bulk_load

Why: every readings load refreshes the stored indices in its own transaction. PostgreSQL parsed each row's
``detail`` jsonb on the way in (≈ 14 µs a row, more than everything else together) and checked a foreign key per
row (≈ 7 µs). Now:

- ``aqi_hourly_store`` holds ONE row per station and hour with both schemes side by side in plain columns (numbers
  as float8/smallint, NULL = none), and ``aqi_daily_store`` one row per station and local day. No per-row foreign
  key: the rows derive from ``measurements``, whose stations are checked; triggers on ``monitoring_stations``
  carry renames, deletions and TRUNCATE over, as ON UPDATE/DELETE CASCADE did.
- ``aqi_hourly`` and ``aqi_daily`` are views with exactly the former columns (station_code, scheme, hour_end/day,
  aqi, category, dominant, provisional, beyond_scale, detail, computed_at), one row per scheme. ``detail`` is
  built on read with jsonb_build_object from the same float8/integer values, so it is the jsonb the former
  writer stored, key for key (readers are unchanged). ``present`` (bit i = geo.aqi.POLLUTANTS[i]) says which
  pollutants' keys the detail has: the station measured that pollutant in the 12 hours up to the hour (hourly) or
  in the hours that feed the day, from 18:00 the evening before (daily).
- ``qcvn_monthly_sums``: per station, parameter and local month (hours ending 01:00 on the 1st … 00:00 on the
  next 1st) the number of clean hourly readings and their exact sum as a double-double (sum_hi + sum_lo), so an
  annual mean is built from twelve rows instead of re-reading a year of readings. Rows converted here from
  existing readings carry the decimal sum (sum_lo = 0); every refresh writes exact binary sums.
- qcvn_exceedances and qcvn_summaries lose their per-row foreign key too; the same triggers cover them.
"""
from alembic import op

revision = "0020_index_store_fast"
down_revision = "0019_obs_bulk_load"
branch_labels = None
depends_on = None

# Written out here (not imported) so that this migration keeps doing what it did when the code moves on.
POLLUTANTS = ("pm25", "pm10", "o3", "no2", "so2", "co")
SCHEMES = ("vn", "us")
LOCAL = "Asia/Ho_Chi_Minh"
DAILY_INPUTS = (("pm25_mean", "double precision"), ("pm25_count", "smallint"), ("pm10_mean", "double precision"),
                ("pm10_count", "smallint"), ("o3_max_8h", "double precision"), ("o3_8h_count", "smallint"),
                ("o3_max_1h", "double precision"), ("no2_max_1h", "double precision"),
                ("so2_max_1h", "double precision"), ("co_max_1h", "double precision"),
                ("co_max_8h", "double precision"), ("co_8h_count", "smallint"))
# Detail keys of each pollutant besides its sub-index object, per table and scheme (the former frames' inputs).
HOURLY_KEYS = {
    "vn": {"pm25": ("pm25_1h", "vn_pm25_nowcast"), "pm10": ("pm10_1h", "vn_pm10_nowcast"), "o3": ("o3_1h",),
           "no2": ("no2_1h",), "so2": ("so2_1h",), "co": ("co_1h",)},
    "us": {"pm25": ("pm25_1h", "us_pm25_nowcast"), "pm10": ("pm10_1h", "us_pm10_nowcast"),
           "o3": ("o3_1h", "us_o3_8h", "us_o3_8h_count"), "no2": ("no2_1h",), "so2": ("so2_1h",),
           "co": ("co_1h", "us_co_8h", "us_co_8h_count")},
}
DAILY_KEYS = {
    "vn": {"pm25": ("pm25_mean", "pm25_count"), "pm10": ("pm10_mean", "pm10_count"),
           "o3": ("o3_max_8h", "o3_8h_count", "o3_max_1h"), "no2": ("no2_max_1h",), "so2": ("so2_max_1h",),
           "co": ("co_max_1h",)},
    "us": {"pm25": ("pm25_mean", "pm25_count"), "pm10": ("pm10_mean", "pm10_count"),
           "o3": ("o3_max_8h", "o3_8h_count", "o3_max_1h"), "no2": ("no2_max_1h",), "so2": ("so2_max_1h",),
           "co": ("co_max_8h", "co_8h_count")},
}
COMMON = ("aqi", "category", "dominant", "provisional", "beyond_scale")
# category and dominant are stored as codes (0-based) into these lists, as geo.aqi_tables orders them; the views
# give back the names. A test checks the lists against the engine's.
CATEGORY_NAMES = {"vn": ("Tốt", "Trung bình", "Kém", "Xấu", "Rất xấu", "Nguy hại"),
                  "us": ("Tốt", "Trung bình", "Không tốt cho nhóm nhạy cảm", "Có hại cho sức khỏe",
                         "Rất có hại cho sức khỏe", "Nguy hại")}
COMMON_TYPES = {"aqi": "smallint", "category": "smallint", "dominant": "smallint",
                "provisional": "boolean NOT NULL", "beyond_scale": "boolean NOT NULL"}


def _key(column: str) -> str:
    """The detail key of a store column: the scheme prefix goes (vn_pm25_nowcast → pm25_nowcast)."""
    return column.split("_", 1)[1] if column.startswith(("vn_", "us_")) else column


def _scheme_columns(scheme: str) -> list[str]:
    return ([f"{scheme}_{c} {COMMON_TYPES[c]}" for c in COMMON]
            + [f"{scheme}_{p}_exact double precision" for p in POLLUTANTS]
            + [f"{scheme}_{p}_rounded smallint" for p in POLLUTANTS])


def _hourly_ddl() -> str:
    columns = (['station_code text COLLATE "C" NOT NULL', "hour_end timestamptz NOT NULL", "present smallint NOT NULL"]
               + [f"{p}_1h double precision" for p in POLLUTANTS])
    for scheme in SCHEMES:
        columns += _scheme_columns(scheme) + [f"{scheme}_{p}_nowcast double precision" for p in ("pm25", "pm10")]
    columns += ["us_o3_8h double precision", "us_o3_8h_count smallint", "us_co_8h double precision",
                "us_co_8h_count smallint", "computed_at timestamptz NOT NULL DEFAULT now()",
                "PRIMARY KEY (station_code, hour_end)"]
    return "CREATE TABLE aqi_hourly_store (\n  " + ",\n  ".join(columns) + "\n)"


def _daily_ddl() -> str:
    columns = (['station_code text COLLATE "C" NOT NULL', "day date NOT NULL", "present smallint NOT NULL"]
               + [f"{name} {sql}" for name, sql in DAILY_INPUTS])
    for scheme in SCHEMES:
        columns += _scheme_columns(scheme)
    columns += ["computed_at timestamptz NOT NULL DEFAULT now()", "PRIMARY KEY (station_code, day)"]
    return "CREATE TABLE aqi_daily_store (\n  " + ",\n  ".join(columns) + "\n)"


def _detail(scheme: str, keys: dict[str, tuple[str, ...]]) -> str:
    parts = []
    for bit, p in enumerate(POLLUTANTS):
        pairs = [f"'{p}', jsonb_build_object('exact', {scheme}_{p}_exact, 'rounded', {scheme}_{p}_rounded)"]
        pairs += [f"'{_key(c)}', {c}" for c in keys[p]]
        parts.append(f"CASE WHEN present & {1 << bit} <> 0 THEN jsonb_build_object({', '.join(pairs)}) "
                     "ELSE '{}'::jsonb END")
    return "(" + "\n     || ".join(parts) + ")"


def _labels(names: tuple[str, ...]) -> str:
    return "ARRAY[" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + "]::text[]"


def _decoded(scheme: str, column: str) -> str:
    """A view column from the store: category and dominant codes become their names (NULL stays NULL)."""
    if column == "category":
        return f"({_labels(CATEGORY_NAMES[scheme])})[{scheme}_category + 1]"
    if column == "dominant":
        return f"({_labels(POLLUTANTS)})[{scheme}_dominant + 1]"
    return f"{scheme}_{column}"


def _encoded(scheme: str, column: str) -> str:
    """The store value of a former row's column: names become codes."""
    if column == "category":
        names = _labels(CATEGORY_NAMES[scheme])
        return f"array_position({names}, max(category) FILTER (WHERE scheme = '{scheme}')) - 1"
    if column == "dominant":
        return f"array_position({_labels(POLLUTANTS)}, max(dominant) FILTER (WHERE scheme = '{scheme}')) - 1"
    raise ValueError(column)


def _view(name: str, store: str, time_col: str, keys: dict) -> str:
    branches = []
    for scheme in SCHEMES:
        common = ", ".join(f"{_decoded(scheme, c)} AS {c}" for c in COMMON)
        branches.append(f"SELECT station_code, '{scheme}'::text AS scheme, {time_col}, {common},\n"
                        f"  {_detail(scheme, keys[scheme])} AS detail, computed_at\nFROM {store}")
    return f"CREATE VIEW {name} AS\n" + "\nUNION ALL\n".join(branches)


def _present() -> str:
    """The presence mask of a pivoted pair of former rows: a pollutant is present if its key was."""
    return " | ".join(f"(CASE WHEN bool_or(detail ? '{p}') THEN {1 << bit} ELSE 0 END)"
                      for bit, p in enumerate(POLLUTANTS))


def _convert(old: str, store: str, time_col: str, shared: list[tuple[str, str]],
             per_scheme: list[tuple[str, str]]) -> str:
    """INSERT … SELECT that pivots the former per-scheme jsonb rows into one store row."""
    def cast(sql: str) -> str:
        return "double precision" if sql.startswith("double") else sql

    columns = ["station_code", time_col, "present"]
    values = ["station_code", time_col, f"({_present()})::smallint"]
    for name, sql in shared:
        columns.append(name)
        values.append(f"max((detail->>'{_key(name)}')::{cast(sql)})")
    for scheme in SCHEMES:
        where = f"FILTER (WHERE scheme = '{scheme}')"
        for c in COMMON:
            columns.append(f"{scheme}_{c}")
            if c in ("provisional", "beyond_scale"):
                values.append(f"coalesce(bool_or({c}) {where}, false)")
            elif c in ("category", "dominant"):
                values.append(f"({_encoded(scheme, c)})::smallint")
            else:
                values.append(f"max({c}) {where}")
        for p in POLLUTANTS:
            columns += [f"{scheme}_{p}_exact", f"{scheme}_{p}_rounded"]
            values += [f"max((detail->'{p}'->>'exact')::double precision) {where}",
                       f"max((detail->'{p}'->>'rounded')::smallint) {where}"]
        for name, sql in per_scheme:
            if name.startswith(f"{scheme}_"):
                columns.append(name)
                values.append(f"max((detail->>'{_key(name)}')::{cast(sql)}) {where}")
    columns.append("computed_at")
    values.append("min(computed_at)")
    return (f"INSERT INTO {store} ({', '.join(columns)})\nSELECT {', '.join(values)}\n"
            f"FROM {old} GROUP BY station_code, {time_col}")


HOURLY_SHARED = [(f"{p}_1h", "double precision") for p in POLLUTANTS]
HOURLY_PER_SCHEME = ([(f"{s}_{p}_nowcast", "double precision") for s in SCHEMES for p in ("pm25", "pm10")]
                     + [("us_o3_8h", "double precision"), ("us_o3_8h_count", "smallint"),
                        ("us_co_8h", "double precision"), ("us_co_8h_count", "smallint")])
# Daily inputs are the same in both schemes (computed from the same hours), except CO's 8-h (US) and 1-h (VN).
DAILY_SHARED = list(DAILY_INPUTS)

# The stored-index tables that no longer have a foreign key to monitoring_stations (one RI check per written row).
FOLLOWERS = ("aqi_hourly_store", "aqi_daily_store", "qcvn_exceedances", "qcvn_summaries", "qcvn_monthly_sums")
FOLLOW_STATIONS = f"""
CREATE FUNCTION aqi_store_follow_stations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- What ON UPDATE / ON DELETE CASCADE did when the stored indices had a foreign key to the station.
  IF TG_OP = 'UPDATE' THEN
    {" ".join(f"UPDATE {t} SET station_code = NEW.code WHERE station_code = OLD.code;" for t in FOLLOWERS)}
    RETURN NEW;
  ELSIF TG_OP = 'DELETE' THEN
    {" ".join(f"DELETE FROM {t} WHERE station_code = OLD.code;" for t in FOLLOWERS)}
    RETURN OLD;
  END IF;
  BEGIN
    TRUNCATE {", ".join(FOLLOWERS)};   -- TRUNCATE monitoring_stations … CASCADE emptied them too
  EXCEPTION WHEN object_in_use THEN
    NULL;   -- they are in the same TRUNCATE statement, which empties them anyway
  END;
  RETURN NULL;
END $$"""


def _grants(table: str) -> list[tuple[str, str]]:
    rows = op.get_bind().exec_driver_sql(
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants "
        f"WHERE table_schema = 'public' AND table_name = '{table}' AND grantee <> current_user").fetchall()
    return [(r[0], r[1]) for r in rows]


def _regrant(table: str, grants: list[tuple[str, str]]) -> None:
    for grantee, privilege in grants:
        if privilege == "SELECT":
            op.execute(f'GRANT SELECT ON {table} TO "{grantee}"')


def upgrade() -> None:
    grants = {t: _grants(t) for t in ("aqi_hourly", "aqi_daily")}
    op.execute(_hourly_ddl())
    op.execute(_daily_ddl())
    op.execute(_convert("aqi_hourly", "aqi_hourly_store", "hour_end", HOURLY_SHARED, HOURLY_PER_SCHEME))
    op.execute(_convert("aqi_daily", "aqi_daily_store", "day", DAILY_SHARED, []))
    op.execute("DROP TABLE aqi_hourly")
    op.execute("DROP TABLE aqi_daily")
    op.execute(_view("aqi_hourly", "aqi_hourly_store", "hour_end", HOURLY_KEYS))
    op.execute(_view("aqi_daily", "aqi_daily_store", "day", DAILY_KEYS))
    for table, granted in grants.items():
        _regrant(table, granted)
    for table in ("qcvn_exceedances", "qcvn_summaries"):
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT {table}_station_code_fkey")
    op.execute("""
CREATE TABLE qcvn_monthly_sums (
  station_code text NOT NULL,
  parameter text NOT NULL,
  month date NOT NULL,
  n_hours integer NOT NULL,
  sum_hi double precision NOT NULL,
  sum_lo double precision NOT NULL,
  PRIMARY KEY (station_code, parameter, month)
)""")
    pollutants = ", ".join(f"'{p}'" for p in POLLUTANTS)
    op.execute(f"""
INSERT INTO qcvn_monthly_sums (station_code, parameter, month, n_hours, sum_hi, sum_lo)
SELECT station_code, parameter,
       date_trunc('month', (measured_at AT TIME ZONE '{LOCAL}') - interval '1 hour')::date,
       count(*), sum(value::numeric)::double precision, 0
FROM measurements
WHERE period = '1h' AND parameter IN ({pollutants}) AND qc_flag IN ('valid', 'suspect') AND value >= 0
GROUP BY 1, 2, 3""")
    op.execute(FOLLOW_STATIONS)
    op.execute("CREATE TRIGGER monitoring_stations_aqi_store_rename AFTER UPDATE OF code ON monitoring_stations "
               "FOR EACH ROW WHEN (OLD.code IS DISTINCT FROM NEW.code) EXECUTE FUNCTION aqi_store_follow_stations()")
    op.execute("CREATE TRIGGER monitoring_stations_aqi_store_delete AFTER DELETE ON monitoring_stations "
               "FOR EACH ROW EXECUTE FUNCTION aqi_store_follow_stations()")
    op.execute("CREATE TRIGGER monitoring_stations_aqi_store_truncate AFTER TRUNCATE ON monitoring_stations "
               "FOR EACH STATEMENT EXECUTE FUNCTION aqi_store_follow_stations()")


def _old_table(name: str, time_col: str, time_type: str) -> str:
    return f"""
CREATE TABLE {name} (
  station_code text NOT NULL REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE,
  scheme text NOT NULL CHECK (scheme IN ('vn', 'us')),
  {time_col} {time_type} NOT NULL,
  aqi smallint,
  category text,
  dominant text,
  provisional boolean NOT NULL DEFAULT false,
  beyond_scale boolean NOT NULL DEFAULT false,
  detail jsonb NOT NULL,
  computed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (station_code, scheme, {time_col})
)"""


def downgrade() -> None:
    grants = {t: _grants(t) for t in ("aqi_hourly", "aqi_daily")}
    op.execute("DROP TABLE qcvn_monthly_sums")
    op.execute("DROP TRIGGER monitoring_stations_aqi_store_truncate ON monitoring_stations")
    op.execute("DROP TRIGGER monitoring_stations_aqi_store_delete ON monitoring_stations")
    op.execute("DROP TRIGGER monitoring_stations_aqi_store_rename ON monitoring_stations")
    op.execute("DROP FUNCTION aqi_store_follow_stations()")
    for table in ("qcvn_exceedances", "qcvn_summaries"):
        op.execute(f"DELETE FROM {table} t WHERE NOT EXISTS (SELECT 1 FROM monitoring_stations s WHERE s.code = "
                   "t.station_code)")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_station_code_fkey FOREIGN KEY (station_code) "
                   "REFERENCES monitoring_stations(code) ON UPDATE CASCADE ON DELETE CASCADE")
    for view, store, time_col, time_type in (("aqi_hourly", "aqi_hourly_store", "hour_end", "timestamptz"),
                                             ("aqi_daily", "aqi_daily_store", "day", "date")):
        op.execute(_old_table(f"{view}_old", time_col, time_type))
        op.execute(f"INSERT INTO {view}_old SELECT * FROM {view}")
        op.execute(f"DROP VIEW {view}")
        op.execute(f"DROP TABLE {store}")
        op.execute(f"ALTER TABLE {view}_old RENAME TO {view}")
        op.execute(f"ALTER TABLE {view} RENAME CONSTRAINT {view}_old_pkey TO {view}_pkey")
        op.execute(f"ALTER TABLE {view} RENAME CONSTRAINT {view}_old_scheme_check TO {view}_scheme_check")
        op.execute(f"ALTER TABLE {view} RENAME CONSTRAINT {view}_old_station_code_fkey TO {view}_station_code_fkey")
        _regrant(view, grants[view])
