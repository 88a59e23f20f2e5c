"""CLI commands that load data and inspect loads: ingest, runs (list/show/diff/revert), layers, summary."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from geo.db import check_connection, make_engine, raw_connection
from geo.errors import GeoError, InputError
from geo.settings import AreaSettings, DatabaseSettings, IngestSettings
from ingest import history, ledger
from ingest.pipeline import LoadOptions, LoadResult, ingest_file
from ingest.sample import DEFAULT_SEED, generate, load_sample
from ingest.summary import summarize
from layers import REGISTRY

console = Console()
runs_app = typer.Typer(help="Các lần nạp / the ingest ledger", invoke_without_command=True)


def parse_pairs(items: list[str], flag: str) -> dict[str, str]:
    """Repeated ``--map FIELD=COLUMN`` / ``--set FIELD=VALUE`` options as a dict."""
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError(f"{flag} expects FIELD=VALUE, got {item!r}")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def ingest_command(
    layer: Annotated[str, typer.Argument(help="layer family, e.g. industrial_parks")],
    path: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage, Shapefile (.shp/.zip), KML/KMZ, CSV, XLSX")],
    crs: Annotated[str | None, typer.Option(help="CRS when the file has none or is wrong: EPSG:n, VN2000-BD")] = None,
    source_layer: Annotated[str | None, typer.Option("--layer", help="layer inside a GeoPackage/zip/KML")] = None,
    map_: Annotated[list[str], typer.Option("--map", help="FIELD=COLUMN when names differ")] = [],  # noqa: B006
    set_: Annotated[list[str], typer.Option("--set", help="FIELD=VALUE for every feature")] = [],  # noqa: B006
    encoding: Annotated[str | None, typer.Option(help="text encoding of CSV/Shapefile attributes")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only; write nothing")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="load valid features, report the rest")] = False,
    sync: Annotated[bool, typer.Option("--sync", help="also delete features absent from the file")] = False,
) -> None:
    """Nạp một tệp vào một lớp / load one file into a layer (checked, idempotent, reversible)."""
    spec = REGISTRY.get(layer)
    options = LoadOptions(crs=crs, layer=source_layer, mapping=parse_pairs(map_, "--map"),
                          constants=parse_pairs(set_, "--set"), encoding=encoding, dry_run=dry_run,
                          skip_invalid=skip_invalid, sync=sync)
    engine = make_engine(DatabaseSettings())
    check_connection(engine)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task(f"{layer} ← {path.name}")
        result = ingest_file(engine, spec, path, options, ingest_settings=IngestSettings(), area=AreaSettings(),
                             progress=lambda msg: bar.update(task, description=f"{layer} ← {path.name}: {msg}"))
    print_result(result)
    if not result.ok:
        raise typer.Exit(1)


def print_result(result: LoadResult, max_problems: int = 15) -> None:
    """Summary table, the first problems, and where the full report is."""
    t = Table(title=f"{result.layer} ← {result.file}  (run {result.run_id or '-'}, {result.status})")
    for c in ("đọc/read", "thêm/inserted", "sửa/updated", "giữ nguyên/unchanged", "xóa/deleted",
              "loại/rejected", "cảnh báo/warnings"):
        t.add_column(c, justify="right")
    t.add_row(*map(str, (result.n_read, result.inserted, result.updated, result.unchanged, result.deleted,
                         result.rejected, result.warnings)))
    console.print(t)
    for note in result.notes:
        console.print(f"  · {note}")
    for p in result.problems[:max_problems]:
        where = f"record {p.record}" + (f" [{p.key}]" if p.key else "") + (f", field '{p.field}'" if p.field else "")
        # Keys such as [commune|X|2025-07-01] are data, not rich markup.
        console.print(f"  {'✗' if p.severity == 'error' else '!'} {result.file}, {where}: {p.reason}",
                      highlight=False, markup=False)
    if len(result.problems) > max_problems:
        console.print(f"  … {len(result.problems) - max_problems} more")
    if result.rejects_path:
        console.print(f"  báo cáo / report: {result.rejects_path}")
    if result.error:
        console.print(result.error, style="red", highlight=False, markup=False)


@runs_app.callback()
def runs_list(ctx: typer.Context, layer: Annotated[str | None, typer.Option()] = None,
              limit: Annotated[int, typer.Option()] = 20) -> None:
    """Liệt kê các lần nạp / list recent runs."""
    if ctx.invoked_subcommand is not None:
        return
    engine = make_engine(DatabaseSettings())
    with raw_connection(engine) as conn:
        ledger.mark_interrupted(conn)
        conn.commit()
        rows = ledger.recent(conn, layer, limit)
    t = Table(title="Các lần nạp / ingest runs")
    for c in ("run", "kind", "layer", "file", "status", "ins", "upd", "same", "del", "rej", "who", "started (UTC)"):
        t.add_column(c)
    for r in rows:
        status = r["status"] + (f" (reverted by {r['reverted_by_run_id']})" if r["reverted_by_run_id"] else "")
        t.add_row(str(r["run_id"]), r["kind"], r["layer"], r["file_name"] or f"revert {r['reverts_run_id']}",
                  status, *(str(r[k]) for k in ("n_inserted", "n_updated", "n_unchanged", "n_deleted",
                                                 "n_rejected")), r["who"] or "",
                  r["started_at"].strftime("%Y-%m-%d %H:%M:%S"))
    console.print(t)


@runs_app.command("show")
def runs_show(run: int) -> None:
    with raw_connection(make_engine(DatabaseSettings())) as conn:
        row = ledger.get(conn, run)
    for k, v in row.items():
        console.print(f"{k:>20}: {v}", highlight=False)


@runs_app.command("diff")
def runs_diff(run: int) -> None:
    """Những gì một lần nạp đã thay đổi / what a run changed."""
    with raw_connection(make_engine(DatabaseSettings())) as conn:
        changes = history.diff(conn, run)
    t = Table(title=f"Run {run}: {len(changes)} change(s)")
    for c in ("op", "layer", "key", "changed fields"):
        t.add_column(c)
    for ch in changes:
        t.add_row(ch.op, ch.layer, ", ".join(f"{k}={v}" for k, v in ch.key.items()), ", ".join(ch.fields))
    console.print(t)


@runs_app.command("revert")
def runs_revert(run: int) -> None:
    """Hoàn tác chính xác một lần nạp / undo a run exactly (recorded as a new run)."""
    with raw_connection(make_engine(DatabaseSettings())) as conn:
        new_run = history.revert(conn, run, ledger.who(IngestSettings().user))
        row = ledger.get(conn, new_run)
    console.print(f"run {run} reverted by run {new_run}: {row['n_deleted']} deleted, {row['n_updated']} restored, "
                  f"{row['n_inserted']} re-inserted")


def layers_command() -> None:
    """Danh sách lớp dữ liệu / the layer registry."""
    t = Table(title="Lớp dữ liệu / layer families")
    for c in ("name", "tiêu đề", "title", "geometry", "key", "access", "themes"):
        t.add_column(c)
    for s in REGISTRY:
        t.add_row(s.name, s.title_vi, s.title_en, "/".join(g.value for g in s.geometry), "+".join(s.natural_key),
                  s.access.value, ",".join(map(str, s.themes)))
    console.print(t)


def sample_command(
    out: Annotated[Path, typer.Option("--out", help="output folder")] = Path(".geo/sample"),
    load: Annotated[bool, typer.Option("--load", help="also load every file (valid features only)")] = False,
    seed: Annotated[int, typer.Option("--seed", help="same seed, same bytes")] = DEFAULT_SEED,
    days: Annotated[int, typer.Option("--days", help="days of synthetic hourly air readings to load (0: none)")]
    = 365,
) -> None:
    """Tạo dữ liệu MẪU tổng hợp cho mọi lớp / write a SYNTHETIC sample for every layer family."""
    manifest = generate(out, seed)
    for layer, path in manifest.files.items():
        console.print(f"{layer:<26} {manifest.counts[layer]:>4} → {path}", highlight=False)
    console.print(f"[yellow]MẪU / SAMPLE[/]: synthetic data, see {out / 'README.txt'}; "
                  f"{len(manifest.planted)} deliberately bad feature(s) planted", highlight=False)
    if not load:
        return
    engine = make_engine(DatabaseSettings())
    check_connection(engine)
    results = load_sample(engine, manifest, ingest_settings=IngestSettings(), area=AreaSettings(),
                          on_result=lambda r: print_result(r, max_problems=5))
    if days > 0:
        from ingest.sample_observations import load_sample_observations
        console.print(f"số liệu quan trắc mẫu / sample readings: {days} days of hourly air data ending now …")
        results += load_sample_observations(engine, out / "observations", days=days,
                                            ingest_settings=IngestSettings(),
                                            on_result=lambda r: print_result(r, max_problems=5))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def summary_command() -> None:
    """Tóm tắt dữ liệu đã nạp / per-layer counts, extent, area and last run."""
    t = Table(title="Dữ liệu đã nạp / loaded data")
    for c, j in (("Lớp / Layer", "left"), ("Số đối tượng / Features", "right"),
                 ("Phạm vi (kinh, vĩ độ) / Extent (lon, lat)", "left"), ("Diện tích (ha) / Area (ha)", "right"),
                 ("Lần nạp cuối / Last run", "left"), ("Thời điểm / When (ICT)", "left")):
        t.add_column(c, justify=j)  # type: ignore[arg-type]
    ict = ZoneInfo("Asia/Ho_Chi_Minh")
    for s in summarize(make_engine(DatabaseSettings())):
        bbox = "—" if s.bbox is None else "{:.3f}, {:.3f} – {:.3f}, {:.3f}".format(*s.bbox)
        area = "" if s.area_ha is None else f"{s.area_ha:,.1f}"
        run = "—" if s.last_run_id is None else f"{s.last_run_id} ({s.last_run_status})"
        when = s.last_run_at.astimezone(ict).strftime("%Y-%m-%d %H:%M") if s.last_run_at else "—"
        t.add_row(f"{s.layer}\n{s.title_vi}", str(s.features), bbox, area, run, when)
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `geo` program."""
    app.command("ingest")(ingest_command)
    app.command("layers")(layers_command)
    app.add_typer(runs_app, name="runs")
    app.command("sample")(sample_command)
    app.command("summary")(summary_command)
    _ = GeoError  # the root error is handled by geo.cli.main
