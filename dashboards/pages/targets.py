"""Internal targets page (/targets): a tab per theme, indicator cards, choropleth by boundary version, trend, lineage, export."""
from __future__ import annotations

import dash
import pandas as pd
from dash import Dash, Input, Output, State, dcc, html

from dashboards import targets_data as data
from dashboards.context import AppContext
from dashboards.figures.targets import choropleth, indicator_title, trend_chart
from dashboards.i18n import lang_or_default, t
from dashboards.targets_export import LOWEST_ROLE, export_path
from geo.indicator_register import register
from geo.progress import Status

PREFIX = "targets-"
CONFIDENCE_KEYS = {"CONFIRMED (primary)": "primary", "CONFIRMED (secondary)": "secondary",
                   "CONFIRMED": "confirmed", "UNCONFIRMED": "unconfirmed"}


class Ids:
    """Component ids of this page (the only place they are spelled); all start with PREFIX (callback guard)."""

    lang = "targets-lang"
    lang_button = "targets-lang-button"
    title = "targets-title"
    tabs = "targets-tabs"
    cards = "targets-cards"
    indicator = "targets-indicator"
    indicator_label = "targets-indicator-label"
    version = "targets-version"
    version_label = "targets-version-label"
    map = "targets-map"

    @staticmethod
    def map_for(version: str) -> str:
        return f"targets-map-{version}"
    trend = "targets-trend"
    lineage = "targets-lineage"
    lineage_title = "targets-lineage-title"
    csv = "targets-export-csv"
    xlsx = "targets-export-xlsx"

    @staticmethod
    def tab(theme: str) -> str:
        return f"targets-tab-{theme}"


def texts(lang: str) -> tuple:
    """Static texts in ``lang``: title, switch, tab labels, labels, version options, lineage title, exports."""
    versions = [{"label": t(f"targets.version.{v}", lang), "value": v} for v in data.VERSIONS]
    return (t("targets.title", lang), t("lang.switch", lang), *[t(f"targets.theme.{th}", lang) for th in data.THEMES],
            t("targets.indicator", lang), t("targets.version", lang), versions, t("targets.lineage.title", lang),
            t("targets.export.csv", lang), t("targets.export.xlsx", lang))


def layout(lang: str | None = None, **_query: str) -> html.Div:
    lang = lang_or_default(lang)
    (title, switch, *tabs, ind_label, ver_label, versions, lin_title, csv, xlsx) = texts(lang)
    return html.Div([
        dcc.Store(id=Ids.lang, data=lang),
        html.Header([html.H1(title, id=Ids.title),
                     html.Button(switch, id=Ids.lang_button, className="lang-button", n_clicks=0)],
                    className="targets-header"),
        dcc.Tabs(id=Ids.tabs, value=data.THEMES[0], children=[
            dcc.Tab(label=label, value=theme, id=Ids.tab(theme)) for theme, label in zip(data.THEMES, tabs)]),
        html.Div(id=Ids.cards, className="targets-cards"),
        html.Div([html.Label(ind_label, id=Ids.indicator_label, htmlFor=Ids.indicator),
                  dcc.Dropdown(id=Ids.indicator, clearable=False, searchable=False),
                  html.Label(ver_label, id=Ids.version_label, htmlFor=Ids.version),
                  dcc.RadioItems(versions, id=Ids.version, value="pre2025", inline=True),
                  html.A(csv, id=Ids.csv, className="targets-export"),
                  html.A(xlsx, id=Ids.xlsx, className="targets-export")], className="targets-controls"),
        html.Main([
            # One map per boundary version: plotly's MapLibre layer keeps the first GeoJSON it was given and
            # went on drawing district shapes after a switch to wards; each graph keeps its own geometry.
            html.Div([dcc.Graph(id=Ids.map_for(v), className="targets-map", style=_shown(v == "pre2025"),
                                config={"displaylogo": False, "scrollZoom": True}) for v in data.VERSIONS],
                     id=Ids.map, className="targets-map-box"),
            html.Div([dcc.Graph(id=Ids.trend, config={"displaylogo": False, "displayModeBar": False}),
                      html.Details([html.Summary(lin_title, id=Ids.lineage_title),
                                    html.Div(id=Ids.lineage)], open=True, className="targets-lineage")],
                     className="targets-side"),
        ], className="targets-main"),
    ], className="targets-page")


def _shown(visible: bool) -> dict:
    return {} if visible else {"display": "none"}


def _number(v: float | None, unit: str) -> str:
    if v is None:
        return "—"
    shown = f"{v:,.2f}".rstrip("0").rstrip(".")   # 57.5 %, 10,633 ha: no padded decimals
    return f"{shown} {unit}"


def confidence_label(confidence: str | None, lang: str) -> html.Span:
    """UNCONFIRMED is always said so (targets.md convention 5); unknown wording is shown as written."""
    key = CONFIDENCE_KEYS.get((confidence or "").strip())
    text_ = t(f"targets.confidence.{key}", lang) if key else (confidence or t("targets.confidence.none", lang))
    return html.Span(text_, className=f"confidence confidence-{key or 'other'}")


def status_label(card: data.Card, lang: str) -> str:
    status = card.progress.status if card.progress else Status.INSUFFICIENT_DATA
    return t(f"targets.status.{status.value}", lang)


def card_view(card: data.Card, lang: str) -> html.Article:
    ind = card.indicator
    status = card.progress.status.value if card.progress else Status.INSUFFICIENT_DATA.value
    target = (f"{_number(ind.target_value, ind.unit)} ({ind.target_year or '—'})" if ind.target_value is not None
              else t("targets.card.no_target", lang))
    return html.Article([
        html.H3([html.Span(ind.indicator_id, className="card-id"), " ", indicator_title(ind, lang)]),
        html.P(_number(card.value, ind.unit), className="card-value"),
        html.Dl([html.Dt(t("targets.card.year", lang)), html.Dd(card.year or "—"),
                 html.Dt(t("targets.card.target", lang)), html.Dd(target),
                 html.Dt(t("targets.card.status", lang)), html.Dd(status_label(card, lang), className="card-status"),
                 html.Dt(t("targets.card.confidence", lang)),
                 html.Dd([confidence_label(ind.target_confidence, lang)]),
                 html.Dt(t("targets.card.source", lang)),
                 html.Dd(t(f"targets.source.{card.source_kind or 'none'}", lang))]),
    ], className=f"target-card status-{status}", id=f"targets-card-{ind.indicator_id}")


def indicator_options(theme: str, lang: str) -> list[dict]:
    return [{"label": f"{i.indicator_id} — {indicator_title(i, lang)}", "value": i.indicator_id}
            for i in data.indicators_for(theme)]


def _units(actx: AppContext, version: str) -> tuple[pd.DataFrame, dict]:
    def compute() -> tuple[pd.DataFrame, dict]:
        frame = data.units(actx.engine, version)
        return frame.drop(columns="geojson"), data.feature_collection(frame)
    return actx.cache.get_or_compute(("targets-units", version), ("admin_units",), compute)


def figures(actx: AppContext, indicator_id: str, version: str, lang: str) -> tuple:
    """Map, trend and lineage of one indicator (a plain function: tested without a browser)."""
    ind = register()[indicator_id]
    values = data.indicator_values(actx.engine, indicator_id)
    frame, method = data.unit_values(actx.engine, ind, version, values=values)
    units, geojson = _units(actx, version)
    fig = choropleth(geojson, units, frame, ind, method, lang, actx.settings.web.basemap)
    trend = trend_chart(data.reference_series(values), ind, lang)
    return fig, trend, lineage_view(data.lineage(actx.engine, indicator_id, values), lang)


def _run_line(run_id: int, runs: dict, lang: str) -> html.Li:
    r = runs.get(run_id, {})
    when = r.get("finished_at")
    return html.Li([html.Code(f"#{run_id}"), f" {r.get('kind', '?')} {r.get('layer', '')} ",
                    html.Span(r.get("file_name") or "—", className="file"), " sha256 ",
                    html.Code((r.get("sha256") or "—")[:16]), f" {when:%Y-%m-%d %H:%M}" if when else ""])


def lineage_view(lin: dict | None, lang: str) -> html.Div:
    """Layers and their ingest runs (file, checksum), rasters, computing runs, computed_at, or the report source."""
    if lin is None:
        return html.Div(t("targets.lineage.none", lang), className="lineage-empty")
    runs = lin["runs"]
    items = [html.P(t("targets.lineage.value", lang, geography=lin["geography"], year=lin["year"],
                      kind=t(f"targets.source.{lin['source_kind']}", lang), at=lin["computed_at"]))]
    if lin["source_text"]:
        items.append(html.P([t("targets.lineage.source", lang), " ", html.Q(lin["source_text"])]))
    for layer, ids in lin["layer_runs"].items():
        items += [html.H4(f"{t('targets.lineage.layer', lang)} {layer}"),
                  html.Ul([_run_line(r, runs, lang) for r in ids])]
    if lin["rasters"]:
        items += [html.H4(t("targets.lineage.rasters", lang)), html.Ul([
            html.Li([html.Code(f"raster {r['raster_id']}"), f" {r['product']} {r['year']} ",
                     html.Span(r["source_path"] or "—", className="file"), " sha256 ",
                     html.Code(r["sha256"][:16]), f" (run #{r['ingest_run_id']})"]) for r in lin["rasters"]])]
    if lin["compute_runs"]:
        items += [html.H4(t("targets.lineage.compute", lang)),
                  html.Ul([_run_line(r, runs, lang) for r in lin["compute_runs"]])]
    return html.Div(items, className="lineage")


def register_page(app: Dash, actx: AppContext) -> None:
    dash.register_page("targets", path="/targets", layout=layout, title="Mục tiêu tăng trưởng xanh / Targets",
                       lowest_role=LOWEST_ROLE)

    @app.callback(Output(Ids.lang, "data"), Input(Ids.lang_button, "n_clicks"), State(Ids.lang, "data"),
                  prevent_initial_call=True)
    def toggle_lang(_n: int, lang: str) -> str:
        return "en" if lang_or_default(lang) == "vi" else "vi"

    @app.callback(Output(Ids.title, "children"), Output(Ids.lang_button, "children"),
                  *[Output(Ids.tab(th), "label") for th in data.THEMES], Output(Ids.indicator_label, "children"),
                  Output(Ids.version_label, "children"), Output(Ids.version, "options"),
                  Output(Ids.lineage_title, "children"), Output(Ids.csv, "children"), Output(Ids.xlsx, "children"),
                  Input(Ids.lang, "data"), prevent_initial_call=True)
    def on_lang(lang: str) -> tuple:
        return texts(lang_or_default(lang))

    @app.callback(Output(Ids.cards, "children"), Output(Ids.indicator, "options"), Output(Ids.indicator, "value"),
                  Input(Ids.tabs, "value"), Input(Ids.lang, "data"), State(Ids.indicator, "value"))
    def on_theme(theme: str, lang: str, current: str | None) -> tuple:
        lang = lang_or_default(lang)
        options = indicator_options(theme, lang)
        ids = [o["value"] for o in options]
        chosen = current if current in ids else first_with_values(actx, theme) or (ids[0] if ids else None)
        return [card_view(c, lang) for c in data.cards(actx.engine, theme)], options, chosen

    @app.callback(*[Output(Ids.map_for(v), "figure") for v in data.VERSIONS],
                  *[Output(Ids.map_for(v), "style") for v in data.VERSIONS],
                  Output(Ids.trend, "figure"), Output(Ids.lineage, "children"),
                  Output(Ids.csv, "href"), Output(Ids.xlsx, "href"),
                  Input(Ids.indicator, "value"), Input(Ids.version, "value"), Input(Ids.lang, "data"))
    def on_indicator(indicator_id: str | None, version: str, lang: str) -> tuple:
        if not indicator_id:
            raise dash.exceptions.PreventUpdate
        fig, trend, lineage = figures(actx, indicator_id, version, lang_or_default(lang))
        maps = [fig if v == version else dash.no_update for v in data.VERSIONS]
        styles = [_shown(v == version) for v in data.VERSIONS]
        return (*maps, *styles, trend, lineage, export_path(indicator_id, "csv", version),
                export_path(indicator_id, "xlsx", version))


def first_with_values(actx: AppContext, theme: str) -> str | None:
    """The theme's first indicator with a reference value (the map opens on something to see)."""
    for card in data.cards(actx.engine, theme):
        if card.value is not None:
            return card.indicator.indicator_id
    return None
