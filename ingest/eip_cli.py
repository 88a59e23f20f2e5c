"""`geo eip …`: eco-industrial-park register, assessment, conversion status, certificates and symbiosis links."""
from __future__ import annotations

import getpass
import json
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy import text

from geo import eip_assess, eip_certificates
from geo.db import check_connection, make_engine
from geo.eip_register import sync_registers
from geo.eip_workflow import STATUSES, TITLES, Change, change_status
from geo.errors import InputError
from geo.settings import AreaSettings, DatabaseSettings, IngestSettings

eip_app = typer.Typer(help="KCN sinh thái / eco-industrial parks: register, assessment, status, certificates, links",
                      no_args_is_help=True)
register_app = typer.Typer(help="Danh mục tiêu chí / criteria register", no_args_is_help=True)
links_app = typer.Typer(help="Liên kết cộng sinh / symbiosis links", no_args_is_help=True)
cert_app = typer.Typer(help="Giấy chứng nhận doanh nghiệp sinh thái / eco-enterprise certificates",
                       no_args_is_help=True)
eip_app.add_typer(register_app, name="register")
eip_app.add_typer(links_app, name="links")
eip_app.add_typer(cert_app, name="certificate")
console = Console()
LOCAL = ZoneInfo("Asia/Ho_Chi_Minh")
MARK = {"pass": "[green]đạt / pass[/]", "fail": "[red]không đạt / fail[/]", "unknown": "[yellow]chưa rõ / unknown[/]",
        "info": "thông tin / info", "not_applicable": "không áp dụng / n/a"}


class EipInputError(InputError):
    """A command-line value the eco-park commands cannot use (exit code 2, like any misuse)."""

    exit_code = 2


def _date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise EipInputError(f"ngày không hợp lệ {value!r}, cần YYYY-MM-DD / invalid date {value!r}, expected "
                            f"YYYY-MM-DD", field=option) from None


def _who(by: str | None) -> str:
    return by or IngestSettings().user or getpass.getuser()


def _engine():  # type: ignore[no-untyped-def]
    engine = make_engine(DatabaseSettings())
    check_connection(engine)
    return engine


def _figures(figures: dict[str, Any], width: int = 110) -> str:
    shown = {k: v for k, v in figures.items() if v not in (None, [], {}) and k not in ("low", "high")}
    if figures.get("low") != figures.get("high"):  # the range the unrecorded answers leave open
        shown["range"] = [figures.get("low"), figures.get("high")]
    text = json.dumps(shown, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


@register_app.command("sync")
def register_sync() -> None:
    """Nạp các tệp danh mục tiêu chí mới vào CSDL / store register files not yet stored (stored ones are immutable)."""
    with _engine().begin() as conn:
        added = sync_registers(conn)
        stored = conn.execute(text("SELECT version, valid_from FROM criteria_registers "
                                  "ORDER BY valid_from, string_to_array(version, '.')::int[]")).all()
    console.print(f"Đã thêm / added: {', '.join(added) or '—'}")
    console.print("Phiên bản đã lưu / stored versions: " + ", ".join(f"{v} (từ/from {f})" for v, f in stored))


@eip_app.command("assess")
def assess_command(
        park: Annotated[str, typer.Argument(help="mã KCN / park code")],
        on: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; mặc định hôm nay / default today")] = None,
        version: Annotated[str | None, typer.Option(help="phiên bản danh mục / register version")] = None,
        by: Annotated[str | None, typer.Option(help="người đánh giá / who (default: GEO_INGEST_USER or OS user)")] = None,
        store: Annotated[bool, typer.Option("--store/--no-store", help="lưu kết quả / store the assessment")] = True,
) -> None:
    """Đánh giá KCN theo danh mục tiêu chí, in bảng kết quả và lưu / assess a park, print the criteria, store it."""
    day = _date(on, "--date") or datetime.now(LOCAL).date()
    with _engine().begin() as conn:
        a = eip_assess.assess(conn, park, day, version)
        if store:
            eip_assess.store(conn, a, _who(by))
    t = Table(title=f"{park} · {day} · danh mục / register {a.register.version}")
    for col in ("mã/code", "nhóm/category", "đánh giá/evaluation", "ngưỡng/threshold", "kết quả/result", "giá trị/value",
                "số liệu/figures"):
        t.add_column(col)
    for r in a.results:
        c = r.criterion
        thr = "—" if c.threshold is None else f"{c.operator} {c.threshold:g}" + (" (tham chiếu/reference)"
                                                                               if c.is_reference else "")
        t.add_row(c.code, c.category, c.evaluation, thr, MARK[r.result], "" if r.value is None else f"{r.value:g}",
                  _figures(r.figures))
    console.print(t)
    s = a.summary()
    console.print("Tổng / totals: " + ", ".join(f"{k} {v}" for k, v in s["counts"].items()))
    firms = s["enterprises"]
    if firms["n_enterprises"]:
        e = Table(title=f"Tiêu chí doanh nghiệp / enterprise criteria ({firms['n_enterprises']} DN / firms, "
                        f"{firms['all_pass']} đạt tất cả / pass all)")
        for col in ("mã/code", "đạt/pass", "không đạt/fail", "chưa rõ/unknown", "không áp dụng/n.a.", "% đạt/pass"):
            e.add_column(col)
        for code, d in firms["by_criterion"].items():
            e.add_row(code, *(str(d[k]) for k in ("pass", "fail", "unknown", "not_applicable")),
                      "—" if d["share_pass_pct"] is None else f"{d['share_pass_pct']:g}")
        console.print(e)
    else:
        console.print("Không có doanh nghiệp trong KCN / no enterprises in the park")
    if store:
        console.print(f"Đã lưu đánh giá / stored assessment #{a.id} · inputs sha256 {a.inputs_sha256}")
    else:
        console.print(f"Không lưu / not stored · inputs sha256 {a.inputs_sha256}")


@eip_app.command("status")
def status_command(
        park: Annotated[str, typer.Argument(help="mã KCN / park code")],
        new_status: Annotated[str, typer.Argument(help=" | ".join(STATUSES))],
        why: Annotated[str, typer.Option("--why", help="lý do / reason (required)")],
        certificate: Annotated[str | None, typer.Option(help="số giấy chứng nhận / certificate number")] = None,
        certificate_date: Annotated[str | None, typer.Option(help="ngày cấp / certificate date (default --date)")] = None,
        issuing_body: Annotated[str | None, typer.Option(help="cơ quan cấp / issuing body (default: the authority "
                                                                "in force on the certificate date)")] = None,
        evidence: Annotated[str | None, typer.Option(help="căn cứ / document reference")] = None,
        on: Annotated[str | None, typer.Option("--date", help="ngày hiệu lực / effective date (default today)")] = None,
        by: Annotated[str | None, typer.Option(help="người thực hiện / who (default: GEO_INGEST_USER or OS user)")] = None,
) -> None:
    """Đổi trạng thái chuyển đổi của KCN / change a park's conversion status (checked, with history)."""
    effective = _date(on, "--date") or datetime.now(LOCAL).date()
    cert_day = _date(certificate_date, "--certificate-date") or (effective if certificate else None)
    ch = Change(park, new_status, _who(by), why, effective, evidence_ref=evidence, certificate_no=certificate,
                certificate_date=cert_day, issuing_body=issuing_body)
    with _engine().begin() as conn:
        row = change_status(conn, ch)
    vi, en = TITLES[row["to_status"]]
    extra = (f" · GCN/certificate {row['certificate_no']} ({row['certificate_date']}, {row['issuing_body']})"
             if row["certificate_no"] else "")
    console.print(f"{park}: {row['from_status']} → {row['to_status']} ({vi} / {en}), hiệu lực/effective "
                  f"{row['effective_on']}, bởi/by {row['changed_by']}{extra}", highlight=False)


@cert_app.command("add")
def certificate_add(
        enterprise: Annotated[str, typer.Argument(help="mã doanh nghiệp / enterprise code")],
        number: Annotated[str, typer.Argument(help="số giấy chứng nhận / certificate number")],
        evidence: Annotated[str, typer.Option(help="căn cứ (quyết định) / document reference")],
        on: Annotated[str | None, typer.Option("--date", help="ngày cấp / issue date (default today)")] = None,
        issuing_body: Annotated[str | None, typer.Option(help="cơ quan cấp / issuing body")] = None,
        by: Annotated[str | None, typer.Option(help="người ghi nhận / who")] = None,
) -> None:
    """Ghi nhận giấy chứng nhận doanh nghiệp sinh thái / record an eco-enterprise certificate."""
    day = _date(on, "--date") or datetime.now(LOCAL).date()
    with _engine().begin() as conn:
        row = eip_certificates.record(conn, eip_certificates.NewCertificate(enterprise, number, day, evidence,
                                                                            _who(by), issuing_body))
    console.print(f"{row['certificate_no']}: {row['enterprise_code']} ({row['park_code']}), {row['issued_on']}, "
                  f"{row['issuing_body']}", highlight=False)


@cert_app.command("revoke")
def certificate_revoke(
        number: Annotated[str, typer.Argument(help="số giấy chứng nhận / certificate number")],
        why: Annotated[str, typer.Option("--why", help="lý do / reason")],
        evidence: Annotated[str, typer.Option(help="căn cứ (quyết định thu hồi) / document reference")],
        on: Annotated[str | None, typer.Option("--date", help="ngày thu hồi / revocation date (default today)")] = None,
        by: Annotated[str | None, typer.Option(help="người thực hiện / who")] = None,
) -> None:
    """Thu hồi giấy chứng nhận doanh nghiệp sinh thái / revoke an eco-enterprise certificate."""
    day = _date(on, "--date") or datetime.now(LOCAL).date()
    with _engine().begin() as conn:
        row = eip_certificates.revoke(conn, number, day, _who(by), why, evidence)
    console.print(f"{row['certificate_no']}: thu hồi / revoked {row['revoked_on']}", highlight=False)


@links_app.command("load")
def links_load(
        path: Annotated[Path, typer.Argument(help="CSV (không cần hình học / geometry optional), GeoJSON, GPKG …")],
        dry_run: Annotated[bool, typer.Option("--dry-run", help="chỉ kiểm tra / check only")] = False,
        skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="nạp dòng hợp lệ / load valid rows")] = False,
) -> None:
    """Nạp liên kết cộng sinh; CSV không có hình học thì vẽ từ điểm doanh nghiệp / load symbiosis links."""
    from ingest.cli import print_result
    from ingest.eip_links import load_links
    from ingest.pipeline import LoadOptions
    if not path.is_file():
        raise EipInputError("không có tệp / no such file", file=str(path))
    result = load_links(_engine(), path, LoadOptions(dry_run=dry_run, skip_invalid=skip_invalid),
                        ingest_settings=IngestSettings(), area=AreaSettings())
    print_result(result)
    if not result.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `geo eip …` to the `geo` program (errors the platform raises become messages in geo.cli.main)."""
    app.add_typer(eip_app, name="eip")
