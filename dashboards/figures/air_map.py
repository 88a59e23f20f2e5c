"""The public map: stations coloured by the current index category; no current value is grey, never green."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.basemap import map_style
from dashboards.i18n import t
from geo.aqi_tables import CATEGORIES

NO_DATA_COLOUR = "#9e9e9e"
CENTRE = {"lon": 106.65, "lat": 11.15}
# A faint grid of points catches taps on the empty map, so a tap anywhere can find the nearest station.
GRID_STEP = 0.02
GRID_BOUNDS = (106.30, 10.82, 107.00, 11.52)


def category_colour(category: str | None, scheme: str) -> str:
    for c in CATEGORIES[scheme]:
        if c.name_vi == category:
            return c.hex
    return NO_DATA_COLOUR


def category_name(category: str | None, scheme: str, lang: str) -> str | None:
    for c in CATEGORIES[scheme]:
        if c.name_vi == category:
            return c.name_vi if lang == "vi" else c.name_en
    return None


def tap_grid() -> go.Scattermap:
    x0, y0, x1, y1 = GRID_BOUNDS
    lons, lats = np.meshgrid(np.arange(x0, x1, GRID_STEP), np.arange(y0, y1, GRID_STEP))
    return go.Scattermap(lon=lons.ravel().round(4), lat=lats.ravel().round(4), mode="markers",
                         marker={"size": 18, "opacity": 0.01, "color": "#000000"}, hoverinfo="none",
                         name="grid", showlegend=False, customdata=np.full(lons.size, "", dtype=object))


def station_map(stations: pd.DataFrame, scheme: str, lang: str, basemap: str,
                selected: str | None = None) -> go.Figure:
    """Markers with the AQI number, coloured by category (official colours); labels in ``lang``."""
    label = t(f"scheme.short.{scheme}", lang)
    has = stations["aqi"].notna()
    colours = [category_colour(c, scheme) if h else NO_DATA_COLOUR for c, h in zip(stations["category"], has)]
    names = stations["name_vi"] if lang == "vi" else stations["name_en"].fillna(stations["name_vi"])
    hover = [f"<b>{n}</b><br>" + (t("map.hover.aqi", lang, scheme=label, aqi=int(a),
                                    category=category_name(c, scheme, lang)) if h
                                  else t("map.hover.nodata", lang, scheme=label))
             for n, a, c, h in zip(names, stations["aqi"], stations["category"], has)]
    text = [str(int(a)) if h else "–" for a, h in zip(stations["aqi"], has)]
    sizes = [30 if code == selected else 24 for code in stations["code"]]
    fig = go.Figure([tap_grid(), go.Scattermap(
        lon=stations["lon"], lat=stations["lat"], mode="markers+text", text=text,
        textfont={"size": 11, "color": "#111111"}, marker={"size": sizes, "color": colours, "opacity": 0.95},
        customdata=stations["code"], hovertext=hover, hoverinfo="text", name="stations", showlegend=False)])
    fig.update_layout(map={"style": map_style(basemap), "center": CENTRE, "zoom": 9},
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="air-map", clickmode="event")
    return fig


def legend_items(scheme: str, lang: str) -> list[tuple[str, str, str]]:
    """(colour, range, name) per category, then the no-data swatch."""
    items = [(c.hex, f"{c.low}–{c.high}", c.name_vi if lang == "vi" else c.name_en) for c in CATEGORIES[scheme]]
    return items + [(NO_DATA_COLOUR, "–", t("map.no_data", lang))]
