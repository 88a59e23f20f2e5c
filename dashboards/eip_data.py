"""Data for the eco-park pages and exports: portfolio, park scorecard, network; redacted to what the user may see."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, text

from dashboards import auth
from dashboards.context import AppContext
from dashboards.i18n import t
from geo import eip_assess, eip_certificates
from geo.access import can_see
from geo.eip_register import Criterion
from geo.eip_workflow import TITLES, authority_on, history, portfolio_statuses

LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
RESTRICTED_METRICS = {"polluted_sites_1km": "polluted_sites"}  # metric → the layer it reveals


def today() -> date:
    return datetime.now(LOCAL).date()


def may_see(actx: AppContext, layer: str) -> bool:
    return can_see(auth.current_role(), auth.layer_level(actx, layer))


def portfolio(engine: Engine) -> pd.DataFrame:
    """Every park with its current status, the latest stored assessment's counts and the boundary as GeoJSON."""
    with engine.connect() as conn:
        parks = pd.read_sql(text(
            "SELECT p.code, p.name_vi, coalesce(p.name_en, p.name_vi) AS name_en, p.operating_status, "
            "round(p.area_ha::numeric, 1)::float AS area_ha, ST_AsGeoJSON(p.geom, 6) AS geojson, "
            "ST_X(ST_PointOnSurface(p.geom)) AS lon, ST_Y(ST_PointOnSurface(p.geom)) AS lat, "
            "(SELECT count(*) FROM enterprises e WHERE e.park_code = p.code) AS n_enterprises, "
            "a.assessed_on, a.summary FROM industrial_parks p LEFT JOIN LATERAL (SELECT assessed_on, summary "
            "FROM eip_assessments x WHERE x.park_code = p.code ORDER BY created_at DESC, id DESC LIMIT 1) a ON true "
            "ORDER BY p.code"), conn)
        statuses = portfolio_statuses(conn)
    parks["status"] = [statuses.get(c, {}).get("to_status", "not_assessed") for c in parks["code"]]
    parks["status_since"] = [statuses.get(c, {}).get("effective_on") for c in parks["code"]]
    for r in ("pass", "fail", "unknown"):
        parks[f"n_{r}"] = [(s or {}).get("counts", {}).get(r) if isinstance(s, dict) else None for s in parks["summary"]]
    return parks.drop(columns=["summary"])


def portfolio_rows(frame: pd.DataFrame, lang: str) -> list[dict[str, Any]]:
    """Table rows (no geometry), status titled in ``lang``, a link to each scorecard."""
    i = 0 if lang == "vi" else 1
    rows = []
    for r in frame.itertuples():
        rows.append({"code": r.code, "name": f"[{r.name_vi if i == 0 else r.name_en}](/eip/park?park={r.code}"
                                              f"&lang={lang})",
                     "status": TITLES[r.status][i], "status_since": str(r.status_since or ""),
                     "n_enterprises": int(r.n_enterprises), "n_pass": r.n_pass, "n_fail": r.n_fail,
                     "n_unknown": r.n_unknown, "assessed_on": str(r.assessed_on or ""), "area_ha": r.area_ha})
    return rows


@dataclass
class Scorecard:
    """Everything the scorecard page and its exports show for one park on one date."""

    park: dict[str, Any]
    on: date
    assessment: eip_assess.Assessment
    status: str
    history: list[dict[str, Any]]
    authority: Any
    zones_geojson: dict[str, Any]
    enterprises: pd.DataFrame
    links: pd.DataFrame
    show_names: bool
    show_polluted: bool
    hidden: set[str] = field(default_factory=set)
    certificates: list[dict[str, Any]] = field(default_factory=list)
    firm_names: dict[str, str] = field(default_factory=dict)


def _park(conn: Any, code: str) -> dict[str, Any] | None:
    row = conn.execute(text("SELECT code, name_vi, coalesce(name_en, name_vi) AS name_en, developer, "
                            "round(area_ha::numeric, 1)::float AS area_ha, operating_status, "
                            "ST_AsGeoJSON(geom, 6) AS geojson, ST_X(ST_Centroid(geom)) AS lon, "
                            "ST_Y(ST_Centroid(geom)) AS lat FROM industrial_parks WHERE code = :c"),
                       {"c": code}).mappings().first()
    return dict(row) if row else None


def _zones(conn: Any, code: str) -> dict[str, Any]:
    rows = conn.execute(text("SELECT zone_code, zone_type, ST_AsGeoJSON(geom, 6) AS g FROM park_zones "
                             "WHERE park_code = :c ORDER BY zone_code"), {"c": code}).all()
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "id": z, "properties": {"zone_code": z, "zone_type": t}, "geometry": json.loads(g)}
        for z, t, g in rows]}


def _network(conn: Any, code: str, on: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The park's firms plus the partner firms in other parks that its active links reach."""
    links = pd.DataFrame(eip_assess.m.active_links(conn, code, on))
    partners = sorted(set(links["from_enterprise"]) | set(links["to_enterprise"])) if len(links) else []
    firms = pd.read_sql(text("SELECT code, name_vi, park_code, sector, workers, recp_applied, eco_certificate_no, "
                             "ST_X(geom) AS lon, ST_Y(geom) AS lat FROM enterprises WHERE park_code = :c "
                             "OR code = ANY(:p) ORDER BY code"), conn, params={"c": code, "p": partners})
    return firms, links


def scorecard(actx: AppContext, code: str, on: date | None = None) -> Scorecard | None:
    on = on or today()
    with actx.engine.connect() as conn:
        park = _park(conn, code)
        if park is None:
            return None
        a = eip_assess.assess(conn, code, on)
        firms, links = _network(conn, code, on)
        card = Scorecard(park, on, a, "not_assessed", history(conn, code), authority_on(conn, on),
                         _zones(conn, code), firms, links, may_see(actx, "enterprises"),
                         may_see(actx, "polluted_sites"), certificates=eip_certificates.for_park(conn, code, on))
    card.status = card.history[-1]["to_status"] if card.history else "not_assessed"
    if card.show_names:
        card.firm_names = {r.code: r.name_vi for r in firms.itertuples() if r.park_code == code}
    card.hidden = {metric for metric, layer in RESTRICTED_METRICS.items() if not may_see(actx, layer)}
    return card


def visible_results(card: Scorecard) -> list[eip_assess.Result]:
    """Results with the figures of layers this user may not see withheld (the result itself too)."""
    out = []
    for r in card.assessment.results:
        if r.criterion.metric in card.hidden:
            out.append(eip_assess.Result(r.criterion, "unknown", None, {"withheld": True}))
        else:
            out.append(r)
    return out


def figures_text(figures: dict[str, Any]) -> str:
    """A short human reading of the figures (the full JSON is in the exports)."""
    skip = {"low", "high"}
    parts = []
    for k, v in figures.items():
        if k in skip or v is None or v == [] or v == {}:
            continue
        if isinstance(v, list):
            v = ", ".join(map(str, v[:8])) + (" …" if len(v) > 8 else "")
        elif isinstance(v, dict):
            v = ", ".join(f"{a}: {b}" for a, b in v.items())
        parts.append(f"{k}={v}")
    if figures.get("low") is not None and figures.get("low") != figures.get("high"):
        parts.append(f"range={figures['low']}–{figures['high']}")
    return "; ".join(parts)


def threshold_text(c: Criterion, lang: str) -> str:
    if c.threshold is None:
        return "—"
    value = f"{c.operator} {c.threshold:g} {c.unit or ''}".strip()
    return f"{value} ({t('eip.reference_threshold', lang)})" if c.is_reference else value


def enterprise_matrix(card: Scorecard) -> list[dict[str, Any]]:
    """One row per firm of the park: its result for each enterprise-level criterion and its active certificate.

    Only for roles that may see the enterprises layer; others get ``enterprise_counts``.
    """
    if not card.show_names:
        return []
    active = eip_certificates.active_on(card.certificates)
    rows: dict[str, dict[str, Any]] = {}
    for r in card.assessment.enterprise_results:
        row = rows.setdefault(r.enterprise_code, {"code": r.enterprise_code,
                                                  "name": card.firm_names.get(r.enterprise_code, ""), "results": {}})
        row["results"][r.criterion.code] = r
    for code, row in rows.items():
        row["certificate"] = active.get(code)
    return [rows[k] for k in sorted(rows)]


def enterprise_counts(card: Scorecard) -> dict[str, Any]:
    """Counts and shares per enterprise criterion, and the number of active certificates (no firm named)."""
    s = card.assessment.summary()["enterprises"]
    return {**s, "n_certificates_active": len(eip_certificates.active_on(card.certificates))}


def certificate_rows(card: Scorecard) -> list[dict[str, Any]]:
    """The park's certificates as the authority's own register: number, firm code (name only if allowed), status."""
    out = []
    for c in card.certificates:
        out.append({**c, "enterprise_name": card.firm_names.get(c["enterprise_code"], "") if card.show_names else ""})
    return out


def active_certificate_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(text("SELECT park_code, count(*) FROM eip_enterprise_certificates "
                                      "WHERE status = 'active' GROUP BY park_code")).all())
