"""CLI: `geo ingest-raster`, `geo rasters`, `geo zonal`, `geo zonal-change`, `geo indicators …`."""
from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import Engine, text

from geo.db import check_connection, make_engine
from geo.raster_errors import ProductError
from geo.settings import AreaSettings, DatabaseSettings, IngestSettings
from geo.zonal_dask import ClusterOptions
from ingest import indicators as ind
from ingest.rasters import catalogue_rows, ingest_raster
from ingest.zonal import DEFAULT_BUFFER_M, GEOGRAPHY_TYPES, compute_zonal

console = Console()
indicators_app = typer.Typer(help="Chỉ tiêu tăng trưởng xanh / green-growth indicator register",
                             no_args_is_help=True)
Workers = Annotated[int | None, typer.Option("--workers", help="spread polygon chunks over a dask LocalCluster "
                                                               "of N worker processes")]
Scheduler = Annotated[str | None, typer.Option("--dask-scheduler", help="address of a running dask scheduler, "
                                                                        "e.g. tcp://10.0.0.5:8786")]
Types = Annotated[list[str], typer.Option("--geography", help=f"one of {', '.join(GEOGRAPHY_TYPES)} (repeat); "
                                                               "default all")]


def _engine() -> Engine:
    engine = make_engine(DatabaseSettings())
    check_connection(engine)
    return engine


def _spinner(label: str):  # type: ignore[no-untyped-def]
    return Progress(SpinnerColumn(), TextColumn(label), TimeElapsedColumn(), console=console, transient=True)


def ingest_raster_command(
    product: Annotated[str, typer.Argument(help="esa_worldcover | tree_cover_pct | landcover_generic")],
    path: Annotated[Path, typer.Argument(help="GeoTIFF (any CRS, nodata allowed)")],
    year: Annotated[int, typer.Option("--year", help="year the raster describes")],
    threshold: Annotated[float | None, typer.Option("--threshold", help="canopy % threshold (percent products; "
                                                                        "default from the product)")] = None,
) -> None:
    """Nạp raster lớp phủ / ingest a land-cover or tree-cover raster as a COG into the catalogue."""
    settings = DatabaseSettings()
    with _spinner(f"{product} {year} ← {path.name}") as bar:
        bar.add_task("")
        r = ingest_raster(_engine(), product, path, year, db_settings=settings, area=AreaSettings(),
                          who=IngestSettings().user, threshold_pct=threshold)
    console.print(f"raster {r.raster_id} ({r.product} {r.year}): {r.status}; COG {r.cog_path}; "
                  f"run {r.run_id}; phủ / covers {100 * (r.aoi_covered or 0):.1f} % of the area of interest",
                  highlight=False)


def rasters_command(product: Annotated[str | None, typer.Option(help="only this product")] = None) -> None:
    """Danh mục raster / the raster catalogue."""
    rows = catalogue_rows(_engine(), product)
    t = Table(title=f"raster_catalogue ({len(rows)})")
    for c in ("raster_id", "product", "year", "crs", "res_x", "width", "height", "ingest_run_id", "path"):
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(r[c]) for c in ("raster_id", "product", "year", "crs", "res_x", "width", "height",
                                         "ingest_run_id", "path")])
    console.print(t)


def _raster_id(engine: Engine, product: str, year: int) -> int:
    with engine.connect() as conn:
        rid = conn.execute(text("SELECT raster_id FROM raster_catalogue WHERE product = :p AND year = :y"),
                           {"p": product, "y": year}).scalar()
    if rid is None:
        raise ProductError(f"Chưa nạp raster {product} năm {year} / no {product} raster for {year}; "
                           "run `geo ingest-raster` first")
    return int(rid)


def zonal_command(product: Annotated[str, typer.Argument()], year: Annotated[int, typer.Option("--year")],
                  geography: Types = [], buffer_m: Annotated[float, typer.Option(  # noqa: B006
                      "--buffer-m", help="park surroundings band width")] = DEFAULT_BUFFER_M,
                  workers: Workers = None, dask_scheduler: Scheduler = None) -> None:
    """Thống kê vùng / zonal statistics of one raster for admin units (all versions), parks, buffers, forests."""
    engine = _engine()
    with _spinner(f"zonal {product} {year}") as bar:
        bar.add_task("")
        run = compute_zonal(engine, _raster_id(engine, product, year), types=tuple(geography) or GEOGRAPHY_TYPES,
                            buffer_m=buffer_m, cluster=ClusterOptions(dask_scheduler, workers))
    console.print(f"run {run.run_id}: {run.n_features} polygons {run.by_type} → {run.n_rows} rows in zonal_results")


def zonal_change_command(product: Annotated[str, typer.Argument()],
                         from_year: Annotated[int, typer.Option("--from")], to_year: Annotated[int, typer.Option("--to")],
                         geography: Types = [], buffer_m: Annotated[float, typer.Option(  # noqa: B006
                             "--buffer-m")] = DEFAULT_BUFFER_M,
                         workers: Workers = None, dask_scheduler: Scheduler = None) -> None:
    """Mất / tăng rừng giữa hai năm / forest loss, gain and net change between two years."""
    engine = _engine()
    with _spinner(f"change {product} {from_year}→{to_year}") as bar:
        bar.add_task("")
        run = compute_zonal(engine, _raster_id(engine, product, to_year),
                            compare_raster_id=_raster_id(engine, product, from_year),
                            types=tuple(geography) or GEOGRAPHY_TYPES, buffer_m=buffer_m,
                            cluster=ClusterOptions(dask_scheduler, workers))
    console.print(f"run {run.run_id}: {run.n_features} polygons → {run.n_rows} rows (loss, gain, net)")


@indicators_app.command("sync")
def indicators_sync() -> None:
    """Đồng bộ danh mục từ tệp dữ liệu / load geo/data/indicators.csv into the database."""
    console.print(f"{ind.sync_register(_engine())} indicators synced")


@indicators_app.command("report")
def indicators_report(indicator_id: str, geography: Annotated[str, typer.Option("--geography")],
                      year: Annotated[int, typer.Option("--year")], value: Annotated[float, typer.Option("--value")],
                      source: Annotated[str, typer.Option("--source")],
                      code: Annotated[str, typer.Option("--code", help="unit or park code")] = "74",
                      boundary: Annotated[str | None, typer.Option(help="valid_from of the unit version")] = None,
                      ) -> None:
    """Nhập số liệu báo cáo / record a reported value with its source."""
    ind.report_value(_engine(), indicator_id, geography, code, year, value, source,
                     date.fromisoformat(boundary) if boundary else None)
    console.print(f"{indicator_id} {geography} {code} {year} = {value} (reported: {source})", highlight=False)


@indicators_app.command("compute")
def indicators_compute(year: Annotated[int | None, typer.Option("--year")] = None,
                       only: Annotated[list[str], typer.Option("--only")] = []) -> None:  # noqa: B006
    """Tính các chỉ tiêu từ bản đồ / compute indicators for every geography and year."""
    with _spinner("indicators") as bar:
        bar.add_task("")
        run = ind.compute_indicators(_engine(), year, only or None)
    for k, n in run.stored.items():
        console.print(f"  {k}: {n} values")
    for k in run.no_data:
        console.print(f"  {k}: không có số liệu / no data", highlight=False)
    console.print(f"run {run.run_id}")


@indicators_app.command("show")
def indicators_show(indicator_id: str,
                    geography: Annotated[str | None, typer.Option("--geography")] = None) -> None:
    """Giá trị và tiến độ của một chỉ tiêu / values and progress status of one indicator."""
    engine = _engine()
    meta = ind.get_indicator(indicator_id)
    df = ind.indicator_values(engine, indicator_id, geography)
    target = (f"{meta.target_value:g} {meta.unit} ({meta.target_year}, {meta.target_confidence})"
              if meta.target_value is not None else f"— ({meta.target_confidence or 'UNCONFIRMED'})")
    t = Table(title=f"{indicator_id} {meta.title_vi} / {meta.title_en} — mục tiêu / target {target}")
    for c in ("geography", "code", "version", "year", "value", "source", "status"):
        t.add_column(c)
    for r in df.itertuples(index=False):
        value = "không có số liệu / no data" if r.status == "no_data" else f"{r.value:,.2f}"
        t.add_row(r.geography_type, r.geography_code, str(r.boundary_valid_from or "—"), str(r.year), value,
                  r.source_text or r.source_kind, r.progress)
    console.print(t)


def register(app: typer.Typer) -> None:
    """Add raster, zonal and indicator commands to the `geo` program."""
    app.command("ingest-raster")(ingest_raster_command)
    app.command("rasters")(rasters_command)
    app.command("zonal")(zonal_command)
    app.command("zonal-change")(zonal_change_command)
    app.add_typer(indicators_app, name="indicators")
