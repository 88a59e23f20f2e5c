"""The arithmetic behind one stored hourly AQI, redone exactly from the readings and checked against the store.

`geo aqi station CODE --explain` prints these lines. Every number is recomputed with the exact engine
(``geo.aqi.nowcast`` / ``sub_index`` on Fractions) from the stored 1-h readings, and each result is compared with
what aqi_hourly holds: the explanation may never show a different number from the one the map shows.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from fractions import Fraction

import psycopg

from geo.aqi import NOWCAST_HOURS, O3_8H_MIN_HOURS, SubIndex, mean_with_count, nowcast, round_half_up, sub_index
from geo.aqi_tables import PM_POLLUTANTS, POLLUTANTS, TABLES, BreakpointTable

LABELS = {"pm25": "PM2.5", "pm10": "PM10", "o3": "O3", "no2": "NO2", "so2": "SO2", "co": "CO"}
USABLE = ("valid", "suspect")
# Stored exact sub-indices are rounded to 6 decimals; NowCasts and means are float64 of the vectorised engine.
STORED_TOLERANCE = Fraction(1, 10 ** 6)


@dataclass
class Explanation:
    lines: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)

    def say(self, text: str = "") -> None:
        self.lines.append(text)

    def check(self, what: str, recomputed: Fraction | int | None, stored: float | int | None) -> None:
        """Compare a recomputed number with the stored one and say so either way."""
        same = (recomputed is None and stored is None) or (
            recomputed is not None and stored is not None
            and abs(Fraction(recomputed) - Fraction(str(stored))) <= STORED_TOLERANCE)
        if same:
            self.say(f"      ✓ {what} = {fmt(stored)}: bằng giá trị đã lưu / equals the stored value")
        else:
            self.say(f"      ✗ KHÁC giá trị đã lưu / DIFFERS from the stored value: {what} stored {fmt(stored)}, "
                     f"recomputed {fmt(recomputed)}")
            self.mismatches.append(what)


def fmt(value: Fraction | float | int | None, places: int = 6) -> str:
    """A number to at most ``places`` decimals (half-up), trailing zeros dropped; '—' for none."""
    if value is None:
        return "—"
    text = format(round_half_up(Fraction(str(value)) if isinstance(value, float) else value, places), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def hour_readings(conn: psycopg.Connection, station: str, parameter: str, end: datetime,
                  hours: int) -> list[tuple[datetime, float | None, str]]:
    """(hour, value, qc flag) for the ``hours`` hours ending at ``end``, newest first; absent hours as 'absent'."""
    start = end - timedelta(hours=hours - 1)
    rows = conn.execute("SELECT measured_at, value, qc_flag FROM measurements WHERE station_code = %s AND "
                        "parameter = %s AND period = '1h' AND measured_at BETWEEN %s AND %s",
                        (station, parameter, start, end)).fetchall()
    found = {r[0]: (r[1], r[2]) for r in rows}
    out = []
    for age in range(hours):
        t = end - timedelta(hours=age)
        value, flag = found.get(t, (None, "absent"))
        out.append((t, value, flag))
    return out


def usable(value: float | None, flag: str) -> float | None:
    """Convention 7: invalid/missing readings and negative values are dropped before any average or NowCast."""
    return value if value is not None and flag in USABLE and value >= 0 else None


def _explain_nowcast(ex: Explanation, readings: list[tuple[datetime, float | None, str]], scheme: str,
                     pollutant: str, local: Callable[[datetime], str]) -> Fraction | None:
    values = [usable(v, f) for _, v, f in readings]
    for i, ((t, v, f), u) in enumerate(zip(readings, values), start=1):
        note = "" if u is not None else f"  (bỏ / dropped: {f if v is None or f not in USABLE else 'negative'})"
        ex.say(f"    c{i:<2} {local(t)}  {fmt(v) if v is not None else '—':>10}{note}")
    if sum(v is not None for v in values[:3]) < 2:
        ex.say("    < 2 trong c1..c3 có số liệu / fewer than 2 of c1..c3 have data → không có NowCast / no NowCast")
        return None
    present = [(age, Fraction(str(v))) for age, v in enumerate(values) if v is not None]
    c_min, c_max = min(v for _, v in present), max(v for _, v in present)
    if c_max == 0:
        ex.say("    Cmax = 0 → NowCast = 0")
    else:
        w_star = c_min / c_max
        w = max(w_star, Fraction(1, 2))
        ex.say(f"    w* = Cmin/Cmax = {fmt(c_min)}/{fmt(c_max)} = {fmt(w_star)}"
               f" → w = {'max(w*, 1/2) = ' if w_star <= Fraction(1, 2) else ''}{fmt(w)}")
        terms = [(age, w ** age, w ** age * v) for age, v in present]
        for age, weight, term in terms:
            ex.say(f"      w^{age:<2} = {fmt(weight):<10} × c{age + 1:<2} = {fmt(term)}")
        num, den = sum(t for _, _, t in terms), sum(wt for _, wt, _ in terms)
        ex.say(f"    NowCast = Σ w^(i−1)·ci / Σ w^(i−1) = {fmt(num)} / {fmt(den)} = {fmt(num / den)}")
    result = nowcast([None if v is None else Fraction(str(v)) for v in values], scheme, pollutant)
    if scheme == "us":
        ex.say(f"    US: cắt bớt / truncated to {TABLES['us'][(pollutant, '24h')].truncate} decimal(s) → {fmt(result)}")
    return result


def explain_sub_index(ex: Explanation, concentration: Fraction | None, table: BreakpointTable) -> SubIndex | None:
    """The breakpoint segment and the interpolation with numbers, then half-up rounding."""
    sub = sub_index(concentration, table)
    if sub is None:
        ex.say(f"    không có chỉ số phụ / no sub-index (C = {fmt(concentration)} outside the {table.period} table)")
        return None
    unit = f"{table.unit}" + (f", from µg/m³ × {fmt(table.from_ugm3)}" if table.from_ugm3 != 1 else "")
    if table.truncate is not None:
        unit += f", truncated to {table.truncate} decimal(s)"
    ex.say(f"    C = {fmt(sub.concentration)} ({unit})")
    if sub.beyond_scale:
        ex.say(f"    C > {fmt(table.top)} (đỉnh thang / top of the scale) → AQIx = 500, beyond_scale")
    else:
        s = next(seg for seg in reversed(table.segments) if seg.c_lo <= sub.concentration)
        ex.say(f"    đoạn / segment BP {fmt(s.c_lo)}–{fmt(s.c_hi)} → I {s.i_lo}–{s.i_hi} ({table.period} column)")
        ex.say(f"    AQIx = (I_hi − I_lo)/(BP_hi − BP_lo) × (C − BP_lo) + I_lo = ({s.i_hi} − {s.i_lo})/"
               f"({fmt(s.c_hi)} − {fmt(s.c_lo)}) × ({fmt(sub.concentration)} − {fmt(s.c_lo)}) + {s.i_lo}"
               f" = {fmt(sub.exact)}")
    ex.say(f"    làm tròn nửa lên / half-up on the exact value: {fmt(sub.exact)} → {sub.rounded}")
    return sub


def _gas_candidates(ex: Explanation, conn: psycopg.Connection, station: str, pollutant: str, end: datetime,
                    scheme: str, detail: dict, local: Callable[[datetime], str]) -> list[tuple[str, Fraction | None, BreakpointTable]]:
    """The concentrations a gas's hourly sub-index is taken from: the 1-h reading, and for US O3/CO the 8-h mean."""
    out = []
    if scheme == "us" and pollutant in ("o3", "co"):
        hours = hour_readings(conn, station, pollutant, end, 8)
        mean, n = mean_with_count([usable(v, f) for _, v, f in hours])
        ex.say(f"    8-h mean of {', '.join(fmt(usable(v, f)) for _, v, f in reversed(hours))} = {fmt(mean)}"
               f" ({n} of 8 hours{'; provisional' if 0 < n < O3_8H_MIN_HOURS else ''})")
        ex.check(f"{pollutant}_8h", mean, detail.get(f"{pollutant}_8h"))
        out.append(("8h", mean, TABLES["us"][(pollutant, "8h")]))
        if pollutant == "co":
            return out
    (t, v, f), = hour_readings(conn, station, pollutant, end, 1)
    c = usable(v, f)
    ex.say(f"    1-h reading at {local(t)} = {fmt(v)}{'' if c is not None or v is None else ' (dropped: ' + f + ')'}")
    out.append(("1h", None if c is None else Fraction(str(c)), TABLES[scheme][(pollutant, "1h")]))
    return out


def explain_hour(conn: psycopg.Connection, station: str, scheme: str, end: datetime, stored: dict,
                 local: Callable[[datetime], str]) -> Explanation:
    """Recompute every sub-index of the stored row ``stored`` (aqi, dominant, detail) and compare."""
    ex = Explanation()
    detail = stored["detail"]
    subs: dict[str, SubIndex | None] = {}
    for p in (p for p in POLLUTANTS if p in detail):
        ex.say(f"  {LABELS[p]}:")
        if p in PM_POLLUTANTS:
            ex.say(f"    NowCast từ 12 giờ gần nhất / from the last {NOWCAST_HOURS} hours (c1 = this hour):")
            value = _explain_nowcast(ex, hour_readings(conn, station, p, end, NOWCAST_HOURS), scheme, p, local)
            ex.check(f"{p}_nowcast", value, detail.get(f"{p}_nowcast"))
            subs[p] = explain_sub_index(ex, value, TABLES[scheme][(p, "24h")])
        else:
            best = None
            for period, value, table in _gas_candidates(ex, conn, station, p, end, scheme, detail, local):
                ex.say(f"    [{period}]")
                sub = explain_sub_index(ex, value, table)
                if best is None or (sub is not None and sub.exact > best.exact):
                    best = sub
            if scheme == "us" and p == "o3":
                ex.say(f"    O3 = the larger sub-index → {fmt(best.exact) if best else '—'}")
            subs[p] = best
        ex.check(f"{p} exact", None if subs[p] is None else subs[p].exact, detail[p].get("exact"))
        ex.check(f"{p} rounded", None if subs[p] is None else subs[p].rounded, detail[p].get("rounded"))
    _explain_aqi(ex, subs, stored)
    return ex


def _explain_aqi(ex: Explanation, subs: dict[str, SubIndex | None], stored: dict) -> None:
    rounded = {p: s.rounded for p, s in subs.items() if s is not None}
    if not any(p in rounded for p in PM_POLLUTANTS):
        ex.say("  Không có chỉ số phụ PM → không công bố AQI (quy ước 4) / no PM sub-index → no AQI is published "
               "(convention 4)")
        ex.check("aqi", None, stored["aqi"])
        return
    aqi = max(rounded.values())
    dominant = next(p for p in POLLUTANTS if rounded.get(p) == aqi)
    listed = ", ".join(f"{LABELS[p]} {n}" for p, n in rounded.items())
    ex.say(f"  AQI = max({listed}) = {aqi}; chủ đạo / dominant {LABELS[dominant]}")
    ex.check("aqi", aqi, stored["aqi"])
    if dominant != stored["dominant"]:
        ex.mismatches.append("dominant")
        ex.say(f"      ✗ dominant stored {stored['dominant']}, recomputed {dominant}")
