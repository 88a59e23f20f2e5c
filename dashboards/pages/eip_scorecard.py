"""Eco-industrial-park scorecard (internal): map, criteria by category, network, nearby monitoring, status workflow."""
from __future__ import annotations

from datetime import date

import dash
from dash import Dash, Input, Output, State, dcc, html
from flask import has_request_context
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from dashboards import auth, eip_data
from dashboards.context import AppContext
from dashboards.figures.eip_figures import ZONE_COLOURS, network, park_map
from dashboards.i18n import lang_or_default, t
from dashboards.pages.eip_portfolio import forbidden, header
from geo import eip_assess, eip_certificates
from geo.access import Role
from geo.eip_register import CATEGORIES
from geo.eip_workflow import COLOURS, TITLES, Change, WorkflowError, allowed_targets, change_status, history
from geo.errors import GeoError

PATH = "/eip/park"


class Ids:
    """Component ids of the scorecard page."""

    park = "eip-s-park"
    lang = "eip-s-lang"
    on = "eip-s-on"
    badge = "eip-s-badge"
    history = "eip-s-history"
    to_status = "eip-s-to-status"
    reason = "eip-s-reason"
    evidence = "eip-s-evidence"
    effective = "eip-s-effective"
    cert_no = "eip-s-cert-no"
    cert_date = "eip-s-cert-date"
    issuing_body = "eip-s-issuing-body"
    submit = "eip-s-submit"
    message = "eip-s-message"
    save = "eip-s-save"
    save_message = "eip-s-save-message"
    firms = "eip-s-firms"
    certs = "eip-s-certs"
    ec_enterprise = "eip-s-ec-enterprise"
    ec_no = "eip-s-ec-no"
    ec_date = "eip-s-ec-date"
    ec_body = "eip-s-ec-body"
    ec_evidence = "eip-s-ec-evidence"
    ec_submit = "eip-s-ec-submit"
    ec_message = "eip-s-ec-message"


def _i(lang: str) -> int:
    return 0 if lang == "vi" else 1


def titles(lang: str) -> dict[str, str]:
    keys = {**{z: f"eip.zone.{z}" for z in ZONE_COLOURS}, "boundary": "eip.map.boundary",
            "stations": "eip.map.stations", "polluted": "eip.map.polluted", "enterprises": "eip.network.enterprises",
            "no_enterprises": "eip.network.none",
            **{f"link.{k}": f"eip.link.{k}" for k in ("materials", "water", "energy", "waste_scrap",
                                                        "shared_infrastructure")}}
    return {k: t(v, lang) for k, v in keys.items()}


def criteria_tables(card: eip_data.Scorecard, lang: str) -> list:
    results = eip_data.visible_results(card)
    out: list = []
    for cat in CATEGORIES:
        rows = [r for r in results if r.criterion.category == cat]
        if not rows:
            continue
        head = html.Tr([html.Th(t(f"eip.crit.{k}", lang)) for k in ("code", "title", "basis", "evaluation",
                                                                     "threshold", "result", "value", "figures")])
        body = [html.Tr([
            html.Td(r.criterion.code), html.Td(r.criterion.title_vi if lang == "vi" else r.criterion.title_en),
            html.Td(r.criterion.legal_basis), html.Td(t(f"eip.eval.{r.criterion.evaluation}", lang)),
            html.Td(eip_data.threshold_text(r.criterion, lang)),
            html.Td(t(f"eip.result.{r.result}", lang), className=f"eip-result eip-{r.result}"),
            html.Td("" if r.value is None else f"{r.value:g}"),
            html.Td(t("eip.withheld", lang) if r.figures.get("withheld") else eip_data.figures_text(r.figures),
                    className="eip-figures")], id=f"eip-s-row-{r.criterion.code}") for r in rows]
        out += [html.H3(t(f"eip.cat.{cat}", lang)), html.Table([html.Thead(head), html.Tbody(body)],
                                                                  className="eip-criteria")]
    return out


def history_table(rows: list[dict], lang: str) -> html.Table:
    i = _i(lang)
    head = html.Tr([html.Th(t(f"eip.hist.{k}", lang)) for k in ("effective_on", "change", "by", "reason",
                                                                 "evidence", "certificate")])
    body = [html.Tr([html.Td(str(r["effective_on"])),
                     html.Td(f"{TITLES[r['from_status']][i] if r['from_status'] else '—'} → {TITLES[r['to_status']][i]}"),
                     html.Td(r["changed_by"]), html.Td(r["reason"]), html.Td(r["evidence_ref"] or ""),
                     html.Td(" · ".join(str(x) for x in (r["certificate_no"], r["certificate_date"], r["issuing_body"])
                                        if x))]) for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body or [html.Tr(html.Td(t("eip.hist.none", lang), colSpan=6))])],
                      className="eip-history")


def badge(status: str, lang: str) -> html.Span:
    return html.Span(TITLES[status][_i(lang)], className="eip-badge", style={"background": COLOURS[status]})


def nearby_tables(card: eip_data.Scorecard, lang: str) -> list:
    ctx = card.assessment.context
    def latest(s: dict) -> str:
        x = s.get("latest")
        return f"{x['kind']} {x['value']} ({x['at'][:16]})" if x else t("eip.no_reading", lang)
    rows = [html.Tr([html.Td(s["code"]), html.Td(s["name_vi"]), html.Td(s["medium"]),
                     html.Td(t("eip.inside", lang) if s["inside"] else f"{s['distance_m']:.0f} m"), html.Td(latest(s))])
            for s in ctx["stations"]]
    out: list = [html.H3(t("eip.nearby.stations", lang)), html.Table(html.Tbody(rows), className="eip-nearby")]
    if card.show_polluted:
        prow = [html.Tr([html.Td(p["code"]), html.Td(p["name_vi"] or ""), html.Td(p["status"]),
                         html.Td(t("eip.inside", lang) if p["inside"] else f"{p['distance_m']:.0f} m")])
                for p in ctx["polluted_sites"]]
        out += [html.H3(t("eip.nearby.polluted", lang)), html.Table(html.Tbody(prow), className="eip-nearby")]
    return out


def status_form(card: eip_data.Scorecard, lang: str) -> html.Div:
    i = _i(lang)
    targets = [{"label": TITLES[s][i], "value": s} for s in allowed_targets(card.status)]
    field = lambda label, comp: html.Div([html.Label(t(label, lang), htmlFor=comp.id), comp], className="eip-field")  # noqa: E731
    return html.Div([
        html.H3(t("eip.form.title", lang)),
        field("eip.form.to", dcc.Dropdown(targets, id=Ids.to_status, clearable=False)),
        field("eip.form.reason", dcc.Input(id=Ids.reason, type="text", debounce=False)),
        field("eip.form.evidence", dcc.Input(id=Ids.evidence, type="text")),
        field("eip.form.effective", dcc.Input(id=Ids.effective, type="text", value=eip_data.today().isoformat())),
        field("eip.form.cert_no", dcc.Input(id=Ids.cert_no, type="text")),
        field("eip.form.cert_date", dcc.Input(id=Ids.cert_date, type="text", placeholder="YYYY-MM-DD")),
        field("eip.form.issuing_body", dcc.Input(id=Ids.issuing_body, type="text",
                                                 placeholder=card.authority.name_vi if i == 0 else card.authority.name_en)),
        html.Button(t("eip.form.submit", lang), id=Ids.submit, n_clicks=0, className="eip-button"),
        html.P(id=Ids.message, role="status", className="message"),
    ], className="eip-form")


def enterprise_section(card: eip_data.Scorecard, lang: str) -> html.Section:
    """Per-firm results for roles that may see the enterprises layer; counts and shares for the others."""
    crit = card.assessment.register.enterprise_criteria()
    out: list = [html.H2(t("eip.firms", lang)), html.P(t("eip.firms.note", lang), className="hint")]
    if card.show_names:
        head = html.Tr([html.Th(t("eip.firms.code", lang)), html.Th(t("eip.firms.name", lang)),
                        *[html.Th(c.code, title=c.title_vi if lang == "vi" else c.title_en) for c in crit],
                        html.Th(t("eip.firms.certificate", lang))])
        body = []
        for row in eip_data.enterprise_matrix(card):
            cells = []
            for c in crit:
                r = row["results"].get(c.code)
                res = r.result if r else "unknown"
                cells.append(html.Td(t(f"eip.result.{res}", lang), className=f"eip-result eip-{res}",
                                     title=eip_data.figures_text(r.figures) if r else ""))
            cert = row["certificate"]
            cells.append(html.Td(f"{cert['certificate_no']} ({cert['issued_on']}, {cert['issuing_body']})"
                                 if cert else "—"))
            body.append(html.Tr([html.Td(row["code"]), html.Td(row["name"]), *cells],
                                id=f"eip-s-firm-{row['code']}"))
        if not body:
            body = [html.Tr(html.Td(t("eip.network.none", lang), colSpan=len(crit) + 3))]
        out.append(html.Table([html.Thead(head), html.Tbody(body)], className="eip-criteria", id="eip-s-firm-table"))
        return html.Section(out, id=Ids.firms)
    counts = eip_data.enterprise_counts(card)
    head = html.Tr([html.Th(t(f"eip.firms.{k}", lang)) for k in ("criterion", "pass", "fail", "unknown",
                                                                  "not_applicable", "share")])
    body = []
    for c in crit:
        d = counts["by_criterion"].get(c.code)
        if d is None:
            continue
        body.append(html.Tr([html.Td(f"{c.code} — {c.title_vi if lang == 'vi' else c.title_en}"),
                             *[html.Td(str(d[k])) for k in ("pass", "fail", "unknown", "not_applicable")],
                             html.Td("—" if d["share_pass_pct"] is None else f"{d['share_pass_pct']:g} %")]))
    out += [html.P(t("eip.firms.counts", lang, n=counts["n_enterprises"], all=counts["all_pass"],
                     certs=counts["n_certificates_active"]), id="eip-s-firm-counts"),
            html.Table([html.Thead(head), html.Tbody(body)], className="eip-criteria", id="eip-s-firm-table")]
    return html.Section(out, id=Ids.firms)


def certificates_table(rows: list[dict], lang: str, show_names: bool) -> html.Table:
    i = _i(lang)
    keys = ("no", "enterprise", "issued_on", "body", "status", "evidence", "recorded")
    head = html.Tr([html.Th(t(f"eip.cert.{k}", lang)) for k in keys])
    body = []
    for c in rows:
        status = c.get("status_on", c["status"])
        title = eip_certificates.TITLES[status][i] if status in eip_certificates.TITLES else t("eip.cert.not_yet", lang)
        firm = c["enterprise_code"] + (f" — {c['enterprise_name']}" if show_names and c.get("enterprise_name") else "")
        body.append(html.Tr([html.Td(c["certificate_no"]), html.Td(firm), html.Td(str(c["issued_on"])),
                             html.Td(c["issuing_body"]), html.Td(title + (f" ({c['revoked_on']})" if c["revoked_on"]
                                                                          else "")),
                             html.Td(c["evidence_ref"]), html.Td(f"{c['recorded_by']}, {str(c['recorded_at'])[:16]}")]))
    return html.Table([html.Thead(head), html.Tbody(body or [html.Tr(html.Td(t("eip.cert.none", lang),
                                                                             colSpan=len(keys)))])],
                      className="eip-history")


def certificate_form(card: eip_data.Scorecard, lang: str) -> html.Div:
    """Record an eco-enterprise certificate (Art. 40(2): issued by the Management Board): IP authority and above."""
    field = lambda label, comp: html.Div([html.Label(t(label, lang), htmlFor=comp.id), comp], className="eip-field")  # noqa: E731
    if card.show_names:
        options = [{"label": f"{c} — {n}", "value": c} for c, n in sorted(card.firm_names.items())]
        firm = dcc.Dropdown(options, id=Ids.ec_enterprise)
    else:  # the authority types the code from the firm's dossier; the firms of the park are not listed to it
        firm = dcc.Input(id=Ids.ec_enterprise, type="text")
    return html.Div([
        html.H3(t("eip.cert.form", lang)),
        field("eip.cert.enterprise", firm),
        field("eip.cert.no", dcc.Input(id=Ids.ec_no, type="text")),
        field("eip.cert.issued_on", dcc.Input(id=Ids.ec_date, type="text", placeholder="YYYY-MM-DD")),
        field("eip.cert.body", dcc.Input(id=Ids.ec_body, type="text", placeholder=t("eip.cert.body_default", lang))),
        field("eip.cert.evidence", dcc.Input(id=Ids.ec_evidence, type="text")),
        html.Button(t("eip.cert.submit", lang), id=Ids.ec_submit, n_clicks=0, className="eip-button"),
        html.P(id=Ids.ec_message, role="status", className="message"),
    ], className="eip-form")


def _body(card: eip_data.Scorecard, lang: str, basemap: str) -> list:
    p, code, i = card.park, card.park["code"], _i(lang)
    polluted = card.assessment.context["polluted_sites"] if card.show_polluted else None
    exports = [html.A(t(f"eip.export.{k}", lang), href=f"/eip/export/scorecard/{code}.{k}?on={card.on}&lang={lang}",
                      id=f"eip-s-export-{k}", className="eip-export") for k in ("xlsx", "pdf")]
    return [
        html.Section([
            html.H2(p["name_vi"] if i == 0 else p["name_en"], id="eip-s-name"),
            html.P([t("eip.status", lang), ": ", html.Span(badge(card.status, lang), id=Ids.badge)]),
            html.P(t("eip.authority", lang, name=card.authority.name_vi if i == 0 else card.authority.name_en,
                     on=card.on)),
            html.P(t("eip.register", lang, version=card.assessment.register.version, on=card.on,
                     sha=card.assessment.inputs_sha256[:12]), id="eip-s-register"),
            html.Div(exports + [html.Button(t("eip.save", lang), id=Ids.save, n_clicks=0, className="eip-button"),
                                html.Span(id=Ids.save_message, className="message")], className="eip-actions"),
        ], className="eip-summary"),
        html.Div([dcc.Graph(figure=park_map(p, card.zones_geojson, card.assessment.context["stations"], polluted,
                                            basemap, titles(lang)), id="eip-s-map", className="eip-park-map",
                            config={"displaylogo": False, "displayModeBar": False}),
                  html.Div([html.H3(t("eip.network", lang)),
                            dcc.Graph(figure=network(card.enterprises, card.links, code, card.show_names, titles(lang)),
                                      id="eip-s-network", config={"displaylogo": False, "displayModeBar": False})],
                           className="eip-network")], className="eip-row"),
        html.Section([html.H2(t("eip.criteria", lang)), html.P(t("eip.criteria.note", lang), className="hint"),
                      *criteria_tables(card, lang)], id="eip-s-criteria"),
        enterprise_section(card, lang),
        html.Div([html.Section([html.H3(t("eip.cert.title", lang)),
                                html.Div(certificates_table(eip_data.certificate_rows(card), lang, card.show_names),
                                         id=Ids.certs)]),
                  certificate_form(card, lang)], className="eip-row"),
        html.Section(nearby_tables(card, lang)),
        html.Div([html.Section([html.H3(t("eip.history", lang)), html.Div(history_table(card.history, lang),
                                                                          id=Ids.history)]),
                  status_form(card, lang)], className="eip-row"),
    ]


def _on(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def layout(actx: AppContext, park: str | None = None, lang: str | None = None, on: str | None = None,
           **_query: str) -> html.Div:
    lang = lang_or_default(lang)
    if has_request_context() and not auth.allowed(Role.IP_AUTHORITY):
        return forbidden(lang)
    other = "en" if lang == "vi" else "vi"
    top = header(lang, "/eip", "eip.scorecard.title", f"{PATH}?park={park or ''}&lang={other}")
    try:
        card = eip_data.scorecard(actx, park, _on(on)) if park else None
    except GeoError as exc:
        return html.Div([top, html.P(str(exc), className="message")], className="eip-page")
    if card is None:
        return html.Div([top, html.P(t("eip.no_park", lang)), html.A(t("eip.back", lang), href="/eip")],
                        className="eip-page")
    return html.Div([dcc.Store(id=Ids.park, data=card.park["code"]), dcc.Store(id=Ids.lang, data=lang),
                     dcc.Store(id=Ids.on, data=card.on.isoformat()), top,
                     html.A(t("eip.back", lang), href=f"/eip?lang={lang}", className="eip-back"),
                     html.Main(_body(card, lang, actx.settings.web.basemap), className="eip-scorecard")],
                    className="eip-page")


def apply_change(actx: AppContext, park: str, values: dict[str, str | None], lang: str) -> tuple[str, str | None]:
    """Record the change as the logged-in user; returns (message, new status or None when refused)."""
    user = auth.current_user()
    if user is None or not auth.allowed(Role.IP_AUTHORITY):
        return t("eip.forbidden", lang), None
    effective, cert_date = _on(values.get("effective")), _on(values.get("cert_date"))
    if effective is None or (values.get("cert_date") and cert_date is None):
        return t("eip.form.bad_date", lang), None
    ch = Change(park, values.get("to") or "", user.username, values.get("reason") or "", effective,
                evidence_ref=values.get("evidence") or None, certificate_no=values.get("cert_no") or None,
                certificate_date=cert_date, issuing_body=values.get("issuing_body") or None)
    try:
        with actx.engine.begin() as conn:
            row = change_status(conn, ch)
    except WorkflowError as exc:
        return str(exc), None
    return t("eip.form.done", lang, status=TITLES[row["to_status"]][_i(lang)]), row["to_status"]


def apply_certificate(actx: AppContext, park: str, values: dict[str, str | None], lang: str) -> tuple[str, bool]:
    """Record a certificate as the logged-in user (IP authority and above); returns (message, recorded)."""
    user = auth.current_user()
    if user is None or not auth.allowed(Role.IP_AUTHORITY):
        return t("eip.forbidden", lang), False
    issued = _on(values.get("issued_on"))
    if issued is None:
        return t("eip.form.bad_date", lang), False
    new = eip_certificates.NewCertificate(values.get("enterprise") or "", values.get("no") or "", issued,
                                          values.get("evidence") or "", user.username,
                                          values.get("body") or None, park_code=park)
    try:
        with actx.engine.begin() as conn:
            row = eip_certificates.record(conn, new)
    except WorkflowError as exc:
        return str(exc), False
    return t("eip.cert.done", lang, no=row["certificate_no"], body=row["issuing_body"]), True


def register(app: Dash, actx: AppContext) -> None:
    dash.register_page("eip_scorecard", path=PATH, layout=lambda **q: layout(actx, **q),
                       title="Phiếu đánh giá KCN sinh thái / Eco-park scorecard", lowest_role=Role.IP_AUTHORITY)

    @app.callback(Output(Ids.message, "children"), Output(Ids.badge, "children"), Output(Ids.history, "children"),
                  Output(Ids.to_status, "options"), Output(Ids.to_status, "value"),
                  Input(Ids.submit, "n_clicks"), State(Ids.park, "data"), State(Ids.lang, "data"),
                  State(Ids.to_status, "value"), State(Ids.reason, "value"), State(Ids.evidence, "value"),
                  State(Ids.effective, "value"), State(Ids.cert_no, "value"), State(Ids.cert_date, "value"),
                  State(Ids.issuing_body, "value"), prevent_initial_call=True)
    def on_submit(_n: int, park: str, lang: str, to: str | None, reason: str | None, evidence: str | None,
                  effective: str | None, cert_no: str | None, cert_date: str | None, body: str | None) -> tuple:
        lang = lang_or_default(lang)
        message, status = apply_change(actx, park, {"to": to, "reason": reason, "evidence": evidence,
                                                    "effective": effective, "cert_no": cert_no,
                                                    "cert_date": cert_date, "issuing_body": body}, lang)
        with actx.engine.connect() as conn:
            rows = history(conn, park)
        current = rows[-1]["to_status"] if rows else "not_assessed"
        options = [{"label": TITLES[s][_i(lang)], "value": s} for s in allowed_targets(current)]
        return message, badge(current, lang), history_table(rows, lang), options, None if status else to

    @app.callback(Output(Ids.ec_message, "children"), Output(Ids.certs, "children"),
                  Input(Ids.ec_submit, "n_clicks"), State(Ids.park, "data"), State(Ids.lang, "data"),
                  State(Ids.on, "data"), State(Ids.ec_enterprise, "value"), State(Ids.ec_no, "value"),
                  State(Ids.ec_date, "value"), State(Ids.ec_body, "value"), State(Ids.ec_evidence, "value"),
                  prevent_initial_call=True)
    def on_certificate(_n: int, park: str, lang: str, on: str, firm: str | None, no: str | None,
                       issued: str | None, body: str | None, evidence: str | None) -> tuple:
        lang = lang_or_default(lang)
        message, _ok = apply_certificate(actx, park, {"enterprise": firm, "no": no, "issued_on": issued,
                                                      "body": body, "evidence": evidence}, lang)
        show = eip_data.may_see(actx, "enterprises")
        with actx.engine.connect() as conn:
            rows = eip_certificates.for_park(conn, park)  # current status, including what was just recorded
            names = dict(conn.execute(text("SELECT code, name_vi FROM enterprises WHERE park_code = :p"),
                                      {"p": park}).all()) if show else {}
        rows = [{**r, "enterprise_name": names.get(r["enterprise_code"], "")} for r in rows]
        return message, certificates_table(rows, lang, show)

    @app.callback(Output(Ids.save_message, "children"), Input(Ids.save, "n_clicks"), State(Ids.park, "data"),
                  State(Ids.on, "data"), State(Ids.lang, "data"), prevent_initial_call=True)
    def on_save(_n: int, park: str, on: str, lang: str) -> str:
        lang = lang_or_default(lang)
        user = auth.current_user()
        if user is None:
            return t("eip.forbidden", lang)
        try:
            with actx.engine.begin() as conn:
                a = eip_assess.assess(conn, park, date.fromisoformat(on))
                eip_assess.store(conn, a, user.username)
        except (GeoError, SQLAlchemyError) as exc:
            return f"{t('eip.save.failed', lang)}: {exc.__class__.__name__}"
        return t("eip.save.done", lang, id=a.id, sha=a.inputs_sha256[:12])
