"""Export of the targets table (one indicator, one boundary version) as CSV or XLSX, behind the page's access check."""
from __future__ import annotations

import io

import pandas as pd
from flask import Blueprint, Response, abort, redirect, request

from dashboards import auth, targets_data
from dashboards.context import AppContext
from geo.access import Role
from geo.indicator_register import register

LOWEST_ROLE = Role.IP_AUTHORITY   # the same as the page: the export must not be a way round its guard
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_path(indicator_id: str, fmt: str, version: str) -> str:
    return f"/targets/export/{indicator_id}.{fmt}?version={version}"


def to_csv(table: pd.DataFrame) -> bytes:
    # UTF-8 with a byte-order mark: Excel opens it with the Vietnamese diacritics intact.
    return table.to_csv(index=False).encode("utf-8-sig")


def to_xlsx(table: pd.DataFrame, sheet: str) -> bytes:
    buf = io.BytesIO()
    with pd.ExcelWriter(buf, engine="openpyxl") as writer:
        table.to_excel(writer, index=False, sheet_name=sheet[:31])   # Excel's sheet-name limit
    return buf.getvalue()


def blueprint(actx: AppContext) -> Blueprint:
    bp = Blueprint("targets_export", __name__)

    @bp.get("/targets/export/<indicator_id>.<fmt>")
    def export(indicator_id: str, fmt: str) -> Response:
        if not auth.allowed(LOWEST_ROLE):
            if auth.current_user() is None:
                return redirect(f"/login?next={request.full_path.rstrip('?')}")
            abort(403)
        ind = register().get(indicator_id)
        version = request.args.get("version", "pre2025")
        if ind is None or fmt not in ("csv", "xlsx"):
            abort(404)
        if version not in targets_data.VERSIONS:
            abort(400)
        table = targets_data.export_table(actx.engine, ind, version)
        name = f"{indicator_id}_{version}_{table.year.iloc[0] if len(table) else 'na'}.{fmt}"
        body, mime = (to_csv(table), "text/csv; charset=utf-8") if fmt == "csv" else (to_xlsx(table, indicator_id), XLSX)
        return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"',
                                                      "Cache-Control": "no-store"})

    return bp
