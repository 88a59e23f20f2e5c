"""Parse raw attribute values into a field's type, vectorised, with a reason for every value that fails."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from layers.spec import FieldSpec, FieldType

_TRUE = {"true", "t", "yes", "y", "1", "có", "co", "x"}
_FALSE = {"false", "f", "no", "n", "0", "không", "khong"}
_DEFAULT_STR = pd.Series(["x"]).dtype  # what a Series built from Python strings gets


def coerce_column(raw: pd.Series, spec: FieldSpec) -> tuple[pd.Series, pd.Series]:
    """Return (typed values, reasons) — reasons is None where the value parsed (or was blank)."""
    raw = raw.reset_index(drop=True)
    if (spec.type is FieldType.NUMBER and spec.allowed is None and isinstance(raw.dtype, np.dtype)
            and raw.dtype.kind in "fiu"):
        # Numbers read as numbers: nothing to parse, and no text needed (it only ever names a bad value).
        values = raw.astype("float64")
        blank = values.isna()
        reasons = pd.Series(None, index=raw.index, dtype=object)
        if spec.minimum is not None or spec.maximum is not None:
            reasons = _range(values, ~blank, spec, reasons)
        return values.where(reasons.isna() & ~blank), reasons
    if (spec.type is FieldType.DATE and spec.allowed is None and spec.minimum is None and spec.maximum is None
            and pd.api.types.is_datetime64_any_dtype(raw.dtype)):
        # Dates read as dates: nothing to parse and nothing can be malformed, so no text is needed either.
        values, _bad = _date(raw, None)
        return values, pd.Series(None, index=raw.index, dtype=object)
    text = _as_text(raw)
    blank = text.isna()
    parse = {FieldType.TEXT: _text, FieldType.INTEGER: _integer, FieldType.NUMBER: _number,
             FieldType.DATE: _date, FieldType.BOOLEAN: _boolean}[spec.type]
    values, bad = parse(raw, text)
    reasons = pd.Series(None, index=raw.index, dtype=object)
    bad = bad & ~blank
    if bad.any():
        reasons[bad] = [f"không đúng kiểu / not a valid {spec.type.value}: {v!r}" for v in text[bad]]
    ok = ~bad & ~blank
    if spec.allowed is not None and ok.any():
        outside = ok & ~values.isin(spec.allowed)
        if outside.any():
            reasons[outside] = [f"giá trị không cho phép / value {v!r} not allowed (allowed: "
                                f"{', '.join(spec.allowed)})" for v in text[outside]]
    if spec.minimum is not None or spec.maximum is not None:
        reasons = _range(values, ok & reasons.isna(), spec, reasons)
    values = values.where(reasons.isna() & ~blank, None) if spec.type is FieldType.TEXT else \
        values.where(reasons.isna() & ~blank)
    return values, reasons


def _one_text(v: object) -> str | None:
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    s = str(v).strip()
    return s or None


def _as_text(raw: pd.Series) -> pd.Series:
    """Raw values as stripped strings, None for blanks; numbers from binary formats keep their repr."""
    # Same result as raw.astype(object).map(_one_text), which costs ~2 µs a value (seconds per 100k-feature
    # file); the common dtypes take cheaper routes. A Series built from the object array infers its dtype
    # exactly as Series.map does ('str' when any value is text, object when all are None).
    dtype = raw.dtype
    if len(raw) == 0:
        return raw.astype(object).map(_one_text)
    if isinstance(dtype, pd.StringDtype) and dtype.na_value is np.nan:
        # pandas' default 'str': every present value is a str; missing ones are NaN.
        if dtype == _DEFAULT_STR and _already_clean(raw):
            return raw.copy()
        vals = raw.to_numpy(dtype=object, na_value=None)
        out = [None if v is None else (v.strip() or None) for v in vals]
    elif isinstance(dtype, np.dtype) and dtype == np.float64:
        out = [None if v != v else str(v) for v in raw.to_numpy().tolist()]
    elif isinstance(dtype, np.dtype) and dtype.kind in "iub":
        out = [str(v) for v in raw.to_numpy().tolist()]
    elif isinstance(dtype, pd.DatetimeTZDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "M"):
        # Dates repeat: format each distinct Timestamp once (NaT has code -1 → the trailing None).
        codes, uniques = pd.factorize(raw)
        texts = np.array([*(_one_text(u) for u in uniques.astype(object)), None], dtype=object)
        out = texts[codes]
    else:
        return raw.astype(object).map(_one_text)
    return pd.Series(np.asarray(out, dtype=object), index=raw.index, name=raw.name)


def _already_clean(raw: pd.Series) -> bool:
    """Whether a 'str' column has text and no value that stripping would change or blank (then text == raw)."""
    if hasattr(raw.array, "__arrow_array__"):
        arr = pa.chunked_array(raw.array.__arrow_array__()).drop_null()
        return len(arr) > 0 and all(arrow_text_is_clean(chunk) for chunk in arr.chunks)
    else:
        present = raw.dropna()
        if present.empty:
            return False
        ends = set(present.str[0].unique()) | set(present.str[-1].unique())
    # Python's own isspace() on the (few) distinct first and last characters, not a regex's idea of \s.
    return not any(not isinstance(c, str) or c == "" or c.isspace() for c in ends)


# Python's str.isspace() characters in UTF-8: one byte (ASCII), two (U+0085, U+00A0) or three (U+1680, U+2000–200A,
# U+2028, U+2029, U+202F, U+205F, U+3000).
_SPACE_1 = np.zeros(256, dtype=bool)
_SPACE_1[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = True
_SPACE_2 = np.array([0xC285, 0xC2A0])
_SPACE_3 = np.array([0xE19A80, *range(0xE28080, 0xE2808B), 0xE280A8, 0xE280A9, 0xE280AF, 0xE2819F, 0xE38080])


def arrow_text_is_clean(chunk: pa.Array) -> bool:
    """Whether no value of an Arrow string array is empty or starts or ends with a character Python's
    str.isspace() accepts, read from the UTF-8 bytes of every value at once."""
    chunk = chunk.cast(pa.large_string()) if chunk.type != pa.large_string() else chunk
    n = len(chunk)
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64, count=n + 1, offset=chunk.offset * 8)
    start, end = offsets[:-1], offsets[1:]
    if chunk.null_count:
        keep = np.asarray(chunk.is_valid())
        start, end = start[keep], end[keep]
    if chunk.buffers()[2] is None or (end <= start).any():
        return False
    data = np.frombuffer(chunk.buffers()[2], dtype=np.uint8)
    first, last = data[start], data[end - 1]
    if _SPACE_1[first].any() or _SPACE_1[last].any():
        return False
    # Multi-byte spaces begin with 0xC2, 0xE1, 0xE2 or 0xE3 and end with a continuation byte: look closer only
    # at values that could hold one there (few), comparing their first/last 2 and 3 bytes.
    padded = np.concatenate([np.zeros(3, dtype=np.uint8), data, np.zeros(3, dtype=np.uint8)])  # index + 3

    def code(at: np.ndarray, width: int) -> np.ndarray:
        out = np.zeros(len(at), dtype=np.int64)
        for k in range(width):
            out = (out << 8) | padded[at + 3 + k]
        return out

    lead = start[np.isin(first, (0xC2, 0xE1, 0xE2, 0xE3))]
    tail = last >= 0x80
    tail_end, tail_len = end[tail], (end - start)[tail]
    found = (np.isin(code(lead, 2), _SPACE_2).any() or np.isin(code(lead, 3), _SPACE_3).any()
             or np.isin(np.where(tail_len >= 2, code(tail_end - 2, 2), -1), _SPACE_2).any()
             or np.isin(np.where(tail_len >= 3, code(tail_end - 3, 3), -1), _SPACE_3).any())
    return not found


def _text(raw: pd.Series, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    return text, pd.Series(False, index=raw.index)


def _number(raw: pd.Series, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_numeric_dtype(raw.dtype):
        values = raw.astype("float64")
        return values, pd.Series(False, index=raw.index)
    # Vietnamese spreadsheets write decimals with a comma ("12,5"); accept it when there is no dot.
    cleaned = text.where(~(text.str.contains(",", na=False) & ~text.str.contains(".", regex=False, na=False)),
                         text.str.replace(",", ".", regex=False))
    values = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    bad = values.isna() | ~np.isfinite(values.fillna(0))
    return values.where(~bad), bad


def _integer(raw: pd.Series, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    values, bad = _number(raw, text)
    fractional = values.notna() & (values % 1 != 0)
    return values.where(~fractional).astype("Int64"), bad | fractional


def _date(raw: pd.Series, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        values = pd.to_datetime(raw)
    else:
        values = pd.to_datetime(text, format="ISO8601", errors="coerce")
        # Day-first is how dates are written in Vietnam (31/12/2024).
        rest = values.isna() & text.notna()
        if rest.any():
            values[rest] = pd.to_datetime(text[rest], format="%d/%m/%Y", errors="coerce")
    dates = values.dt.date.astype(object).where(values.notna(), None)
    return dates, values.isna()


def _boolean(raw: pd.Series, text: pd.Series) -> tuple[pd.Series, pd.Series]:
    # GDAL reads a JSON true/false column that has nulls as floats: 1.0 / 0.0 are booleans too.
    low = text.str.lower().replace({"1.0": "1", "0.0": "0"})
    values = pd.Series(pd.NA, index=raw.index, dtype="boolean")
    values[low.isin(_TRUE)] = True
    values[low.isin(_FALSE)] = False
    return values, values.isna()


def _range(values: pd.Series, check: pd.Series, spec: FieldSpec, reasons: pd.Series) -> pd.Series:
    v = values.astype("float64")
    low = check & (v < spec.minimum) if spec.minimum is not None else pd.Series(False, index=v.index)
    high = check & (v > spec.maximum) if spec.maximum is not None else pd.Series(False, index=v.index)
    bounds = f"[{spec.minimum if spec.minimum is not None else '−∞'}, " \
             f"{spec.maximum if spec.maximum is not None else '∞'}]"
    out = reasons.copy()
    for mask in (low, high):
        if mask.any():
            out[mask] = [f"ngoài khoảng cho phép / value {x:g} outside {bounds}" for x in v[mask]]
    return out
