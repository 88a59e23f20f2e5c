"""Stored indices: recompute hourly/daily AQI and QCVN 05 exceedances for the stations and hours a load touched."""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pandas as pd
import psycopg
import psycopg.sql
from psycopg.types.json import Jsonb

from geo import qcvn
from geo.aqi import LOCAL_TZ, POLLUTANTS, daily_aqi_frame, hourly_aqi_frame
from geo.aqi_tables import SCHEMES
from geo.index_vectors import calc_water
from geo.wqi import PARAMETERS as WQI_PARAMETERS
from geo.wqi import TEMPERATURE_KEY
from ingest.index_store import IndexFrame, write_index_frames

# An hour's reading moves the NowCast of the next 11 hours and the US 8-h means of the next 7; a day's
# AQI needs the previous evening for its 8-h O3 windows. These margins bound the work of one refresh.
LOOKBACK = timedelta(hours=36)
LOOKAHEAD = timedelta(hours=12)
EIGHT_HOURS = pd.Timedelta(hours=8)


@dataclass
class RefreshCounts:
    """Index rows written by one refresh (rows deleted and not rewritten are not counted)."""

    hourly: int = 0
    daily: int = 0
    exceedances: int = 0
    wqi: int = 0

    @property
    def total(self) -> int:
        return self.hourly + self.daily + self.exceedances + self.wqi

    def add(self, other: RefreshCounts) -> None:
        for name in ("hourly", "daily", "exceedances", "wqi"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def as_json(self) -> dict[str, int]:
        return {"aqi_hourly": self.hourly, "aqi_daily": self.daily, "qcvn_exceedances": self.exceedances,
                "wqi_results": self.wqi}

    def describe(self) -> str:
        return (f"{self.hourly} AQI giờ/hourly, {self.daily} AQI ngày/daily, {self.exceedances} vượt QCVN/"
                f"exceedances, {self.wqi} WQI")


@dataclass
class Touched:
    """What a load or revert changed: per station the span of its air hours, and the water sample sets."""

    air: dict[str, tuple[datetime, datetime]] = field(default_factory=dict)
    water: list[tuple[str, datetime]] = field(default_factory=list)


def refresh_touched(conn: psycopg.Connection, touched: Touched) -> RefreshCounts:
    """Refresh the stored indices of exactly what changed, in the caller's transaction."""
    counts = RefreshCounts()
    # Stations with the same span share one refresh (one read, one COPY); different spans are refreshed apart
    # so that a station changed for one hour is not recomputed over another station's year.
    spans: dict[tuple[datetime, datetime], list[str]] = {}
    for station, span in sorted(touched.air.items()):
        spans.setdefault(span, []).append(station)
    for (lo, hi), stations in spans.items():
        counts.add(refresh(conn, stations, lo, hi))
    counts.wqi = refresh_wqi(conn, touched.water)
    return counts


def _readings(conn: psycopg.Connection, stations: list[str], start: datetime, end: datetime) -> pd.DataFrame:
    """Valid and suspect 1-h air readings (invalid/missing are out by convention 7) in [start, end].

    Read as CSV through COPY with times as epoch microseconds: building 5 million Python datetimes through
    fetchall took longer than all the index arithmetic.
    """
    query = ("COPY (SELECT station_code, parameter, (extract(epoch FROM measured_at) * 1000000)::bigint, value, "
             "qc_flag FROM measurements WHERE station_code = ANY({}) AND period = '1h' AND parameter = ANY({}) "
             "AND measured_at >= {} AND measured_at <= {} AND qc_flag IN ('valid', 'suspect')) TO STDOUT (FORMAT csv)")
    sql = psycopg.sql.SQL(query).format(*(psycopg.sql.Literal(v) for v in (stations, list(POLLUTANTS), start, end)))
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(sql) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    frame = pd.read_csv(buffer, header=None, names=["station", "parameter", "time", "value", "qc_flag"],
                        dtype={"station": str, "parameter": str, "time": "int64", "value": "float64",
                               "qc_flag": str}, keep_default_na=False, na_values={"value": ["", "NaN"]})
    frame["time"] = pd.to_datetime(frame["time"], unit="us", utc=True)
    return frame


def _station_parts(readings: pd.DataFrame, station: str, hour_lo: pd.Timestamp, hour_hi: pd.Timestamp,
                   day_lo: pd.Timestamp, day_hi: pd.Timestamp) -> tuple[list[IndexFrame], list[IndexFrame]]:
    """One station's hourly rows in [first reading ≥ hour_lo, hour_hi] and daily rows in [day_lo, day_hi]."""
    # The primary key (station, parameter, time, period) makes every cell unique, so a plain pivot suffices.
    wide = readings.pivot(index="time", columns="parameter", values="value")
    wide.columns.name = None
    hours = wide.index[(wide.index >= hour_lo) & (wide.index <= hour_hi)]
    grid = pd.date_range(hours.min(), hour_hi, freq="h") if len(hours) else hours
    hourly_parts, daily_parts = [], []
    for scheme in SCHEMES:
        hourly = hourly_aqi_frame(wide, scheme)
        hourly = hourly.loc[hourly.index.isin(grid)]
        ones = wide.reindex(hourly.index)
        # Each hour's own 1-h readings go into the detail too (``<p>_1h``): the basis of the gases' sub-indices.
        hourly = hourly.assign(**{f"{p}_1h": ones[p] for p in POLLUTANTS if p in ones.columns})
        hourly_parts.append(IndexFrame(station, scheme, hourly))
        daily = daily_aqi_frame(wide, scheme)
        daily_parts.append(IndexFrame(station, scheme, daily[(daily.index >= day_lo) & (daily.index <= day_hi)]))
    return hourly_parts, daily_parts


def refresh(conn: psycopg.Connection, stations: list[str], start: datetime, end: datetime) -> RefreshCounts:
    """Recompute stored indices of ``stations`` for hours in [start, end] and the hours/days they influence."""
    counts = RefreshCounts()
    if not stations:
        return counts
    start, end = pd.Timestamp(start).tz_convert("UTC"), pd.Timestamp(end).tz_convert("UTC")
    first, last = start - LOOKBACK, end + LOOKAHEAD
    years = _years(start, end)
    # One read serves both the AQI window and the exceedances' whole local years.
    readings = _readings(conn, stations, min(first, years[0] - EIGHT_HOURS).to_pydatetime(),
                         max(last, years[1]).to_pydatetime())
    hour_lo, hour_hi = start, end + LOOKAHEAD
    local_lo = (start.tz_convert(LOCAL_TZ) - pd.Timedelta(hours=1)).normalize().tz_localize(None)
    local_hi = (hour_hi.tz_convert(LOCAL_TZ) - pd.Timedelta(hours=1)).normalize().tz_localize(None)
    conn.execute("DELETE FROM aqi_hourly WHERE station_code = ANY(%s) AND hour_end BETWEEN %s AND %s",
                 (stations, hour_lo.to_pydatetime(), hour_hi.to_pydatetime()))
    conn.execute("DELETE FROM aqi_daily WHERE station_code = ANY(%s) AND day BETWEEN %s AND %s",
                 (stations, local_lo.date(), local_hi.date()))
    window = readings[(readings["time"] >= first) & (readings["time"] <= last)]
    hourly_parts: list[IndexFrame] = []
    daily_parts: list[IndexFrame] = []
    for station, group in window.groupby("station", sort=True):
        h, d = _station_parts(group, str(station), hour_lo, hour_hi, local_lo, local_hi)
        hourly_parts += h
        daily_parts += d
    counts.hourly = write_index_frames(conn, "aqi_hourly", hourly_parts)
    counts.daily = write_index_frames(conn, "aqi_daily", daily_parts)
    counts.exceedances = _refresh_exceedances(conn, stations, years, readings)
    return counts


def _years(start: pd.Timestamp, end: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The whole local years the change falls in (annual means need them), as [lo, hi)."""
    y0 = start.tz_convert(LOCAL_TZ).year
    y1 = (end.tz_convert(LOCAL_TZ) + pd.Timedelta(hours=8)).year
    return pd.Timestamp(f"{y0}-01-01", tz=LOCAL_TZ), pd.Timestamp(f"{y1 + 1}-01-01", tz=LOCAL_TZ)


def _refresh_exceedances(conn: psycopg.Connection, stations: list[str],
                         years: tuple[pd.Timestamp, pd.Timestamp], readings: pd.DataFrame) -> int:
    """Exceedances and summaries for the whole local years the change falls in (annual means need them)."""
    lo, hi = years
    readings = readings[(readings["time"] >= lo - EIGHT_HOURS) & (readings["time"] <= hi)]
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


# ------------------------------------------------------------------------------------------------ water (VN_WQI)
def _wqi_key(parameter: str) -> str | None:
    """The geo.wqi input key of a measurements parameter (pesticides are keyed ``<name>_ugL`` there)."""
    if parameter == "temperature":
        return TEMPERATURE_KEY
    if parameter in WQI_PARAMETERS:
        return parameter
    return f"{parameter}_ugL" if f"{parameter}_ugL" in WQI_PARAMETERS else None


def wqi_row(station: str, sampled_at: datetime, values: dict[str, float]) -> tuple:
    """One wqi_results row; the detail is the calculator's output (`geo wqi calc`) plus the inputs used."""
    sample = {k: v for k, v in values.items() if k is not None}
    skipped = {}
    if "DO" in sample and TEMPERATURE_KEY not in sample:
        # DO counts through % saturation, which needs the water temperature: without it DO cannot be scored.
        skipped["DO"] = "không có nhiệt độ nước / no water temperature for % saturation"
        del sample["DO"]
    result = calc_water(sample)
    detail = {**result, "inputs": sample, **({"skipped": skipped} if skipped else {})}
    reason = (f"{result['no_index_reason']} / {result['no_index_reason_en']}"
              if result["no_index_reason"] else None)
    return (station, sampled_at, result["wqi_rounded"], result["category"], result["formula"], reason,
            Jsonb(detail))


def refresh_wqi(conn: psycopg.Connection, sample_sets: list[tuple[str, datetime]]) -> int:
    """Recompute VN_WQI of the given (station, sampled_at) sample sets; a set without readings loses its row."""
    if not sample_sets:
        return 0
    stations = [s for s, _ in sample_sets]
    times = [t for _, t in sample_sets]
    conn.execute("DELETE FROM wqi_results w USING unnest(%s::text[], %s::timestamptz[]) k(station, t) "
                 "WHERE w.station_code = k.station AND w.sampled_at = k.t", (stations, times))
    # Invalid and missing readings are not data (convention 7, applied to water as to air).
    readings = conn.execute(
        "SELECT m.station_code, m.measured_at, m.parameter, m.value FROM measurements m "
        "JOIN unnest(%s::text[], %s::timestamptz[]) k(station, t) ON m.station_code = k.station "
        "AND m.measured_at = k.t WHERE m.period = 'sample' AND m.qc_flag IN ('valid', 'suspect') "
        "AND m.value IS NOT NULL ORDER BY 1, 2, 3", (stations, times)).fetchall()
    sets: dict[tuple[str, datetime], dict[str, float]] = {}
    for station, sampled_at, parameter, value in readings:
        key = _wqi_key(parameter)
        if key is not None:
            sets.setdefault((station, sampled_at), {})[key] = value
    rows = [wqi_row(station, sampled_at, values) for (station, sampled_at), values in sets.items()]
    if rows:
        with conn.cursor() as cur, cur.copy("COPY wqi_results (station_code, sampled_at, wqi, category, formula, "
                                            "reason, detail) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    return len(rows)
