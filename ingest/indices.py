"""Stored indices: recompute hourly/daily AQI and QCVN 05 exceedances for the stations and hours a load touched."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from geo import qcvn
from geo.aqi import LOCAL_TZ, POLLUTANTS, daily_aqi_frame, hourly_aqi_frame
from geo.aqi_tables import SCHEMES

# An hour's reading moves the NowCast of the next 11 hours and the US 8-h means of the next 7; a day's
# AQI needs the previous evening for its 8-h O3 windows. These margins bound the work of one refresh.
LOOKBACK = timedelta(hours=36)
LOOKAHEAD = timedelta(hours=12)


@dataclass
class RefreshCounts:
    hourly: int = 0
    daily: int = 0
    exceedances: int = 0


def _readings(conn: psycopg.Connection, stations: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    """Valid and suspect 1-h air readings (invalid/missing are out by convention 7) in [start, end]."""
    rows = conn.execute(
        "SELECT station_code, parameter, measured_at, value, qc_flag FROM measurements "
        "WHERE station_code = ANY(%s) AND period = '1h' AND parameter = ANY(%s) "
        "AND measured_at >= %s AND measured_at <= %s AND qc_flag IN ('valid', 'suspect')",
        (stations, list(POLLUTANTS), start, end)).fetchall()
    frame = pd.DataFrame(rows, columns=["station", "parameter", "time", "value", "qc_flag"])
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    return frame


def _json_values(column: pd.Series) -> list:
    """A column as JSON-ready Python values: ints for integer/boolean columns, floats otherwise, None for gaps."""
    numpy_dtype = isinstance(column.dtype, np.dtype)
    if numpy_dtype and column.dtype.kind in "biu":
        return [int(v) for v in column.tolist()]
    values = column.astype("float64").tolist()
    if numpy_dtype:
        return [None if v != v else v for v in values]
    # Nullable Int64/boolean extension columns (aqi, <p>_rounded): NA → None, the rest as ints.
    return [None if v != v else int(v) for v in values]


def _details(frame: pd.DataFrame, present: list[str], inputs: list[str]) -> list[dict]:
    """The ``detail`` object of every row, built column by column (a per-row Series costs ~100× more)."""
    columns: dict[str, list] = {}
    for p in present:
        exact = frame[f"{p}_exact"].astype("float64").tolist()
        rounded = frame[f"{p}_rounded"].astype("float64").tolist()
        columns[p] = [{"exact": None if e != e else round(e, 6), "rounded": None if r != r else int(r)}
                      for e, r in zip(exact, rounded)]
    for name in inputs:
        columns[name] = _json_values(frame[name])
    names = list(columns)
    return [dict(zip(names, values)) for values in zip(*columns.values())] if names else [{} for _ in frame.index]


def _labels(column: pd.Series) -> list:
    return [None if v is None or v is pd.NA or v != v else str(v) for v in column.astype(object).tolist()]


def _index_rows(frame: pd.DataFrame, station: str, scheme: str, keep: pd.Index,
                raw: pd.DataFrame | None = None) -> list[tuple]:
    """Rows for aqi_hourly/aqi_daily; ``raw`` adds each hour's own 1-h readings (``<p>_1h``) to the detail."""
    frame = frame.loc[frame.index.isin(keep)]
    if frame.empty:
        return []
    if raw is not None:
        ones = raw.reindex(frame.index)
        frame = frame.assign(**{f"{p}_1h": ones[p] for p in POLLUTANTS if p in ones.columns})
    present = [p for p in POLLUTANTS if f"{p}_exact" in frame.columns]
    inputs = [c for c in frame.columns
              if c.endswith(("_nowcast", "_mean", "_count", "_max_1h", "_max_8h", "_8h", "_1h"))]
    times = list(frame.index.to_pydatetime()) if isinstance(frame.index, pd.DatetimeIndex) else list(frame.index)
    aqi = _json_values(frame["aqi"])
    details = [Jsonb(d) for d in _details(frame, present, inputs)]
    n = len(frame)
    return list(zip([station] * n, [scheme] * n, times, aqi, _labels(frame["category"]),
                    _labels(frame["dominant"]), frame["provisional"].astype(bool).tolist(),
                    frame["beyond_scale"].astype(bool).tolist(), details))


def refresh(conn: psycopg.Connection, stations: list[str], start: datetime, end: datetime) -> RefreshCounts:
    """Recompute stored indices of ``stations`` for hours in [start, end] and the hours/days they influence."""
    counts = RefreshCounts()
    if not stations:
        return counts
    start, end = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
    first, last = start - LOOKBACK, end + LOOKAHEAD
    readings = _readings(conn, stations, first.to_pydatetime(), last.to_pydatetime())
    hour_lo, hour_hi = start, end + LOOKAHEAD
    local_lo = (start.tz_convert(LOCAL_TZ) - pd.Timedelta(hours=1)).normalize().tz_localize(None)
    local_hi = (hour_hi.tz_convert(LOCAL_TZ) - pd.Timedelta(hours=1)).normalize().tz_localize(None)
    conn.execute("DELETE FROM aqi_hourly WHERE station_code = ANY(%s) AND hour_end BETWEEN %s AND %s",
                 (stations, hour_lo.to_pydatetime(), hour_hi.to_pydatetime()))
    conn.execute("DELETE FROM aqi_daily WHERE station_code = ANY(%s) AND day BETWEEN %s AND %s",
                 (stations, local_lo.date(), local_hi.date()))
    for station, group in readings.groupby("station"):
        wide = group.pivot_table(index="time", columns="parameter", values="value", aggfunc="first")
        hours = wide.index[(wide.index >= hour_lo) & (wide.index <= hour_hi)]
        grid = pd.date_range(hours.min(), hour_hi, freq="h") if len(hours) else hours
        for scheme in SCHEMES:
            hourly = hourly_aqi_frame(wide, scheme)
            counts.hourly += _copy(conn, "aqi_hourly", "hour_end", _index_rows(hourly, station, scheme, grid, wide))
            daily = daily_aqi_frame(wide, scheme)
            days = daily.index[(daily.index >= local_lo) & (daily.index <= local_hi)]
            rows = [(s, sc, d.date(), *rest) for s, sc, d, *rest in _index_rows(daily, station, scheme, days)]
            counts.daily += _copy(conn, "aqi_daily", "day", rows)
    counts.exceedances = _refresh_exceedances(conn, stations, start, end)
    return counts


def _copy(conn: psycopg.Connection, table: str, time_col: str, rows: list[tuple]) -> int:
    if not rows:
        return 0
    cols = f"station_code, scheme, {time_col}, aqi, category, dominant, provisional, beyond_scale, detail"
    with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    return len(rows)


def _refresh_exceedances(conn: psycopg.Connection, stations: list[str], start: datetime, end: datetime) -> int:
    """Exceedances and summaries for the whole local years the change falls in (annual means need them)."""
    y0 = pd.Timestamp(start).tz_convert(LOCAL_TZ).year
    y1 = (pd.Timestamp(end).tz_convert(LOCAL_TZ) + pd.Timedelta(hours=8)).year
    lo = pd.Timestamp(f"{y0}-01-01", tz=LOCAL_TZ)
    hi = pd.Timestamp(f"{y1 + 1}-01-01", tz=LOCAL_TZ)
    readings = _readings(conn, stations, (lo - pd.Timedelta(hours=8)).to_pydatetime(), hi.to_pydatetime())
    conn.execute("DELETE FROM qcvn_exceedances WHERE station_code = ANY(%s) AND period_end > %s AND period_end <= %s",
                 (stations, lo, hi))
    conn.execute("DELETE FROM qcvn_summaries WHERE station_code = ANY(%s) AND period_start >= %s "
                 "AND period_start < %s", (stations, lo.date(), hi.date()))
    if readings.empty:
        return 0
    averaged = qcvn.compliance_averages(readings)
    averaged = averaged[(averaged["period_end"] > lo) & (averaged["period_end"] <= hi)]
    flagged = qcvn.exceedances(averaged)
    over = flagged[flagged["exceeds"].fillna(False).astype(bool)]
    rows = [(r.station, r.parameter, r.period, r.period_end.to_pydatetime(), float(r.value), float(r.limit),
             str(r.regulation), int(r.n_hours), bool(r.provisional)) for r in over.itertuples()]
    if rows:
        with conn.cursor() as cur, cur.copy("COPY qcvn_exceedances (station_code, parameter, period, period_end, "
                                            "value, limit_value, regulation, n_hours, provisional) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
    _store_summaries(conn, flagged)
    return len(rows)


def _store_summaries(conn: psycopg.Connection, flagged: pd.DataFrame) -> None:
    for freq, label in (("M", "month"), ("Y", "year")):
        summary = qcvn.summarise_exceedances(flagged, freq)
        if summary.empty:
            continue
        with conn.cursor() as cur, cur.copy(
                "COPY qcvn_summaries (station_code, parameter, period, freq, period_start, regulation, limit_value, "
                "n_valid, n_exceeding, share, max_value, n_provisional) FROM STDIN") as cp:
            for r in summary.to_dict("records"):
                cp.write_row((r["station"], r["parameter"], r["period"], label, r[label].start_time.date(),
                              str(r["regulation"]), float(r["limit"]), int(r["n_valid"]), int(r["n_exceeding"]),
                              None if pd.isna(r["share"]) else float(r["share"]),
                              None if pd.isna(r["max_value"]) else float(r["max_value"]), int(r["n_provisional"])))
