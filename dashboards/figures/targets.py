"""Figures of the targets page: the choropleth by admin unit and the trend with the target line (pure functions)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.basemap import map_style
from dashboards.i18n import t
from geo.indicator_register import Indicator

CENTRE = {"lon": 106.65, "lat": 11.17}
SCALE = "YlGn"
NO_VALUE = "#d0d0d0"


def indicator_title(ind: Indicator, lang: str) -> str:
    return ind.title_vi if lang == "vi" else ind.title_en


def choropleth(geojson: dict, units: pd.DataFrame, values: pd.DataFrame, ind: Indicator, method: str,
               lang: str, basemap: str) -> go.Figure:
    """Units coloured by value; units without a value are drawn grey (never coloured as if zero)."""
    merged = units[["code", "name_vi", "name_en"]].merge(values, on="code", how="left")
    names = merged.name_vi if lang == "vi" else merged.name_en
    has = merged.value.notna()
    unit_text = ind.unit
    hover = [f"<b>{n}</b> ({c})<br>" + (f"{v:,.2f} {unit_text}" if h else t("targets.map.no_value", lang))
             for n, c, v, h in zip(names, merged.code, merged.value, has)]
    traces = [go.Choroplethmap(geojson=geojson, locations=merged.code[~has], z=[0] * int((~has).sum()),
                               colorscale=[[0, NO_VALUE], [1, NO_VALUE]], showscale=False,
                               marker={"opacity": 0.55, "line": {"width": 1, "color": "#555"}},
                               hovertext=[h for h, x in zip(hover, has) if not x], hoverinfo="text",
                               name="no-value")]
    traces.append(go.Choroplethmap(
        geojson=geojson, locations=merged.code[has], z=merged.value[has], colorscale=SCALE,
        marker={"opacity": 0.75, "line": {"width": 1, "color": "#333"}},
        colorbar={"title": {"text": unit_text}, "thickness": 12},
        hovertext=[h for h, x in zip(hover, has) if x], hoverinfo="text", name="values"))
    fig = go.Figure(traces)
    fig.update_layout(map={"style": map_style(basemap), "center": CENTRE, "zoom": 8.9},
                      margin={"l": 0, "r": 0, "t": 30, "b": 0}, uirevision="targets-map",
                      title={"text": t(f"targets.method.{method}", lang), "font": {"size": 12}, "x": 0.01})
    return fig


def trend_chart(series: pd.DataFrame, ind: Indicator, lang: str) -> go.Figure:
    """The former province's values by year, the baseline, and the target as a dashed line to its year."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=series.year, y=series.value, mode="lines+markers", name=t("targets.trend.values", lang),
                             line={"color": "#0b5345"}))
    if ind.baseline_value is not None and ind.baseline_year is not None:
        fig.add_trace(go.Scatter(x=[ind.baseline_year], y=[ind.baseline_value], mode="markers",
                                 marker={"symbol": "diamond", "size": 10, "color": "#555"},
                                 name=t("targets.trend.baseline", lang)))
    if ind.target_value is not None:
        years = [int(y) for y in series.year] + [y for y in (ind.baseline_year, ind.target_year) if y]
        x0, x1 = (min(years), max(years)) if years else (2020, 2030)
        fig.add_trace(go.Scatter(x=[x0, x1], y=[ind.target_value] * 2, mode="lines",
                                 line={"dash": "dash", "color": "#c0392b"},
                                 name=t("targets.trend.target", lang, year=ind.target_year or "—")))
    fig.update_layout(margin={"l": 40, "r": 10, "t": 30, "b": 30}, height=300,
                      title={"text": indicator_title(ind, lang), "font": {"size": 13}},
                      yaxis={"title": {"text": ind.unit}}, xaxis={"dtick": 1, "tickformat": "d"},
                      legend={"orientation": "h", "y": -0.2})
    return fig
