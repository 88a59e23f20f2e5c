"""Bulk writer of stored index rows: numpy columns → one binary COPY stream, NULLs and text included.

The stored AQI is ~1/3 of a row per loaded reading, so the writer must cost next to nothing per row. Each column
is one numpy array; the rows are laid out as one structured array with every field at its widest (a float8 is
always 4 + 8 bytes, a text field 4 + its longest value), then the bytes a row does not use — the data of a NULL
field, the unused tail of a shorter text — are dropped with one boolean mask. No per-row Python anywhere.
"""
from __future__ import annotations

import queue
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import psycopg

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
CHUNK_ROWS = 8_192
EPOCH_2000_US = 946_684_800_000_000     # PostgreSQL's binary timestamps count µs from 2000-01-01 UTC
EPOCH_2000_DAY = 10_957                 # … and dates count days from 2000-01-01 (10,957 days after 1970-01-01)
_FIXED = {"int2": (">i2", 2), "int4": (">i4", 4), "int8": (">i8", 8), "float8": (">f8", 8), "bool": ("u1", 1),
          "timestamptz": (">i8", 8), "date": (">i4", 4)}


@dataclass
class Column:
    """One column to COPY: its name, PostgreSQL type and values; ``null`` marks the NULLs (NaN floats are NULL).

    ``timestamptz`` values are epoch microseconds (int64), ``date`` values epoch days; ``text`` values are either
    a numpy bytes array or integer codes into ``labels`` (a negative code is NULL).
    """

    name: str
    pgtype: str
    values: np.ndarray
    null: np.ndarray | None = None
    labels: Sequence[str] | None = None


def _text(column: Column) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """A text column as (fixed-width bytes, byte lengths, NULL mask)."""
    if column.labels is not None:
        codes = np.asarray(column.values, dtype="int64")
        encoded = [label.encode() for label in column.labels] or [b""]
        table = np.array(encoded, dtype=f"S{max(1, max(len(e) for e in encoded))}")
        sizes = np.array([len(e) for e in encoded], dtype="int64")
        null = codes < 0
        safe = np.where(null, 0, codes)
        return table[safe], np.where(null, 0, sizes[safe]), (null if null.any() else None)
    values = np.asarray(column.values)
    if values.dtype.kind != "S":
        values = np.array([str(v).encode() for v in values], dtype="S")
    if values.dtype.itemsize == 0:
        values = values.astype("S1")
    sizes = np.char.str_len(values).astype("int64")
    return values, sizes, column.null


@dataclass
class _Prepared:
    dtype: str                 # numpy dtype of the field's data (text: bytes of the longest value)
    values: np.ndarray
    null: np.ndarray | None
    sizes: np.ndarray | None   # text: each value's length in bytes


def _prepare(column: Column) -> _Prepared:
    if column.pgtype == "text":
        values, sizes, null = _text(column)
        return _Prepared(values.dtype.str, values, null, sizes)
    dtype, _size = _FIXED[column.pgtype]
    values = np.asarray(column.values)
    null = column.null
    if column.pgtype == "float8":
        nan = np.isnan(values)
        null = nan if null is None else (null | nan)
    return _Prepared(dtype, values.astype(dtype, copy=False), null if null is not None and null.any() else None,
                     None)


def _runs(prepared: list[_Prepared], n: int) -> list[tuple[int, int]]:
    """[a, b) runs of rows whose text values all have the same byte lengths (a station's rows, typically)."""
    text = [p.sizes for p in prepared if p.sizes is not None]
    if not text:
        return [(0, n)]
    sizes = np.stack(text)
    change = np.flatnonzero((sizes[:, 1:] != sizes[:, :-1]).any(axis=0)) + 1
    bounds = [0, *change.tolist(), n]
    return list(zip(bounds[:-1], bounds[1:]))


def _chunks(runs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Runs cut to at most CHUNK_ROWS rows: buffers of a few MB are reused by the allocator, where buffers of
    tens of MB are mapped afresh each time (page faults cost more than the copying)."""
    return [(lo, min(lo + CHUNK_ROWS, b)) for a, b in runs for lo in range(a, b, CHUNK_ROWS)]


def _layout(prepared: list[_Prepared], a: int, b: int) -> tuple[np.ndarray, list[int]]:
    """Rows [a, b) as one structured array: each field its 4-byte length, then its data at its width."""
    fields: list[tuple[str, str]] = [("count", ">i2")]
    widths = []
    for i, p in enumerate(prepared):
        width = int(p.sizes[a]) if p.sizes is not None else np.dtype(p.dtype).itemsize
        widths.append(width)
        fields.append((f"len{i}", ">i4"))
        if width:                                    # an empty (or NULL) text has no data bytes at all
            fields.append((f"val{i}", f"S{width}" if p.sizes is not None else p.dtype))
    template = np.zeros(1, dtype=np.dtype(fields))
    template["count"] = len(prepared)
    for i, width in enumerate(widths):
        template[f"len{i}"] = width
    out = np.repeat(template, b - a)                 # every length set at once; NULLs are marked below
    for i, (p, width) in enumerate(zip(prepared, widths)):
        if width:
            out[f"val{i}"] = p.values[a:b]
        if p.null is not None:
            out[f"len{i}"][p.null[a:b]] = -1
    return out, widths


def encode_parts(columns: list[Column]) -> Iterator[bytes | memoryview]:
    """The COPY BINARY rows (no header or trailer) of ``columns``, all of one length, as a few buffers.

    Rows are laid out at fixed width in runs of equal text lengths (a station's code has one length); a run's rows
    without a NULL go out as they are, the bytes its rows with NULLs do not use are dropped with a mask.
    """
    n = len(columns[0].values)
    prepared = [_prepare(c) for c in columns]
    any_null = np.zeros(n, dtype=bool)
    for p in prepared:
        if p.null is not None:
            any_null |= p.null
    runs = _runs(prepared, n)
    if len(runs) > 64:                               # text lengths in no order: group them first
        order = np.lexsort([p.sizes for p in prepared if p.sizes is not None])
        prepared = [_Prepared(p.dtype, p.values[order], None if p.null is None else p.null[order],
                              None if p.sizes is None else p.sizes[order]) for p in prepared]
        any_null = any_null[order]
        runs = _runs(prepared, n)
    for a, b in _chunks(runs):
        laid, widths = _layout(prepared, a, b)
        rows = laid.view(np.uint8).reshape(b - a, laid.dtype.itemsize)   # (a 2-D byte view selects rows fast)
        nulls = any_null[a:b]
        if not nulls.any():
            yield memoryview(rows).cast("B")
            continue
        if not nulls.all():
            yield memoryview(np.compress(~nulls, rows, axis=0)).cast("B")
        raw = np.compress(nulls, rows, axis=0)
        keep = np.ones(raw.shape, dtype=bool)
        for i, (p, width) in enumerate(zip(prepared, widths)):
            if p.null is not None and width:
                offset = laid.dtype.fields[f"val{i}"][1]
                keep[np.flatnonzero(p.null[a:b][nulls]), offset:offset + width] = False
        yield raw[keep].tobytes()


def encode(columns: list[Column]) -> bytes:
    """The COPY BINARY rows of ``columns`` as one bytes object (see encode_parts)."""
    return b"".join(bytes(part) for part in encode_parts(columns))


def copy_rows(conn: psycopg.Connection, table: str, columns: list[Column]) -> int:
    """COPY the columns into ``table`` in binary; returns the number of rows."""
    n = len(columns[0].values) if columns else 0
    if not n:
        return 0
    names = ", ".join(f'"{c.name}"' for c in columns)
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.write(_HEADER)
        for part in encode_parts(columns):
            copy.write(part)
        copy.write(_TRAILER)
    return n


class StreamedCopy:
    """A binary COPY written by a thread of its own while this one computes the next rows.

    ``send`` hands over a block of columns (in ``names`` order); the writer encodes it and streams it to the
    server, which takes rows in while the caller computes (numpy and the socket both let go of the GIL). The
    connection is the writer's alone until the ``with`` block ends; the caller must not use it meanwhile. An error
    on either side aborts the COPY (the transaction is then failed, as with any failed statement).
    """

    _END = object()

    def __init__(self, conn: psycopg.Connection, table: str, names: Sequence[str], depth: int = 2):
        self.conn, self.table, self.names = conn, table, list(names)
        self.rows = 0
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._write, name=f"copy {table}", daemon=True)
        self._error: BaseException | None = None

    def __enter__(self) -> StreamedCopy:
        self._thread.start()
        return self

    def send(self, columns: list[Column]) -> None:
        if [c.name for c in columns] != self.names:
            raise ValueError(f"columns {[c.name for c in columns]} are not {self.names}")
        self._put(columns)

    def _put(self, item: object) -> None:
        while True:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"COPY {self.table} stopped") from self._error
            try:
                self._queue.put(item, timeout=0.05)
                return
            except queue.Full:
                continue

    def _write(self) -> None:
        try:
            names = ", ".join(f'"{n}"' for n in self.names)
            with self.conn.cursor() as cur, cur.copy(f"COPY {self.table} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(_HEADER)
                while (item := self._queue.get()) is not self._END:
                    if isinstance(item, BaseException):
                        raise item                   # the caller failed: abort the COPY
                    for part in encode_parts(item):
                        copy.write(part)
                    self.rows += len(item[0].values)
                copy.write(_TRAILER)
        except BaseException as exc:  # handed to the caller's thread
            self._error = exc

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> None:
        if self._thread.is_alive():
            item = self._END if exc is None else RuntimeError(f"aborted: {exc!r}")
            while self._thread.is_alive():
                try:
                    self._queue.put(item, timeout=0.05)
                    break
                except queue.Full:
                    continue
            self._thread.join()
        if exc is None and self._error is not None:
            raise self._error


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
