"""Eco-park figures: parks coloured by conversion status, a park's boundary and zones, the symbiosis network."""
from __future__ import annotations

import json
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from dashboards.figures.basemap import map_style
from geo.eip_workflow import COLOURS, TITLES

CENTRE = {"lon": 106.68, "lat": 11.12}
ZONE_COLOURS = {"green_space": "#1a9641", "road": "#969696", "shared_infrastructure": "#2b83ba", "wwtp": "#00bcd4",
                "factory": "#fdae61"}
LINK_COLOURS = {"materials": "#8c510a", "water": "#2166ac", "energy": "#f1a340", "waste_scrap": "#762a83",
                "shared_infrastructure": "#1b7837"}


def _lang_i(lang: str) -> int:
    return 0 if lang == "vi" else 1


def parks_map(parks: pd.DataFrame, lang: str, basemap: str) -> go.Figure:
    """One filled polygon trace per status (so the legend names them) and a clickable marker per park."""
    i = _lang_i(lang)
    traces: list[Any] = []
    for status, colour in COLOURS.items():
        sub = parks[parks["status"] == status]
        if sub.empty:
            continue
        gj = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": c, "geometry": json.loads(g)} for c, g in zip(sub["code"], sub["geojson"])]}
        traces.append(go.Choroplethmap(geojson=gj, locations=sub["code"], z=[1] * len(sub), showscale=False,
                                       colorscale=[[0, colour], [1, colour]], marker={"opacity": 0.65},
                                       name=TITLES[status][i], showlegend=True, customdata=sub["code"],
                                       hoverinfo="text", hovertext=sub["name_vi" if i == 0 else "name_en"]))
    names = parks["name_vi" if i == 0 else "name_en"]
    traces.append(go.Scattermap(lon=parks["lon"], lat=parks["lat"], mode="markers", name="parks", showlegend=False,
                                marker={"size": 14, "color": [COLOURS[s] for s in parks["status"]], "opacity": 0.95},
                                customdata=parks["code"], hoverinfo="text",
                                hovertext=[f"<b>{n}</b><br>{TITLES[s][i]}" for n, s in zip(names, parks["status"])]))
    fig = go.Figure(traces)
    fig.update_layout(map={"style": map_style(basemap), "center": CENTRE, "zoom": 9.2},
                      margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision="eip-map", clickmode="event",
                      legend={"bgcolor": "rgba(255,255,255,0.85)", "x": 0.01, "y": 0.99})
    return fig


def _points(frame: pd.DataFrame, name: str, colour: str, symbol_size: int, labels: list[str]) -> go.Scattermap:
    return go.Scattermap(lon=frame["lon"], lat=frame["lat"], mode="markers", name=name,
                         marker={"size": symbol_size, "color": colour}, hoverinfo="text", hovertext=labels)


def park_map(park: dict[str, Any], zones: dict[str, Any], stations: list[dict[str, Any]],
             polluted: list[dict[str, Any]] | None, basemap: str, titles: dict[str, str]) -> go.Figure:
    """Boundary, zones by type, stations within 1 km and (when the user may see them) polluted sites."""
    traces: list[Any] = []
    for ztype, colour in ZONE_COLOURS.items():
        feats = [f for f in zones["features"] if f["properties"]["zone_type"] == ztype]
        if feats:
            traces.append(go.Choroplethmap(
                geojson={"type": "FeatureCollection", "features": feats}, locations=[f["id"] for f in feats],
                z=[1] * len(feats), colorscale=[[0, colour], [1, colour]], showscale=False, marker={"opacity": 0.6},
                name=titles.get(ztype, ztype), showlegend=True, hoverinfo="text", hovertext=[f["id"] for f in feats]))
    ring = json.loads(park["geojson"])
    for poly in ring["coordinates"]:
        lon, lat = zip(*poly[0])
        traces.append(go.Scattermap(lon=lon, lat=lat, mode="lines", line={"width": 3, "color": "#5e3c99"},
                                    name=titles["boundary"], showlegend=False, hoverinfo="skip"))
    if stations:
        st = pd.DataFrame(stations)
        traces.append(_points(st, titles["stations"], "#08519c", 12,
                              [f"{c} · {m} · {d:.0f} m" for c, m, d in zip(st["code"], st["medium"], st["distance_m"])]))
    if polluted:  # given only when the user may see the polluted-sites layer
        ps = pd.DataFrame(polluted)
        traces.append(_points(ps, titles["polluted"], "#d7191c", 12,
                              [f"{c} · {s}" for c, s in zip(ps["code"], ps["status"])]))
    fig = go.Figure(traces)
    fig.update_layout(map={"style": map_style(basemap), "center": {"lon": park["lon"], "lat": park["lat"]},
                           "zoom": 12.5}, margin={"l": 0, "r": 0, "t": 0, "b": 0}, uirevision=park["code"],
                      legend={"bgcolor": "rgba(255,255,255,0.85)", "x": 0.01, "y": 0.99})
    return fig


def network(firms: pd.DataFrame, links: pd.DataFrame, park: str, show_names: bool,
            titles: dict[str, str]) -> go.Figure:
    """Firms as nodes at their map positions (their own park's in colour), links as edges coloured by type."""
    fig = go.Figure()
    if firms.empty:
        fig.add_annotation(text=titles["no_enterprises"], showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, margin={"l": 0, "r": 0, "t": 0, "b": 0})
        return fig
    pos = {c: (x, y) for c, x, y in zip(firms["code"], firms["lon"], firms["lat"])}
    for kind, colour in LINK_COLOURS.items():
        sub = links[links["link_type"] == kind] if len(links) else links
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b in zip(sub.get("from_enterprise", []), sub.get("to_enterprise", [])):
            if a in pos and b in pos:
                xs += [pos[a][0], pos[b][0], None]
                ys += [pos[a][1], pos[b][1], None]
        if xs:
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", line={"width": 3, "color": colour},
                                     name=titles.get(f"link.{kind}", kind), hoverinfo="name"))
    # Names only for users who may see the enterprises layer; others see anonymous labels and sectors.
    labels = (list(firms["name_vi"]) if show_names else [f"#{k + 1}" for k in range(len(firms))])
    home = firms["park_code"] == park
    fig.add_trace(go.Scatter(x=firms["lon"], y=firms["lat"], mode="markers+text", text=labels,
                             textposition="top center", name=titles["enterprises"],
                             marker={"size": 14, "color": ["#5e3c99" if h else "#bdbdbd" for h in home],
                                     "line": {"width": 1, "color": "#222"}},
                             hovertext=[f"{lab} · {s or '—'} · {p}" for lab, s, p in
                                        zip(labels, firms["sector"], firms["park_code"])], hoverinfo="text"))
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False, "scaleanchor": "x"},
                      margin={"l": 0, "r": 0, "t": 10, "b": 0}, plot_bgcolor="#fafafa", height=360,
                      legend={"orientation": "h", "y": -0.05})
    return fig
