"""Eco-park exports (internal, access-checked): a park's scorecard as XLSX and PDF, the portfolio as CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, request

from dashboards import auth, eip_data
from dashboards.i18n import lang_or_default, t
from geo.access import Role
from geo.eip_workflow import TITLES

FONT_CANDIDATES = ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",)  # Vietnamese glyphs; Helvetica has none


def _card(code: str) -> eip_data.Scorecard:
    if not auth.allowed(Role.IP_AUTHORITY):
        abort(404)  # no hint that the route exists
    try:
        on = date.fromisoformat(request.args["on"]) if request.args.get("on") else None
    except ValueError:
        abort(400)
    card = eip_data.scorecard(current_app.config["GEO_CONTEXT"], code, on)
    if card is None:
        abort(404)
    return card


def result_rows(card: eip_data.Scorecard, lang: str) -> list[list[object]]:
    """One row per criterion: what the tables and the PDF show, figures as JSON (withheld ones blanked)."""
    rows = []
    for r in eip_data.visible_results(card):
        c = r.criterion
        rows.append([t(f"eip.cat.{c.category}", lang), c.code, c.title_vi if lang == "vi" else c.title_en,
                     c.legal_basis, t(f"eip.eval.{c.evaluation}", lang), eip_data.threshold_text(c, lang), c.confidence,
                     t(f"eip.result.{r.result}", lang), r.value,
                     json.dumps(r.figures, ensure_ascii=False, default=str)])
    return rows


def enterprise_rows(card: eip_data.Scorecard, lang: str) -> tuple[list[str], list[list[object]]]:
    """Per firm and criterion for roles that may see the enterprises layer; otherwise counts per criterion only."""
    if card.show_names:
        head = ["enterprise_code", "enterprise_name", "criterion", "result", "value", "figures", "certificate_no"]
        rows: list[list[object]] = []
        for row in eip_data.enterprise_matrix(card):
            cert = row["certificate"]["certificate_no"] if row["certificate"] else ""
            for code, r in row["results"].items():
                rows.append([row["code"], row["name"], code, t(f"eip.result.{r.result}", lang), r.value,
                             json.dumps(r.figures, ensure_ascii=False, default=str), cert])
        return head, rows
    counts = eip_data.enterprise_counts(card)
    head = ["criterion", "pass", "fail", "unknown", "not_applicable", "share_pass_pct"]
    rows = [[code, d["pass"], d["fail"], d["unknown"], d["not_applicable"], d["share_pass_pct"]]
            for code, d in counts["by_criterion"].items()]
    rows.append(["n_enterprises", counts["n_enterprises"], "all_pass", counts["all_pass"], "n_certificates_active",
                 counts["n_certificates_active"]])
    return head, rows


CERT_HEAD = ("certificate_no", "enterprise_code", "issued_on", "issuing_body", "status", "revoked_on", "evidence_ref",
             "recorded_by", "recorded_at")


def certificate_export_rows(card: eip_data.Scorecard) -> list[list[object]]:
    return [[c["certificate_no"], c["enterprise_code"], str(c["issued_on"]), c["issuing_body"], c["status_on"],
             str(c["revoked_on"] or ""), c["evidence_ref"], c["recorded_by"], str(c["recorded_at"])[:19]]
            for c in card.certificates]


HEAD = ("category", "code", "title", "basis", "evaluation", "threshold", "confidence", "result", "value", "figures")


def xlsx_bytes(card: eip_data.Scorecard, lang: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font
    wb = Workbook()
    ws = wb.active
    ws.title = "Scorecard"
    name = card.park["name_vi"] if lang == "vi" else card.park["name_en"]
    ws.append([t("eip.scorecard.title", lang), name, card.park["code"]])
    ws.append([t("eip.status", lang), TITLES[card.status][0 if lang == "vi" else 1]])
    ws.append([t("eip.export.meta", lang), card.on.isoformat(), card.assessment.register.version,
               card.assessment.inputs_sha256])
    ws.append([])
    ws.append([t(f"eip.xcol.{h}", lang) for h in HEAD])
    for cell in ws[5]:
        cell.font = Font(bold=True)
    for row in result_rows(card, lang):
        ws.append(row)
    hist = wb.create_sheet("History")
    hist.append(["effective_on", "from_status", "to_status", "changed_by", "reason", "evidence_ref", "certificate_no",
                 "certificate_date", "issuing_body"])
    for h in card.history:
        hist.append([str(h["effective_on"]), h["from_status"], h["to_status"], h["changed_by"], h["reason"],
                     h["evidence_ref"], h["certificate_no"], str(h["certificate_date"] or ""), h["issuing_body"]])
    firms = wb.create_sheet("Enterprises")
    head, rows = enterprise_rows(card, lang)
    firms.append(head)
    for row in rows:
        firms.append(row)
    certs = wb.create_sheet("Certificates")
    certs.append(list(CERT_HEAD))
    for row in certificate_export_rows(card):
        certs.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _font() -> str:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    import reportlab
    candidates = [*FONT_CANDIDATES, str(Path(reportlab.__file__).parent / "fonts" / "Vera.ttf")]
    path = next(p for p in candidates if Path(p).is_file())
    pdfmetrics.registerFont(TTFont("EipSans", path))
    return "EipSans"


def pdf_bytes(card: eip_data.Scorecard, lang: str) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
    font = _font()
    styles = getSampleStyleSheet()
    for s in styles.byName.values():
        s.fontName = font
    small = styles["BodyText"].clone("small", fontSize=7, leading=8.5)
    name = card.park["name_vi"] if lang == "vi" else card.park["name_en"]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=landscape(A4), title=f"{name} ({card.park['code']})",
                            subject=t("eip.scorecard.title", lang), author="geo-binhduong")
    story = [Paragraph(f"{t('eip.scorecard.title', lang)}: {name}", styles["Title"]),
             Paragraph(f"{t('eip.status', lang)}: {TITLES[card.status][0 if lang == 'vi' else 1]} · "
                       f"{t('eip.export.meta', lang)}: {card.on} · {card.assessment.register.version} · "
                       f"{card.assessment.inputs_sha256[:16]}", styles["BodyText"]), Spacer(1, 8)]
    cols = (0, 1, 2, 5, 7, 8, 9)
    data = [[Paragraph(t(f"eip.xcol.{HEAD[i]}", lang), small) for i in cols]]
    for row in result_rows(card, lang):
        data.append([Paragraph("" if row[i] is None else str(row[i])[:400], small) for i in cols])
    table = Table(data, colWidths=[70, 60, 190, 110, 45, 40, 260], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)]))
    story.append(table)
    grid = TableStyle([("GRID", (0, 0), (-1, -1), 0.3, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                       ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey)])
    head, rows = enterprise_rows(card, lang)
    if rows:
        keep = [i for i, h in enumerate(head) if h != "figures"]
        story += [Spacer(1, 8), Paragraph(t("eip.firms", lang), styles["Heading2"]),
                  Table([[Paragraph(head[i], small) for i in keep]]
                        + [[Paragraph("" if r[i] is None else str(r[i])[:200], small) for i in keep] for r in rows],
                        repeatRows=1, style=grid)]
    certs = certificate_export_rows(card)
    story += [Spacer(1, 8), Paragraph(t("eip.cert.title", lang), styles["Heading2"])]
    story.append(Table([[Paragraph(h, small) for h in CERT_HEAD]]
                       + [[Paragraph(str(x), small) for x in r] for r in certs], repeatRows=1, style=grid)
                 if certs else Paragraph(t("eip.cert.none", lang), styles["BodyText"]))
    doc.build(story)
    return buf.getvalue()


def _download(body: bytes, mimetype: str, filename: str) -> Response:
    resp = Response(body, mimetype=mimetype)
    resp.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def blueprint() -> Blueprint:
    bp = Blueprint("eip_exports", __name__)

    @bp.get("/eip/export/scorecard/<code>.xlsx")
    def scorecard_xlsx(code: str) -> Response:
        lang = lang_or_default(request.args.get("lang"))
        card = _card(code)
        return _download(xlsx_bytes(card, lang), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         f"eip_{code}_{card.on}.xlsx")

    @bp.get("/eip/export/scorecard/<code>.pdf")
    def scorecard_pdf(code: str) -> Response:
        lang = lang_or_default(request.args.get("lang"))
        card = _card(code)
        return _download(pdf_bytes(card, lang), "application/pdf", f"eip_{code}_{card.on}.pdf")

    @bp.get("/eip/export/portfolio.csv")
    def portfolio_csv() -> Response:
        if not auth.allowed(Role.IP_AUTHORITY):
            abort(404)
        lang = lang_or_default(request.args.get("lang"))
        engine = current_app.config["GEO_CONTEXT"].engine
        frame = eip_data.portfolio(engine)
        certs = eip_data.active_certificate_counts(engine)
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(["code", "name_vi", "name_en", "status", "status_title", "status_since", "n_enterprises",
                         "n_pass", "n_fail", "n_unknown", "assessed_on", "area_ha", "n_eco_enterprise_certificates"])
        for r in frame.itertuples():
            writer.writerow([r.code, r.name_vi, r.name_en, r.status, TITLES[r.status][0 if lang == "vi" else 1],
                             r.status_since or "", r.n_enterprises, r.n_pass, r.n_fail, r.n_unknown,
                             r.assessed_on or "", r.area_ha, certs.get(r.code, 0)])
        # UTF-8 with BOM so that spreadsheet programs show Vietnamese correctly.
        return _download(("\ufeff" + buf.getvalue()).encode(), "text/csv; charset=utf-8", "eip_portfolio.csv")

    return bp
