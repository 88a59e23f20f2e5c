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


class _Rejects:
    """Per-row errors; messages are built only for the rows that have them."""

    def __init__(self, raw: pd.DataFrame) -> None:
        self.ok = np.ones(len(raw), dtype=bool)
        self.lines = raw["line"].to_numpy()
        self.keys = (raw["station"].astype(str) + "|" + raw["parameter"].astype(str) + "|"
                     + raw["time_text"].astype(str)).to_numpy()
        self.problems: list[Problem] = []

    def add(self, mask: NDArray[np.bool_], field_name: str, reason: object) -> None:
        """Reject rows in ``mask`` (only those not rejected already, so each row gets its first reason)."""
        mask = np.asarray(mask, dtype=bool) & self.ok
        for i in np.flatnonzero(mask):
            text = reason(i) if callable(reason) else str(reason)
            self.problems.append(Problem(int(self.lines[i]), self.keys[i], field_name, text))
        self.ok &= ~mask


def check_observations(raw: pd.DataFrame, params: dict[str, Parameter], known_stations: set[str],
                       now: pd.Timestamp, medium: str | None = None) -> CheckedObservations:
    """Check and convert every row; each rejected row gets one Problem naming its line, field and reason."""
    rej = _Rejects(raw)
    codes = _check_parameters(raw, params, medium, rej)
    value, factor = _check_values(raw, params, codes, rej)
    qc = _check_flags(raw, value, rej)
    _check_times(raw, now, rej)
    canonical = value * factor
    _check_ranges(raw, params, codes, canonical, qc, rej)
    _check_duplicates(raw, codes, rej)
    unknown = _check_stations(raw, known_stations, rej)
    rows = pd.DataFrame({
        "station_code": raw["station"].astype(str), "parameter": codes, "measured_at": raw["time"],
        "period": raw["period"], "value": canonical.where(qc != "missing"),
        "original_value": value, "original_unit": raw["unit"].astype(str).str.strip(), "qc_flag": qc,
        "instrument_status": raw["instrument_status"].where(raw["instrument_status"].notna(), None)
        .map(lambda v: v.strip().lower() if isinstance(v, str) and v.strip() else None),
        "line": raw["line"]})
    return CheckedObservations(rows[rej.ok].reset_index(drop=True), rej.problems, len(raw), unknown)


def _check_parameters(raw: pd.DataFrame, params: dict[str, Parameter], medium: str | None,
                      rej: _Rejects) -> pd.Series:
    names = raw["parameter"].astype(str).str.strip()
    codes = names.str.lower().map(alias_map(params))
    rej.add(codes.isna().to_numpy(), "parameter",
            lambda i: f"thông số không rõ / unknown parameter {names.iloc[i]!r}")
    if medium is not None:
        wrong = codes.map(lambda c: c in params and params[c].medium != medium).to_numpy(dtype=bool)
        rej.add(wrong, "parameter", lambda i: f"{codes.iloc[i]} is a {params[codes.iloc[i]].medium} parameter; "
                                              f"this file takes {medium} parameters")
    return codes


def _check_values(raw: pd.DataFrame, params: dict[str, Parameter], codes: pd.Series,
                  rej: _Rejects) -> tuple[pd.Series, pd.Series]:
    text = raw["value"].astype(object).where(raw["value"].notna(), "").astype(str).str.strip()
    value = pd.to_numeric(text, errors="coerce")
    rej.add(((text != "") & value.isna()).to_numpy(), "value",
            lambda i: f"giá trị không phải số / text in the value column: {text.iloc[i]!r}")
    # One factor per distinct (parameter, unit) pair, then mapped: a file has few pairs and many rows.
    pair = codes.fillna("") + "\x1f" + raw["unit"].astype(str)
    lookup = {k: _factor(params[k.split("\x1f")[0]], k.split("\x1f", 1)[1]) if k.split("\x1f")[0] in params
              else None for k in pair.unique()}
    factor = pair.map(lookup).astype("float64")
    rej.add(factor.isna().to_numpy(), "unit",
            lambda i: f"sai đơn vị / unit {str(raw['unit'].iloc[i]).strip()!r} is not valid for "
                      f"{codes.iloc[i]} (stored in {params[codes.iloc[i]].unit}"
                      f"{'; ppb/ppm only for gases' if unit_token(raw['unit'].iloc[i]) in ('ppb', 'ppm') else ''})")
    return value, factor


def _check_flags(raw: pd.DataFrame, value: pd.Series, rej: _Rejects) -> pd.Series:
    flag = raw["qc_flag"].astype(object).where(raw["qc_flag"].notna(), "").astype(str).str.strip().str.lower()
    # A reading without a QC flag is taken as valid; its status stays 'provisional' until someone validates it.
    flag = flag.where(flag != "", "valid")
    rej.add((~flag.isin(QC_FLAGS)).to_numpy(), "qc_flag",
            lambda i: f"cờ QC không rõ / unknown QC flag {flag.iloc[i]!r}; use {', '.join(QC_FLAGS)}")
    flag = flag.where(value.notna(), "missing")   # an empty value is a missing reading whatever the flag says
    status = raw["instrument_status"].astype(object).where(raw["instrument_status"].notna(), "").astype(str)
    status = status.str.strip().str.lower()
    rej.add(((status != "") & ~status.isin(INSTRUMENT_STATUSES)).to_numpy(), "instrument_status",
            lambda i: f"unknown instrument status {status.iloc[i]!r}; use {', '.join(INSTRUMENT_STATUSES)}")
    period = raw["period"].astype(str)
    rej.add((~period.isin(PERIODS)).to_numpy(), "period",
            lambda i: f"unsupported averaging period {period.iloc[i]!r}; use {', '.join(PERIODS)}")
    return flag


def _check_times(raw: pd.DataFrame, now: pd.Timestamp, rej: _Rejects) -> None:
    t = raw["time"]
    rej.add(t.isna().to_numpy(), "time", lambda i: f"không đọc được thời gian / unreadable timestamp "
                                                   f"{raw['time_text'].iloc[i]!r}")
    rej.add((t > now).fillna(False).to_numpy(dtype=bool), "time",
            lambda i: f"thời gian ở tương lai / timestamp in the future: {raw['time_text'].iloc[i]} "
                      f"(now {now.tz_convert('Asia/Ho_Chi_Minh'):%Y-%m-%d %H:%M} +07:00)")
    hourly = raw["period"].isin(("1h", "24h")).to_numpy()
    off = t.notna().to_numpy() & hourly
    off[off] = (t[off] != t[off].dt.floor("h")).to_numpy()
    rej.add(off, "time", lambda i: f"an hourly value must end on the hour: {raw['time_text'].iloc[i]!r}")


def _check_ranges(raw: pd.DataFrame, params: dict[str, Parameter], codes: pd.Series, value: pd.Series,
                  qc: pd.Series, rej: _Rejects) -> None:
    # Rows the source itself flagged invalid keep their value as given (e.g. StateAir's 985 = instrument error):
    # the flag already says they must not be used.
    checked = value.notna() & ~qc.isin(("invalid", "missing"))
    lo = codes.map(lambda c: params[c].min_value if c in params else np.nan).astype("float64")
    hi = codes.map(lambda c: params[c].max_value if c in params else np.nan).astype("float64")
    unit = codes.map(lambda c: params[c].unit if c in params else "")
    rej.add((checked & (value < lo)).to_numpy(), "value",
            lambda i: f"giá trị âm / negative value {value.iloc[i]:g} {unit.iloc[i]} (lowest accepted for "
                      f"{codes.iloc[i]}: {lo.iloc[i]:g})")
    rej.add((checked & ~(value <= hi)).to_numpy(), "value",
            lambda i: f"giá trị không thể có / impossible value {value.iloc[i]:g} {unit.iloc[i]} for "
                      f"{codes.iloc[i]} (above {hi.iloc[i]:g})")


def _check_duplicates(raw: pd.DataFrame, codes: pd.Series, rej: _Rejects) -> None:
    complete = (codes.notna() & raw["time"].notna()).to_numpy()
    label = (raw["station"].astype(str) + "|" + codes.fillna("") + "|" + raw["time"].astype(str) + "|"
             + raw["period"].astype(str))
    dup = label.duplicated(keep=False).to_numpy() & complete
    if not dup.any():
        return
    lines = raw["line"].to_numpy()
    groups = pd.Series(lines[dup]).groupby(label.to_numpy()[dup]).agg(list)
    rej.add(dup, "station+parameter+time",
            lambda i: f"trùng giờ / duplicate reading for {codes.iloc[i]} at {raw['time_text'].iloc[i]} "
                      f"(also line {', '.join(str(x) for x in groups[label.iloc[i]] if x != lines[i])})")


def _check_stations(raw: pd.DataFrame, known: set[str], rej: _Rejects) -> list[str]:
    station = raw["station"].astype(str).str.strip()
    rej.add((station == "").to_numpy() | raw["station"].isna().to_numpy(), "station", "thiếu mã trạm / no station")
    absent = (~station.isin(known) & (station != "")).to_numpy()
    unknown = sorted(station[absent].unique().tolist())
    # Reported, never invented: a station must be loaded into monitoring_stations before its readings.
    listed = ", ".join(unknown[:20]) + (" …" if len(unknown) > 20 else "")
    rej.add(absent, "station", lambda i: f"trạm chưa có / station {station.iloc[i]!r} is not in monitoring_stations "
                                         f"(unknown in this file: {listed}); load the station first")
    return unknown
