"""The numpy binary-COPY encoder (ingest/pgcopy.py): what it sends is what psycopg's own row writer sends."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import psycopg
import pytest
from sqlalchemy import Engine

from geo.db import raw_connection
from ingest import pgcopy

TYPES = ["text", "timestamptz", "float8", "int4", "text", "bytea", "text", "int8", "bool", "date", "timestamptz",
         "int8", "int2", "float4", "timestamp"]
TABLE = ("a text, b timestamptz, c float8, d int4, e text, f bytea, g text, h int8, i bool, j date, k timestamptz, "
         "l int8, m int2, n float4, o timestamp")


def _data(n: int, seed: int = 1) -> tuple[list[pgcopy.Column], list[tuple]]:
    """Columns of every supported kind (NULLs, Unicode, NUL bytes in bytea) and the same rows as Python tuples."""
    rng = np.random.default_rng(seed)
    station = pd.Series(pd.Categorical(rng.choice(["A", "BB", "Trạm-Ü", None], n)))
    t = pd.Series(pd.to_datetime(rng.integers(-10**9, 2 * 10**9, n), unit="s", utc=True)).dt.as_unit("us")
    t[::7] = pd.NaT
    v = rng.normal(size=n) * 1e3
    v[::5] = np.nan
    free = [None if i % 11 == 0 else "x" * (i % 37) + "é" for i in range(n)]
    blobs = [None if i % 3 == 0 else bytes([i % 256, 0, 0]) * (i % 5) for i in range(n)]
    flag = np.arange(n) % 2 == 0
    small = (np.arange(n) % 300 - 150).astype(np.int16)
    naive = pd.Series(pd.to_datetime(rng.integers(0, 10**9, n), unit="s")).dt.as_unit("us")
    columns = [pgcopy.text("a", station), pgcopy.timestamptz("b", t), pgcopy.float8("c", v, null=np.isnan(v)),
               pgcopy.int4("d", np.arange(n)), pgcopy.text("e", free), pgcopy.bytea("f", blobs),
               pgcopy.constant("g", "provisional", n), pgcopy.constant("h", 42, n, "int8"),
               pgcopy.boolean("i", flag, null=np.arange(n) % 3 == 0),
               pgcopy.date("j", np.array(["2024-01-02"] * n, dtype="datetime64[D]")),
               pgcopy.constant("k", pd.Timestamp("2024-05-01T03:00Z"), n, "timestamptz"),
               pgcopy.constant("l", None, n, "int8"), pgcopy.int2("m", small),
               pgcopy.float4("n", v.astype(np.float32), null=np.isnan(v)), pgcopy.timestamp("o", naive)]
    rows = [(None if pd.isna(station[i]) else station[i], None if pd.isna(t[i]) else t[i].to_pydatetime(),
             None if np.isnan(v[i]) else float(v[i]), i, free[i], blobs[i], "provisional", 42,
             None if i % 3 == 0 else bool(flag[i]), dt.date(2024, 1, 2), dt.datetime(2024, 5, 1, 3, tzinfo=dt.UTC),
             None, int(small[i]), None if np.isnan(v[i]) else float(np.float32(v[i])), naive[i].to_pydatetime())
            for i in range(n)]
    return columns, rows


def _same(conn: psycopg.Connection, a: str, b: str) -> bool:
    one = conn.execute(f"SELECT count(*) FROM (SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b}) x").fetchone()[0]
    two = conn.execute(f"SELECT count(*) FROM (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a}) x").fetchone()[0]
    return one == two == 0


@pytest.fixture
def conn(engine: Engine):
    with raw_connection(engine) as c:
        c.execute(f"CREATE TEMP TABLE enc ({TABLE})")
        c.execute(f"CREATE TEMP TABLE ref ({TABLE})")
        yield c
        c.rollback()


def _reference(conn: psycopg.Connection, rows: list[tuple], order: np.ndarray) -> None:
    with conn.cursor() as cur, cur.copy("COPY ref FROM STDIN (FORMAT BINARY)") as cp:
        cp.set_types(TYPES)
        for i in order:
            cp.write_row(rows[i])


@pytest.mark.parametrize("path", ["layout", "scatter"])
def test_encoded_rows_equal_psycopg_rows(conn, monkeypatch, path):
    n = 5000
    columns, rows = _data(n)
    if path == "layout":
        # Without the free-text and bytea columns every row has one of a few layouts.
        keep = [k for k, c in enumerate(columns) if c.name not in ("e", "f")]
        columns = [columns[k] for k in keep]
        rows = [tuple(r[k] for k in keep) for r in rows]
        conn.execute("CREATE TEMP TABLE enc2 AS SELECT a, b, c, d, g, h, i, j, k, l, m, n, o FROM enc LIMIT 0")
        conn.execute("CREATE TEMP TABLE ref2 AS SELECT * FROM enc2 LIMIT 0")
        enc, ref, types = "enc2", "ref2", [TYPES[k] for k in keep]
    else:
        monkeypatch.setattr(pgcopy, "MAX_LAYOUTS", 0)
        enc, ref, types = "enc", "ref", TYPES
    order = np.random.default_rng(2).permutation(n)
    with conn.cursor() as cur:
        assert pgcopy.copy_columns(cur, enc, columns, order) == n
        with cur.copy(f"COPY {ref} FROM STDIN (FORMAT BINARY)") as cp:
            cp.set_types(types)
            for i in order:
                cp.write_row(rows[i])
    assert conn.execute(f"SELECT count(*) FROM {enc}").fetchone()[0] == n
    assert _same(conn, enc, ref)


def test_row_order_is_kept_across_layouts_and_blocks(conn):
    """Rows arrive in the requested order even when consecutive rows alternate between layouts."""
    n = 3000
    ids = np.arange(n)
    value = np.where(ids % 3 == 0, np.nan, ids * 1.5)
    unit = pd.Series(pd.Categorical(np.where(ids % 2 == 0, "µg/m³", "ppb")))
    order = np.random.default_rng(3).permutation(n)
    conn.execute("CREATE TEMP TABLE seq (pos bigserial, d int4, c float8, u text)")
    cols = [pgcopy.int4("d", ids), pgcopy.float8("c", value, null=np.isnan(value)), pgcopy.text("u", unit)]
    with conn.cursor() as cur, cur.copy("COPY seq (d, c, u) FROM STDIN (FORMAT BINARY)") as cp:
        for chunk in pgcopy.encode(cols, order, chunk_bytes=1000, block_rows=256):
            cp.write(chunk)
    got = conn.execute("SELECT d, c, u FROM seq ORDER BY pos").fetchall()
    assert [r[0] for r in got] == order.tolist()
    assert all((r[1] is None) == (r[0] % 3 == 0) and r[2] == ("µg/m³" if r[0] % 2 == 0 else "ppb") for r in got)


def test_empty_and_mismatched_input(conn):
    assert b"".join(pgcopy.encode([pgcopy.int4("d", np.zeros(0, dtype=np.int64))])) == pgcopy.HEADER + pgcopy.TRAILER
    with conn.cursor() as cur:
        assert pgcopy.copy_columns(cur, "enc", [pgcopy.int4("d", np.zeros(0, dtype=np.int64))]) == 0
    with pytest.raises(ValueError, match="differ in length"):
        list(pgcopy.encode([pgcopy.int4("a", [1, 2]), pgcopy.int4("b", [1])]))
    with pytest.raises(TypeError, match="datetime64"):
        pgcopy.timestamptz("t", np.arange(3))


def test_layouts_are_few_for_dictionary_text():
    """Layout detection: one layout per combination of NULL pattern and text length, not per value."""
    n = 10_000
    codes = np.arange(n) % 4
    cols = [pgcopy.text_codes("s", codes, ["ab", "cd", "efg", "hij"]),
            pgcopy.float8("v", np.where(codes == 0, np.nan, 1.0), null=codes == 0)]
    layout, layouts = pgcopy._layouts([pgcopy._width_classes(c) for c in cols], n)
    assert len(layouts) == 3 and sorted(layouts.tolist()) == [[2, -1], [2, 8], [3, 8]]
    assert len(np.unique(layout)) == 3
