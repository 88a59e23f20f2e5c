"""PostgreSQL binary COPY encoded from whole numpy columns (no Python object per row).

psycopg's ``Copy.write_row`` converts one Python tuple per row (about 4 µs a row); this module turns columns
into the bytes of ``COPY … FROM STDIN (FORMAT BINARY)`` with numpy, about 0.1–0.3 µs a row.

The format (PostgreSQL manual, COPY, "Binary Format"): a 19-byte header (``PGCOPY\\n\\377\\r\\n\\0``, int32 flags,
int32 header-extension length), then per row an int16 field count and, per field, an int32 byte length (-1 for
NULL) followed by the value in the type's binary "send" form, big-endian; an int16 -1 ends the data.

Columns are built with the helpers below (one per PostgreSQL type: ``int2``/``int4``/``int8``, ``float4``/
``float8``, ``boolean``, ``timestamptz``/``timestamp``, ``date``, ``text``/``text_codes``, ``bytea``,
``constant``) and written with ``encode`` (an iterator of ``bytes`` chunks, header and trailer included) or
``copy_columns`` (runs the COPY on a psycopg cursor)::

    cols = [pgcopy.text("code", codes_series), pgcopy.timestamptz("at", times), pgcopy.float8("v", values)]
    pgcopy.copy_columns(cur, "my_table", cols)          # COPY my_table (code, at, v) FROM STDIN (FORMAT BINARY)

How: every row's *layout* is the tuple of its fields' byte lengths. Fixed-width types give one layout per NULL
pattern, a dictionary-encoded text column one per distinct length of its values, so a typical table has a few
layouts. Rows of one layout are written together into a numpy structured array whose fields are exactly the
wire layout (lengths and big-endian values), and the arrays' bytes are then emitted in the requested row order
(``order``), run by run. Columns with many distinct lengths (free text, geometries as EWKB) make too many
layouts; those rows are written by a general vectorised path instead (a byte scatter per field), which is
slower but still has no per-row Python.

Values are not checked: a text value must be valid in the database encoding (UTF-8 here) and must not contain
NUL, as for any COPY. NaN in a float column is sent as NaN unless the column's ``null`` mask says NULL.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

HEADER = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"
PG_EPOCH_US = 946_684_800_000_000          # 2000-01-01 00:00 UTC in µs since 1970-01-01
PG_EPOCH_DAYS = 10_957                     # 2000-01-01 in days since 1970-01-01
_FIXED = {"int2": ">i2", "int4": ">i4", "int8": ">i8", "float4": ">f4", "float8": ">f8", "bool": "u1",
          "timestamptz": ">i8", "timestamp": ">i8", "date": ">i4"}
# Above this many layouts (or fewer than this many rows per layout) the general path is used.
MAX_LAYOUTS = 256
MIN_ROWS_PER_LAYOUT = 32


@dataclass(frozen=True, eq=False)
class Column:
    """One column ready to encode. Build it with the helpers (``int8``, ``text``, …), not directly.

    kind ``fixed``: ``values`` is a big-endian numpy array (the wire form), ``null`` a bool mask or None.
    kind ``dict``: ``values`` are int codes into ``table`` (the encoded distinct values); code -1 is NULL.
    kind ``bytes``: ``values`` is an object array of ``bytes`` (None is NULL).
    """

    name: str
    pgtype: str
    kind: str
    values: np.ndarray
    null: NDArray[np.bool_] | None = None
    table: tuple[bytes, ...] = ()

    def __len__(self) -> int:
        return len(self.values)

    def widths(self) -> NDArray[np.int64]:
        """Byte length of every row's value, -1 for NULL."""
        n = len(self.values)
        if self.kind == "fixed":
            w = np.full(n, self.values.dtype.itemsize, dtype=np.int64)
            if self.null is not None:
                w[self.null] = -1
            return w
        if self.kind == "dict":
            lengths = np.array([len(b) for b in self.table] + [-1], dtype=np.int64)
            return lengths[self.values]          # code -1 picks the trailing -1
        return np.fromiter((-1 if v is None else len(v) for v in self.values), dtype=np.int64, count=n)


# ------------------------------------------------------------------------------------------- column helpers
def _mask(null: ArrayLike | None, n: int) -> NDArray[np.bool_] | None:
    if null is None:
        return None
    m = np.asarray(null, dtype=bool)
    if m.shape != (n,):
        raise ValueError(f"null mask has shape {m.shape}, expected ({n},)")
    return m if m.any() else None


def _fixed(name: str, pgtype: str, values: ArrayLike, null: ArrayLike | None) -> Column:
    arr = np.asarray(values)
    return Column(name, pgtype, "fixed", np.ascontiguousarray(arr, dtype=_FIXED[pgtype]), _mask(null, len(arr)))


def int2(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    return _fixed(name, "int2", values, null)


def int4(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    return _fixed(name, "int4", values, null)


def int8(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    return _fixed(name, "int8", values, null)


def float4(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    return _fixed(name, "float4", values, null)


def float8(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    """Doubles; pass ``null=np.isnan(values)`` to send NaN as NULL."""
    return _fixed(name, "float8", values, null)


def boolean(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    return _fixed(name, "bool", np.asarray(values, dtype=bool).astype(np.uint8), null)


def _datetime_us(values: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """µs since 1970 and the NaT mask, from datetime64 arrays, pandas Series/Index (tz-aware → UTC)."""
    if isinstance(values, (pd.Series, pd.Index)):
        dt = values.dtype
        if isinstance(dt, pd.DatetimeTZDtype):
            values = values.dt.tz_convert("UTC").dt.tz_localize(None) if isinstance(values, pd.Series) \
                else values.tz_convert("UTC").tz_localize(None)
        values = np.asarray(values)
    arr = np.asarray(values)
    if arr.dtype.kind != "M":
        raise TypeError(f"expected datetime64 values, got {arr.dtype}")
    nat = np.isnat(arr)
    return arr.astype("datetime64[us]").view(np.int64), nat


def timestamptz(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    """Instants: tz-aware pandas values (converted to UTC) or naive datetime64 taken as UTC; NaT is NULL."""
    us, nat = _datetime_us(values)
    mask = nat if null is None else (nat | np.asarray(null, dtype=bool))
    return _fixed(name, "timestamptz", us - PG_EPOCH_US, mask)


def timestamp(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    """Wall-clock times without zone (naive datetime64); NaT is NULL."""
    us, nat = _datetime_us(values)
    mask = nat if null is None else (nat | np.asarray(null, dtype=bool))
    return _fixed(name, "timestamp", us - PG_EPOCH_US, mask)


def date(name: str, values: ArrayLike, null: ArrayLike | None = None) -> Column:
    arr = np.asarray(values).astype("datetime64[D]")
    nat = np.isnat(arr)
    mask = nat if null is None else (nat | np.asarray(null, dtype=bool))
    return _fixed(name, "date", arr.view(np.int64) - PG_EPOCH_DAYS, mask)


def text_codes(name: str, codes: ArrayLike, categories: Sequence[str | bytes], pgtype: str = "text") -> Column:
    """Dictionary-encoded text: ``codes`` index ``categories``; code -1 is NULL."""
    table = tuple(c if isinstance(c, bytes) else str(c).encode("utf-8") for c in categories)
    codes = np.asarray(codes)
    if codes.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got {codes.dtype}")
    return Column(name, pgtype, "dict", codes.astype(np.int64, copy=False), None, table)


def constant(name: str, value: object, n: int, pgtype: str = "text") -> Column:
    """The same value (None: NULL) on every one of ``n`` rows, sent as a one-entry dictionary."""
    if value is None:
        return Column(name, pgtype, "dict", np.full(n, -1, dtype=np.int64), None, ())
    if pgtype in ("timestamptz", "timestamp"):
        one = {"timestamptz": timestamptz, "timestamp": timestamp}[pgtype](name, pd.Series([value])).values
    elif pgtype == "date":
        one = date(name, np.array([value], dtype="datetime64[D]")).values
    elif pgtype in _FIXED:
        one = _fixed(name, pgtype, [value], None).values
    else:
        one = np.frombuffer(value if isinstance(value, bytes) else str(value).encode("utf-8"), dtype=np.uint8)
    return Column(name, pgtype, "dict", np.zeros(n, dtype=np.int64), None, (one.tobytes(),))


def text(name: str, values: ArrayLike, pgtype: str = "text") -> Column:
    """Text from a pandas Series/Categorical or an array of str (None/NaN is NULL).

    Few distinct values (codes, units, flags) are dictionary-encoded; many (free text) are kept per row.
    """
    if isinstance(values, pd.Series) and isinstance(values.dtype, pd.CategoricalDtype):
        cat = values.cat
        return text_codes(name, cat.codes.to_numpy(), list(cat.categories), pgtype)
    if isinstance(values, pd.Categorical):
        return text_codes(name, values.codes, list(values.categories), pgtype)
    codes, uniques = pd.factorize(pd.Series(values, dtype=object) if not isinstance(values, pd.Series) else values,
                                  use_na_sentinel=True)
    n = len(codes)
    if len(uniques) <= max(64, n // 8):
        return text_codes(name, codes, [str(u) for u in uniques], pgtype)
    table = [str(u).encode("utf-8") for u in uniques]
    out = np.empty(n, dtype=object)
    ok = codes >= 0
    out[ok] = np.asarray(table, dtype=object)[codes[ok]]
    out[~ok] = None
    return Column(name, pgtype, "bytes", out)


def bytea(name: str, values: Iterable[bytes | None], pgtype: str = "bytea") -> Column:
    """One ``bytes`` per row (e.g. EWKB geometries), None for NULL."""
    items = list(values)
    arr = np.empty(len(items), dtype=object)
    arr[:] = items
    return Column(name, pgtype, "bytes", arr)


def names(columns: Sequence[Column]) -> str:
    """The column list for the COPY statement, quoted."""
    return ", ".join('"' + c.name.replace('"', '""') + '"' for c in columns)


# ---------------------------------------------------------------------------------------------- encoding
def encode(columns: Sequence[Column], order: ArrayLike | None = None, chunk_bytes: int = 4 << 20,
           block_rows: int = 1 << 15) -> Iterator[bytes]:
    """The COPY BINARY stream of ``columns`` (all of one length), rows in ``order`` (default: as given).

    Yields chunks of about ``chunk_bytes`` (header first, trailer last), to be passed to ``Copy.write``. Rows are
    encoded ``block_rows`` at a time, so the first chunks leave before the last rows are encoded.
    """
    if not columns:
        raise ValueError("no columns")
    n = len(columns[0])
    if any(len(c) != n for c in columns):
        raise ValueError("columns differ in length: " + ", ".join(f"{c.name}={len(c)}" for c in columns))
    if len(columns) > 32767:
        raise ValueError("too many columns")
    rows = np.arange(n) if order is None else np.asarray(order, dtype=np.int64)
    yield HEADER
    if len(rows):
        classes = [_width_classes(c) for c in columns]
        layout, layouts = _layouts(classes, n)
        if len(layouts) <= MAX_LAYOUTS and len(rows) >= MIN_ROWS_PER_LAYOUT * len(layouts):
            yield from _encode_by_layout(columns, rows, layout, layouts, chunk_bytes, block_rows)
        else:
            widths = np.stack([c.widths() for c in columns], axis=1)       # (n, ncols), -1 = NULL
            yield from _encode_scatter(columns, rows, widths, chunk_bytes)
    yield TRAILER


def copy_columns(cursor, table: str, columns: Sequence[Column], order: ArrayLike | None = None) -> int:  # noqa: ANN001
    """``COPY table (columns) FROM STDIN (FORMAT BINARY)`` on a psycopg 3 cursor; returns the rows sent.

    ``table`` is inserted as given (quote it yourself if needed).
    """
    with cursor.copy(f"COPY {table} ({names(columns)}) FROM STDIN (FORMAT BINARY)") as copy:
        for chunk in encode(columns, order):
            copy.write(chunk)
    return len(columns[0]) if order is None else len(np.asarray(order))


def _width_classes(col: Column) -> tuple[NDArray[np.int64], list[int]]:
    """Every row's width class (a small int) and the byte width of each class (-1 = NULL)."""
    n = len(col.values)
    if col.kind == "fixed":
        if col.null is None:
            return np.zeros(n, dtype=np.int64), [col.values.dtype.itemsize]
        return col.null.astype(np.int64), [col.values.dtype.itemsize, -1]
    if col.kind == "dict":
        lengths = [len(b) for b in col.table] + [-1]          # code -1 (NULL) picks the last entry
        distinct = sorted(set(lengths))
        of_code = np.array([distinct.index(w) for w in lengths], dtype=np.int64)
        return of_code[col.values], distinct
    widths = col.widths()
    distinct, inverse = np.unique(widths, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64), distinct.tolist()


def _layouts(classes: list[tuple[NDArray[np.int64], list[int]]],
             n: int) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per row the id of its layout, and each layout's field widths (one row per layout)."""
    radix = [len(w) for _c, w in classes]
    if float(np.prod(np.array(radix, dtype=float))) >= 2 ** 62:
        matrix = np.stack([np.asarray(w)[c] for c, w in classes], axis=1)
        layouts, layout = np.unique(matrix, axis=0, return_inverse=True)
        return layout.reshape(-1).astype(np.int64), layouts
    key = np.zeros(n, dtype=np.int64)
    for (cls, _w), r in zip(classes, radix):
        if r > 1:
            key = key * r + cls
    size = int(key.max()) + 1 if n else 1
    if size <= 4 * n + 1024:
        present = np.flatnonzero(np.bincount(key, minlength=size))
        dense = np.full(size, -1, dtype=np.int64)
        dense[present] = np.arange(len(present))
        layout = dense[key]
    else:
        present, layout = np.unique(key, return_inverse=True)
        layout = layout.reshape(-1)
    # Decode each present key back into its columns' classes, then widths.
    digits = present.astype(np.int64).copy()
    widths = np.empty((len(present), len(classes)), dtype=np.int64)
    for j in range(len(classes) - 1, -1, -1):
        cls_widths = np.asarray(classes[j][1], dtype=np.int64)
        r = radix[j]
        if r > 1:
            widths[:, j] = cls_widths[digits % r]
            digits //= r
        else:
            widths[:, j] = cls_widths[0]
    return layout.astype(np.int64), widths


def _dict_table(col: Column) -> NDArray[np.uint8]:
    """The dictionary's values as a zero-padded (n_values, max_len) byte matrix."""
    width = max((len(b) for b in col.table), default=0)
    mat = np.zeros((max(len(col.table), 1), max(width, 1)), dtype=np.uint8)
    for i, b in enumerate(col.table):
        mat[i, :len(b)] = np.frombuffer(b, dtype=np.uint8)
    return mat


@dataclass
class _Layout:
    """One wire layout as a numpy structured dtype of void fields: constant segments (field count, lengths,
    one-value columns) and the fields whose bytes vary by row."""

    dtype: np.dtype
    constants: list[tuple[str, bytes]]
    fill: list[tuple[str, int, int]]      # (field name, column, width)


def _plan(columns: Sequence[Column], widths: NDArray[np.int64]) -> _Layout:
    names_, formats, offsets = [], [], []
    constants: list[tuple[str, bytes]] = []
    fill: list[tuple[str, int, int]] = []
    segment, seg_start, offset = bytearray(len(columns).to_bytes(2, "big")), 0, 2

    def close_segment() -> None:
        if segment:
            name = f"c{len(constants)}"
            names_.append(name), formats.append(f"V{len(segment)}"), offsets.append(seg_start)
            constants.append((name, bytes(segment)))

    for j, (c, w) in enumerate(zip(columns, widths.tolist())):
        segment += int(w).to_bytes(4, "big", signed=True)
        offset += 4
        if w <= 0:
            continue
        if c.kind == "dict" and len(c.table) == 1:
            segment += c.table[0]                                   # the same value on every row
        else:
            close_segment()
            name = f"f{j}"
            names_.append(name), formats.append(f"V{w}"), offsets.append(offset)
            fill.append((name, j, w))
            segment, seg_start = bytearray(), offset + w
        offset += w
    close_segment()
    dtype = np.dtype({"names": names_, "formats": formats, "offsets": offsets, "itemsize": offset})
    return _Layout(dtype, constants, fill)


def _encode_by_layout(columns: Sequence[Column], rows: NDArray[np.int64], layout: NDArray[np.int64],
                      layouts: NDArray[np.int64], chunk_bytes: int, block_rows: int) -> Iterator[bytes]:
    """Few layouts: per block of rows, one structured array per layout (constant segments broadcast, varying
    fields copied as raw bytes), emitted run by run in ``rows`` order."""
    plans = [_plan(columns, w) for w in layouts]
    tables = {j: _dict_table(c) for j, c in enumerate(columns) if c.kind == "dict" and len(c.table) > 1}
    voids: dict[tuple[int, int], np.ndarray] = {}          # (column, width) → dictionary values as V{width}

    def dict_values(j: int, w: int) -> np.ndarray:
        if (j, w) not in voids:
            voids[(j, w)] = np.ascontiguousarray(tables[j][:, :w]).view(f"V{w}").reshape(-1)
        return voids[(j, w)]

    small = np.uint8 if len(layouts) <= 255 else np.uint16 if len(layouts) <= 65535 else np.int64
    lay_all = layout.astype(small)
    # One buffer per layout, reused block after block: its constant segments are written once.
    buffers: dict[int, np.ndarray] = {}

    def buffer(g: int, count: int) -> np.ndarray:
        if g not in buffers or len(buffers[g]) < count:
            a = np.empty(max(count, min(block_rows, len(rows))), dtype=plans[g].dtype)
            for name, value in plans[g].constants:
                a[name] = np.frombuffer(value, dtype=f"V{len(value)}")[0]
            buffers[g] = a
        return buffers[g][:count]

    sizes = [p.dtype.itemsize for p in plans]
    for lo in range(0, len(rows), block_rows):
        block = rows[lo:lo + block_rows]
        lay = lay_all[block]
        by_layout = np.argsort(lay, kind="stable")           # a radix sort for 8/16-bit layout ids
        counts = np.bincount(lay, minlength=len(layouts))
        starts = np.r_[0, np.cumsum(counts)]
        arrays: dict[int, memoryview] = {}
        for g in np.flatnonzero(counts).tolist():
            idx = block[by_layout[starts[g]:starts[g + 1]]]
            a = buffer(g, len(idx))
            for name, j, w in plans[g].fill:
                c = columns[j]
                if c.kind == "fixed":
                    a[name] = c.values[idx].view(f"V{w}")
                elif c.kind == "dict":
                    a[name] = dict_values(j, w)[c.values[idx]]
                else:
                    a[name] = np.frombuffer(b"".join(c.values[idx].tolist()), dtype=f"V{w}")
            arrays[g] = memoryview(a.view(np.uint8).reshape(-1))
        # Runs of consecutive rows sharing a layout are consecutive rows of that layout's array. The block's
        # bytes are joined (copied) before the buffers are reused.
        cuts = np.flatnonzero(lay[1:] != lay[:-1]) + 1
        run_start = np.r_[0, cuts]
        run_len = np.diff(np.r_[run_start, len(lay)])
        run_layout = lay[run_start].astype(np.int64)
        cursor = [0] * len(layouts)
        parts: list[memoryview] = []
        pending = 0
        for g, k in zip(run_layout.tolist(), run_len.tolist()):
            size, b = sizes[g], cursor[g]
            parts.append(arrays[g][b * size:(b + k) * size])
            cursor[g] = b + k
            pending += k * size
            if pending >= chunk_bytes:
                yield b"".join(parts)
                parts, pending = [], 0
        if parts:
            yield b"".join(parts)


def _encode_scatter(columns: Sequence[Column], rows: NDArray[np.int64], widths: NDArray[np.int64],
                    chunk_bytes: int) -> Iterator[bytes]:
    """General path: per chunk of rows, each field's bytes scattered to their offsets in one buffer."""
    data_w = np.maximum(widths, 0)
    row_size = 2 + 4 * len(columns) + data_w.sum(axis=1)
    per_chunk = max(1, int(chunk_bytes // max(1, int(row_size.mean()))))
    tables = {j: _dict_table(c) for j, c in enumerate(columns) if c.kind == "dict"}
    nf = np.array([len(columns)], dtype=">i2").view(np.uint8)
    four = np.arange(4)
    for lo in range(0, len(rows), per_chunk):
        idx = rows[lo:lo + per_chunk]
        w = widths[idx]
        dw = data_w[idx]
        size = row_size[idx]
        start = np.cumsum(size) - size
        out = np.empty(int(size.sum()), dtype=np.uint8)
        out[start] = nf[0]
        out[start + 1] = nf[1]
        pos = start + 2
        for j, c in enumerate(columns):
            out[pos[:, None] + four] = w[:, j].astype(">i4").view(np.uint8).reshape(-1, 4)
            data_at = pos + 4
            if c.kind == "fixed":
                ok = w[:, j] >= 0
                k = c.values.dtype.itemsize
                out[data_at[ok, None] + np.arange(k)] = c.values[idx[ok]].view(np.uint8).reshape(-1, k)
            elif c.kind == "dict":
                codes = c.values[idx]
                for length in np.unique(w[:, j]).tolist():
                    if length <= 0:
                        continue
                    sel = w[:, j] == length
                    out[data_at[sel, None] + np.arange(length)] = tables[j][codes[sel], :length]
            else:
                ok = w[:, j] > 0
                if ok.any():
                    blob = np.frombuffer(b"".join(c.values[idx[ok]].tolist()), dtype=np.uint8)
                    lens = dw[ok, j]
                    src = np.cumsum(lens) - lens
                    out[np.repeat(data_at[ok] - src, lens) + np.arange(len(blob))] = blob
            pos = data_at + dw[:, j]
        yield out.tobytes()
