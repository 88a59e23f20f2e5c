"""Stored indices: recompute hourly/daily AQI and QCVN 05 exceedances for the stations and hours a load touched.

One refresh of stations whose touched span is [start, end] (hour-ending times of 1-h readings):

1. Probe, per station and pollutant, its first and last reading, the last before ``start`` and the first after
   ``end`` (index look-ups). Stored hourly rows exist for every hour from a station's first to its last reading,
   gaps included (the engine's hourly grid), so a change at the edge of a gap can create or remove the gap's rows;
   the probes say where.
2. Read every valid and suspect 1-h reading of those stations in one window of whole local days, as one binary
   COPY of two arrays per station and pollutant, into a (stations × pollutants × hours) grid: the touched hours with
   a day either side, and the whole local months they fall in (QCVN 05 monthly summaries).
3. AQI, both schemes, all stations at once (``geo.aqi_series.hourly_aqi_batch`` / ``daily_aqi_batch``); the rows
   of the hours [start − 12 h, end + 12 h] and of their local days replace the stored ones (binary COPY into
   aqi_hourly_store / aqi_daily_store, read through the aqi_hourly / aqi_daily views, migration 0020).
4. QCVN 05: the 1-h values, 8-h means and 24-h means of the touched months, their exceedances and monthly
   summaries; the months' exact sums of the readings (``qcvn_monthly_sums``); then the annual means of the
   touched years from those sums and the yearly summaries from the monthly ones. Nothing re-reads a whole year.

Every stored row is a function of the readings alone, never of what a refresh happened to read, so refreshing
any span gives the rows a refresh of everything gives (tests/ingest/test_indices.py checks many edits). A first
load of a file reads each of its readings once. Local time is Asia/Ho_Chi_Minh, UTC+7 all year.

Numbers are those of the engine and of geo.qcvn: hourly and daily AQI bit for bit as ``hourly_aqi_frame`` /
``daily_aqi_frame`` (day means as pandas sums them when a day has a gap); QCVN 24-h means as pandas sums a
day's clean readings (``np.add.reduceat``); 8-h means window by window (``geo.aqi_series.rolling_mean``); annual
means from exact sums (``math.fsum``), as ``geo.qcvn`` computes them.
"""
from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import numpy as np
import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from geo import qcvn
from geo.aqi_series import LOCAL_TZ, daily_aqi_batch, hourly_aqi_batch, rolling_mean
from geo.aqi_tables import POLLUTANTS, SCHEMES
from geo.errors import InputError
from geo.index_vectors import calc_water
from geo.wqi import PARAMETERS as WQI_PARAMETERS
from geo.wqi import TEMPERATURE_KEY
from ingest.index_store import EPOCH_2000_DAY, EPOCH_2000_US, Column, StreamedCopy, copy_rows, round6

HOUR_US = 3_600_000_000
UTC_OFFSET_HOURS = 7          # Asia/Ho_Chi_Minh has had no daylight saving since 1975
# An hour's reading moves the NowCast of the next 11 hours (US 8-h means: 7); rows [start, end + 12 h] are
# rewritten, as before. The NowCast of an hour needs the 11 hours before it.
LOOKAHEAD_HOURS = 12
# A pollutant's keys are in a row's detail when the station measured it within 12 hours of the row (the former
# writer gave a station's frame the columns of every pollutant read for the refresh, so they depended on what a
# refresh read; this rule gives the same keys for data without gaps of a day, and depends on the row alone).
PRESENCE_HOURS = 12
EIGHT_HOURS = 8
HOURLY_STORE = "aqi_hourly_store"
DAILY_STORE = "aqi_daily_store"
_NEVER = np.iinfo("int64").max // 4


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


# ------------------------------------------------------------------------------------------------------ time
# Times are whole hours counted from 1970-01-01 00:00 UTC ("epoch hours"), labelling the END of each hour.
# Local day n (days since 1970-01-01 on the local clock) holds the hours ending 01:00 … 24:00 local, i.e. epoch
# hours 24n − 6 … 24n + 17; the hour ending at local midnight closes the previous day (1459/QĐ-TCMT §2.2.2).
def _epoch_hour(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise InputError(f"thời điểm thiếu múi giờ / timestamp without a time zone: {moment}")
    us = (moment - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)
    return us // HOUR_US


def _local_day(epoch_hour: int | np.ndarray) -> int | np.ndarray:
    return (epoch_hour + UTC_OFFSET_HOURS - 1) // 24


def _first_hour(day: int) -> int:
    return 24 * day - UTC_OFFSET_HOURS + 1


def _moment(epoch_hour: int) -> datetime:
    return datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(hours=int(epoch_hour))


def _day_date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=int(day))


def _month_start(day: int) -> int:
    """The local day number of the first day of ``day``'s month."""
    d = _day_date(day)
    return (date(d.year, d.month, 1) - date(1970, 1, 1)).days


def _next_month(day: int) -> int:
    d = _day_date(day)
    first = date(d.year + d.month // 12, d.month % 12 + 1, 1)
    return (first - date(1970, 1, 1)).days


def _check_clock(lo: int, hi: int) -> None:
    zone = ZoneInfo(LOCAL_TZ)
    for hour in (lo, hi):
        if _moment(hour).astimezone(zone).utcoffset() != timedelta(hours=UTC_OFFSET_HOURS):
            raise InputError(f"giờ địa phương không phải UTC+7 / the local clock is not UTC+7 at {_moment(hour)}")


# ---------------------------------------------------------------------------------------------- the window
@dataclass
class _Plan:
    stations: list[str]
    start: int                     # touched span, epoch hours
    end: int
    prev: np.ndarray               # (stations × pollutants) last reading before start, −1 = none
    next: np.ndarray               # (stations × pollutants) first reading after end, −1 = none
    hour_lo: np.ndarray            # per station: hourly rows rewritten in [hour_lo, hour_hi]
    hour_hi: np.ndarray
    months: tuple[int, int]        # QCVN: local days [first, last] of the whole months recomputed
    grid_days: tuple[int, int]     # local days read: [first, last]

    @property
    def grid_lo(self) -> int:
        return _first_hour(self.grid_days[0])

    @property
    def hours(self) -> int:
        return 24 * (self.grid_days[1] - self.grid_days[0] + 1)


_PROBE = """
SELECT s.i, p.j,
  (SELECT m.measured_at FROM measurements m WHERE m.station_code = s.code AND m.parameter = p.code
     AND m.period = '1h' AND m.qc_flag IN ('valid', 'suspect') AND m.measured_at < %(lo)s
   ORDER BY m.measured_at DESC LIMIT 1),
  (SELECT m.measured_at FROM measurements m WHERE m.station_code = s.code AND m.parameter = p.code
     AND m.period = '1h' AND m.qc_flag IN ('valid', 'suspect') AND m.measured_at > %(hi)s
   ORDER BY m.measured_at LIMIT 1)
FROM unnest(%(stations)s::text[]) WITH ORDINALITY s(code, i)
CROSS JOIN unnest(%(params)s::text[]) WITH ORDINALITY p(code, j)"""


def _probe(conn: psycopg.Connection, stations: list[str], lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Per station and pollutant (index look-ups): the last reading before ``lo`` and the first after ``hi``, as
    epoch hours in (stations × pollutants) arrays; −1 = none."""
    before = np.full((len(stations), len(POLLUTANTS)), -1, dtype="int64")
    after = before.copy()
    rows = conn.execute(_PROBE, {"stations": stations, "params": list(POLLUTANTS), "lo": _moment(lo),
                                 "hi": _moment(hi)}).fetchall()
    for i, j, prev, nxt in rows:
        if prev is not None:
            before[i - 1, j - 1] = _epoch_hour(prev)
        if nxt is not None:
            after[i - 1, j - 1] = _epoch_hour(nxt)
    return before, after


_BEYOND = """
SELECT k.i, k.j FROM unnest(%(stations)s::text[], %(params)s::text[], %(i)s::int[], %(j)s::int[])
  k(code, param, i, j)
WHERE EXISTS (SELECT 1 FROM measurements m WHERE m.station_code = k.code AND m.parameter = k.param
              AND m.period = '1h' AND m.qc_flag IN ('valid', 'suspect') AND {condition})"""


def _beyond(conn: psycopg.Connection, plan: _Plan, pairs: np.ndarray, condition: str, moment: datetime
            ) -> set[tuple[int, int]]:
    """The (station, pollutant) index pairs among ``pairs`` with a reading before/after ``moment``."""
    if not len(pairs):
        return set()
    rows = conn.execute(_BEYOND.format(condition=condition), {
        "stations": [plan.stations[i] for i, _ in pairs], "params": [POLLUTANTS[j] for _, j in pairs],
        "i": [int(i) for i, _ in pairs], "j": [int(j) for _, j in pairs], "moment": moment}).fetchall()
    return {(int(i), int(j)) for i, j in rows}


def _eight_hour_parameters() -> frozenset[str]:
    return frozenset(r[0] for r in _limit_rows() if r[1] == "8h")


def _plan(conn: psycopg.Connection, stations: list[str], start: int, end: int) -> _Plan:
    prev, nxt = _probe(conn, stations, start, end)
    has_prev, has_next = prev >= 0, nxt >= 0
    prev_s = np.where(has_prev.any(axis=1), prev.max(axis=1), -1)
    next_s = np.where(has_next.any(axis=1), np.where(has_next, nxt, _NEVER).min(axis=1), -1)
    # Rows in a gap next to the span exist only while readings exist on both sides of it; a change can flip that
    # when nothing lies beyond the gap on the other side, so then the gap's rows are rewritten too.
    hour_lo = np.where((prev_s >= 0) & (next_s < 0), np.minimum(prev_s + 1, start - PRESENCE_HOURS),
                       start - PRESENCE_HOURS)
    hour_hi = np.where((next_s >= 0) & (prev_s < 0), np.maximum(end + LOOKAHEAD_HOURS, next_s - 1),
                       end + LOOKAHEAD_HOURS)
    # QCVN 8-h means exist from a series' first to its last reading: the windows just after the last reading
    # before the span may appear or vanish in the same way.
    eight_lo = start - (EIGHT_HOURS - 1)
    eight = np.array([p in _eight_hour_parameters() for p in POLLUTANTS])[np.newaxis, :]
    flips = eight & has_prev & ~has_next & (prev + 1 < eight_lo)
    if flips.any():
        eight_lo = int(min(eight_lo, (prev[flips] + 1).min()))
    first_day, last_day = _local_day(eight_lo), _local_day(end + EIGHT_HOURS - 1)
    months = (_month_start(first_day), _next_month(last_day) - 1)
    # One whole day either side: the NowCast and the days' 8-h windows look back, a row's pollutant keys look
    # 12 hours ahead as well.
    days = (min(_local_day(int(hour_lo.min())), months[0]) - 1, max(_local_day(int(hour_hi.max())), months[1]) + 1)
    _check_clock(_first_hour(days[0]), _first_hour(days[1] + 1))
    return _Plan(stations, start, end, prev, nxt, hour_lo, hour_hi, months, days)


# ---------------------------------------------------------------------------------------------- the readings
# One index range scan per station and pollutant (the primary key leads with both), aggregated into two arrays:
# a handful of COPY rows instead of one per reading, and no hashing of a million rows.
_READ = """COPY (SELECT s.code, p.code, r.t, r.v
FROM unnest({stations}::text[]) s(code) CROSS JOIN unnest({params}::text[]) p(code)
CROSS JOIN LATERAL (SELECT array_agg(m.measured_at) AS t, array_agg(m.value) AS v FROM measurements m
  WHERE m.station_code = s.code AND m.parameter = p.code AND m.period = '1h'
  AND m.qc_flag IN ('valid', 'suspect') AND m.measured_at >= {lo} AND m.measured_at <= {hi}) r
WHERE r.t IS NOT NULL) TO STDOUT (FORMAT BINARY)"""


def _array(field: memoryview, dtype: str) -> np.ndarray:
    """A one-dimensional PostgreSQL array without NULLs, from its binary form."""
    ndim, has_null, _oid = struct.unpack_from(">iiI", field, 0)
    if ndim == 0:
        return np.zeros(0, dtype=dtype[1:])
    if ndim != 1 or has_null:
        raise InputError("mảng đọc về không hợp lệ / unexpected array from measurements")
    (n,) = struct.unpack_from(">i", field, 12)
    rows = np.frombuffer(field, dtype=np.dtype([("len", ">i4"), ("v", dtype)]), count=n, offset=20)
    return rows["v"].astype(dtype[1:])


def _read(conn: psycopg.Connection, plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
    """The valid and suspect 1-h readings of the plan's window as (stations × pollutants × hours): values (NaN =
    no reading; negative PM readings kept, the engine treats them as missing) and where a reading exists."""
    hours = plan.hours
    values = np.full((len(plan.stations), len(POLLUTANTS), hours), np.nan)
    query = sql.SQL(_READ).format(stations=sql.Literal(plan.stations), params=sql.Literal(list(POLLUTANTS)),
                                  lo=sql.Literal(_moment(plan.grid_lo)),
                                  hi=sql.Literal(_moment(plan.grid_lo + hours - 1)))
    buffer = bytearray()
    with conn.cursor() as cur, cur.copy(query) as copy:
        for chunk in copy:
            buffer += chunk
    data = memoryview(bytes(buffer))
    station_index = {s: i for i, s in enumerate(plan.stations)}
    pos = 19 + struct.unpack_from(">i", data, 15)[0]
    base_us = plan.grid_lo * HOUR_US - EPOCH_2000_US
    while True:
        (count,) = struct.unpack_from(">h", data, pos)
        pos += 2
        if count == -1:
            break
        fields = []
        for _ in range(count):
            (size,) = struct.unpack_from(">i", data, pos)
            pos += 4
            fields.append(data[pos:pos + size])
            pos += size
        station, parameter = bytes(fields[0]).decode(), bytes(fields[1]).decode()
        offset = _array(fields[2], ">i8") - base_us
        index, rest = np.divmod(offset, HOUR_US)
        if rest.any():
            bad = _moment(plan.grid_lo) + timedelta(microseconds=int(offset[np.flatnonzero(rest)[0]]))
            raise InputError(f"thời điểm không tròn giờ / timestamp {bad} is not on the hour", field="measured_at")
        values[station_index[station], POLLUTANTS.index(parameter), index] = _array(fields[3], ">f8")
    return values, ~np.isnan(values)


def _window_any(present: np.ndarray, before: int, after: int) -> np.ndarray:
    """Whether any True lies in [i − before, i + after] along the last axis (clipped to the array)."""
    n = present.shape[-1]
    total = np.concatenate([np.zeros(present.shape[:-1] + (1,), dtype="int64"),
                            np.cumsum(present, axis=-1, dtype="int64")], axis=-1)
    i = np.arange(n)
    return total[..., np.minimum(i + after + 1, n)] - total[..., np.maximum(i - before, 0)] > 0


# ------------------------------------------------------------------------------------------------- refresh
def refresh(conn: psycopg.Connection, stations: list[str], start: datetime, end: datetime) -> RefreshCounts:
    """Recompute stored indices of ``stations`` for hours in [start, end] and the hours/days they influence."""
    counts = RefreshCounts()
    stations = sorted(set(stations))
    if not stations:
        return counts
    # The read looks expensive to the planner (a million rows); compiling it with JIT costs more than running it.
    jit = conn.execute("SELECT current_setting('jit')").fetchone()[0]
    conn.execute("SET LOCAL jit = off")
    try:
        plan = _plan(conn, stations, _epoch_hour(start), _epoch_hour(end))
        if len(stations) > 1 and len(stations) * len(POLLUTANTS) * plan.hours > MAX_CELLS:
            # Years of many stations: a few at a time, so the arrays stay a few hundred MB at most.
            half = len(stations) // 2
            for part in (stations[:half], stations[half:]):
                counts.add(refresh(conn, part, start, end))
            return counts
        values, present = _read(conn, plan)
        first, last, series_last = _extent(conn, plan, present)
        _delete(conn, plan)
        # The server takes the hourly rows in (the bulk of the writing) while the days and QCVN 05 are computed.
        with StreamedCopy(conn, HOURLY_STORE, HOURLY_COLUMNS) as hourly:
            for columns in _hourly_blocks(plan, values, present, first, last):
                hourly.send(columns)
            daily = _daily_columns(plan, values, present, first, last)
            qcvn_rows = _qcvn_rows(plan, values, series_last)
        counts.hourly = 2 * hourly.rows            # rows of the aqi_hourly / aqi_daily views: one per scheme
        counts.daily = 2 * copy_rows(conn, DAILY_STORE, daily)
        counts.exceedances = _write_qcvn(conn, plan, qcvn_rows)
    finally:
        if conn.info.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            conn.execute("SELECT set_config('jit', %s, true)", (jit,))
    return counts


def _first_last(present: np.ndarray, prev: np.ndarray, nxt: np.ndarray, lo: np.ndarray, hi: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Grid indices of each series' first and last reading as far as they matter: −∞ when a reading lies at or
    before ``lo`` (everything from ``lo`` on is after the first reading), +∞ when one lies at or after ``hi``.

    ``present`` (series × hours) holds the readings in the grid; ``prev``/``nxt`` the last reading before the
    touched span and the first after it (grid indices, possibly outside the grid; None = none). Also returns
    which series are undecided on each side: a reading in the grid after ``lo`` with nothing in the grid before it
    but an earlier reading before the span, which may lie before the grid or not (likewise after ``hi``).
    """
    n = present.shape[-1]
    i = np.arange(n)
    has_prev, has_next = prev != NONE, nxt != NONE
    anything = present.any(axis=-1)
    grid_first = np.where(anything, present.argmax(axis=-1), _NEVER)
    grid_last = np.where(anything, n - 1 - present[..., ::-1].argmax(axis=-1), -_NEVER)
    early = (has_prev & (prev <= lo)) | (present & (i <= lo[..., np.newaxis])).any(axis=-1)
    late = (has_next & (nxt >= hi)) | (present & (i >= hi[..., np.newaxis])).any(axis=-1)
    return (np.where(early, -_NEVER, grid_first), np.where(late, _NEVER, grid_last), ~early & has_prev,
            ~late & has_next)


NONE = np.iinfo("int64").min       # "no such reading" among grid indices (which may be negative)


def _extent(conn: psycopg.Connection, plan: _Plan, present: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                                 np.ndarray]:
    """Per station, grid indices of its first and last reading of any pollutant (±∞ when beyond what matters:
    the day of the first rewritten hour, the day of the last one and the last QCVN month); per station and
    pollutant, the last reading as it matters to the QCVN months' 8-h windows."""
    grid_lo, hours = plan.grid_lo, plan.hours
    prev = np.where(plan.prev >= 0, plan.prev - grid_lo, NONE)
    nxt = np.where(plan.next >= 0, plan.next - grid_lo, NONE)
    day_first = _first_hour(_local_day(plan.hour_lo)) - grid_lo
    month_end = _first_hour(plan.months[1] + 1) - 1 - grid_lo
    day_last = np.maximum(_first_hour(_local_day(plan.hour_hi) + 1) - 1 - grid_lo, month_end)
    station_next = np.where((nxt != NONE).any(axis=1), np.where(nxt != NONE, nxt, _NEVER).min(axis=1), NONE)
    first, last, open_lo, open_hi = _first_last(present.any(axis=1), prev.max(axis=1), station_next, day_first,
                                                day_last)
    every = np.ones(len(POLLUTANTS), dtype=bool)
    if open_lo.any():           # rare: a day's gap just before readings shortly before the span
        found = {i for i, _ in _beyond(conn, plan, np.argwhere(open_lo[:, np.newaxis] & every),
                                        "m.measured_at < %(moment)s", _moment(grid_lo))}
        first = np.where(np.isin(np.arange(len(first)), list(found)), -_NEVER, first)
    if open_hi.any():
        found = {i for i, _ in _beyond(conn, plan, np.argwhere(open_hi[:, np.newaxis] & every),
                                        "m.measured_at > %(moment)s", _moment(grid_lo + hours - 1))}
        last = np.where(np.isin(np.arange(len(last)), list(found)), _NEVER, last)
    _, series_last, _, open_series = _first_last(present, prev, nxt, np.full(prev.shape, -1),
                                                 np.full(prev.shape, month_end))
    if open_series.any():
        for i, j in _beyond(conn, plan, np.argwhere(open_series), "m.measured_at > %(moment)s",
                            _moment(grid_lo + hours - 1)):
            series_last[i, j] = _NEVER
    return first, last, series_last


def _delete(conn: psycopg.Connection, plan: _Plan) -> None:
    """Remove the stored rows this refresh rewrites: AQI hours and days, QCVN 05 rows of the whole months."""
    conn.execute(f"DELETE FROM {HOURLY_STORE} h USING unnest(%s::text[], %s::timestamptz[], %s::timestamptz[]) "
                 "r(code, lo, hi) WHERE h.station_code = r.code AND h.hour_end BETWEEN r.lo AND r.hi",
                 [plan.stations, [_moment(h) for h in plan.hour_lo], [_moment(h) for h in plan.hour_hi]])
    conn.execute(f"DELETE FROM {DAILY_STORE} d USING unnest(%s::text[], %s::date[], %s::date[]) r(code, lo, hi) "
                 "WHERE d.station_code = r.code AND d.day BETWEEN r.lo AND r.hi",
                 [plan.stations, [_day_date(d) for d in _local_day(plan.hour_lo)],
                  [_day_date(d) for d in _local_day(plan.hour_hi)]])
    m0, m1 = plan.months
    conn.execute("DELETE FROM qcvn_exceedances WHERE station_code = ANY(%s) AND period <> 'year' "
                 "AND period_end > %s AND period_end <= %s",
                 (plan.stations, _moment(_first_hour(m0) - 1), _moment(_first_hour(m1 + 1) - 1)))
    conn.execute("DELETE FROM qcvn_summaries WHERE station_code = ANY(%s) AND freq = 'month' "
                 "AND period_start BETWEEN %s AND %s", (plan.stations, _day_date(m0), _day_date(m1)))
    conn.execute("DELETE FROM qcvn_monthly_sums WHERE station_code = ANY(%s) AND month BETWEEN %s AND %s",
                 (plan.stations, _day_date(m0), _day_date(m1)))


HOURLY_COLUMNS = (["station_code", "hour_end", "present"] + [f"{p}_1h" for p in POLLUTANTS]
                  + [c for scheme in SCHEMES for c in (
                      [f"{scheme}_{x}" for x in ("aqi", "category", "dominant", "provisional", "beyond_scale")]
                      + [f"{scheme}_{p}_{x}" for p in POLLUTANTS for x in ("exact", "rounded")]
                      + [f"{scheme}_{p}_nowcast" for p in ("pm25", "pm10")])]
                  + ["us_o3_8h", "us_co_8h", "us_o3_8h_count", "us_co_8h_count"])
# Stations are computed in blocks of about this many station-hours (a few MB per array, reused by the allocator).
BLOCK_HOURS = 1 << 17
# A refresh reads at most this many (station, pollutant, hour) cells at once (128 MB of float64); more stations
# are refreshed in parts, each reading only its own stations.
MAX_CELLS = 1 << 24


def _hourly_blocks(plan: _Plan, values: np.ndarray, present: np.ndarray, first: np.ndarray,
                   last: np.ndarray) -> Iterator[list[Column]]:
    """The hourly store rows [hour_lo, hour_hi] ∩ [first, last reading] of each station, a block of stations at a
    time, as columns in HOURLY_COLUMNS order."""
    n_stations = len(plan.stations)
    per_block = max(1, BLOCK_HOURS // plan.hours)
    hours = np.arange(plan.hours)
    lo = np.maximum(plan.hour_lo - plan.grid_lo, first)
    hi = np.minimum(plan.hour_hi - plan.grid_lo, last)
    bits = (1 << np.arange(len(POLLUTANTS)))[np.newaxis, :, np.newaxis]
    for s0 in range(0, n_stations, per_block):
        block = slice(s0, min(s0 + per_block, n_stations))
        rows = (hours >= lo[block, np.newaxis]) & (hours <= hi[block, np.newaxis])
        if not rows.any():
            continue
        s_idx, h_idx = np.nonzero(rows)
        # A pollutant's keys are in a row's detail when the station measured it within 12 hours of the hour.
        mask = (_window_any(present[block], PRESENCE_HOURS - 1, PRESENCE_HOURS) * bits).sum(axis=1)
        columns = [Column("station_code", "text", s_idx + s0, labels=plan.stations),
                   Column("hour_end", "timestamptz", (h_idx + plan.grid_lo) * HOUR_US - EPOCH_2000_US),
                   Column("present", "int2", mask[s_idx, h_idx])]
        columns += [Column(f"{p}_1h", "float8", values[block][s_idx, k, h_idx]) for k, p in enumerate(POLLUTANTS)]
        by_pollutant = {p: values[block, k, :] for k, p in enumerate(POLLUTANTS)}
        for scheme in SCHEMES:
            out = {name: a[s_idx, h_idx] for name, a in hourly_aqi_batch(by_pollutant, scheme).items()}
            columns += _scheme_columns(scheme, out)
            columns += [Column(f"{scheme}_{p}_nowcast", "float8", out[f"{p}_nowcast"]) for p in ("pm25", "pm10")]
            if scheme == "us":
                columns += [Column(f"us_{p}_8h", "float8", out[f"{p}_8h"]) for p in ("o3", "co")]
                columns += [Column(f"us_{p}_8h_count", "int2", out[f"{p}_8h_count"]) for p in ("o3", "co")]
        yield columns


def _daily_columns(plan: _Plan, values: np.ndarray, present: np.ndarray, first: np.ndarray,
                   last: np.ndarray) -> list[Column]:
    """The daily store rows: each station's local days of [hour_lo, hour_hi] between its first and last reading."""
    hours = np.arange(plan.hours)
    days = np.arange(plan.hours // 24)
    day_lo = np.maximum(_local_day(plan.hour_lo), _local_day(np.maximum(first, -10 ** 9) + plan.grid_lo))
    day_hi = np.minimum(_local_day(plan.hour_hi), _local_day(np.minimum(last, 10 ** 9) + plan.grid_lo))
    rows = (days >= (day_lo - plan.grid_days[0])[:, np.newaxis]) & (days <= (day_hi - plan.grid_days[0])[:, np.newaxis])
    by_pollutant = {p: values[:, k, :] for k, p in enumerate(POLLUTANTS)}
    usable = hours <= last[:, np.newaxis]          # the engine's frames have no 8-h window past the last reading
    s_idx, d_idx = np.nonzero(rows)
    vn, us = ({name: a[s_idx, d_idx] for name, a in daily_aqi_batch(by_pollutant, scheme, usable).items()}
              for scheme in SCHEMES)
    # A pollutant's keys: measured from 18:00 the evening before the day (its 8-h windows) to noon the day after.
    bits = (1 << np.arange(len(POLLUTANTS)))[np.newaxis, :, np.newaxis]
    mask = (_window_any(present, 24 + EIGHT_HOURS - 2, PRESENCE_HOURS)[..., 23::24] * bits).sum(axis=1)
    columns = [Column("station_code", "text", s_idx, labels=plan.stations),
               Column("day", "date", d_idx + plan.grid_days[0] - EPOCH_2000_DAY),
               Column("present", "int2", mask[s_idx, d_idx])]
    for p in ("pm25", "pm10"):
        columns += [Column(f"{p}_mean", "float8", vn[f"{p}_mean"]), Column(f"{p}_count", "int2", vn[f"{p}_count"])]
    columns += [Column("o3_max_8h", "float8", vn["o3_max_8h"]), Column("o3_8h_count", "int2", vn["o3_8h_count"])]
    columns += [Column(f"{p}_max_1h", "float8", vn[f"{p}_max_1h"]) for p in ("o3", "no2", "so2", "co")]
    columns += [Column("co_max_8h", "float8", us["co_max_8h"]), Column("co_8h_count", "int2", us["co_8h_count"])]
    for scheme, out in (("vn", vn), ("us", us)):
        columns += _scheme_columns(scheme, out)
    return columns


def _scheme_columns(scheme: str, out: dict[str, np.ndarray]) -> list[Column]:
    """AQI, category, dominant pollutant, flags and every pollutant's sub-index, as the former detail had them."""
    aqi = out["aqi"]
    columns = [Column(f"{scheme}_aqi", "int2", np.nan_to_num(aqi, nan=0).astype("int64"), np.isnan(aqi)),
               # codes into CATEGORIES[scheme] and POLLUTANTS; the views give the names back
               Column(f"{scheme}_category", "int2", out["category"], out["category"] < 0),
               Column(f"{scheme}_dominant", "int2", out["dominant"], out["dominant"] < 0),
               Column(f"{scheme}_provisional", "bool", out["provisional"]),
               Column(f"{scheme}_beyond_scale", "bool", out["beyond_scale"])]
    for p in POLLUTANTS:
        rounded = out[f"{p}_rounded"]
        columns += [Column(f"{scheme}_{p}_exact", "float8", round6(out[f"{p}_exact"])),
                    Column(f"{scheme}_{p}_rounded", "int2", np.nan_to_num(rounded, nan=0).astype("int64"),
                           np.isnan(rounded))]
    return columns


# -------------------------------------------------------------------------------------------------- QCVN 05
@dataclass
class _Limits:
    """The limits in force on each local day of a range, per (parameter, period): value (NaN = none), regulation."""

    first_day: int
    limit: dict[tuple[str, str], np.ndarray]
    regulation: dict[tuple[str, str], np.ndarray]
    names: list[str]


@lru_cache(maxsize=1)
def _limit_rows() -> tuple[tuple[str, str, str, float, int, int], ...]:
    """The QCVN 05 table as (parameter, period, regulation, limit, first local day, end day exclusive)."""
    rows = []
    epoch = np.datetime64("1970-01-01", "D")
    for row in qcvn.limits_table().itertuples():
        lo = int((np.datetime64(row.valid_from, "D") - epoch).astype("int64"))
        hi = int((np.datetime64(row.valid_to, "D") - epoch).astype("int64")) if row.valid_to == row.valid_to else _NEVER
        rows.append((str(row.parameter), str(row.period), str(row.regulation), float(row.limit), lo, hi))
    return tuple(rows)


def _limits(first_day: int, last_day: int) -> _Limits:
    days = np.arange(first_day, last_day + 1)
    names = sorted({r[2] for r in _limit_rows()})
    limit: dict[tuple[str, str], np.ndarray] = {}
    regulation: dict[tuple[str, str], np.ndarray] = {}
    for parameter, period, name, value, lo, hi in _limit_rows():
        key = (parameter, period)
        if parameter not in POLLUTANTS:
            continue
        if key not in limit:
            limit[key] = np.full(len(days), np.nan)
            regulation[key] = np.full(len(days), -1, dtype="int64")
        inside = (days >= lo) & (days < hi)
        limit[key][inside] = value
        regulation[key][inside] = names.index(name)
    return _Limits(first_day, limit, regulation, names)


def _annual_limit(parameter: str, year: int) -> tuple[float, str] | None:
    """The annual limit in force on 31 December of ``year`` (an annual mean is judged by that day's rules)."""
    day = (date(year, 12, 31) - date(1970, 1, 1)).days
    for p, period, name, value, lo, hi in _limit_rows():
        if p == parameter and period == "year" and lo <= day < hi:
            return value, name
    return None


def _pairwise_sum(parts: list[np.ndarray]) -> np.ndarray:
    """numpy's pairwise_sum of ≤ 128 terms, term by term over arrays: below 8 terms one after the other from 0.0,
    else eight running sums combined as a tree, then the remainder in turn."""
    m = len(parts)
    if m < 8:
        total = np.zeros_like(parts[0]) if parts else np.zeros(())
        for part in parts:
            total = total + part
        return total
    r = [p.copy() for p in parts[:8]]
    for i in range(8, m - m % 8, 8):
        for j in range(8):
            r[j] += parts[i + j]
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    for part in parts[m - m % 8:]:
        total = total + part
    return total


def reduceat_day_mean(by_day: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and count of the non-NaN values along the last axis (≤ 128), summed as pandas sums sorted groups
    without missing values: ``np.add.reduceat``, i.e. the first value + numpy's pairwise sum of the others.

    qcvn.daily_means groups clean readings (no NaN, sorted), so pandas takes that path there; this is the same
    number for each day, whatever else is read with it.
    """
    x = np.asarray(by_day, dtype="float64")
    missing = np.isnan(x)
    order = np.argsort(missing, axis=-1, kind="stable")          # the day's values first, in time order
    packed = np.take_along_axis(x, order, axis=-1)
    count = (~missing).sum(axis=-1)
    total = np.where(count > 0, packed[..., 0], np.nan)
    for m in np.unique(count[count > 1]):
        where = count == m
        rows = packed[where]
        total[where] = rows[:, 0] + _pairwise_sum([rows[:, i] for i in range(1, m)])
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


@dataclass
class _Periods:
    """Averaging periods of one parameter and period kind over whole days: (stations × days × per-day) arrays."""

    value: np.ndarray
    exists: np.ndarray
    hours: np.ndarray          # hours in the average (n_hours)
    provisional: np.ndarray


def _periods(kind: str, clean: np.ndarray, last: np.ndarray, q0: int, q1: int) -> _Periods:
    """One parameter's 1-h values, 8-h means or 24-h means whose reference day is grid day q0 … q1."""
    stations = clean.shape[0]
    if kind == "24h":
        mean, count = reduceat_day_mean(clean.reshape(stations, -1, 24)[:, q0:q1 + 1])
        mean, count = mean[..., np.newaxis], count[..., np.newaxis]
        return _Periods(mean, count > 0, count, count < qcvn.DAY_MIN_HOURS)
    cut = slice(24 * q0, 24 * (q1 + 1))
    shape = (stations, q1 - q0 + 1, 24)
    if kind == "1h":
        value = clean[:, cut]
        return _Periods(value.reshape(shape), ~np.isnan(value).reshape(shape), np.ones(shape, dtype="int64"),
                        np.zeros(shape, dtype=bool))
    mean, count = rolling_mean(clean, EIGHT_HOURS)
    # A series' 8-h windows run from its first to its last reading (after the last one there are none).
    ends = np.arange(clean.shape[1])[np.newaxis, :] <= last[:, np.newaxis]
    exists = (count > 0) & ends
    return _Periods(mean[:, cut].reshape(shape), exists[:, cut].reshape(shape), count[:, cut].reshape(shape),
                    (count < qcvn.EIGHT_HOUR_MIN_HOURS)[:, cut].reshape(shape))


@dataclass
class _QcvnRows:
    exceedances: list[dict[str, np.ndarray]]
    summaries: list[dict[str, np.ndarray]]
    names: list[str]
    sums: list[Column]


def _qcvn_rows(plan: _Plan, values: np.ndarray, last: np.ndarray) -> _QcvnRows:
    """Exceedances, monthly summaries and monthly sums of the whole months the refresh covers (no database).

    ``last``: each series' last reading (grid index; +∞ after the months), where its 8-h windows end (o3 and co
    are never negative, the checks refuse that, so their last reading is their last clean one).
    """
    m0, m1 = plan.months
    q0, q1 = m0 - plan.grid_days[0], m1 - plan.grid_days[0]
    limits = _limits(m0, m1)
    with np.errstate(invalid="ignore"):
        clean = np.where(values >= 0, values, np.nan)         # negative readings are dropped (convention 7)
    month_of_day = (np.arange(m0, m1 + 1).astype("datetime64[D]").astype("datetime64[M]")
                    - np.datetime64("1970-01", "M")).astype("int64")
    exceed_rows: list[dict[str, np.ndarray]] = []
    summary_rows: list[dict[str, np.ndarray]] = []
    for (parameter, kind), limit in limits.limit.items():
        if kind == "year":
            continue
        k = POLLUTANTS.index(parameter)
        periods = _periods(kind, clean[:, k, :], last[:, k], q0, q1)
        day_limit = limit[np.newaxis, :, np.newaxis]
        regulated = periods.exists & ~np.isnan(day_limit)
        with np.errstate(invalid="ignore"):
            exceeds = regulated & (periods.value > day_limit)
        s_idx, d_idx, h_idx = np.nonzero(exceeds)
        if len(s_idx):
            period_end = (24 * (d_idx + q0) + (h_idx if kind != "24h" else 23) + plan.grid_lo)
            exceed_rows.append({
                "station": s_idx, "parameter": np.full(len(s_idx), k), "period": np.full(len(s_idx), kind),
                "period_end": period_end, "value": periods.value[s_idx, d_idx, h_idx],
                "limit": limit[d_idx], "regulation": limits.regulation[(parameter, kind)][d_idx],
                "n_hours": periods.hours[s_idx, d_idx, h_idx],
                "provisional": periods.provisional[s_idx, d_idx, h_idx]})
        summary_rows.append(_summaries(periods, regulated, exceeds, month_of_day, limit,
                                       limits.regulation[(parameter, kind)], k, kind))
    sums = _monthly_sums(plan, clean[:, :, 24 * q0:24 * (q1 + 1)], month_of_day)
    return _QcvnRows(exceed_rows, summary_rows, limits.names, sums)


def _write_qcvn(conn: psycopg.Connection, plan: _Plan, rows: _QcvnRows) -> int:
    """Store the months' rows, then the annual means and yearly summaries of their years; returns exceedances."""
    n = _write_exceedances(conn, plan.stations, rows.exceedances, rows.names)
    _write_month_summaries(conn, plan.stations, rows.summaries, rows.names)
    copy_rows(conn, "qcvn_monthly_sums", rows.sums)
    years = (_day_date(plan.months[0]).year, _day_date(plan.months[1]).year)
    return n + _refresh_years(conn, plan.stations, years)


def _segments(month_of_day: np.ndarray, limit: np.ndarray, regulation: np.ndarray) -> np.ndarray:
    """Start indices of the runs of days sharing month, regulation and limit (one summary row each)."""
    change = np.ones(len(month_of_day), dtype=bool)
    change[1:] = ((month_of_day[1:] != month_of_day[:-1]) | (regulation[1:] != regulation[:-1])
                  | ~((limit[1:] == limit[:-1]) | (np.isnan(limit[1:]) & np.isnan(limit[:-1]))))
    return np.flatnonzero(change)


def _summaries(periods: _Periods, regulated: np.ndarray, exceeds: np.ndarray, month_of_day: np.ndarray,
               limit: np.ndarray, regulation: np.ndarray, k: int, kind: str) -> dict[str, np.ndarray]:
    """Monthly summary rows of one parameter and period kind (as qcvn.summarise_exceedances(…, "M") gives)."""
    valid = regulated & ~periods.provisional
    starts = _segments(month_of_day, limit, regulation)

    def per_segment(a: np.ndarray, ufunc: np.ufunc) -> np.ndarray:
        return ufunc.reduceat(ufunc.reduce(a, axis=2), starts, axis=1)

    n_valid = per_segment(valid.astype("int64"), np.add)
    n_exceeding = per_segment((exceeds & valid).astype("int64"), np.add)
    n_provisional = per_segment((regulated & periods.provisional).astype("int64"), np.add)
    max_value = per_segment(np.where(valid, periods.value, np.nan), np.fmax)
    s_idx, g_idx = np.nonzero(n_valid + n_provisional)
    day = starts[g_idx]
    return {"station": s_idx, "parameter": np.full(len(s_idx), k), "period": np.full(len(s_idx), kind),
            "month": month_of_day[day], "regulation": regulation[day], "limit": limit[day],
            "n_valid": n_valid[s_idx, g_idx], "n_exceeding": n_exceeding[s_idx, g_idx],
            "n_provisional": n_provisional[s_idx, g_idx], "max_value": max_value[s_idx, g_idx]}


def _concat(rows: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([r[name] for r in rows]) for name in rows[0]} if rows else {}


def _share(n_exceeding: np.ndarray, n_valid: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n_valid > 0, n_exceeding / np.maximum(n_valid, 1), np.nan)


def _write_exceedances(conn: psycopg.Connection, stations: list[str], parts: list[dict[str, np.ndarray]],
                       names: list[str]) -> int:
    rows = _concat(parts)
    if not rows:
        return 0
    return copy_rows(conn, "qcvn_exceedances", [
        Column("station_code", "text", rows["station"], labels=stations),
        Column("parameter", "text", rows["parameter"], labels=list(POLLUTANTS)),
        Column("period", "text", rows["period"].astype("S")),
        Column("period_end", "timestamptz", rows["period_end"] * HOUR_US - EPOCH_2000_US),
        Column("value", "float8", rows["value"]), Column("limit_value", "float8", rows["limit"]),
        Column("regulation", "text", rows["regulation"], labels=names),
        Column("n_hours", "int4", rows["n_hours"]), Column("provisional", "bool", rows["provisional"])])


_SUMMARY_COLUMNS = ("station_code", "parameter", "period", "freq", "period_start", "regulation", "limit_value",
                    "n_valid", "n_exceeding", "share", "max_value", "n_provisional")


def _summary_columns(rows: dict[str, np.ndarray], stations: list[str], names: list[str], freq: str,
                     start_days: np.ndarray) -> list[Column]:
    return [Column("station_code", "text", rows["station"], labels=stations),
            Column("parameter", "text", rows["parameter"], labels=list(POLLUTANTS)),
            Column("period", "text", rows["period"].astype("S")),
            Column("freq", "text", np.full(len(start_days), freq.encode())),
            Column("period_start", "date", start_days - EPOCH_2000_DAY),
            Column("regulation", "text", rows["regulation"], labels=names),
            Column("limit_value", "float8", rows["limit"]), Column("n_valid", "int4", rows["n_valid"]),
            Column("n_exceeding", "int4", rows["n_exceeding"]),
            Column("share", "float8", _share(rows["n_exceeding"], rows["n_valid"])),
            Column("max_value", "float8", rows["max_value"]), Column("n_provisional", "int4", rows["n_provisional"])]


def _write_month_summaries(conn: psycopg.Connection, stations: list[str], parts: list[dict[str, np.ndarray]],
                           names: list[str]) -> None:
    rows = _concat(parts)
    if not rows or not len(rows["station"]):
        return
    month_days = (rows["month"].astype("datetime64[M]").astype("datetime64[D]")
                  - np.datetime64("1970-01-01", "D")).astype("int64")
    copy_rows(conn, "qcvn_summaries", _summary_columns(rows, stations, names, "month", month_days))


def two_sum_total(parts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum along the last axis as a double-double (hi, lo): hi + lo is the exact sum, to about 2⁻¹⁰⁵ of it.

    Pairwise, with every addition's rounding error kept (TwoSum) and added up apart; NaN counts as 0. ``hi`` is
    then the correctly rounded sum, what ``math.fsum`` gives, whatever the grouping.
    """
    hi = np.nan_to_num(np.asarray(parts, dtype="float64"), nan=0.0)
    lo = np.zeros_like(hi)
    while hi.shape[-1] > 1:
        if hi.shape[-1] % 2:
            pad = [(0, 0)] * (hi.ndim - 1) + [(0, 1)]
            hi, lo = np.pad(hi, pad), np.pad(lo, pad)
        a, b = hi[..., 0::2], hi[..., 1::2]
        s = a + b
        bb = s - a
        error = (a - (s - bb)) + (b - bb)
        hi, lo = s, lo[..., 0::2] + lo[..., 1::2] + error
    hi, lo = hi[..., 0], lo[..., 0]
    total = hi + lo
    return total, lo - (total - hi)


def _monthly_sums(plan: _Plan, clean: np.ndarray, month_of_day: np.ndarray) -> list[Column]:
    """Per station, pollutant and local month: the clean readings' count and exact sum (annual means use them)."""
    starts = _segments(month_of_day, np.zeros(len(month_of_day)), np.zeros(len(month_of_day), dtype="int64"))
    bounds = list(starts * 24) + [clean.shape[-1]]
    width = max(b - a for a, b in zip(bounds[:-1], bounds[1:]))
    months = np.full(clean.shape[:2] + (len(starts), width), np.nan)
    for m, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        months[:, :, m, :b - a] = clean[:, :, a:b]
    count = (~np.isnan(months)).sum(axis=3)
    hi, lo = two_sum_total(months)
    s_idx, p_idx, m_idx = np.nonzero(count)
    first_days = (month_of_day[starts].astype("datetime64[M]").astype("datetime64[D]")
                  - np.datetime64("1970-01-01", "D")).astype("int64")
    return [
        Column("station_code", "text", s_idx, labels=plan.stations),
        Column("parameter", "text", p_idx, labels=list(POLLUTANTS)),
        Column("month", "date", first_days[m_idx] - EPOCH_2000_DAY),
        Column("n_hours", "int4", count[s_idx, p_idx, m_idx]),
        Column("sum_hi", "float8", hi[s_idx, p_idx, m_idx]), Column("sum_lo", "float8", lo[s_idx, p_idx, m_idx])]


_YEAR_SUMMARIES = """
INSERT INTO qcvn_summaries (station_code, parameter, period, freq, period_start, regulation, limit_value, n_valid,
                            n_exceeding, share, max_value, n_provisional)
SELECT station_code, parameter, period, 'year', make_date(extract(year FROM period_start)::int, 1, 1), regulation,
       limit_value, sum(n_valid), sum(n_exceeding),
       CASE WHEN sum(n_valid) > 0 THEN sum(n_exceeding)::double precision / sum(n_valid) END,
       max(max_value), sum(n_provisional)
FROM qcvn_summaries
WHERE station_code = ANY(%(stations)s) AND freq = 'month' AND period_start >= %(lo)s AND period_start < %(hi)s
GROUP BY station_code, parameter, period, extract(year FROM period_start), regulation, limit_value"""


def _refresh_years(conn: psycopg.Connection, stations: list[str], years: tuple[int, int]) -> int:
    """Annual means (from the monthly sums) and yearly summaries (from the monthly ones) of whole local years."""
    y0, y1 = years
    lo, hi = date(y0, 1, 1), date(y1 + 1, 1, 1)
    local = ZoneInfo(LOCAL_TZ)
    conn.execute("DELETE FROM qcvn_exceedances WHERE station_code = ANY(%s) AND period = 'year' "
                 "AND period_end > %s AND period_end <= %s",
                 (stations, datetime(y0, 1, 1, tzinfo=local), datetime(y1 + 1, 1, 1, tzinfo=local)))
    conn.execute("DELETE FROM qcvn_summaries WHERE station_code = ANY(%s) AND freq = 'year' "
                 "AND period_start >= %s AND period_start < %s", (stations, lo, hi))
    conn.execute(_YEAR_SUMMARIES, {"stations": stations, "lo": lo, "hi": hi})
    parameters = sorted({r[0] for r in _limit_rows() if r[1] == "year"} & set(POLLUTANTS))
    sums = conn.execute(
        "SELECT station_code, parameter, extract(year FROM month)::int, n_hours, sum_hi, sum_lo "
        "FROM qcvn_monthly_sums WHERE station_code = ANY(%s) AND parameter = ANY(%s) AND month >= %s AND month < %s "
        "ORDER BY 1, 2, 3, month", (stations, parameters, lo, hi)).fetchall()
    groups: dict[tuple[str, str, int], list[tuple[int, float, float]]] = {}
    for station, parameter, year, n, s_hi, s_lo in sums:
        groups.setdefault((station, parameter, year), []).append((n, s_hi, s_lo))
    exceed, summary = [], []
    for (station, parameter, year), months in groups.items():
        n = sum(m[0] for m in months)
        total, _ = two_sum_total(np.array([x for m in months for x in m[1:]]))
        mean = float(total) / n
        end = datetime(year + 1, 1, 1, tzinfo=local)
        hours_in_year = (end - datetime(year, 1, 1, tzinfo=local)) / timedelta(hours=1)
        provisional = n < qcvn.YEAR_MIN_SHARE * hours_in_year
        found = _annual_limit(parameter, year)
        if found is None:
            continue
        value, regulation = found
        exceeds = mean > value
        if exceeds:
            exceed.append((station, parameter, "year", end, mean, value, regulation, n, provisional))
        valid = not provisional
        summary.append((station, parameter, "year", "year", date(year, 1, 1), regulation, value, int(valid),
                        int(exceeds and valid), (float(exceeds) if valid else None), (mean if valid else None),
                        int(provisional)))
    with conn.cursor() as cur:
        if exceed:
            cur.executemany("INSERT INTO qcvn_exceedances (station_code, parameter, period, period_end, value, "
                            "limit_value, regulation, n_hours, provisional) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
                            "%s)", exceed)
        if summary:
            cur.executemany(f"INSERT INTO qcvn_summaries ({', '.join(_SUMMARY_COLUMNS)}) VALUES "
                            f"({', '.join(['%s'] * len(_SUMMARY_COLUMNS))})", summary)
    return len(exceed)


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
