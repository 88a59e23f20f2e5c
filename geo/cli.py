"""The `geo` command line: database and boundary commands here; other packages add theirs by entry point."""
from __future__ import annotations

import sys
from datetime import date
from importlib.metadata import entry_points
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from geo import boundaries, embedded, migrate, users_cli
from geo.db import check_connection, make_engine
from geo.errors import GeoError
from geo.settings import DatabaseSettings

app = typer.Typer(help="Nền tảng giám sát môi trường và KCN Bình Dương (cũ) / Bình Dương environment platform",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Cơ sở dữ liệu / database: embedded cluster and migrations", no_args_is_help=True)
admin_app = typer.Typer(help="Địa giới hành chính theo thời gian / boundaries over time", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(admin_app, name="admin")
app.add_typer(users_cli.app, name="users")
console = Console()
errors = Console(stderr=True)  # keeps stdout clean for commands whose output is data (JSON, CSV)


def frame_table(df, title: str) -> Table:  # type: ignore[no-untyped-def]
    """Render a DataFrame as a rich table (numbers rounded for reading)."""
    table = Table(title=title)
    for c in df.columns:
        table.add_column(str(c))
    for row in df.itertuples(index=False):
        table.add_row(*[f"{v:,.4f}" if isinstance(v, float) else str(v) for v in row])
    return table


@db_app.command("up")
def db_up() -> None:
    """Tạo và chạy cụm PostGIS cục bộ / create and start the embedded PostGIS cluster."""
    settings = DatabaseSettings()
    if not settings.uses_embedded:
        console.print(f"GEO_DATABASE_URL is set; using {settings.url()} (no embedded cluster started)")
        return
    st = embedded.up(settings)
    console.print(f"[green]PostGIS đang chạy / running[/] on port {st.port}, data in {st.data_dir}")


@db_app.command("down")
def db_down() -> None:
    """Dừng cụm cục bộ / stop the embedded cluster."""
    st = embedded.down(DatabaseSettings())
    console.print(f"embedded cluster stopped (data kept in {st.data_dir})")


@db_app.command("status")
def db_status() -> None:
    settings = DatabaseSettings()
    if settings.uses_embedded:
        st = embedded.status(settings)
        console.print(f"embedded: exists={st.exists} running={st.running} port={st.port} dir={st.data_dir}")
    engine = make_engine(settings)
    console.print(f"PostGIS {check_connection(engine)}; schema {migrate.current(engine)} (head {migrate.head()})")


@db_app.command("migrate")
def db_migrate() -> None:
    """Cập nhật lược đồ / bring the schema to the newest migration."""
    engine = make_engine(DatabaseSettings())
    # The first migration creates the PostGIS extension, so only the server is required here.
    check_connection(engine, require_postgis=False)
    console.print(f"schema at {migrate.upgrade(engine)}")


@admin_app.command("units")
def admin_units(on: Annotated[str, typer.Option("--date", help="YYYY-MM-DD")],
                level: Annotated[str | None, typer.Option(help="province | district | commune")] = None) -> None:
    """Đơn vị có hiệu lực vào ngày D / units in force on a date."""
    df = boundaries.units_in_force(make_engine(DatabaseSettings()), date.fromisoformat(on), level)
    console.print(frame_table(df, f"Units in force on {on}: {len(df)}"))


@admin_app.command("locate")
def admin_locate(lon: float, lat: float, on: Annotated[str, typer.Option("--date")]) -> None:
    """Đơn vị chứa điểm vào ngày D / the units containing a point on a date."""
    df = boundaries.unit_at(make_engine(DatabaseSettings()), lon, lat, date.fromisoformat(on))
    if df.empty:
        console.print(f"no unit contains ({lon}, {lat}) on {on}")
        raise typer.Exit(1)
    console.print(frame_table(df, f"({lon}, {lat}) on {on}"))


@admin_app.command("crosswalk")
def admin_crosswalk(
        from_date: Annotated[str, typer.Option(help="date of the source version")] = "2025-06-30",
        to_date: Annotated[str, typer.Option(help="date of the target version")] = "2025-07-01",
        from_level: str = "district", to_level: str = "commune",
        out: Annotated[str | None, typer.Option(help="write the crosswalk to this CSV")] = None) -> None:
    """Bảng chuyển đổi giữa hai phiên bản địa giới / crosswalk by area overlap."""
    df = boundaries.crosswalk(make_engine(DatabaseSettings()), date.fromisoformat(from_date),
                              date.fromisoformat(to_date), from_level, to_level)
    if out:
        df.to_csv(out, index=False)
        console.print(f"{len(df)} rows written to {out}")
    else:
        console.print(frame_table(df, f"{from_level}@{from_date} → {to_level}@{to_date}"))


def _load_plugins() -> None:
    for ep in entry_points(group="geo.cli"):
        ep.load()(app)


def main() -> None:
    """Entry point: errors the platform raises on purpose become a message and exit code, not a traceback."""
    _load_plugins()
    try:
        app()  # standalone mode: click itself reports usage errors and exits with the command's code
    except GeoError as exc:
        errors.print(f"[red]Lỗi / error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
