"""`geo aqi station CODE` and `geo wqi station CODE`: the stored indices of one station, read from the database.

They live in ``ingest`` (geo may not import ingest, and they need the observation tables) and join the `aqi`
and `wqi` groups of geo.index_cli next to `calc`; attached by ``ingest.obs_cli.register`` (entry point geo.cli).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from geo.aqi_tables import PM_POLLUTANTS, POLLUTANTS, SCHEMES
from geo.db import make_engine, raw_connection
from geo.errors import GeoError
from geo.settings import DatabaseSettings
from ingest.aqi_explain import LABELS, explain_hour, fmt

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
console = Console()


class StationIndexError(GeoError):
    """An unknown station, a day without stored indices, or a bad option: a message, never a traceback."""


def _local(t: datetime) -> str:
    return t.astimezone(LOCAL).strftime("%Y-%m-%d %H:%M")


def _parse_date(text: str | None, option: str) -> date:
    if text is None:
        return datetime.now(LOCAL).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StationIndexError(f"ngày không hợp lệ / invalid date for {option}: {text!r} (YYYY-MM-DD)") from None


def _station(conn, code: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    row = conn.execute("SELECT code, name_vi FROM monitoring_stations WHERE code = %s", (code,)).fetchone()
    if row is None:
        close = [r[0] for r in conn.execute("SELECT code FROM monitoring_stations WHERE code ILIKE %s ORDER BY code "
                                            "LIMIT 5", (f"%{code[:3]}%",)).fetchall()]
        hint = f"; mã gần giống / similar codes: {', '.join(close)}" if close else ""
        raise StationIndexError(f"không có trạm '{code}' / no station '{code}' in monitoring_stations{hint}")
    return row[0], row[1]


def _basis(p: str, detail: dict, scheme: str) -> tuple[str, float | None]:
    if p in PM_POLLUTANTS:
        return "NowCast", detail.get(f"{p}_nowcast")
    if scheme == "us" and detail.get(f"{p}_8h") is not None:
        return "8h", detail.get(f"{p}_8h")
    return "1h", detail.get(f"{p}_1h")


def _hour_table(code: str, day: date, scheme: str, rows: list[dict]) -> Table:
    present = [p for p in POLLUTANTS if any(p in r["detail"] for r in rows)]
    table = Table(title=f"{code} · {day} · {scheme.upper()} AQI giờ / hourly (µg/m³; AQIx = sub-index)")
    table.add_column("giờ / hour", justify="left")
    for p in present:
        table.add_column(f"{LABELS[p]}\n{'NowCast' if p in PM_POLLUTANTS else 'C'}", justify="right")
        table.add_column("AQIx", justify="right")
    for name in ("AQI", "loại / category", "chủ đạo / dominant", "tạm / provisional"):
        table.add_column(name)
    for r in rows:
        cells = [_local(r["hour_end"])[11:] if r["hour_end"].astimezone(LOCAL).hour else "24:00"]
        for p in present:
            basis, value = _basis(p, r["detail"], scheme)
            sub = (r["detail"].get(p) or {}).get("rounded")
            cells += [("—" if value is None else fmt(value, 2)) + ("" if p in PM_POLLUTANTS else f" ({basis})"),
                      "—" if sub is None else str(sub)]
        cells += ["—" if r["aqi"] is None else str(r["aqi"]), r["category"] or "—",
                  LABELS.get(r["dominant"], "—"), "có / yes" if r["provisional"] else ""]
        table.add_row(*cells)
    return table


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """Hours ending 01:00 … 00:00 of the next day (1459/QĐ-TCMT §2.2.2), on the local clock."""
    start = datetime(day.year, day.month, day.day, tzinfo=LOCAL)
    return start + timedelta(hours=1), start + timedelta(days=1)


def _pick_hour(rows: list[dict], day: date, hour: int | None) -> dict:
    if hour is not None:
        if not 0 <= hour <= 24:
            raise StationIndexError(f"--hour phải từ 1 đến 24 / --hour must be 1..24 (24 or 0 = 00:00), got {hour}")
        wanted = datetime(day.year, day.month, day.day, tzinfo=LOCAL) + timedelta(hours=hour or 24)
        row = next((r for r in rows if r["hour_end"] == wanted), None)
        if row is None:
            raise StationIndexError(f"không có AQI lưu cho giờ {hour:02d}:00 / no stored AQI for the hour ending "
                                    f"{hour:02d}:00 of {day}")
        return row
    with_aqi = [r for r in rows if r["aqi"] is not None]
    return (with_aqi or rows)[-1]


def aqi_station(
    code: Annotated[str, typer.Argument(help="mã trạm / station code")],
    day: Annotated[str | None, typer.Option("--date", help="ngày địa phương / local day YYYY-MM-DD (default today)")]
    = None,
    scheme: Annotated[str, typer.Option("--scheme", help="vn (1459/QĐ-TCMT) | us (EPA 2024)")] = "vn",
    explain: Annotated[bool, typer.Option("--explain", help="show the arithmetic of one hour")] = False,
    hour: Annotated[int | None, typer.Option("--hour", help="hour ending HH (1..24) to explain; default the "
                                                            "latest with an AQI")] = None,
) -> None:
    """AQI giờ đã lưu của một trạm trong một ngày / a station's stored hourly AQI for one day."""
    if scheme not in SCHEMES:
        raise StationIndexError(f"thang chỉ số không rõ / unknown scheme {scheme!r}; use one of {', '.join(SCHEMES)}")
    when = _parse_date(day, "--date")
    lo, hi = _day_bounds(when)
    with raw_connection(make_engine(DatabaseSettings())) as conn:
        code, name = _station(conn, code)
        cols = ("hour_end", "aqi", "category", "dominant", "provisional", "beyond_scale", "detail")
        rows = [dict(zip(cols, r)) for r in conn.execute(
            f"SELECT {', '.join(cols)} FROM aqi_hourly WHERE station_code = %s AND scheme = %s AND hour_end "
            "BETWEEN %s AND %s ORDER BY hour_end", (code, scheme, lo, hi)).fetchall()]
        if not rows:
            last = conn.execute("SELECT max(hour_end) FROM aqi_hourly WHERE station_code = %s AND scheme = %s",
                                (code, scheme)).fetchone()[0]
            hint = f"; số liệu gần nhất / latest stored hour: {_local(last)}" if last else "; the station has none"
            raise StationIndexError(f"trạm {code} không có AQI giờ nào ngày {when} / no hourly {scheme.upper()} AQI "
                                    f"stored for {code} on {when}{hint}")
        daily = conn.execute("SELECT aqi, category, dominant, provisional FROM aqi_daily WHERE station_code = %s "
                             "AND scheme = %s AND day = %s", (code, scheme, when)).fetchone()
        console.print(f"{code} — {name}", highlight=False)
        console.print(_hour_table(code, when, scheme, rows))
        if daily is not None:
            console.print(f"AQI ngày / daily {scheme.upper()} AQI {when}: {daily[0] if daily[0] is not None else '—'} "
                          f"{daily[1] or ''} (dominant {LABELS.get(daily[2], '—')}"
                          f"{', provisional' if daily[3] else ''})", highlight=False)
        if explain:
            _print_explanation(conn, code, scheme, _pick_hour(rows, when, hour))


def _print_explanation(conn, code: str, scheme: str, row: dict) -> None:  # type: ignore[no-untyped-def]
    console.print(f"\nCách tính / how the {scheme.upper()} AQI of the hour ending {_local(row['hour_end'])} "
                  "was computed (recomputed exactly from the stored readings):", highlight=False)
    ex = explain_hour(conn, code, scheme, row["hour_end"], row, _local)
    for line in ex.lines:
        console.print(line, highlight=False, markup=False)
    if ex.mismatches:
        raise StationIndexError(f"giá trị tính lại khác giá trị đã lưu / recomputed values differ from the stored "
                                f"ones ({', '.join(ex.mismatches)}); the stored indices may be stale")
    console.print("Mọi số tính lại đều bằng số đã lưu / every recomputed number equals the stored one.")


def wqi_station(
    code: Annotated[str, typer.Argument(help="mã trạm / station code")],
    start: Annotated[str | None, typer.Option("--from", help="first local day YYYY-MM-DD")] = None,
    end: Annotated[str | None, typer.Option("--to", help="last local day YYYY-MM-DD")] = None,
) -> None:
    """VN_WQI đã lưu của một điểm quan trắc / a station's stored VN_WQI results with sub-indices."""
    lo = datetime.combine(_parse_date(start, "--from"), datetime.min.time(), LOCAL) if start else None
    hi = datetime.combine(_parse_date(end, "--to") + timedelta(days=1), datetime.min.time(), LOCAL) if end else None
    with raw_connection(make_engine(DatabaseSettings())) as conn:
        code, name = _station(conn, code)
        rows = conn.execute("SELECT sampled_at, wqi, category, formula, reason, detail FROM wqi_results "
                            "WHERE station_code = %s AND (%s::timestamptz IS NULL OR sampled_at >= %s) AND "
                            "(%s::timestamptz IS NULL OR sampled_at < %s) ORDER BY sampled_at",
                            (code, lo, lo, hi, hi)).fetchall()
    if not rows:
        raise StationIndexError(f"trạm {code} không có kết quả WQI trong khoảng này / no stored VN_WQI for {code} "
                                f"between {start or '…'} and {end or '…'}")
    table = Table(title=f"{code} — {name}: VN_WQI (1460/QĐ-TCMT)")
    for c in ("lấy mẫu / sampled", "WQI", "loại / category", "CT / formula", "WQI_SI (chỉ số phụ / sub-indices)"):
        table.add_column(c)
    for sampled_at, wqi, category, formula, reason, detail in rows:
        subs = " · ".join(f"{k} {fmt(v, 2)}" for k, v in (detail.get("sub_indices") or {}).items())
        table.add_row(_local(sampled_at), "—" if wqi is None else str(wqi), category or (reason or "—"),
                      formula or "—", subs)
    console.print(table)


def register_station_commands() -> None:
    """Attach `station` to the `aqi` and `wqi` groups (Typer builds the click commands only when run)."""
    from geo.index_cli import aqi_app, wqi_app

    for group, command in ((aqi_app, aqi_station), (wqi_app, wqi_station)):
        if not any(c.name == "station" for c in group.registered_commands):
            group.command("station")(command)
