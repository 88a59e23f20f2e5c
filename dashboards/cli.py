"""`geo serve`: run the web app (public air-quality map and open API)."""
from __future__ import annotations

from typing import Annotated

import typer

from dashboards.context import AppSettings
from geo.settings import DatabaseSettings, WebSettings


def serve_command(host: Annotated[str | None, typer.Option(help="default GEO_WEB_HOST")] = None,
                  port: Annotated[int | None, typer.Option(help="default GEO_WEB_PORT")] = None) -> None:
    """Chạy ứng dụng web / run the web app (waitress)."""
    from dashboards.serve import serve  # heavy imports only when serving

    web = WebSettings()
    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    web = web.model_copy(update=overrides)
    typer.echo(f"http://{web.host}:{web.port}/  (API: /api/v1/openapi.json)")
    serve(AppSettings(database=DatabaseSettings(), web=web))


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_command)
