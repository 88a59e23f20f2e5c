"""The station panel: current index, category, advice, dominant pollutant, every pollutant, time, source, method."""
from __future__ import annotations

from typing import Any

import pandas as pd
from dash import html

from dashboards.i18n import t
from geo.aqi import LOCAL_TZ
from geo.aqi_tables import CATEGORIES, POLLUTANTS


def _category(name: str | None, scheme: str):  # type: ignore[no-untyped-def]
    return next((c for c in CATEGORIES[scheme] if c.name_vi == name), None)


def _basis(pollutant: str, detail: dict, scheme: str) -> tuple[float | None, str]:
    """The concentration the sub-index was computed from, and what it is."""
    if pollutant in ("pm25", "pm10"):
        return detail.get(f"{pollutant}_nowcast"), "panel.basis.nowcast"
    if scheme == "us" and pollutant in ("o3", "co") and detail.get(f"{pollutant}_8h") is not None:
        return detail.get(f"{pollutant}_8h"), "panel.basis.8h"
    return detail.get(f"{pollutant}_1h"), "panel.basis.1h"


def _pollutant_rows(detail: dict, dominant: str | None, scheme: str, lang: str) -> list[html.Tr]:
    rows = []
    for p in POLLUTANTS:
        if p not in detail or not isinstance(detail[p], dict):
            continue
        conc, basis = _basis(p, detail, scheme)
        sub = detail[p].get("rounded")
        style = {"fontWeight": "bold"} if p == dominant else {}
        rows.append(html.Tr([html.Td(t(f"pollutant.{p}", lang)),
                             html.Td("–" if conc is None else f"{conc:,.1f}"),
                             html.Td(t(basis, lang), className="basis"),
                             html.Td("–" if sub is None else str(sub))], style=style, **{"data-pollutant": p}))
    return rows


def local_time(ts: Any) -> str:
    return pd.Timestamp(ts).tz_convert(LOCAL_TZ).strftime("%H:%M %d/%m/%Y")


def station_panel(row: dict, scheme: str, lang: str, stale_after_hours: int) -> html.Div:
    """Everything Bảng 3 of 1459/QĐ-TCMT asks a web page to publish for one station."""
    name = row["name_vi"] if lang == "vi" else (row.get("name_en") or row["name_vi"])
    label = t(f"scheme.short.{scheme}", lang)
    head = [html.H3(name, id="panel-station-name"), html.Div(row["code"], className="station-code")]
    if row.get("aqi") is None or pd.isna(row.get("aqi")):
        last = row.get("last_hour")
        when = (t("panel.last_reading", lang, time=local_time(last)) if last is not None and not pd.isna(last)
                else t("panel.no_reading", lang))
        body = [html.Div([html.Span("–", className="aqi-number"), html.Span(label, className="aqi-scheme")],
                         className="aqi-badge no-data", id="panel-aqi"),
                html.P(t("panel.no_current", lang, hours=stale_after_hours), id="panel-category"), html.P(when)]
        return html.Div(head + body + _footer(row, scheme, lang), className="station-panel")
    cat = _category(row["category"], scheme)
    aqi = int(row["aqi"])
    detail = row["detail"] if isinstance(row["detail"], dict) else {}
    badge = html.Div([html.Span(str(aqi), className="aqi-number"), html.Span(label, className="aqi-scheme")],
                     className="aqi-badge", id="panel-aqi",
                     style={"background": cat.hex, "color": "#000" if aqi <= 150 else "#fff"})
    cat_name = cat.name_vi if lang == "vi" else cat.name_en
    body = [badge, html.P(cat_name, id="panel-category", className="category-name"),
            html.P(t("panel.last_reading", lang, time=local_time(row["hour_end"])), id="panel-time")]
    if row.get("provisional"):
        body.append(html.P(t("panel.provisional", lang), className="provisional", id="panel-provisional"))
    if row.get("beyond_scale"):
        body.append(html.P(t("panel.beyond", lang), className="provisional"))
    if row.get("dominant"):
        body.append(html.P(t("panel.dominant", lang, pollutant=t(f"pollutant.{row['dominant']}", lang)),
                           id="panel-dominant"))
    body += _advice(cat, lang)
    table = html.Table([html.Thead(html.Tr([html.Th(t(k, lang)) for k in (
        "panel.col.parameter", "panel.col.concentration", "panel.col.basis", "panel.col.subindex")])),
        html.Tbody(_pollutant_rows(detail, row.get("dominant"), scheme, lang))], className="pollutants")
    body += [html.H4(t("panel.pollutants", lang)), table]
    return html.Div(head + body + _footer(row, scheme, lang), className="station-panel")


def _advice(cat, lang: str) -> list:  # type: ignore[no-untyped-def]
    general = cat.advice_general_vi if lang == "vi" else cat.advice_general_en
    sensitive = cat.advice_sensitive_vi if lang == "vi" else cat.advice_sensitive_en
    if not general:  # the US scheme has no official advice texts in the reference
        return []
    return [html.Div([html.Strong(t("panel.advice.general", lang) + ": "), html.Span(general)],
                     id="panel-advice-general", className="advice"),
            html.Div([html.Strong(t("panel.advice.sensitive", lang) + ": "), html.Span(sensitive)],
                     id="panel-advice-sensitive", className="advice")]


def _footer(row: dict, scheme: str, lang: str) -> list:
    operator = row.get("operator") or "—"
    return [html.P(t("panel.source", lang, operator=operator), className="source"),
            html.P(t(f"panel.method.{scheme}", lang), className="method", id="panel-method")]
