"""CLI commands for monitoring observations: `geo observations load KIND PATH` and `geo observations revert RUN`."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from geo.db import check_connection, make_engine, raw_connection
from geo.errors import InputError
from geo.settings import DatabaseSettings, IngestSettings
from ingest import ledger
from ingest.cli import parse_pairs, print_result
from ingest.obs_pipeline import ObsOptions, default_jobs, load_observations_many, revert
from ingest.obs_readers import READERS
from ingest.station_index_cli import register_station_commands

console = Console()
obs_app = typer.Typer(help="Số liệu quan trắc / monitoring observations (air hourly, water samples)")


@obs_app.command("load")
def load_command(
    kind: Annotated[str, typer.Argument(help=f"file layout: {' | '.join(READERS)}")],
    paths: Annotated[list[Path], typer.Argument(help="tệp CSV, mỗi tệp một giao dịch / CSV file(s), each loaded in "
                                                     "its own transaction")],
    station: Annotated[str | None, typer.Option(help="station code for every row (required for stateair)")] = None,
    map_: Annotated[list[str], typer.Option("--map", help="FIELD=COLUMN when names differ")] = [],  # noqa: B006
    dry_run: Annotated[bool, typer.Option("--dry-run", help="check only; write nothing")] = False,
    skip_invalid: Annotated[bool, typer.Option("--skip-invalid", help="load valid rows, report the rest")] = False,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1,
                                             help="số tệp nạp cùng lúc / files loaded at once (default: one "
                                                  "per core)")] = None,
) -> None:
    """Nạp tệp số liệu quan trắc / load observation files (checked, idempotent, reversible; several at once)."""
    if kind not in READERS:
        raise InputError(f"unknown file kind {kind!r}; use one of {', '.join(READERS)}")
    options = ObsOptions(station=station, mapping=parse_pairs(map_, "--map"), dry_run=dry_run, skip_invalid=skip_invalid)
    engine = make_engine(DatabaseSettings())
    check_connection(engine)
    jobs = jobs or default_jobs(len(paths))
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        tasks = {p: bar.add_task(f"measurements ← {p.name}") for p in paths}
        results = load_observations_many(
            engine, kind, paths, options, ingest_settings=IngestSettings(), jobs=jobs,
            progress=lambda p, msg: bar.update(tasks[p], description=f"measurements ← {p.name}: {msg}"))
    for result in results:
        print_result(result)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


@obs_app.command("revert")
def revert_command(run: int) -> None:
    """Hoàn tác chính xác một lần nạp số liệu / undo a measurements load exactly (recorded as a new run)."""
    engine = make_engine(DatabaseSettings())
    new_run = revert(engine, run, ledger.who(IngestSettings().user))
    with raw_connection(engine) as conn:
        counts = (ledger.get(conn, new_run)["options"] or {}).get("indices_refreshed", {})
    console.print(f"run {run} reverted by run {new_run}; chỉ số đã làm mới / stored indices refreshed: "
                  + ", ".join(f"{n} {table}" for table, n in counts.items()), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the observations command group, and `geo aqi station` / `geo wqi station`, to the `geo` program."""
    app.add_typer(obs_app, name="observations")
    register_station_commands()
