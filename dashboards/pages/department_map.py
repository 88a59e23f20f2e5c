"""Department map (staff only): every visible layer by theme, boundary versions, identify, filter, download."""
from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash
from dash import ALL, Dash, Input, Output, State, dcc, html, no_update
from flask import current_app, g, has_request_context, request

from dashboards import auth, layers_data
from dashboards.components.navbar import navbar
from dashboards.context import AppContext
from dashboards.figures.layer_map import (DEFAULT_TILE_PATH, LARGE_LAYER, LayerDraw, layer_draw, layer_map,
                                          tile_url, use_tiles)
from dashboards.i18n import lang_or_default, t
from geo.access import Role
from layers import REGISTRY
from layers.spec import LayerSpec

PREFIX = "dept-"
PATH = "/department"
THEMES = (9, 12, 13, 14, 15)
# The boundary reorganisation of 1 July 2025: districts before, wards/communes from that day.
BOUNDARY_DATES = ("2025-06-30", "2025-07-01")
FORMATS = ("geojson", "gpkg", "csv")
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


class Ids:
    """Component ids of this page (the only place they are spelled); all start with PREFIX for the guard."""

    lang = "dept-lang"
    lang_button = "dept-lang-button"
    title = "dept-title"
    subtitle = "dept-subtitle"
    nav = "dept-nav"
    legend_title = "dept-legend-title"
    legend = "dept-legend"
    toggle = "dept-toggle"  # the "type" of the per-theme checklists (pattern-matching ids, inputs only)
    layers = "dept-layers"
    boundary_label = "dept-boundary-label"
    boundary = "dept-boundary"
    map = "dept-map"
    hook = "dept-hook"
    click = "dept-click"
    view_raw = "dept-view-raw"
    view = "dept-view"
    highlight = "dept-highlight"
    identify = "dept-identify"
    filter_title = "dept-filter-title"
    filter_layer = "dept-filter-layer"
    filter_field = "dept-filter-field"
    filter_op = "dept-filter-op"
    filter_value = "dept-filter-value"
    filter_apply = "dept-filter-apply"
    filter_clear = "dept-filter-clear"
    filter_message = "dept-filter-message"
    filter = "dept-filter"
    download_title = "dept-download-title"
    download_layer = "dept-download-layer"
    download_format = "dept-download-format"
    download_view = "dept-download-view"
    download_link = "dept-download-link"


def _ctx() -> AppContext:
    return current_app.config["GEO_CONTEXT"]


def specs_for(layers: list[str]) -> list[LayerSpec]:
    """Registry order, so the drawing order (and legend) never depends on what the client sent."""
    wanted = set(layers)
    return [s for s in REGISTRY if s.name in wanted]


def allowed_layers(actx: AppContext, asked: list[str] | None) -> list[str]:
    """What the client asked for, cut down to what this user may see: client data is never trusted."""
    visible = set(auth.visible_layers(actx))
    return [s.name for s in specs_for(list(asked or [])) if s.name in visible]


def _title(spec: LayerSpec, lang: str) -> str:
    return spec.title_vi if lang == "vi" else spec.title_en


def legend(visible: list[str], on: list[str], lang: str) -> list:
    """One checklist per theme; a layer in several themes is listed under its first, tagged with the others."""
    out = []
    for theme in THEMES:
        specs = [s for s in specs_for(visible) if s.themes[0] == theme]
        if not specs:
            continue
        options = []
        for s in specs:
            swatch = html.I(className="swatch", style={"background": s.style.get("fill") if s.style.get(
                "fill", "none") != "none" else "transparent", "borderColor": s.style.get("color", "#333")})
            also = [html.Small(t("dept.also_theme", lang, themes=", ".join(map(str, s.themes[1:]))),
                               className="also")] if len(s.themes) > 1 else []
            options.append({"label": html.Span([swatch, _title(s, lang), *also]), "value": s.name})
        out.append(html.Fieldset([
            html.Legend(t(f"dept.theme.{theme}", lang)),
            dcc.Checklist(options, [s.name for s in specs if s.name in on], id={"type": Ids.toggle, "theme": theme},
                          className="layer-toggles"),
        ], className="theme-group"))
    return out


def texts(lang: str) -> tuple:
    """Static texts and option lists in ``lang`` (a plain function, tested without a browser)."""
    ops = [{"label": t(f"dept.op.{k}", lang), "value": k} for k in layers_data.OPERATORS]
    bounds = [{"label": t("dept.boundary.before", lang), "value": BOUNDARY_DATES[0]},
              {"label": t("dept.boundary.after", lang), "value": BOUNDARY_DATES[1]}]
    return (t("dept.title", lang), t("dept.subtitle", lang), t("lang.switch", lang), t("dept.legend", lang),
            t("dept.boundary", lang), bounds, t("dept.filter", lang), ops, t("dept.filter.value", lang),
            t("dept.filter.apply", lang), t("dept.filter.clear", lang), t("dept.download", lang),
            [{"label": t("dept.download.view", lang), "value": "view"}])


def _controls(lang: str, visible: list[str]) -> html.Aside:
    (_, _, _, legend_title, boundary_label, bounds, filter_title, ops, value_ph, apply, clear, download_title,
     view_opt) = texts(lang)
    layer_opts = [{"label": _title(s, lang), "value": s.name} for s in specs_for(visible)]
    return html.Aside([
        html.H2(legend_title, id=Ids.legend_title),
        html.Div(legend(visible, visible, lang), id=Ids.legend),
        html.H2(boundary_label, id=Ids.boundary_label),
        dcc.RadioItems(bounds, BOUNDARY_DATES[1], id=Ids.boundary, className="boundary-switch"),
        html.H2(filter_title, id=Ids.filter_title),
        dcc.Dropdown(layer_opts, None, id=Ids.filter_layer, clearable=True),
        dcc.Dropdown([], None, id=Ids.filter_field, clearable=True),
        dcc.Dropdown(ops, "eq", id=Ids.filter_op, clearable=False, searchable=False),
        dcc.Input(id=Ids.filter_value, type="text", placeholder=value_ph, maxLength=layers_data.MAX_VALUE_CHARS,
                  debounce=True, className="filter-value"),
        html.Div([html.Button(apply, id=Ids.filter_apply, n_clicks=0),
                  html.Button(clear, id=Ids.filter_clear, n_clicks=0)], className="filter-buttons"),
        html.P(id=Ids.filter_message, className="message", role="status"),
        html.H2(download_title, id=Ids.download_title),
        dcc.Dropdown(layer_opts, None, id=Ids.download_layer, clearable=False),
        dcc.RadioItems([{"label": f.upper() if f != "gpkg" else "GeoPackage", "value": f} for f in FORMATS],
                       "geojson", id=Ids.download_format, inline=True),
        dcc.Checklist(view_opt, ["view"], id=Ids.download_view),
        html.A(id=Ids.download_link, className="download-link", href="#"),
    ], className="dept-controls")


def layout(actx: AppContext, lang: str | None = None, **_query: str) -> html.Div:
    """Initial page; ``?lang=en`` switches to English."""
    lang = lang_or_default(lang)
    visible = auth.visible_layers(actx) if has_request_context() else []
    title, subtitle, switch = texts(lang)[:3]
    session = getattr(g, "session", None) if has_request_context() else None
    return html.Div([
        dcc.Store(id=Ids.lang, data=lang), dcc.Store(id=Ids.layers, data=visible),
        dcc.Store(id=Ids.click), dcc.Store(id=Ids.view_raw), dcc.Store(id=Ids.view), dcc.Store(id=Ids.hook),
        dcc.Store(id=Ids.highlight), dcc.Store(id=Ids.filter),
        html.Header([
            html.Div([html.H1(title, id=Ids.title), html.P(subtitle, id=Ids.subtitle)], className="titles"),
            html.Div([html.Button(switch, id=Ids.lang_button, className="lang-button", n_clicks=0),
                      html.Div(navbar(lang, auth.current_user() if has_request_context() else None,
                                      session["csrf"] if session else None, PATH), id=Ids.nav)],
                     className="controls"),
        ], className="air-header dept-header"),
        html.Main([
            _controls(lang, visible),
            html.Section(dcc.Graph(id=Ids.map, className="dept-map",
                                   config={"scrollZoom": True, "displaylogo": False, "displayModeBar": False}),
                         className="dept-map-column"),
            html.Section(html.Div(html.P(t("dept.identify.hint", lang)), id=Ids.identify),
                         className="dept-identify"),
        ], className="dept-main"),
    ], className="dept-page")


# --- the map -------------------------------------------------------------------------------------------------

def view_key(raw: dict | None) -> dict | None:
    """The drawn extent for a view: padded and snapped outward, so small pans reuse the same GeoJSON."""
    try:
        w, s, e, n, z = (float(raw[k]) for k in ("west", "south", "east", "north", "zoom"))  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        return None
    if not all(math.isfinite(v) for v in (w, s, e, n, z)) or w >= e or s >= n:
        return None
    zoom = int(max(0, min(22, math.floor(z))))
    cell = 180 / 2 ** zoom
    pw, ph = (e - w) / 2, (n - s) / 2
    snap = lambda v, up: (math.ceil if up else math.floor)(v / cell) * cell  # noqa: E731
    bbox = [max(-180.0, snap(w - pw, False)), max(-85.0, snap(s - ph, False)),
            min(180.0, snap(e + pw, True)), min(85.0, snap(n + ph, True))]
    return {"bbox": [round(v, 6) for v in bbox], "zoom": zoom}


def stored_view(view: dict | None) -> dict | None:
    """The view store is client data: only a plausible bbox and an integer zoom pass."""
    try:
        bbox = layers_data.parse_bbox(",".join(str(float(v)) for v in view["bbox"]))  # type: ignore[index]
        zoom = int(view["zoom"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError, layers_data.FilterError):
        return None
    return {"bbox": list(bbox), "zoom": zoom} if bbox and 0 <= zoom <= 22 else None


def tiles_base_url(actx: AppContext, template: str) -> str | None:
    """The absolute base for tile URLs, only when the tiles route exists in this app (else GeoJSON)."""
    if not has_request_context():
        return None
    prefix = template.split("{")[0]
    if not any(rule.rule.startswith(prefix) for rule in current_app.url_map.iter_rules()):
        return None
    return actx.settings.web.public_url or request.host_url


def parse_date(raw: str | None) -> date:
    try:
        return date.fromisoformat(raw) if raw else date.fromisoformat(BOUNDARY_DATES[1])
    except ValueError:
        return date.fromisoformat(BOUNDARY_DATES[1])


def stored_filter(data: dict | None) -> layers_data.AttrFilter | None:
    """The filter store is client data: parse it again, and drop it if it no longer passes."""
    if not data:
        return None
    try:
        return layers_data.parse_filter(str(data.get("layer")), data.get("field"), data.get("op"), data.get("value"))
    except layers_data.FilterError:
        return None


def draws(actx: AppContext, layers: list[str], on: date, flt: layers_data.AttrFilter | None, view: dict | None,
          tiles_base: str | None, template: str = DEFAULT_TILE_PATH,
          threshold: int = LARGE_LAYER) -> list[LayerDraw]:
    """One draw per layer: tiles when large and the tile route exists, else GeoJSON of the view."""
    bbox = tuple(view["bbox"]) if view else layers_data.PROVINCE_BBOX
    zoom = view["zoom"] if view else 9
    out = []
    for spec in specs_for(layers):
        n = actx.cache.get_or_compute(("dept-count", spec.name), (spec.name,),
                                      lambda s=spec: layers_data.feature_count(actx.engine, s.name))
        mine = flt if flt is not None and flt.layer == spec.name else None
        if use_tiles(n, tiles_base, threshold):
            query = filter_query(mine, on if layers_data.has_validity(spec) else None)
            out.append(layer_draw(spec, tile=tile_url(tiles_base, spec.name, template, query)))  # type: ignore[arg-type]
            continue
        key = ("dept-geojson", spec.name, bbox, zoom, on if layers_data.has_validity(spec) else None, mine)
        fc = actx.cache.get_or_compute(key, (spec.name,), lambda s=spec: layers_data.display_geojson(
            actx.engine, s.name, bbox, zoom, mine, on))
        out.append(layer_draw(spec, geojson=fc))
    return out


def filter_query(flt: layers_data.AttrFilter | None, on: date | None) -> dict[str, str]:
    """The filter as URL parameters (downloads and tiles share the same safe parser)."""
    query: dict[str, str] = {}
    if flt is not None:
        value = ",".join(map(str, flt.value)) if isinstance(flt.value, list) else str(flt.value)
        query.update(field=flt.field, op=flt.op, value=value)
    if on is not None:
        query["date"] = on.isoformat()
    return query


# --- identify ------------------------------------------------------------------------------------------------

def parse_click(click: dict | None) -> tuple[float, float, float] | None:
    """(lon, lat, zoom) from the click store, or None when it is missing or not plausible numbers."""
    try:
        lon, lat, zoom = float(click["lon"]), float(click["lat"]), float(click.get("zoom", 12))  # type: ignore[index]
    except (TypeError, KeyError, ValueError, AttributeError):
        return None
    if not (math.isfinite(zoom) and -180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return lon, lat, zoom


def _value(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return str(v)


def _field_title(spec: LayerSpec, name: str, lang: str) -> str:
    if name in spec.field_names:
        f = spec.field(name)
        return f.title_vi if lang == "vi" else f.title_en
    return t(f"dept.field.{name}", lang)


def _when(ts: datetime | None) -> str:
    return ts.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M") if ts else "—"


def _history_table(spec: LayerSpec, rows: list[dict], lang: str) -> html.Table | html.P:
    if not rows:
        return html.P(t("dept.history.none", lang))
    head = html.Tr([html.Th(t(f"dept.history.col.{c}", lang)) for c in ("op", "run", "when", "fields")])
    body = [html.Tr([html.Td(t(f"dept.history.op.{r['op']}", lang)), html.Td(f"#{r['run']} {r['file_name'] or ''}"),
                     html.Td(_when(r["at"])),
                     html.Td(", ".join(_field_title(spec, f, lang) for f in r["changed"]) or "—")]) for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)], className="feature-history")


def _run_block(run: dict | None, lang: str) -> html.Div:
    if run is None:
        return html.Div()
    rows = [("file", run["file_name"] or "—"), ("sha256", run["sha256"] or "—"), ("who", run["who"] or "—"),
            ("when", _when(run["finished_at"] or run["started_at"])), ("status", run["status"])]
    return html.Div([html.H4(t("dept.source", lang, run=run["run_id"])),
                     html.Dl([el for k, v in rows for el in (html.Dt(t(f"dept.source.{k}", lang)),
                                                             html.Dd(v, className=f"run-{k}"))])],
                    className="source-run")


def feature_card(actx: AppContext, hit: dict, lang: str) -> html.Article:
    """Attributes (registry titles), history and source run of one identified feature."""
    spec = REGISTRY.get(hit["layer"])
    attrs = html.Table([html.Tr([html.Th(_field_title(spec, k, lang)), html.Td(_value(v))])
                        for k, v in hit["attributes"].items()], className="feature-attributes")
    hist = layers_data.history(actx.engine, spec.name, hit["id"])
    return html.Article([
        html.H3([html.Span(_title(spec, lang), className="feature-layer"), " · ",
                 html.Span(_value(hit["attributes"].get("name_vi") or hit["attributes"].get("code")),
                           className="feature-name")]),
        html.H4(t("dept.attributes", lang)), attrs,
        html.H4(t("dept.history", lang)), _history_table(spec, hist, lang),
        _run_block(layers_data.source_run(actx.engine, hit["run"]), lang),
    ], className="feature-card", **{"data-layer": spec.name})


def identify_panel(actx: AppContext, click: dict | None, layers: list[str] | None, on: date,
                   flt: layers_data.AttrFilter | None, lang: str) -> tuple[list, dict | None]:
    """The features at the click in the toggled layers this user may see, and the nearest one's geometry."""
    point = parse_click(click)
    if point is None:
        return [html.P(t("dept.identify.hint", lang))], None
    lon, lat, zoom = point
    tol = layers_data.tolerance_m(zoom, lat)
    hits = layers_data.identify(actx.engine, allowed_layers(actx, layers), lon, lat, tol, flt, on)
    head = html.H3(t("dept.identify.title", lang), className="identify-title")
    if not hits:
        return [head, html.P(t("dept.identify.none", lang, m=round(tol)), className="identify-none")], None
    cards = [feature_card(actx, hit, lang) for hit in hits]
    more = [html.P(t("dept.identify.more", lang, n=len(hits)))] if len(hits) >= layers_data.MAX_IDENTIFY else []
    return [head, *more, *cards], hits[0]["geometry"]


# --- filter and download -------------------------------------------------------------------------------------

def apply_filter(actx: AppContext, layer: str | None, field: str | None, op: str | None, value: str | None,
                 lang: str) -> tuple[dict | None, str]:
    """Validate a filter typed by the user; a refused one clears the filter and says why."""
    if not layer or layer not in auth.visible_layers(actx):
        return None, t("dept.filter.bad_layer", lang)
    try:
        flt = layers_data.parse_filter(layer, field, op, value)
    except layers_data.FilterError as err:
        return None, t(err.key, lang, **err.values)
    n = layers_data.count_matching(actx.engine, layer, flt)
    spec = REGISTRY.get(layer)
    return ({"layer": layer, "field": field, "op": op, "value": value},
            t("dept.filter.active", lang, layer=_title(spec, lang), field=_field_title(spec, field or "", lang),
              op=layers_data.OPERATOR_SYMBOLS[op or "eq"], value=value, n=n))


def field_options(layer: str | None, lang: str) -> list[dict]:
    if not layer or layer not in REGISTRY:
        return []
    spec = REGISTRY.get(layer)
    return [{"label": f.title_vi if lang == "vi" else f.title_en, "value": f.name} for f in spec.fields]


def raw_bbox(raw: dict | None) -> tuple[float, float, float, float] | None:
    """The exact bounds the map shows (client data: checked like any URL parameter)."""
    try:
        return layers_data.parse_bbox(",".join(str(float(raw[k])) for k in ("west", "south", "east", "north")))
    except (TypeError, KeyError, ValueError, layers_data.FilterError):
        return None


def download_href(layer: str | None, fmt: str, flt: layers_data.AttrFilter | None,
                  bbox: tuple[float, float, float, float] | None, on: date) -> str | None:
    """The download URL of what the map shows for ``layer``; the server checks everything again."""
    if not layer or layer not in REGISTRY or fmt not in FORMATS:
        return None
    spec = REGISTRY.get(layer)
    query = filter_query(flt if flt is not None and flt.layer == layer else None,
                         on if layers_data.has_validity(spec) else None)
    if bbox:
        query["bbox"] = ",".join(f"{v:.6f}" for v in bbox)
    return f"/download/{layer}.{fmt}" + ("?" + urlencode(query) if query else "")


# --- wiring --------------------------------------------------------------------------------------------------

# MapLibre's own click and moveend events: a click anywhere (not only on a trace) gives its exact position and
# the zoom, which the identify tolerance needs; moveend gives the view the GeoJSON is limited to.
_HOOK_JS = """
function(_fig) {
  const attach = (tries) => {
    const gd = document.querySelector('#MAP .js-plotly-plot');
    const sub = gd && gd._fullLayout && gd._fullLayout.map && gd._fullLayout.map._subplot;
    const map = sub && sub.map;
    if (!map) { if (tries < 150) { setTimeout(() => attach(tries + 1), 100); } return; }
    if (map.__deptHooked) { return; }
    map.__deptHooked = true;
    const view = () => {
      const b = map.getBounds();
      window.dash_clientside.set_props('VIEW', {data: {west: b.getWest(), south: b.getSouth(),
        east: b.getEast(), north: b.getNorth(), zoom: map.getZoom()}});
    };
    map.on('click', (e) => window.dash_clientside.set_props('CLICK', {data: {lon: e.lngLat.lng,
      lat: e.lngLat.lat, zoom: map.getZoom(), at: Date.now()}}));
    map.on('moveend', view);
    view();
  };
  attach(0);
  return window.dash_clientside.no_update;
}
""".replace("MAP", Ids.map).replace("VIEW", Ids.view_raw).replace("CLICK", Ids.click)


def register(app: Dash, actx: AppContext) -> None:
    dash.register_page("department_map", path=PATH, layout=lambda **q: layout(actx, **q),
                       title="Bản đồ của Sở / Department map", lowest_role=Role.IP_AUTHORITY)
    app.clientside_callback(_HOOK_JS, Output(Ids.hook, "data"), Input(Ids.map, "figure"))
    _register_texts(app, actx)
    _register_map(app, actx)
    _register_tools(app, actx)


def _register_texts(app: Dash, actx: AppContext) -> None:
    @app.callback(Output(Ids.lang, "data"), Input(Ids.lang_button, "n_clicks"), State(Ids.lang, "data"),
                  prevent_initial_call=True)
    def toggle_lang(_n: int, lang: str) -> str:
        return "en" if lang_or_default(lang) == "vi" else "vi"

    @app.callback(Output(Ids.title, "children"), Output(Ids.subtitle, "children"),
                  Output(Ids.lang_button, "children"), Output(Ids.legend_title, "children"),
                  Output(Ids.boundary_label, "children"), Output(Ids.boundary, "options"),
                  Output(Ids.filter_title, "children"), Output(Ids.filter_op, "options"),
                  Output(Ids.filter_value, "placeholder"), Output(Ids.filter_apply, "children"),
                  Output(Ids.filter_clear, "children"), Output(Ids.download_title, "children"),
                  Output(Ids.download_view, "options"), Output(Ids.legend, "children"),
                  Output(Ids.filter_layer, "options"), Output(Ids.nav, "children"),
                  Input(Ids.lang, "data"), State(Ids.layers, "data"), prevent_initial_call=True)
    def on_lang(lang: str, on: list[str] | None) -> tuple:
        lang = lang_or_default(lang)
        visible = auth.visible_layers(actx)
        opts = [{"label": _title(s, lang), "value": s.name} for s in specs_for(visible)]
        session = getattr(g, "session", None)
        nav = navbar(lang, auth.current_user(), session["csrf"] if session else None, PATH)
        return (*texts(lang), legend(visible, allowed_layers(actx, on), lang), opts, nav)

    @app.callback(Output(Ids.layers, "data"), Input({"type": Ids.toggle, "theme": ALL}, "value"),
                  prevent_initial_call=True)
    def on_toggle(values: list[list[str] | None]) -> list[str]:
        return allowed_layers(actx, [v for group in values for v in (group or [])])


def _register_map(app: Dash, actx: AppContext) -> None:
    @app.callback(Output(Ids.view, "data"), Input(Ids.view_raw, "data"), State(Ids.view, "data"),
                  prevent_initial_call=True)
    def on_view(raw: dict | None, current: dict | None) -> Any:
        key = view_key(raw)
        return no_update if key is None or key == current else key

    @app.callback(Output(Ids.map, "figure"), Input(Ids.layers, "data"), Input(Ids.boundary, "value"),
                  Input(Ids.filter, "data"), Input(Ids.view, "data"), Input(Ids.highlight, "data"))
    def on_map(layers: list[str] | None, boundary: str | None, flt: dict | None, view: dict | None,
               highlight: dict | None) -> Any:
        template = current_app.config.get("GEO_TILE_PATH", DEFAULT_TILE_PATH)
        chosen = draws(actx, allowed_layers(actx, layers), parse_date(boundary), stored_filter(flt),
                       stored_view(view), tiles_base_url(actx, template), template)
        return layer_map(chosen, actx.settings.web.basemap, highlight if isinstance(highlight, dict) else None)

    @app.callback(Output(Ids.identify, "children"), Output(Ids.highlight, "data"), Input(Ids.click, "data"),
                  Input(Ids.lang, "data"), State(Ids.layers, "data"), State(Ids.boundary, "value"),
                  State(Ids.filter, "data"), prevent_initial_call=True)
    def on_click(click: dict | None, lang: str, layers: list[str] | None, boundary: str | None,
                 flt: dict | None) -> tuple:
        return identify_panel(actx, click, layers, parse_date(boundary), stored_filter(flt), lang_or_default(lang))


def _register_tools(app: Dash, actx: AppContext) -> None:
    @app.callback(Output(Ids.filter_field, "options"), Input(Ids.filter_layer, "value"), Input(Ids.lang, "data"))
    def on_filter_layer(layer: str | None, lang: str) -> list[dict]:
        return field_options(layer if layer in auth.visible_layers(actx) else None, lang_or_default(lang))

    @app.callback(Output(Ids.filter, "data"), Output(Ids.filter_message, "children"),
                  Input(Ids.filter_apply, "n_clicks"), Input(Ids.filter_clear, "n_clicks"),
                  State(Ids.filter_layer, "value"), State(Ids.filter_field, "value"), State(Ids.filter_op, "value"),
                  State(Ids.filter_value, "value"), State(Ids.lang, "data"), prevent_initial_call=True)
    def on_filter(_a: int, _c: int, layer: str | None, field: str | None, op: str | None, value: str | None,
                  lang: str) -> tuple:
        if dash.ctx.triggered_id == Ids.filter_clear:
            return None, ""
        return apply_filter(actx, layer, field, op, value, lang_or_default(lang))

    @app.callback(Output(Ids.download_layer, "options"), Output(Ids.download_layer, "value"),
                  Input(Ids.layers, "data"), Input(Ids.lang, "data"), State(Ids.download_layer, "value"))
    def on_download_layers(layers: list[str] | None, lang: str, current: str | None) -> tuple:
        specs = specs_for(allowed_layers(actx, layers))
        opts = [{"label": _title(s, lang_or_default(lang)), "value": s.name} for s in specs]
        names = [s.name for s in specs]
        return opts, current if current in names else (names[0] if names else None)

    @app.callback(Output(Ids.download_link, "href"), Output(Ids.download_link, "children"),
                  Input(Ids.download_layer, "value"), Input(Ids.download_format, "value"),
                  Input(Ids.filter, "data"), Input(Ids.view_raw, "data"), Input(Ids.download_view, "value"),
                  Input(Ids.boundary, "value"), Input(Ids.lang, "data"))
    def on_download(layer: str | None, fmt: str, flt: dict | None, raw: dict | None, only_view: list | None,
                    boundary: str | None, lang: str) -> tuple:
        lang = lang_or_default(lang)
        layer = layer if layer in auth.visible_layers(actx) else None
        href = download_href(layer, fmt, stored_filter(flt), raw_bbox(raw) if only_view else None,
                             parse_date(boundary))
        if href is None:
            return None, t("dept.download.none", lang)
        return href, t("dept.download.button", lang, layer=_title(REGISTRY.get(layer), lang), fmt=fmt)
