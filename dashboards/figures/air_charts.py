"""Time-series charts: the index with its category bands, and a concentration with its QCVN 05 limit lines."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from dashboards.i18n import t
from geo.aqi import LOCAL_TZ
from geo.aqi_tables import CATEGORIES


def _empty(lang: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=t("chart.empty", lang), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, height=260,
                      margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def aqi_chart(series: pd.DataFrame, scheme: str, lang: str, daily: bool = False) -> go.Figure:
    """Bars coloured by category over translucent category bands; the scheme is named in the title."""
    if series.empty or series["aqi"].isna().all():
        return _empty(lang)
    label = t(f"scheme.short.{scheme}", lang)
    x = series["day"] if daily else pd.to_datetime(series["hour_end"], utc=True).dt.tz_convert(LOCAL_TZ)
    colours = {c.name_vi: c.hex for c in CATEGORIES[scheme]}
    fig = go.Figure(go.Bar(x=x, y=series["aqi"], marker_color=[colours.get(c, "#9e9e9e") for c in series["category"]],
                           name=label, hovertemplate="%{x}<br>" + label + " %{y}<extra></extra>"))
    top = max(float(series["aqi"].max()) * 1.1, 110.0)
    for c in CATEGORIES[scheme]:
        if c.low > top:
            break
        fig.add_hrect(y0=c.low, y1=min(c.high, top), fillcolor=c.hex, opacity=0.12, line_width=0)
    title = t("chart.aqi.daily_title" if daily else "chart.aqi.title", lang, scheme=label)
    fig.update_layout(title=title, height=260, margin={"l": 40, "r": 10, "t": 40, "b": 30}, showlegend=False,
                      yaxis={"range": [0, top], "title": label}, xaxis={"title": t("chart.axis.time", lang)})
    return fig


def concentration_chart(readings: pd.DataFrame, parameter: str, limits: list[tuple[str, float]],
                        lang: str) -> go.Figure:
    """Hourly concentrations (and their 24-h means where a 24-h limit exists) with each limit as a line."""
    rows = readings[(readings["parameter"] == parameter) & readings["value"].notna()]
    if rows.empty:
        return _empty(lang)
    x = pd.to_datetime(rows["measured_at"], utc=True).dt.tz_convert(LOCAL_TZ)
    name = t(f"pollutant.{parameter}", lang)
    fig = go.Figure(go.Scatter(x=x, y=rows["value"], mode="lines", name=t("chart.conc.hourly", lang),
                               line={"width": 1.5, "color": "#31688e"}))
    if any(period == "24h" for period, _ in limits):
        day = (x - pd.Timedelta(hours=1)).dt.floor("D")
        daily = rows["value"].groupby(day.to_numpy()).mean()
        fig.add_trace(go.Scatter(x=daily.index + pd.Timedelta(hours=12), y=daily.to_numpy(), mode="lines+markers",
                                 name=t("chart.conc.daily_mean", lang), line={"color": "#35b779", "width": 2}))
    for period, limit in limits:
        fig.add_hline(y=limit, line_dash="dash", line_color="#d62728",
                      annotation_text=t("chart.conc.limit", lang, period=period, limit=limit),
                      annotation_position="top left")
    fig.update_layout(title=t("chart.conc.title", lang, parameter=name), height=260,
                      margin={"l": 40, "r": 10, "t": 40, "b": 30}, legend={"orientation": "h", "y": -0.25},
                      yaxis={"title": t("chart.axis.conc", lang), "rangemode": "tozero"},
                      xaxis={"title": t("chart.axis.time", lang)})
    return fig
