"""Readers of observation files (long CSV, OpenAQ archive, US StateAir exports, water samples) into one raw frame."""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from geo.errors import InputError

LOCAL_TZ = "Asia/Ho_Chi_Minh"
# Every reader returns these columns; values stay text until the checks convert them (so that a bad cell can
# be reported with what the file really says). ``time`` is UTC (NaT where unreadable), ``line`` the file line.
# Text columns may be pandas Categoricals (the long CSV reader dictionary-encodes every column: a file of a
# million readings has a few stations, parameters and units and some thousands of distinct hours and values,
# so every per-value step — stripping, parsing times and numbers, checking — runs once per distinct value).
RAW_COLUMNS = ("station", "parameter", "time", "time_text", "period", "value", "unit", "qc_flag",
               "instrument_status", "line")
LONG_FIELDS = ("station", "parameter", "time", "value", "unit")
LONG_OPTIONAL = ("flag", "instrument_status", "period")
OPENAQ_COLUMNS = ("location_id", "sensors_id", "location", "datetime", "lat", "lon", "parameter", "units", "value")
WATER_FIELDS = ("station", "sampled_at", "parameter", "value", "unit")
QC_NAMES = {"valid": "valid", "invalid": "invalid", "missing": "missing", "suspect": "suspect"}
STATEAIR_MISSING = "-999"
# StateAir 2016 writes the AQI category as a number (1 Good … 6 Hazardous, -999 none); 2017 writes the name.
STATEAIR_CATEGORIES = {"1": "Good", "2": "Moderate", "3": "Unhealthy for Sensitive Groups", "4": "Unhealthy",
                       "5": "Very Unhealthy", "6": "Hazardous", "-999": None}
STATEAIR_LAYOUTS = {
    "2016": (";", ("Site", "Parameter", "Date (LT)", "Year", "Month", "Day", "Hour", "AQI", "AQI Category",
                   "24-hr. Midpoint Avg. Conc.", "Raw Conc.", "Conc. Unit", "Duration", "QC Name")),
    "2017": (",", ("Site", "Parameter", "Date (LT)", "Year", "Month", "Day", "Hour", "NowCast Conc.", "AQI",
                   "AQI Category", "Raw Conc.", "Conc. Unit", "Duration", "QC Name")),
}
DURATIONS = {"1 hr": "1h", "1h": "1h", "24 hr": "24h", "24h": "24h", "sample": "sample"}


def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputError("không tìm thấy tệp / file not found", file=str(path))
    data = path.read_bytes()
    if not data.strip():
        raise InputError("tệp rỗng / the file is empty", file=path.name)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"tệp không phải UTF-8 / the file is not UTF-8 (byte {exc.start})", file=path.name) from exc


def _read_csv(path: Path, sep: str = ",") -> pd.DataFrame:
    """All cells as text (empty cells as ''), line numbers as the file has them (header = line 1)."""
    text = _read_text(path)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, ValueError) as exc:
        raise InputError(f"không đọc được CSV / unreadable CSV: {str(exc).splitlines()[0]}", file=path.name) from exc
    frame.columns = [str(c).strip() for c in frame.columns]
    frame["line"] = np.arange(len(frame)) + 2
    return frame


def _header(path: Path, sep: str) -> list[str] | None:
    """The header cells as the CSV parser sees them (None if the first line cannot be read as UTF-8)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh, delimiter=sep), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None


def _categorical(column: pa.ChunkedArray) -> pd.Categorical | None:
    """A dictionary-encoded Arrow column as a Categorical of Python str, leading spaces dropped (pandas'
    ``skipinitialspace``), all per distinct value.

    None when a value then starts with a quote: pandas would have read that cell as quoted, so only the pandas
    path reads it the same way.
    """
    array = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    if not isinstance(array, pa.DictionaryArray):
        array = array.dictionary_encode()
    codes = array.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)
    cats = array.dictionary.to_pylist()
    trimmed = [c.lstrip(" ") for c in cats]
    if trimmed != cats:
        if any(t.startswith('"') and t != c for t, c in zip(trimmed, cats)):
            return None
        remap, uniques = pd.factorize(pd.Series(trimmed, dtype=object))
        return pd.Categorical.from_codes(remap[codes], categories=pd.Index(uniques, dtype=object))
    return pd.Categorical.from_codes(codes, categories=pd.Index(cats, dtype=object))


def _read_csv_arrow(path: Path, sep: str = ",") -> pd.DataFrame | None:
    """The same frame as ``_read_csv`` (every cell text, '' when empty), read by pyarrow on all cores.

    Each column comes back as a pandas Categorical. Returns None whenever pyarrow might read the file
    differently from pandas (unreadable or duplicate header, bad UTF-8, ragged rows, quotes after a space): the
    pandas path then reads it, or raises the message that names the line.
    """
    header = _header(path, sep) if path.is_file() and path.stat().st_size else None
    if not header or len(set(header)) != len(header) or any(h.strip().startswith('"') for h in header):
        return None
    dict_text = pa.dictionary(pa.int32(), pa.string())
    try:
        table = pa_csv.read_csv(
            path, read_options=pa_csv.ReadOptions(use_threads=True, block_size=4 << 20),
            parse_options=pa_csv.ParseOptions(delimiter=sep),
            convert_options=pa_csv.ConvertOptions(column_types={h: dict_text for h in header},
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
        if table.column_names != header:
            return None
        table = table.unify_dictionaries()
        columns = {name.strip(): _categorical(table.column(name)) for name in header}
    except (pa.ArrowException, OSError):
        return None
    if any(v is None for v in columns.values()):
        return None
    frame = pd.DataFrame(columns)
    frame["line"] = np.arange(len(frame)) + 2
    return frame


def categorical_map(values: pd.Series, fn: Callable[[object], object]) -> pd.Series:
    """``fn`` applied once per distinct value (missing values included as None), the result as a Categorical."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        cats = list(values.cat.categories) + [None]
        codes = values.cat.codes.to_numpy()
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
        cats = list(uniques) + [None]
    mapped = [fn(c) for c in cats]
    new_codes, uniques = pd.factorize(pd.Series(mapped, dtype=object), use_na_sentinel=True)
    return pd.Series(pd.Categorical.from_codes(new_codes[codes], categories=uniques), index=values.index)


def parse_times(texts: pd.Series, fmt: str | None = None) -> pd.Series:
    """Parse timestamps to UTC; those without an offset are local time in Việt Nam (Asia/Ho_Chi_Minh)."""
    s = texts.astype(str).str.strip()
    has_offset = s.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True) & (fmt is None)
    # Microsecond resolution: a nanosecond series ends in 2262 and a typo like 2999 must become a reject.
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us, UTC]")
    if has_offset.any():
        out[has_offset] = pd.to_datetime(s[has_offset], utc=True, errors="coerce", format="ISO8601").dt.as_unit("us")
    naive = ~has_offset
    if naive.any():
        parsed = pd.to_datetime(s[naive], errors="coerce", format=fmt or "ISO8601")
        # Việt Nam has had no daylight saving since 1975, so localising is never ambiguous.
        out[naive] = parsed.dt.as_unit("us").dt.tz_localize(LOCAL_TZ).dt.tz_convert("UTC")
    return out


def parse_times_once(texts: pd.Series, fmt: str | None = None) -> pd.Series:
    """``parse_times`` of each distinct text once (a file repeats every hour once per station and parameter)."""
    if isinstance(texts.dtype, pd.CategoricalDtype):
        codes = texts.cat.codes.to_numpy()
        cats = pd.Series(texts.cat.categories, dtype=object)
    else:
        codes, uniques = pd.factorize(texts, use_na_sentinel=True)
        cats = pd.Series(uniques, dtype=object)
    parsed = parse_times(pd.concat([cats, pd.Series(["nan"], dtype=object)], ignore_index=True), fmt)
    return pd.Series(parsed.array.take(np.where(codes >= 0, codes, len(cats))), index=texts.index)


def _frame(n: int, **columns: object) -> pd.DataFrame:
    """The raw observation frame; a scalar argument fills its whole column (a text scalar as a Categorical)."""
    frame = pd.DataFrame(index=pd.RangeIndex(n))
    for c in RAW_COLUMNS:
        v = columns.get(c)
        if isinstance(v, pd.Series):
            frame[c] = v.reset_index(drop=True)
        elif isinstance(v, str):
            frame[c] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[v])
        else:
            frame[c] = v
    return frame


def _require(frame: pd.DataFrame, needed: tuple[str, ...], file: str, hint: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise InputError(f"thiếu cột / missing column(s) {', '.join(missing)}; the file has "
                         f"{', '.join(c for c in frame.columns if c != 'line')}. {hint}", file=file)


def read_long(path: Path, mapping: dict[str, str] | None = None, station: str | None = None) -> pd.DataFrame:
    """Generic long CSV: station, parameter, time, value, unit [, flag, instrument_status, period]."""
    frame = _read_csv_arrow(path)
    if frame is None:
        frame = _read_csv(path)
    mapping = dict(mapping or {})
    unknown = [k for k in mapping if k not in (*LONG_FIELDS, *LONG_OPTIONAL)]
    if unknown:
        raise InputError(f"--map names unknown field(s) {', '.join(unknown)}; fields are "
                         f"{', '.join((*LONG_FIELDS, *LONG_OPTIONAL))}", file=path.name)
    absent = [c for c in mapping.values() if c not in frame.columns]
    if absent:
        raise InputError(f"--map names column(s) the file does not have: {', '.join(absent)}", file=path.name)
    frame = frame.rename(columns={src: tgt for tgt, src in mapping.items()})
    if station is not None:
        frame["station"] = pd.Categorical.from_codes(np.zeros(len(frame), dtype=np.int8), categories=[station])
    _require(frame, LONG_FIELDS, path.name, "Map them with --map FIELD=COLUMN.")
    n = len(frame)
    period = categorical_map(frame["period"], lambda v: str(v).strip().lower()) if "period" in frame else "1h"
    station = categorical_map(frame["station"], lambda v: v.strip() if isinstance(v, str) else v)
    return _frame(n, station=station, parameter=frame["parameter"],
                  time=parse_times_once(frame["time"]), time_text=frame["time"], period=period, value=frame["value"],
                  unit=frame["unit"], qc_flag=frame["flag"] if "flag" in frame else None,
                  instrument_status=frame["instrument_status"] if "instrument_status" in frame else None,
                  line=frame["line"])


def read_openaq(path: Path, mapping: dict[str, str] | None = None, station: str | None = None) -> pd.DataFrame:
    """OpenAQ archive CSV; the station is ``--station`` or else the OpenAQ location_id."""
    frame = _read_csv(path)
    _require(frame, OPENAQ_COLUMNS, path.name, "This is not an OpenAQ archive file.")
    # OpenAQ archive datetimes carry their offset and label the end of the averaging hour.
    return _frame(len(frame), station=station if station is not None else frame["location_id"].str.strip(),
                  parameter=frame["parameter"], time=parse_times(frame["datetime"]), time_text=frame["datetime"],
                  period="1h", value=frame["value"], unit=frame["units"], line=frame["line"])


def read_water(path: Path, mapping: dict[str, str] | None = None, station: str | None = None) -> pd.DataFrame:
    """Water samples: station, sampled_at, parameter, value, unit [, flag]."""
    frame = _read_csv(path)
    frame = frame.rename(columns={src: tgt for tgt, src in (mapping or {}).items()})
    if station is not None:
        frame["station"] = station
    _require(frame, WATER_FIELDS, path.name, "Map them with --map FIELD=COLUMN.")
    return _frame(len(frame), station=frame["station"].str.strip(), parameter=frame["parameter"],
                  time=parse_times(frame["sampled_at"]), time_text=frame["sampled_at"], period="sample",
                  value=frame["value"], unit=frame["unit"], qc_flag=frame["flag"] if "flag" in frame else None,
                  line=frame["line"])


def stateair_layout(path: Path, text: str) -> str:
    """Which StateAir layout a file has; a file mixing both (or repeating a header) is refused whole."""
    lines = text.splitlines()
    header = lines[0].strip()
    layout = next((k for k, (sep, cols) in STATEAIR_LAYOUTS.items() if header == sep.join(cols)), None)
    if layout is None:
        raise InputError("không phải tệp StateAir / not a StateAir export: the header matches neither the 2016 "
                         "(';') nor the 2017 (',') layout", file=path.name, row=1)
    sep, cols = STATEAIR_LAYOUTS[layout]
    other = next(k for k in STATEAIR_LAYOUTS if k != layout)
    other_sep, other_cols = STATEAIR_LAYOUTS[other]
    for no, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if line.count(sep) != len(cols) - 1 or line.strip() in (header, other_sep.join(other_cols)):
            shape = other if line.count(other_sep) == len(other_cols) - 1 else "an unknown"
            raise InputError(f"tệp trộn hai định dạng / the file mixes layouts: it starts as the {layout} StateAir "
                             f"layout but this line has {shape} layout; split the file and load each part",
                             file=path.name, row=no)
    return layout


def read_stateair(path: Path, mapping: dict[str, str] | None = None, station: str | None = None) -> pd.DataFrame:
    """US StateAir hourly export (2016 ';' with AM/PM and numeric categories, or 2017 ',' with NowCast)."""
    text = _read_text(path)
    layout = stateair_layout(path, text)
    if station is None:
        raise InputError("tệp StateAir ghi tên thành phố, không phải mã trạm / a StateAir file names a city, not "
                         "a station: pass --station CODE (a code in monitoring_stations)", file=path.name)
    frame = _read_csv(path, sep=STATEAIR_LAYOUTS[layout][0])
    sites = frame["Site"].str.strip().unique()
    if len(sites) > 1:
        raise InputError(f"tệp có nhiều trạm / the file mixes sites {', '.join(map(str, sites))}; one station per "
                         "file", file=path.name)
    times = _repair_us_dst(pd.to_datetime(frame["Date (LT)"].str.strip(), format="%Y-%m-%d %I:%M %p",
                                          errors="coerce"))
    raw = frame["Raw Conc."].str.strip()
    missing = raw == STATEAIR_MISSING
    qc = frame["QC Name"].str.strip().str.lower().map(QC_NAMES).fillna(frame["QC Name"])
    out = _frame(len(frame), station=station, parameter=frame["Parameter"].str.strip(),
                 time=times.dt.tz_localize(LOCAL_TZ).dt.tz_convert("UTC"), time_text=frame["Date (LT)"],
                 period=frame["Duration"].str.strip().str.lower().map(DURATIONS).fillna(frame["Duration"]),
                 value=raw.where(~missing, ""), unit=frame["Conc. Unit"], qc_flag=qc.where(~missing, "missing"),
                 line=frame["line"])
    category = frame["AQI Category"].str.strip()
    out["source_category"] = (category.map(STATEAIR_CATEGORIES) if layout == "2016"
                              else category.where(category != STATEAIR_MISSING))
    nowcast = (pd.to_numeric(frame["NowCast Conc."], errors="coerce") if layout == "2017"
               else pd.Series(np.nan, index=frame.index))
    out["source_nowcast"] = nowcast.where(nowcast != -999)
    out.attrs["layout"] = layout
    return out


def _repair_us_dst(local: pd.Series) -> pd.Series:
    """Undo the export's US daylight-saving artefact: on the 2nd Sunday of March 02:00 is missing, 03:00 twice.

    StateAir printed Việt Nam hours through a US clock, which has no 02:00 that night; the rows are still in
    hour order, so the first "03:00" of such a pair is the 02:00 hour (Việt Nam has no daylight saving).
    """
    t = local.copy()
    dup = t.duplicated(keep="last") & t.notna()
    for i in np.flatnonzero(dup.to_numpy()):
        hour = t.iloc[i]
        if i + 1 < len(t) and t.iloc[i + 1] == hour and (i == 0 or t.iloc[i - 1] == hour - pd.Timedelta(hours=2)) \
                and (t != hour - pd.Timedelta(hours=1)).all():
            t.iloc[i] = hour - pd.Timedelta(hours=1)
    return t


READERS: dict[str, Callable[..., pd.DataFrame]] = {
    "long": read_long, "openaq": read_openaq, "stateair": read_stateair, "water": read_water,
}


def read_observations(kind: str, path: Path, mapping: dict[str, str] | None = None,
                      station: str | None = None) -> pd.DataFrame:
    """Read a file of ``kind`` (long | openaq | stateair | water) into the raw observation frame."""
    reader = READERS.get(kind)
    if reader is None:
        raise InputError(f"unknown file kind {kind!r}; use one of {', '.join(READERS)}")
    return reader(Path(path), mapping=mapping, station=station)


