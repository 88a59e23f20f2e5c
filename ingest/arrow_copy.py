"""PostgreSQL binary COPY rows assembled by Arrow's C++ kernels from whole columns.

A binary COPY row is ``int16 field count`` then, per field, ``int32 length`` (-1 for NULL) and the value in its
binary "send" form (big-endian). Each part is built for all rows at once as an Arrow binary array (fixed-width
parts from numpy big-endian bytes, text and bytea as they are), and ``binary_join_element_wise`` concatenates the
parts of every row in C++: the data buffer of the result is the rows back to back, ready for ``Copy.write``.
No Python object is made per row or per value, whatever the lengths of the values (free text, geometries);
``ingest.pgcopy`` does the same with numpy layouts for tables whose values fall in few length classes.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import psycopg
from psycopg import sql

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8
TRAILER = b"\xff\xff"
_PG_EPOCH_DAYS = 10_957  # 2000-01-01 in days since 1970-01-01
_FIXED = {"int8": (">i8", 8), "int4": (">i4", 4), "float8": (">f8", 8), "bool": ("u1", 1), "date": (">i4", 4)}


@dataclass(frozen=True)
class Field:
    """One column: ``kind`` is int8 / int4 / float8 / bool / date (fixed width) or text / bytes (as is)."""

    name: str
    kind: str
    values: pa.Array


def _fixed_binary(data: np.ndarray, width: int, valid: np.ndarray | None) -> pa.Array:
    buffers = [None if valid is None else pa.array(valid, type=pa.bool_()).buffers()[1],
               pa.py_buffer(np.ascontiguousarray(data).tobytes())]
    null_count = 0 if valid is None else int((~valid).sum())
    arr = pa.FixedSizeBinaryArray.from_buffers(pa.binary(width), len(data), buffers, null_count=null_count)
    return arr.cast(pa.binary())


def repeat_bytes(value: bytes, n: int) -> pa.Array:
    """``value`` on each of ``n`` rows, as an Arrow binary array (NUL bytes kept)."""
    return _fixed_binary(np.frombuffer(value * n, dtype=np.uint8).reshape(n, len(value)), len(value), None) \
        if value else pa.array([b""] * n, type=pa.binary())


def _int32_be(values: np.ndarray) -> pa.Array:
    return _fixed_binary(values.astype(">i4"), 4, None)


def _parts(field: Field) -> list[pa.Array]:
    """[length prefix, value] of every row of one column, as binary arrays (NULL values empty)."""
    arr = field.values
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    n = len(arr)
    valid = None if arr.null_count == 0 else np.asarray(arr.is_valid().to_numpy(zero_copy_only=False))
    if field.kind in _FIXED:
        dtype, width = _FIXED[field.kind]
        if field.kind == "date":
            raw = arr.cast(pa.int32()).fill_null(0).to_numpy() - _PG_EPOCH_DAYS
        elif field.kind == "bool":
            raw = arr.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8)
        else:
            raw = arr.fill_null(0).to_numpy(zero_copy_only=False)
        lengths = np.full(n, width, dtype=np.int64)
        if valid is not None:
            lengths[~valid] = -1
        return [_int32_be(lengths), _fixed_binary(raw.astype(dtype), width, valid)]
    binary = arr.cast(pa.binary()) if field.kind == "text" else arr
    lengths = pc.binary_length(binary).fill_null(-1).to_numpy(zero_copy_only=False)
    return [_int32_be(lengths), binary]


def encode(fields: Sequence[Field]) -> pa.Buffer:
    """The rows of the binary COPY stream (without header and trailer), as one Arrow buffer."""
    n = len(fields[0].values)
    parts: list[pa.Array] = [_fixed_binary(np.full(n, len(fields), dtype=">i2"), 2, None)]
    for f in fields:
        if len(f.values) != n:
            raise ValueError(f"column {f.name} has {len(f.values)} values, expected {n}")
        parts += _parts(f)
    rows = pc.binary_join_element_wise(*parts, b"", null_handling="replace", null_replacement=b"")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32, count=n + 1, offset=rows.offset * 4)
    return rows.buffers()[2][int(offsets[0]):int(offsets[-1])]


def copy(conn: psycopg.Connection, table: sql.Composable, fields: Sequence[Field], *,
         chunk_rows: int = 50_000) -> int:
    """``COPY table (fields) FROM STDIN (FORMAT BINARY)``; returns the rows sent.

    Rows are encoded ``chunk_rows`` at a time (the 32-bit offsets of an Arrow binary array cap a chunk at 2 GB).
    """
    n = len(fields[0].values) if fields else 0
    q = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(sql.Identifier(f.name) for f in fields))
    with conn.cursor() as cur, cur.copy(q) as cp:
        cp.write(HEADER)
        for lo in range(0, n, chunk_rows):
            chunk = [Field(f.name, f.kind, f.values.slice(lo, chunk_rows)) for f in fields]
            cp.write(memoryview(encode(chunk)))
        cp.write(TRAILER)
    return n
