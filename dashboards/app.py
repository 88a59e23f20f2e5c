"""The Dash application factory: ``create_app(settings)`` builds one app with its pages, API and cache."""
from __future__ import annotations

from pathlib import Path

import dash
from dash import Dash, html

from dashboards import api, auth, downloads, ogc, targets_export, tiles
from dashboards.context import AppContext, AppSettings
from dashboards.pages import department_map, public_air, targets
from dashboards import eip_exports
from dashboards.pages import eip_portfolio, eip_scorecard
from geo.access import Role

# Callback id prefix of each page → the lowest role that may run its callbacks (None: everyone).
GUARDS = {public_air.PREFIX: None, department_map.PREFIX: Role.IP_AUTHORITY,
          targets.PREFIX: targets_export.LOWEST_ROLE}
GUARDS[eip_portfolio.PREFIX] = Role.IP_AUTHORITY  # both eco-park pages use ids starting eip-


def create_app(settings: AppSettings | None = None) -> Dash:
    """Build the app; nothing is read from the environment except through ``settings``."""
    actx = AppContext.build(settings or AppSettings())
    app = Dash(__name__, use_pages=True, pages_folder="", assets_folder=str(Path(__file__).with_name("assets")),
               title="Chất lượng không khí / Air quality", update_title=None, serve_locally=True,
               suppress_callback_exceptions=True,
               meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}])
    app.server.config["GEO_CONTEXT"] = actx
    auth.install(app.server, actx, GUARDS)
    public_air.register(app, actx)
    department_map.register(app, actx)
    eip_portfolio.register(app, actx)
    eip_scorecard.register(app, actx)
    targets.register_page(app, actx)
    app.layout = html.Div([dash.page_container], id="app-root")
    app.server.register_blueprint(api.blueprint())
    app.server.register_blueprint(targets_export.blueprint(actx))
    app.server.register_blueprint(downloads.blueprint())
    app.server.register_blueprint(tiles.blueprint(actx))
    app.server.register_blueprint(ogc.blueprint())
    app.server.register_blueprint(eip_exports.blueprint())
    app.server.after_request(_security_headers)
    return app


def _security_headers(response):  # type: ignore[no-untyped-def]
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
