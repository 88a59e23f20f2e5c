"""Public air-quality page (no login): map, station panel, charts, VN/US switch, nearest station, VI/EN."""
from __future__ import annotations

from datetime import timedelta

import dash
import pandas as pd
from dash import Dash, Input, Output, State, ctx as cb, dcc, html, no_update

from dashboards import air_data
from dashboards.components.station_panel import station_panel
from dashboards.context import AppContext
from dashboards.figures.air_charts import aqi_chart, concentration_chart
from dashboards.figures.air_map import legend_items, station_map
from dashboards.i18n import lang_or_default, t
from geo import qcvn
from geo.aqi_tables import POLLUTANTS

PREFIX = "air-"
RANGES = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


class Ids:
    """Component ids of this page (the only place they are spelled)."""

    lang = "air-lang"
    lang_button = "air-lang-button"
    scheme = "air-scheme"
    selected = "air-selected"
    title = "air-title"
    subtitle = "air-subtitle"
    scheme_label = "air-scheme-label"
    map = "air-map"
    legend = "air-legend"
    hint = "air-hint"
    locate = "air-locate"
    geolocation = "air-geolocation"
    message = "air-message"
    panel = "air-panel"
    range = "air-range"
    parameter = "air-parameter"
    aqi_chart = "air-aqi-chart"
    conc_chart = "air-conc-chart"
    footer = "air-footer"
    refresh = "air-refresh"


def layout(lang: str | None = None, station: str | None = None, **_query: str) -> html.Div:
    """Initial page; ``?lang=en`` and ``?station=CODE`` may be given in the URL."""
    lang = lang_or_default(lang)
    (title, subtitle, switch, scheme_label, schemes, locate, hint, ranges, params, footer) = texts(lang)
    return html.Div([
        dcc.Store(id=Ids.lang, data=lang),
        dcc.Store(id=Ids.selected, data=station),
        dcc.Geolocation(id=Ids.geolocation, high_accuracy=False),
        dcc.Interval(id=Ids.refresh, interval=5 * 60 * 1000),
        html.Header([
            html.Div([html.H1(title, id=Ids.title), html.P(subtitle, id=Ids.subtitle)], className="titles"),
            html.Div([
                html.Button(switch, id=Ids.lang_button, className="lang-button", n_clicks=0),
                html.Label(scheme_label, id=Ids.scheme_label, htmlFor=Ids.scheme),
                dcc.RadioItems(schemes, id=Ids.scheme, value="vn", inline=True, className="scheme"),
                html.Button(locate, id=Ids.locate, className="locate-button", n_clicks=0),
            ], className="controls"),
        ], className="air-header"),
        html.Main([
            html.Section([
                dcc.Graph(id=Ids.map, className="air-map", config={"scrollZoom": True, "displaylogo": False,
                                                                    "displayModeBar": False}),
                html.Div(id=Ids.legend, className="legend"),
                html.P(hint, id=Ids.hint, className="hint"),
                html.P(id=Ids.message, className="message", role="status"),
            ], className="map-column"),
            html.Section([
                html.Div(id=Ids.panel, className="panel"),
                dcc.RadioItems(ranges, id=Ids.range, value="24h", inline=True, className="range"),
                dcc.Graph(id=Ids.aqi_chart, config={"displaylogo": False, "displayModeBar": False}),
                dcc.Dropdown(params, id=Ids.parameter, value="pm25", clearable=False, searchable=False),
                dcc.Graph(id=Ids.conc_chart, config={"displaylogo": False, "displayModeBar": False}),
            ], className="detail-column"),
        ], className="air-main"),
        html.Footer([html.P(footer, id=Ids.footer), html.A("/api/v1", href="/api/v1/openapi.json", id="air-api-link")]),
    ], className="air-page")


def texts(lang: str) -> tuple:
    """Every static text of the page in ``lang`` (a plain function, tested without a browser)."""
    schemes = [{"label": t("scheme.vn", lang), "value": "vn"}, {"label": t("scheme.us", lang), "value": "us"}]
    ranges = [{"label": t(f"chart.range.{k}", lang), "value": k} for k in RANGES]
    params = [{"label": t(f"pollutant.{p}", lang), "value": p} for p in POLLUTANTS]
    return (t("app.title", lang), t("app.subtitle", lang), t("lang.switch", lang), t("scheme.label", lang),
            schemes, t("locate.button", lang), t("map.click_hint", lang), ranges, params, t("footer.note", lang))


def legend(scheme: str, lang: str) -> list:
    return [html.Span([html.I(style={"background": colour}), f"{rng} {name}"], className="legend-item")
            for colour, rng, name in legend_items(scheme, lang)]


def current(actx: AppContext, scheme: str) -> pd.DataFrame:
    web = actx.settings.web
    return actx.cache.get_or_compute(("current", scheme), air_data.AIR_LAYERS,
                                     lambda: air_data.stations_current(actx.public_engine, scheme, web.stale_after_hours))


def choose_station(actx: AppContext, click: dict | None, position: dict | None, trigger: str | None,
                   lang: str, asked: bool = True) -> tuple[str | None, str]:
    """A tap on a station selects it; a tap on the map or the device position selects the nearest station.

    ``asked`` says whether the user pressed "nearest station": the browser may report a position (or its
    refusal) on its own at start-up, which must not move the selection or show an error.
    """
    if trigger == Ids.geolocation:
        if not asked:
            return None, ""
        if not position or position.get("lat") is None:
            return None, t("locate.denied", lang)
        lon, lat = position["lon"], position["lat"]
    elif click and click.get("points"):
        point = click["points"][0]
        if point.get("customdata"):
            return str(point["customdata"]), ""
        lon, lat = point["lon"], point["lat"]
    else:
        return None, ""
    near = air_data.nearest_station(actx.public_engine, float(lon), float(lat))
    if near is None:
        return None, ""
    name = near["name_vi"] if lang == "vi" else (near["name_en"] or near["name_vi"])
    return near["code"], t("locate.nearest", lang, name=name, km=near["km"])


def panel(actx: AppContext, code: str | None, scheme: str, lang: str) -> html.Div:
    if not code:
        return html.P(t("panel.choose", lang), className="choose")
    stations = current(actx, scheme)
    match = stations[stations["code"] == code]
    if match.empty:
        return html.P(t("panel.choose", lang), className="choose")
    return station_panel(match.iloc[0].to_dict(), scheme, lang, actx.settings.web.stale_after_hours)


def charts(actx: AppContext, code: str | None, scheme: str, lang: str, span: str, parameter: str) -> tuple:
    if not code:
        empty = aqi_chart(pd.DataFrame({"aqi": []}), scheme, lang)
        return empty, empty
    end = air_data.now_utc()
    start = end - RANGES.get(span, RANGES["24h"])
    key = (code, scheme, span, end.replace(minute=0, second=0, microsecond=0))
    if span == "30d":
        series = actx.cache.get_or_compute(("daily",) + key, air_data.AIR_LAYERS,
                                           lambda: air_data.daily_index(actx.public_engine, code, scheme, start, end))
        fig = aqi_chart(series, scheme, lang, daily=True)
    else:
        series = actx.cache.get_or_compute(("hourly",) + key, air_data.AIR_LAYERS,
                                           lambda: air_data.hourly_index(actx.public_engine, code, scheme, start, end))
        fig = aqi_chart(series, scheme, lang)
    readings = actx.cache.get_or_compute(("readings", code, span, key[-1]), air_data.AIR_LAYERS,
                                         lambda: air_data.measurements(actx.public_engine, code, start, end, [parameter]))
    limits = [(period, float(lim)) for period in ("1h", "8h", "24h")
              if (lim := qcvn.limit_for(parameter, period, end.date())) is not None]
    return fig, concentration_chart(readings, parameter, limits, lang)


def register(app: Dash, actx: AppContext) -> None:
    dash.register_page("public_air", path="/", layout=layout, title="Chất lượng không khí / Air quality")

    @app.callback(Output(Ids.lang, "data"), Input(Ids.lang_button, "n_clicks"), State(Ids.lang, "data"),
                  prevent_initial_call=True)
    def toggle_lang(_n: int, lang: str) -> str:
        return "en" if lang_or_default(lang) == "vi" else "vi"

    @app.callback(Output(Ids.title, "children"), Output(Ids.subtitle, "children"),
                  Output(Ids.lang_button, "children"), Output(Ids.scheme_label, "children"),
                  Output(Ids.scheme, "options"), Output(Ids.locate, "children"), Output(Ids.hint, "children"),
                  Output(Ids.range, "options"), Output(Ids.parameter, "options"), Output(Ids.footer, "children"),
                  Input(Ids.lang, "data"), prevent_initial_call=True)
    def on_lang(lang: str) -> tuple:
        return texts(lang_or_default(lang))

    @app.callback(Output(Ids.map, "figure"), Output(Ids.legend, "children"), Input(Ids.lang, "data"),
                  Input(Ids.scheme, "value"), Input(Ids.selected, "data"), Input(Ids.refresh, "n_intervals"))
    def on_map(lang: str, scheme: str, selected: str | None, _tick: int | None) -> tuple:
        lang = lang_or_default(lang)
        fig = station_map(current(actx, scheme), scheme, lang, actx.settings.web.basemap, selected)
        return fig, legend(scheme, lang)

    @app.callback(Output(Ids.geolocation, "update_now"), Input(Ids.locate, "n_clicks"), prevent_initial_call=True)
    def on_locate(_n: int) -> bool:
        return True

    @app.callback(Output(Ids.selected, "data"), Output(Ids.message, "children"),
                  Input(Ids.map, "clickData"), Input(Ids.geolocation, "position"), State(Ids.lang, "data"),
                  State(Ids.locate, "n_clicks"), prevent_initial_call=True)
    def on_choose(click: dict | None, position: dict | None, lang: str, asked: int | None) -> tuple:
        code, message = choose_station(actx, click, position, cb.triggered_id, lang_or_default(lang),
                                       asked=bool(asked))
        return (code if code else no_update), message

    @app.callback(Output(Ids.panel, "children"), Input(Ids.selected, "data"), Input(Ids.scheme, "value"),
                  Input(Ids.lang, "data"), Input(Ids.refresh, "n_intervals"))
    def on_panel(code: str | None, scheme: str, lang: str, _tick: int | None) -> html.Div:
        return panel(actx, code, scheme, lang_or_default(lang))

    @app.callback(Output(Ids.aqi_chart, "figure"), Output(Ids.conc_chart, "figure"), Input(Ids.selected, "data"),
                  Input(Ids.scheme, "value"), Input(Ids.lang, "data"), Input(Ids.range, "value"),
                  Input(Ids.parameter, "value"))
    def on_charts(code: str | None, scheme: str, lang: str, span: str, parameter: str) -> tuple:
        return charts(actx, code, scheme, lang_or_default(lang), span, parameter)
