"""Raster ingest: validate a GeoTIFF, store it as a COG in the data dir, record it in raster_catalogue and the ledger."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from psycopg.types.json import Jsonb
from sqlalchemy import Engine

from geo.cog import check_overlap, inspect_raster, sha256_file, write_cog
from geo.db import raw_connection
from geo.errors import GeoError
from geo.raster_errors import ProductError
from geo.raster_products import RasterProduct, get_product
from geo.settings import AreaSettings, DatabaseSettings
from ingest import ledger
from ingest.aoi import resolve_aoi


@dataclass
class RasterIngestResult:
    product: str
    year: int
    status: str                  # 'inserted' | 'updated' | 'unchanged' | 'failed'
    run_id: int | None
    raster_id: int | None = None
    cog_path: Path | None = None
    aoi_covered: float | None = None
    error: str | None = None


def cog_path_for(settings: DatabaseSettings, product: str, year: int) -> Path:
    return settings.data_dir / "rasters" / product / f"{product}_{year}.tif"


def _existing(conn: object, product: str, year: int) -> tuple[int, str] | None:
    row = conn.execute("SELECT raster_id, sha256 FROM raster_catalogue WHERE product = %s AND year = %s",
                       (product, year)).fetchone()
    return (int(row[0]), row[1]) if row else None


def _catalogue(conn: object, product: RasterProduct, year: int, src: Path, cog: Path, sha: str,
               run_id: int) -> tuple[int, str]:
    """Upsert the catalogue row; a new file for the same product and year replaces the old one and its results."""
    info = inspect_raster(cog)
    classes = {str(k): v for k, v in product.classes.items()}
    row = conn.execute("""
INSERT INTO raster_catalogue (product, year, path, source_path, classes, forest_rule, res_x, res_y, width, height,
                              dtype, nodata, crs, crs_wkt, geom, sha256, cog_sha256, ingest_run_id)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, ST_GeomFromText(%s, 4326), %s, %s, %s)
ON CONFLICT (product, year) DO UPDATE SET path = EXCLUDED.path, source_path = EXCLUDED.source_path,
  classes = EXCLUDED.classes, forest_rule = EXCLUDED.forest_rule, res_x = EXCLUDED.res_x, res_y = EXCLUDED.res_y,
  width = EXCLUDED.width, height = EXCLUDED.height, dtype = EXCLUDED.dtype, nodata = EXCLUDED.nodata,
  crs = EXCLUDED.crs, crs_wkt = EXCLUDED.crs_wkt, geom = EXCLUDED.geom, sha256 = EXCLUDED.sha256,
  cog_sha256 = EXCLUDED.cog_sha256, ingest_run_id = EXCLUDED.ingest_run_id, updated_at = now()
RETURNING raster_id, (xmax = 0) AS inserted""",
        (product.name, year, str(cog.resolve()), str(src.resolve()), Jsonb(classes), Jsonb(product.forest_rule()),
         info.res_x, info.res_y, info.width, info.height, info.dtype, info.nodata, info.crs_label, info.crs_wkt,
         info.bounds_4326.wkt, sha, sha256_file(cog), run_id)).fetchone()
    raster_id = int(row[0])
    if not row[1]:
        # Results computed from the replaced file no longer describe the catalogue's raster.
        conn.execute("DELETE FROM zonal_results WHERE raster_id = %s OR compare_raster_id = %s",
                     (raster_id, raster_id))
    return raster_id, "inserted" if row[1] else "updated"


def ingest_raster(engine: Engine, product_name: str, path: Path, year: int, *, db_settings: DatabaseSettings,
                  area: AreaSettings, who: str | None = None,
                  threshold_pct: float | None = None) -> RasterIngestResult:
    """Validate, convert to COG and catalogue one raster; the ledger row records success or the failure."""
    product = get_product(product_name).with_threshold(threshold_pct)
    sha, size = ledger.sha256_of(path) if path.is_file() else (None, None)
    with raw_connection(engine) as conn:
        run = ledger.RunStart("raster", f"raster:{product.name}", ledger.who(who),
                              {"year": year, "forest_rule": product.forest_rule()},
                              path.name, str(path), sha, size)
        run_id = ledger.start(conn, run)
        try:
            result = _ingest(conn, engine, product, path, year, sha, run_id, db_settings, area)
        except GeoError as exc:
            conn.rollback()
            ledger.finish(conn, run_id, "failed", error=str(exc))
            conn.commit()
            raise
        conn.commit()
    return result


def _ingest(conn: object, engine: Engine, product: RasterProduct, path: Path, year: int, sha: str | None,
            run_id: int, db_settings: DatabaseSettings, area: AreaSettings) -> RasterIngestResult:
    info = inspect_raster(path)   # readable, has a CRS
    aoi = resolve_aoi(area, engine)
    covered = check_overlap(info, aoi.polygon, aoi.label)
    existing = _existing(conn, product.name, year)
    dst = cog_path_for(db_settings, product.name, year)
    if existing and existing[1] == sha and dst.is_file():
        ledger.finish(conn, run_id, "succeeded", source_crs=info.crs_label, aoi=aoi.label, n_read=1, n_unchanged=1)
        return RasterIngestResult(product.name, year, "unchanged", run_id, existing[0], dst, covered)
    write_cog(path, dst, product.kind)
    raster_id, status = _catalogue(conn, product, year, path, dst, sha or "", run_id)
    counts = {"n_inserted": 1} if status == "inserted" else {"n_updated": 1}
    ledger.finish(conn, run_id, "succeeded", source_crs=info.crs_label, aoi=aoi.label, n_read=1, **counts)
    return RasterIngestResult(product.name, year, status, run_id, raster_id, dst, covered)


def catalogue_rows(engine: Engine, product: str | None = None) -> list[dict]:
    """The catalogue as dicts (for the CLI and the dashboard to come)."""
    with raw_connection(engine) as conn:
        cur = conn.execute(
            "SELECT raster_id, product, year, crs, res_x, res_y, width, height, path, sha256, ingest_run_id "
            "FROM raster_catalogue WHERE %(p)s::text IS NULL OR product = %(p)s ORDER BY product, year",
            {"p": product})
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def raster_record(conn: object, raster_id: int) -> dict:
    """One catalogue row as a dict (product, year, path, checksum, run)."""
    cur = conn.execute("SELECT raster_id, product, year, path, sha256, ingest_run_id, forest_rule "
                       "FROM raster_catalogue WHERE raster_id = %s", (raster_id,))
    row = cur.fetchone()
    if row is None:
        raise ProductError(f"Không có raster {raster_id} / no raster {raster_id} in the catalogue")
    rec = dict(zip([d.name for d in cur.description], row))
    rec["forest_rule"] = rec["forest_rule"] if isinstance(rec["forest_rule"], dict) else json.loads(rec["forest_rule"])
    return rec
