"""`geo serve`: run the web app (public air-quality map and open API)."""
from __future__ import annotations

from typing import Annotated

import typer

from dashboards.context import AppSettings
from geo.db import make_engine
from geo.settings import DatabaseSettings, SecuritySettings, WebSettings


def serve_command(host: Annotated[str | None, typer.Option(help="default GEO_WEB_HOST")] = None,
                  port: Annotated[int | None, typer.Option(help="default GEO_WEB_PORT")] = None) -> None:
    """Chạy ứng dụng web / run the web app (waitress)."""
    from dashboards.serve import serve  # heavy imports only when serving

    web = WebSettings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    web = web.model_copy(update=overrides)
    typer.echo(f"http://{web.host}:{web.port}/  (API: /api/v1/openapi.json)")
    serve(AppSettings(database=DatabaseSettings(), web=web, security=SecuritySettings()))


access_app = typer.Typer(help="Quyền truy cập lớp dữ liệu / layer access levels and database roles",
                         no_args_is_help=True)


@access_app.command("set")
def access_set(layer: str, level: Annotated[str, typer.Argument(help="public | internal | restricted")],
               by: Annotated[str, typer.Option(help="administrator's name, recorded")] = "admin",
               reason: Annotated[str | None, typer.Option()] = None) -> None:
    """Đổi mức truy cập của một lớp / override a layer's access level (administrators)."""
    from dashboards.access_admin import set_level
    set_level(make_engine(DatabaseSettings()), layer, level, by, reason)
    typer.echo(f"{layer}: {level}")


@access_app.command("list")
def access_list() -> None:
    from dashboards.access_admin import levels
    for layer, (level, source) in levels(make_engine(DatabaseSettings())).items():
        typer.echo(f"{layer:<28} {level:<11} ({source})")


@access_app.command("db-roles")
def access_db_roles() -> None:
    """Tạo vai trò CSDL tối thiểu / create the app's least-privilege and read-only database roles."""
    from dashboards.access_admin import ensure_db_roles
    sec = SecuritySettings()
    app_user, reader = sec.app_db_user or "geo_app", sec.reader_db_user or "geo_reader"
    tables = ensure_db_roles(make_engine(DatabaseSettings()), app_user, reader, sec.db_password)
    typer.echo(f"roles {app_user} (app) and {reader} (read-only: {', '.join(tables)})")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
    app.add_typer(access_app, name="access")
