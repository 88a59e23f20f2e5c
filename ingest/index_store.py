"""Fast writer of stored AQI rows (aqi_hourly / aqi_daily): one binary COPY of numbers, JSON built by PostgreSQL.

A year of hourly AQI for 100 stations is 1.75 million rows with a ``detail`` object each. Building those objects
in Python (a dict and a json.dumps per row) cost ~100 µs a row; here every column is one numpy array, the rows
go to a temporary table as a single binary COPY buffer (fixed-width fields, so the buffer is one structured
array), and ``jsonb_build_object`` assembles the detail in the server. The stored detail is the same as the
per-row build gave: ``{"<p>": {"exact": round(x, 6), "rounded": n}, "<input>": value}`` with nulls kept, keys
only for the pollutants and inputs present in that station's frame, counts as integers.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pandas as pd
import psycopg

from geo.aqi import POLLUTANTS

INPUT_SUFFIXES = ("_nowcast", "_mean", "_count", "_max_1h", "_max_8h", "_8h", "_1h")
INT_NA = -(2 ** 31)           # int4 sentinel for a missing integer (NULLIF'd back to NULL in SQL)
BIGINT_NA = -(2 ** 63)
_EPOCH_2000_US = 946_684_800_000_000   # PostgreSQL's binary timestamps count µs from 2000-01-01 UTC
_EPOCH_2000_DAY = np.datetime64("2000-01-01", "D")
_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
STAGE = "aqi_stage"


@dataclass
class IndexFrame:
    """One station's computed rows in one scheme, already cut to the hours/days to store."""

    station: str
    scheme: str
    frame: pd.DataFrame

    @property
    def pollutants(self) -> list[str]:
        return [p for p in POLLUTANTS if f"{p}_exact" in self.frame.columns]

    @property
    def inputs(self) -> list[str]:
        return [c for c in self.frame.columns if c.endswith(INPUT_SUFFIXES)]


def round6(values: np.ndarray) -> np.ndarray:
    """``round(x, 6)`` of Python for a whole array: rint(x·10⁶)/10⁶, with Python's exact rounding where near a tie.

    x·10⁶ carries a rounding error, so when its fraction is within 10⁻⁶ of one half numpy may pick the other
    neighbour than Python's correctly rounded ``round``; those few elements are redone in Python.
    """
    x = np.asarray(values, dtype="float64")
    scaled = x * 1e6
    out = np.rint(scaled) / 1e6
    frac = scaled - np.floor(scaled)
    near = np.flatnonzero(np.isfinite(x) & (np.abs(frac - 0.5) < 1e-6))
    for i in near:
        out[i] = round(float(x[i]), 6)
    return out


def _int_array(column: pd.Series, sentinel: int) -> np.ndarray:
    return column.astype("float64").fillna(float(sentinel)).to_numpy().astype("int64")


def _is_integer(column: pd.Series) -> bool:
    # Counts (int64) and flags (bool) are stored as integers, floats (means, NowCasts, readings) as floats.
    return isinstance(column.dtype, np.dtype) and column.dtype.kind in "biu"


def _time_array(index: pd.Index, daily: bool) -> np.ndarray:
    if daily:
        days = pd.DatetimeIndex(index).to_numpy().astype("datetime64[D]")
        return (days - _EPOCH_2000_DAY).astype("int64")
    stamps = pd.DatetimeIndex(index).tz_convert("UTC").as_unit("us").asi8
    return stamps - _EPOCH_2000_US


def _columns(parts: list[IndexFrame], daily: bool) -> tuple[dict[str, tuple[str, np.ndarray]], list[str], list[str]]:
    """Every staged column as (SQL type, values), the categories and dominants code lists."""
    frames = [p.frame for p in parts]
    both = pd.concat([f[["category", "dominant"]].astype(object) for f in frames], ignore_index=True)
    categories = sorted({str(v) for v in both["category"].dropna()})
    dominants = sorted({str(v) for v in both["dominant"].dropna()})
    cols: dict[str, tuple[str, np.ndarray]] = {
        "frame_id": ("int4", np.concatenate([np.full(len(p.frame), i) for i, p in enumerate(parts)])),
        "t": ("int4" if daily else "int8", np.concatenate([_time_array(f.index, daily) for f in frames])),
        "aqi": ("int4", np.concatenate([_int_array(f["aqi"], INT_NA) for f in frames])),
        "category": ("int4", pd.Categorical(both["category"], categories=categories).codes.astype("int64") + 1),
        "dominant": ("int4", pd.Categorical(both["dominant"], categories=dominants).codes.astype("int64") + 1),
        "provisional": ("bool", np.concatenate([f["provisional"].astype(bool).to_numpy() for f in frames])),
        "beyond_scale": ("bool", np.concatenate([f["beyond_scale"].astype(bool).to_numpy() for f in frames])),
    }
    pollutants = [p for p in POLLUTANTS if any(p in part.pollutants for part in parts)]
    for p in pollutants:
        cols[f"{p}_exact"] = ("float8", np.concatenate([
            round6(f[f"{p}_exact"].astype("float64").to_numpy()) if f"{p}_exact" in f else np.full(len(f), np.nan)
            for f in frames]))
        cols[f"{p}_rounded"] = ("int4", np.concatenate([
            _int_array(f[f"{p}_rounded"], INT_NA) if f"{p}_rounded" in f else np.full(len(f), INT_NA)
            for f in frames]))
    inputs = list(dict.fromkeys(name for part in parts for name in part.inputs))
    for name in inputs:
        integer = any(_is_integer(f[name]) for f in frames if name in f)
        if integer:
            cols[name] = ("int8", np.concatenate([_int_array(f[name], BIGINT_NA) if name in f
                                                  else np.full(len(f), BIGINT_NA) for f in frames]))
        else:
            cols[name] = ("float8", np.concatenate([f[name].astype("float64").to_numpy() if name in f
                                                    else np.full(len(f), np.nan) for f in frames]))
    return cols, categories, dominants


_NUMPY = {"int4": ">i4", "int8": ">i8", "float8": ">f8", "bool": "?"}
_SIZE = {"int4": 4, "int8": 8, "float8": 8, "bool": 1}


def _binary_copy(columns: dict[str, tuple[str, np.ndarray]]) -> bytes:
    """The COPY BINARY stream of fixed-width, never-NULL fields: one structured array, no per-row Python."""
    n = len(next(iter(columns.values()))[1])
    fields = [("count", ">i2")]
    for i, (_name, (sql, _values)) in enumerate(columns.items()):
        fields += [(f"len{i}", ">i4"), (f"val{i}", _NUMPY[sql])]
    rows = np.empty(n, dtype=np.dtype(fields))
    rows["count"] = len(columns)
    for i, (_name, (sql, values)) in enumerate(columns.items()):
        rows[f"len{i}"] = _SIZE[sql]
        rows[f"val{i}"] = values
    return _HEADER + rows.tobytes() + _TRAILER


def _detail_sql(columns: dict[str, tuple[str, np.ndarray]], pollutants: list[str], inputs: list[str]) -> str:
    pairs = []
    for p in pollutants:
        pairs.append(f"'{p}', jsonb_build_object('exact', NULLIF(s.\"{p}_exact\", 'NaN'::float8), "
                     f"'rounded', NULLIF(s.\"{p}_rounded\", {INT_NA}))")
    for name in inputs:
        sql = columns[name][0]
        na = "'NaN'::float8" if sql == "float8" else str(BIGINT_NA)
        pairs.append(f"'{name}', NULLIF(s.\"{name}\", {na})")
    # Keys a station's frame does not have are removed again (f.absent), as the per-row build never wrote them.
    return f"(jsonb_build_object({', '.join(pairs)}) - f.absent)" if pairs else "'{}'::jsonb"


def write_index_frames(conn: psycopg.Connection, table: str, parts: list[IndexFrame]) -> int:
    """Insert the rows of ``parts`` into aqi_hourly or aqi_daily; returns the number of rows written."""
    parts = [p for p in parts if len(p.frame)]
    if not parts:
        return 0
    daily = table == "aqi_daily"
    columns, categories, dominants = _columns(parts, daily)
    pollutants = [c[:-6] for c in columns if c.endswith("_exact")]
    inputs = [c for c in columns if c.endswith(INPUT_SUFFIXES)]
    absent = [[k for k in (*pollutants, *inputs) if k not in (*p.pollutants, *p.inputs)] for p in parts]
    conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE}_frames (frame_id int4, station text, scheme text, "
                 "absent text[]) ON COMMIT DROP")
    conn.execute(f"DROP TABLE IF EXISTS {STAGE}")
    conn.execute(f"TRUNCATE {STAGE}_frames")
    definition = ", ".join(f'"{name}" {sql}' for name, (sql, _values) in columns.items())
    conn.execute(f"CREATE TEMP TABLE {STAGE} ({definition}) ON COMMIT DROP")
    with conn.cursor() as cur:
        cur.executemany(f"INSERT INTO {STAGE}_frames VALUES (%s, %s, %s, %s)",
                        [(i, p.station, p.scheme, a) for i, (p, a) in enumerate(zip(parts, absent))])
        with cur.copy(f"COPY {STAGE} FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_binary_copy(columns))
    time_sql = ("DATE '2000-01-01' + s.t" if daily
                else "TIMESTAMPTZ '2000-01-01 00:00:00+00' + s.t * INTERVAL '1 microsecond'")
    time_col = "day" if daily else "hour_end"
    inserted = conn.execute(
        f"INSERT INTO {table} (station_code, scheme, {time_col}, aqi, category, dominant, provisional, "
        f"beyond_scale, detail) SELECT f.station, f.scheme, {time_sql}, NULLIF(s.aqi, {INT_NA})::smallint, "
        f"(%(categories)s::text[])[s.category], (%(dominants)s::text[])[s.dominant], s.provisional, "
        f"s.beyond_scale, {_detail_sql(columns, pollutants, inputs)} "
        f"FROM {STAGE} s JOIN {STAGE}_frames f USING (frame_id)",
        {"categories": categories, "dominants": dominants}).rowcount
    conn.execute(f"DROP TABLE {STAGE}")
    return inserted
