"""Checks and conversion of raw observations: parameter, unit → canonical unit, value, time, QC, duplicates, stations."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ingest.checks import Problem

MOLAR_VOLUME_L = 24.45   # litres per mole at 25 °C and 1 atm: ppb → µg/m³ is × MW / 24.45 (reference §4.1)
QC_FLAGS = ("valid", "invalid", "missing", "suspect")
INSTRUMENT_STATUSES = ("measuring", "calibrating", "error")
PERIODS = ("1h", "24h", "sample")
# Spellings seen in real files → one token per unit.
_UNIT_SPELLINGS = {"ug/m3": "ug/m3", "ug/m^3": "ug/m3", "ugm-3": "ug/m3", "mg/m3": "mg/m3", "mg/m^3": "mg/m3",
                   "ppb": "ppb", "ppm": "ppm", "mg/l": "mg/l", "ug/l": "ug/l", "mpn/100ml": "mpn/100ml",
                   "ph": "ph", "": "", "-": "", "c": "c", "°c": "c", "degc": "c", "oc": "c"}
# (canonical token, source token) → factor; gases in ppb/ppm use their molecular weight (see _factor).
_FACTORS = {("ug/m3", "ug/m3"): 1.0, ("ug/m3", "mg/m3"): 1000.0, ("mg/l", "mg/l"): 1.0, ("mg/l", "ug/l"): 0.001,
            ("ug/l", "ug/l"): 1.0, ("ug/l", "mg/l"): 1000.0, ("mpn/100ml", "mpn/100ml"): 1.0, ("ph", "ph"): 1.0,
            ("ph", ""): 1.0, ("c", "c"): 1.0}


@dataclass(frozen=True)
class Parameter:
    code: str
    medium: str
    unit: str
    molecular_weight: float | None
    min_value: float
    max_value: float
    aliases: tuple[str, ...] = ()


@dataclass
class CheckedObservations:
    """Accepted rows in the measurements shape, the problems found, and how many rows were read."""

    rows: pd.DataFrame
    problems: list[Problem] = field(default_factory=list)
    n_read: int = 0
    unknown_stations: list[str] = field(default_factory=list)

    @property
    def n_rejected(self) -> int:
        return self.n_read - len(self.rows)


def unit_token(text: object) -> str | None:
    """One spelling per unit (µg/m³, ug/m3, UG/M3 → ug/m3); None for a unit this platform does not know."""
    t = "" if text is None or text != text else str(text)
    t = t.strip().lower().replace("µ", "u").replace("μ", "u").replace("³", "3").replace(" ", "")
    return _UNIT_SPELLINGS.get(t)


def _factor(param: Parameter, unit: object) -> float | None:
    canonical, source = unit_token(param.unit), unit_token(unit)
    if source is None:
        return None
    if canonical == "ug/m3" and source in ("ppb", "ppm") and param.molecular_weight:
        return param.molecular_weight / MOLAR_VOLUME_L * (1000.0 if source == "ppm" else 1.0)
    return _FACTORS.get((canonical, source))


def alias_map(params: dict[str, Parameter]) -> dict[str, str]:
    out = {}
    for p in params.values():
        for name in (p.code, *p.aliases):
            out[name.strip().lower()] = p.code
    return out


def _dict(values: pd.Series) -> tuple[NDArray[np.int64], list]:
    """Codes (-1 = missing) and distinct values of a column, Categorical or not."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return values.cat.codes.to_numpy().astype(np.int64), list(values.cat.categories)
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    return codes.astype(np.int64), list(uniques)


def _per_value(values: pd.Series, fn, dtype: object = object) -> np.ndarray:  # noqa: ANN001
    """``fn`` of every row's value, computed once per distinct value (a missing value is passed as None)."""
    codes, cats = _dict(values)
    table = np.array([fn(c) for c in cats] + [fn(None)], dtype=dtype)
    return table[codes]


def _as_text(v: object) -> str:
    """What ``Series.astype(str)`` gives: 'nan' for a missing value."""
    return "nan" if v is None or v != v else str(v)


def _blank(v: object) -> str:
    """A missing value as '' (the columns a file may leave empty)."""
    return "" if v is None or v != v else str(v)


class _Rejects:
    """Per-row errors; messages (and the row's key) are built only for the rows that have them."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.raw = raw
        self.ok = np.ones(len(raw), dtype=bool)
        self.lines = raw["line"].to_numpy()
        self.problems: list[Problem] = []
        self._columns: dict[str, tuple[NDArray[np.int64], list]] = {}

    def value(self, column: str, i: int) -> object:
        """Row ``i``'s value of a raw column (NaN when missing), without a per-row pandas lookup."""
        if column not in self._columns:
            self._columns[column] = _dict(self.raw[column])
        codes, cats = self._columns[column]
        return cats[codes[i]] if codes[i] >= 0 else np.nan

    def key(self, i: int) -> str:
        return "|".join(_as_text(self.value(c, i)) for c in ("station", "parameter", "time_text"))

    def add(self, mask: NDArray[np.bool_], field_name: str, reason: object) -> None:
        """Reject rows in ``mask`` (only those not rejected already, so each row gets its first reason)."""
        mask = np.asarray(mask, dtype=bool) & self.ok
        for i in np.flatnonzero(mask):
            text = reason(i) if callable(reason) else str(reason)
            self.problems.append(Problem(int(self.lines[i]), self.key(i), field_name, text))
        self.ok &= ~mask


@dataclass
class _Codes:
    """The parameter of every row as an index into ``codes`` (-1: unknown), and the parameters' properties."""

    index: NDArray[np.int64]
    codes: list[str]
    params: list[Parameter]

    def code(self, i: int) -> str:
        return self.codes[self.index[i]]

    def prop(self, name: str, missing: float = np.nan) -> NDArray[np.float64]:
        table = np.array([float(getattr(p, name)) for p in self.params] + [missing], dtype=np.float64)
        return table[self.index]


def check_observations(raw: pd.DataFrame, params: dict[str, Parameter], known_stations: set[str],
                       now: pd.Timestamp, medium: str | None = None) -> CheckedObservations:
    """Check and convert every row; each rejected row gets one Problem naming its line, field and reason.

    Vectorised: every text column is taken as codes into its distinct values, the per-value work (aliases,
    units, flags, numbers) is done once per distinct value, the row work with numpy.
    """
    rej = _Rejects(raw)
    codes = _check_parameters(raw, params, medium, rej)
    value, factor = _check_values(raw, params, codes, rej)
    qc = _check_flags(raw, value, rej)
    t_us = _check_times(raw, now, rej)
    canonical = value * factor
    _check_ranges(codes, canonical, qc, rej)
    station = _stripped_stations(raw)
    _check_duplicates(raw, codes, t_us, station[0], rej)
    unknown = _check_stations(station, known_stations, rej)
    keep = np.flatnonzero(rej.ok)
    r_codes, r_cats = _dict(raw["period"])
    # Accepted rows in the measurements shape; text columns stay Categoricals (the COPY encoder sends each
    # distinct value's bytes once per layout, not one Python string per row).
    qc_kept = qc[keep]
    rows = pd.DataFrame({
        "station_code": _categorical(station[0][keep], station[1]),
        "parameter": _categorical(codes.index[keep], codes.codes),
        "measured_at": pd.Series(raw["time"].array.take(keep)),
        "period": _categorical(r_codes[keep], r_cats),
        "value": np.where(qc_kept == QC_FLAGS.index("missing"), np.nan, canonical[keep]),
        "original_value": value[keep],
        "original_unit": _categorical(*_unit_codes(raw, keep)),
        "qc_flag": _categorical(qc_kept, list(QC_FLAGS)),
        "instrument_status": _categorical(_instrument_codes(raw)[keep], list(INSTRUMENT_STATUSES)),
        "line": raw["line"].to_numpy()[keep]})
    return CheckedObservations(rows, rej.problems, len(raw), unknown)


def _categorical(codes: NDArray[np.integer], categories: list) -> pd.Categorical:
    """A Categorical from codes (-1 = missing) into ``categories``: equal texts merged, unused ones dropped
    (counted with bincount, not sorted: the columns have a million rows and a handful of values)."""
    first: dict[str, int] = {}
    merged = np.array([first.setdefault(str(c), len(first)) for c in categories] + [-1], dtype=np.int64)
    codes = merged[np.asarray(codes, dtype=np.int64)]          # code -1 picks the trailing -1
    used = np.flatnonzero(np.bincount(codes + 1, minlength=len(first) + 1)[1:])
    compact = np.full(len(first) + 1, -1, dtype=np.int64)
    compact[used] = np.arange(len(used))
    texts = list(first)
    return pd.Categorical.from_codes(compact[codes], categories=pd.Index([texts[k] for k in used], dtype=object))


def _unit_codes(raw: pd.DataFrame, keep: NDArray[np.int64]) -> tuple[NDArray[np.int64], list[str]]:
    codes, cats = _dict(raw["unit"])
    return codes[keep], [_as_text(c).strip() for c in cats]


def _instrument_codes(raw: pd.DataFrame) -> NDArray[np.int64]:
    """Index into INSTRUMENT_STATUSES of the stored status (-1: none); unknown ones are rejected before."""
    def index(v: object) -> int:
        t = v.strip().lower() if isinstance(v, str) else ""
        return INSTRUMENT_STATUSES.index(t) if t in INSTRUMENT_STATUSES else -1
    column = raw["instrument_status"]
    if column.isna().all():
        return np.full(len(raw), -1, dtype=np.int64)
    return _per_value(column, index, np.int64)


def _check_parameters(raw: pd.DataFrame, params: dict[str, Parameter], medium: str | None,
                      rej: _Rejects) -> _Codes:
    aliases = alias_map(params)
    listed = sorted(params)
    position = {c: k for k, c in enumerate(listed)}
    p_codes, p_cats = _dict(raw["parameter"])
    names = [_as_text(c).strip() for c in p_cats] + ["nan"]
    index = np.array([position.get(aliases.get(n.lower()), -1) for n in names], dtype=np.int64)[p_codes]
    codes = _Codes(index, listed, [params[c] for c in listed])
    rej.add(index < 0, "parameter", lambda i: f"thông số không rõ / unknown parameter {names[p_codes[i]]!r}")
    if medium is not None:
        media = np.array([p.medium != medium for p in codes.params] + [False], dtype=bool)
        rej.add(media[index], "parameter", lambda i: f"{codes.code(i)} is a {params[codes.code(i)].medium} "
                                                     f"parameter; this file takes {medium} parameters")
    return codes


def _check_values(raw: pd.DataFrame, params: dict[str, Parameter], codes: _Codes,
                  rej: _Rejects) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    v_codes, v_cats = _dict(raw["value"])
    texts = [_blank(c).strip() for c in v_cats] + [""]
    numbers = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").astype("float64").to_numpy()
    value = numbers[v_codes]
    bad_text = np.array([t != "" for t in texts])[v_codes] & np.isnan(value)
    rej.add(bad_text, "value", lambda i: f"giá trị không phải số / text in the value column: {texts[v_codes[i]]!r}")
    # One factor per distinct (parameter, unit) pair: a file has few pairs and many rows.
    u_codes, u_cats = _dict(raw["unit"])
    units = [_as_text(c) for c in u_cats] + ["nan"]
    u_codes = np.where(u_codes >= 0, u_codes, len(u_cats))
    pair = (codes.index + 1) * len(units) + u_codes        # parameter index -1 (unknown) → pairs below len(units)
    table = np.full((len(codes.params) + 1) * len(units), np.nan)
    present = np.flatnonzero(np.bincount(pair, minlength=len(table)))
    for p in present[present >= len(units)].tolist():
        f = _factor(codes.params[p // len(units) - 1], units[p % len(units)])
        table[p] = np.nan if f is None else f
    factor = table[pair]
    rej.add(np.isnan(factor), "unit",
            lambda i: f"sai đơn vị / unit {units[u_codes[i]].strip()!r} is not valid for "
                      f"{codes.code(i)} (stored in {params[codes.code(i)].unit}"
                      f"{'; ppb/ppm only for gases' if unit_token(units[u_codes[i]]) in ('ppb', 'ppm') else ''})")
    return value, factor


def _check_flags(raw: pd.DataFrame, value: NDArray[np.float64], rej: _Rejects) -> NDArray[np.int64]:
    """The QC flag of every row as an index into QC_FLAGS (-1: unknown flag, rejected)."""
    q_codes, q_cats = _dict(raw["qc_flag"])
    # A reading without a QC flag is taken as valid; its status stays 'provisional' until someone validates it.
    flags = [(_blank(c).strip().lower() or "valid") for c in q_cats] + ["valid"]
    qc = np.array([QC_FLAGS.index(f) if f in QC_FLAGS else -1 for f in flags], dtype=np.int64)[q_codes]
    rej.add(qc < 0, "qc_flag",
            lambda i: f"cờ QC không rõ / unknown QC flag {flags[q_codes[i]]!r}; use {', '.join(QC_FLAGS)}")
    qc[np.isnan(value)] = QC_FLAGS.index("missing")   # an empty value is a missing reading whatever the flag says
    s_codes, s_cats = _dict(raw["instrument_status"])
    statuses = [_blank(c).strip().lower() for c in s_cats] + [""]
    bad = np.array([s != "" and s not in INSTRUMENT_STATUSES for s in statuses], dtype=bool)[s_codes]
    rej.add(bad, "instrument_status", lambda i: f"unknown instrument status {statuses[s_codes[i]]!r}; "
                                                f"use {', '.join(INSTRUMENT_STATUSES)}")
    r_codes, r_cats = _dict(raw["period"])
    periods = [_as_text(c) for c in r_cats] + ["nan"]
    bad = np.array([p not in PERIODS for p in periods], dtype=bool)[r_codes]
    rej.add(bad, "period", lambda i: f"unsupported averaging period {periods[r_codes[i]]!r}; "
                                     f"use {', '.join(PERIODS)}")
    return qc


def _time_us(raw: pd.DataFrame) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """UTC µs since 1970 of every row's time, and where it is unreadable (NaT)."""
    t = raw["time"]
    if not isinstance(t.dtype, pd.DatetimeTZDtype):
        t = pd.to_datetime(t, utc=True)
    values = t.array.tz_convert("UTC").tz_localize(None).as_unit("us").asi8 if len(t) else np.zeros(0, np.int64)
    nat = t.isna().to_numpy()
    return np.asarray(values, dtype=np.int64), nat


def _check_times(raw: pd.DataFrame, now: pd.Timestamp, rej: _Rejects) -> NDArray[np.int64]:
    t_us, nat = _time_us(raw)

    def text(i: int) -> object:
        return rej.value("time_text", i)
    rej.add(nat, "time", lambda i: f"không đọc được thời gian / unreadable timestamp {text(i)!r}")
    now_us = int(np.datetime64(pd.Timestamp(now).tz_convert("UTC").tz_localize(None), "us").astype(np.int64))
    rej.add(~nat & (t_us > now_us), "time",
            lambda i: f"thời gian ở tương lai / timestamp in the future: {text(i)} "
                      f"(now {now.tz_convert('Asia/Ho_Chi_Minh'):%Y-%m-%d %H:%M} +07:00)")
    r_codes, r_cats = _dict(raw["period"])
    hourly = np.array([_as_text(c) in ("1h", "24h") for c in r_cats] + [False], dtype=bool)[r_codes]
    off = ~nat & hourly & (np.mod(t_us, 3_600_000_000) != 0)
    rej.add(off, "time", lambda i: f"an hourly value must end on the hour: {text(i)!r}")
    return t_us


def _check_ranges(codes: _Codes, value: NDArray[np.float64], qc: NDArray[np.int64], rej: _Rejects) -> None:
    # Rows the source itself flagged invalid keep their value as given (e.g. StateAir's 985 = instrument error):
    # the flag already says they must not be used.
    checked = ~np.isnan(value) & (qc != QC_FLAGS.index("invalid")) & (qc != QC_FLAGS.index("missing"))
    lo, hi = codes.prop("min_value"), codes.prop("max_value")
    with np.errstate(invalid="ignore"):
        low, high = checked & (value < lo), checked & ~(value <= hi)

    def unit(i: int) -> str:
        return codes.params[codes.index[i]].unit if codes.index[i] >= 0 else ""
    rej.add(low, "value", lambda i: f"giá trị âm / negative value {value[i]:g} {unit(i)} (lowest accepted for "
                                    f"{codes.code(i)}: {lo[i]:g})")
    rej.add(high, "value", lambda i: f"giá trị không thể có / impossible value {value[i]:g} {unit(i)} for "
                                     f"{codes.code(i)} (above {hi[i]:g})")


def _check_duplicates(raw: pd.DataFrame, codes: _Codes, t_us: NDArray[np.int64], s_codes: NDArray[np.int64],
                      rej: _Rejects) -> None:
    """Rows with the same station (as stored: stripped), parameter, time and period (int64 keys, sorted once)."""
    nat = raw["time"].isna().to_numpy()
    complete = (codes.index >= 0) & ~nat
    r_codes, r_cats = _dict(raw["period"])
    small = ((s_codes + 1) * (len(codes.codes) + 1) + (codes.index + 1)) * (len(r_cats) + 1) + (r_codes + 1)
    t = t_us                      # NaT is the smallest int64, unlike any real time
    t_lo, t_hi = (int(t[~nat].min()), int(t[~nat].max())) if (~nat).any() else (0, 0)
    span = t_hi - t_lo + 2
    if float(span) * float(int(small.max()) + 1) < 2 ** 62:
        # One int64 per row: sorting it is several times faster than a lexsort of two keys.
        key = small * span + np.where(nat, 0, t - t_lo + 1)
        order = np.argsort(key, kind="stable")
        same = key[order][1:] == key[order][:-1]
    else:
        order = np.lexsort((t, small))
        same = (small[order][1:] == small[order][:-1]) & (t[order][1:] == t[order][:-1])
    if not same.any():
        return
    dup_sorted = np.zeros(len(order), dtype=bool)
    dup_sorted[1:] |= same
    dup_sorted[:-1] |= same
    dup = np.zeros(len(order), dtype=bool)
    dup[order] = dup_sorted
    dup &= complete
    if not dup.any():
        return
    lines = raw["line"].to_numpy()
    rows = np.flatnonzero(dup)
    groups: dict[tuple[int, int], list[int]] = {}
    for i in rows.tolist():
        groups.setdefault((int(small[i]), int(t[i])), []).append(int(lines[i]))
    rej.add(dup, "station+parameter+time",
            lambda i: f"trùng giờ / duplicate reading for {codes.code(i)} at {rej.value('time_text', i)} "
                      f"(also line {', '.join(str(x) for x in groups[(int(small[i]), int(t[i]))] if x != lines[i])})")


def _stripped_stations(raw: pd.DataFrame) -> tuple[NDArray[np.int64], list[str]]:
    """Every row's station as it is stored (stripped; a missing one is 'nan'), as codes into distinct values."""
    codes, cats = _dict(raw["station"])
    first: dict[str, int] = {}
    merged = np.array([first.setdefault(_as_text(c).strip(), len(first)) for c in cats] + [-1], dtype=np.int64)
    return merged[codes], list(first)


def _check_stations(station: tuple[NDArray[np.int64], list[str]], known: set[str], rej: _Rejects) -> list[str]:
    """Station checks on the stripped codes; returns the unknown ones."""
    s_codes, stripped = station
    missing = np.array([s == "" for s in stripped] + [True], dtype=bool)[s_codes]
    rej.add(missing, "station", "thiếu mã trạm / no station")
    absent_cat = np.array([s != "" and s not in known for s in stripped] + [False], dtype=bool)
    absent = absent_cat[s_codes]
    unknown = sorted({stripped[c] for c in np.unique(s_codes[absent]).tolist()})
    # Reported, never invented: a station must be loaded into monitoring_stations before its readings.
    listed = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
    rej.add(absent, "station", lambda i: f"trạm chưa có / station {stripped[s_codes[i]]!r} is not in "
                                         f"monitoring_stations (unknown in this file: {listed}); load the station first")
    return unknown
