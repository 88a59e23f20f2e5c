"""The bulk writer of stored index rows: numpy columns → binary COPY, with NULLs and text of any length."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import numpy as np

from geo.db import raw_connection
from ingest.index_store import EPOCH_2000_DAY, EPOCH_2000_US, Column, copy_rows, round6


def test_copy_rows_round_trip(engine):
    rng = np.random.default_rng(0)
    n = 30_000
    floats = rng.normal(50, 30, n)
    floats[rng.random(n) < 0.3] = np.nan
    shorts = rng.integers(-300, 300, n)
    short_null = rng.random(n) < 0.2
    codes = rng.integers(-1, 3, n)
    labels = ["Tốt", "Trung bình", "Không tốt cho nhóm nhạy cảm"]
    # text whose lengths change in runs (station codes) and at random, the empty string included
    text = np.array([b"ST-1", b"SMP-\xc4\x90T7", b"", b"x"])[np.repeat(rng.integers(0, 4, n // 100), 100)]
    text[rng.random(n) < 0.05] = b"KCN-VSIP-\xc3\xa1"
    micros = (np.arange(n) * 3_600_000_000 + 1_700_000_000_000_000 - EPOCH_2000_US).astype("int64")
    days = np.arange(n) % 20_000 - EPOCH_2000_DAY
    flags = rng.random(n) < 0.5
    columns = [Column("f", "float8", floats), Column("s", "int2", shorts, short_null),
               Column("c", "text", codes, labels=labels), Column("t", "text", text),
               Column("ts", "timestamptz", micros), Column("d", "date", days), Column("b", "bool", flags),
               Column("i", "int4", shorts * 1000), Column("l", "int8", micros)]
    with raw_connection(engine) as conn:
        conn.execute("CREATE TEMP TABLE copied (f float8, s smallint, c text, t text, ts timestamptz, d date, "
                     "b boolean, i integer, l bigint)")
        assert copy_rows(conn, "copied", columns) == n
        rows = conn.execute("SELECT * FROM copied").fetchall()
        conn.rollback()
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    expected = {(None if np.isnan(floats[k]) else float(floats[k]), None if short_null[k] else int(shorts[k]),
                 None if codes[k] < 0 else labels[codes[k]], text[k].decode(),
                 epoch + timedelta(microseconds=int(micros[k] + EPOCH_2000_US)),
                 date(1970, 1, 1) + timedelta(days=int(days[k] + EPOCH_2000_DAY)), bool(flags[k]),
                 int(shorts[k]) * 1000, int(micros[k])) for k in range(n)}
    assert len(rows) == n and set(rows) == expected


def test_round6_is_pythons_round():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0, 200, 20_000), np.round(rng.normal(0, 200, 20_000), 7) + 5e-7,
                        [0.0000005, 2.5e-6, 1234.5678905, np.nan]])
    got = round6(x)
    assert all((np.isnan(a) and np.isnan(b)) or a == round(float(b), 6) for a, b in zip(got, x))
