"""Eco-industrial-park tracker, portfolio page (internal): parks map coloured by conversion status, filterable table."""
from __future__ import annotations

import dash
from dash import Dash, Input, Output, State, dash_table, dcc, html, no_update
from flask import g, has_request_context

from dashboards import auth, eip_data
from dashboards.components.navbar import navbar
from dashboards.context import AppContext
from dashboards.figures.eip_figures import parks_map
from dashboards.i18n import lang_or_default, t
from geo.access import Role
from geo.eip_workflow import STATUSES, TITLES

PREFIX = "eip-"
PATH = "/eip"


class Ids:
    """Component ids of the portfolio page (the only place they are spelled)."""

    lang = "eip-p-lang"
    location = "eip-p-location"
    map = "eip-p-map"
    status_filter = "eip-p-status-filter"
    table = "eip-p-table"
    count = "eip-p-count"


COLUMNS = ("code", "name", "status", "status_since", "n_enterprises", "n_pass", "n_fail", "n_unknown", "assessed_on",
           "area_ha")


def columns(lang: str) -> list[dict]:
    return [{"id": c, "name": t(f"eip.col.{c}", lang), **({"presentation": "markdown"} if c == "name" else {})}
            for c in COLUMNS]


def header(lang: str, here: str, title_key: str, other_href: str) -> html.Header:
    session = getattr(g, "session", None) if has_request_context() else None
    user = auth.current_user() if has_request_context() else None
    return html.Header([
        html.Div([html.H1(t(title_key, lang), id="eip-title"), html.P(t("eip.subtitle", lang))], className="titles"),
        html.Div([html.A(t("lang.switch", lang), href=other_href, className="lang-button", id="eip-lang-link"),
                  navbar(lang, user, session["csrf"] if session else None, here)], className="controls"),
    ], className="air-header eip-header")


def forbidden(lang: str) -> html.Div:
    """Shown when the layout is reached without the role (the page guard normally redirects first)."""
    return html.Div(html.P(t("eip.forbidden", lang)), className="eip-page")


def layout(actx: AppContext, lang: str | None = None, **_query: str) -> html.Div:
    lang = lang_or_default(lang)
    if has_request_context() and not auth.allowed(Role.IP_AUTHORITY):
        return forbidden(lang)
    options = [{"label": TITLES[s][0 if lang == "vi" else 1], "value": s} for s in STATUSES]
    other = "en" if lang == "vi" else "vi"
    return html.Div([
        dcc.Store(id=Ids.lang, data=lang), dcc.Location(id=Ids.location, refresh=True),
        header(lang, PATH, "eip.title", f"{PATH}?lang={other}"),
        html.Main([
            html.Section([dcc.Graph(id=Ids.map, className="eip-map",
                                    config={"scrollZoom": True, "displaylogo": False, "displayModeBar": False}),
                          html.P(t("eip.map.hint", lang), className="hint")], className="eip-map-column"),
            html.Section([
                html.Label(t("eip.filter.status", lang), htmlFor=Ids.status_filter),
                dcc.Dropdown(options, id=Ids.status_filter, multi=True, placeholder=t("eip.filter.all", lang)),
                html.P(id=Ids.count, className="eip-count"),
                dash_table.DataTable(id=Ids.table, columns=columns(lang), sort_action="native", filter_action="native",
                                     page_size=20, markdown_options={"link_target": "_self"},
                                     style_cell={"textAlign": "left", "fontSize": "13px", "whiteSpace": "normal"},
                                     style_table={"overflowX": "auto"}),
                html.A(t("eip.export.portfolio", lang), href=f"/eip/export/portfolio.csv?lang={lang}",
                       id="eip-p-export", className="eip-export"),
            ], className="eip-table-column"),
        ], className="eip-main"),
    ], className="eip-page")


def register(app: Dash, actx: AppContext) -> None:
    dash.register_page("eip_portfolio", path=PATH, layout=lambda **q: layout(actx, **q),
                       title="KCN sinh thái / Eco-industrial parks", lowest_role=Role.IP_AUTHORITY)

    @app.callback(Output(Ids.map, "figure"), Output(Ids.table, "data"), Output(Ids.count, "children"),
                  Input(Ids.status_filter, "value"), State(Ids.lang, "data"))
    def on_filter(statuses: list[str] | None, lang: str) -> tuple:
        lang = lang_or_default(lang)
        frame = eip_data.portfolio(actx.engine)
        if statuses:
            frame = frame[frame["status"].isin(statuses)]
        return (parks_map(frame, lang, actx.settings.web.basemap), eip_data.portfolio_rows(frame, lang),
                t("eip.count", lang, n=len(frame)))

    @app.callback(Output(Ids.location, "href"), Input(Ids.map, "clickData"), State(Ids.lang, "data"),
                  prevent_initial_call=True)
    def on_click(click: dict | None, lang: str) -> str:
        points = (click or {}).get("points") or []
        code = next((p.get("customdata") or p.get("location") for p in points
                     if p.get("customdata") or p.get("location")), None)
        if not code:
            return no_update
        return f"/eip/park?park={code}&lang={lang_or_default(lang)}"
