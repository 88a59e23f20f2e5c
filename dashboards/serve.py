"""Serving the app with a production WSGI server (waitress), never Dash's debug server."""
from __future__ import annotations

from waitress import serve as waitress_serve

from dashboards.app import create_app
from dashboards.context import AppSettings


def serve(settings: AppSettings) -> None:
    app = create_app(settings)
    web = settings.web
    waitress_serve(app.server, host=web.host, port=web.port, threads=web.threads, ident="geo-binhduong")
