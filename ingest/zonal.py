"""Zonal statistics against PostGIS geographies (admin units of every version, parks, buffers, forests), stored with lineage."""
from __future__ import annotations

from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, text

from geo.db import raw_connection
from geo.errors import GeoError
from geo.raster_errors import ProductError
from geo.raster_products import get_product
from geo.zonal import KEY
from geo.zonal_dask import ClusterOptions, zonal_change_distributed, zonal_stats_distributed
from ingest import ledger
from ingest.rasters import raster_record

GEOGRAPHY_TYPES = ("admin_unit", "industrial_park", "park_buffer", "forest_area")
DEFAULT_BUFFER_M = 1000.0
# (layer table, code column, level, validity columns)
_SOURCES = {
    "admin_unit": ("admin_units", "code", "level", "valid_from, valid_to"),
    "industrial_park": ("industrial_parks", "code", "NULL::text", "NULL::date AS valid_from, NULL::date AS valid_to"),
    "forest_area": ("forest_areas", "code", "NULL::text", "NULL::date AS valid_from, NULL::date AS valid_to"),
}


@dataclass
class ZonalRun:
    run_id: int
    raster_id: int
    compare_raster_id: int | None
    n_features: int = 0
    n_rows: int = 0
    by_type: dict[str, int] = field(default_factory=dict)


def load_geographies(engine: Engine, types: tuple[str, ...] = GEOGRAPHY_TYPES,
                     buffer_m: float = DEFAULT_BUFFER_M) -> gpd.GeoDataFrame:
    """Polygons of the requested kinds (WGS84) with their identity, validity and the run that loaded them.

    ``park_buffer`` is the band up to ``buffer_m`` around each park, outside it (the park's surroundings),
    buffered in UTM 48N so that the distance is in metres.
    """
    unknown = set(types) - set(GEOGRAPHY_TYPES)
    if unknown:
        raise ProductError(f"loại địa lý không hợp lệ / unknown geography type(s) {sorted(unknown)}; "
                           f"use {', '.join(GEOGRAPHY_TYPES)}")
    parts = []
    for kind in types:
        if kind == "park_buffer":
            sql = ("SELECT 'park_buffer' AS geography_type, id AS feature_id, code AS feature_code, NULL::text AS level, "
                   "NULL::date AS valid_from, NULL::date AS valid_to, CAST(:b AS double precision) AS buffer_m, "
                   "'industrial_parks' AS layer, ingest_run_id, ST_AsBinary(ST_Transform(ST_Difference("
                   "ST_Buffer(ST_Transform(geom, 32648), :b), ST_Transform(geom, 32648)), 4326)) AS wkb "
                   "FROM industrial_parks")
        else:
            table, code, level, validity = _SOURCES[kind]
            sql = (f"SELECT '{kind}' AS geography_type, id AS feature_id, {code} AS feature_code, {level} AS level, "
                   f"{validity}, NULL::double precision AS buffer_m, '{table}' AS layer, ingest_run_id, "
                   f"ST_AsBinary(geom) AS wkb FROM {table}")
        with engine.connect() as conn:
            parts.append(pd.read_sql(text(sql), conn, params={"b": buffer_m}))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    geoms = shapely.from_wkb([bytes(w) for w in frame["wkb"]]) if len(frame) else []
    gdf = gpd.GeoDataFrame(frame.drop(columns=["wkb"]), geometry=list(geoms), crs=4326)
    gdf[KEY] = gdf["geography_type"] + ":" + gdf["feature_id"].astype(str)
    return gdf


def _lineage(raster: dict, compare: dict | None, feature: pd.Series) -> dict:
    out = {"raster": {"id": raster["raster_id"], "product": raster["product"], "year": raster["year"],
                      "sha256": raster["sha256"], "ingest_run": raster["ingest_run_id"]},
           "layer": feature["layer"], "feature_id": int(feature["feature_id"]),
           "feature_run": None if pd.isna(feature["ingest_run_id"]) else int(feature["ingest_run_id"]),
           "method": f"exactextract {version('exactextract')}", "forest_rule": raster["forest_rule"]}
    if compare is not None:
        out["compare_raster"] = {"id": compare["raster_id"], "year": compare["year"], "sha256": compare["sha256"],
                                 "ingest_run": compare["ingest_run_id"]}
    return out


def _store(conn: object, results: pd.DataFrame, geos: gpd.GeoDataFrame, raster: dict, compare: dict | None,
           run_id: int, types: tuple[str, ...]) -> int:
    """Replace this raster's (pair's) results for these geography types, in the caller's transaction."""
    compare_id = compare["raster_id"] if compare else None
    conn.execute("DELETE FROM zonal_results WHERE raster_id = %s AND compare_raster_id IS NOT DISTINCT FROM %s "
                 "AND geography_type = ANY(%s)", (raster["raster_id"], compare_id, list(types)))
    meta = geos.drop(columns="geometry").set_index(KEY)
    merged = results.join(meta, on=KEY)
    rows = []
    for r in merged.itertuples(index=False):
        feature = meta.loc[getattr(r, KEY)]
        rows.append((raster["raster_id"], compare_id, r.geography_type, int(r.feature_id), r.feature_code, r.level,
                     None if pd.isna(r.valid_from) else r.valid_from, None if pd.isna(r.valid_to) else r.valid_to,
                     None if pd.isna(r.buffer_m) else float(r.buffer_m), r.metric,
                     None if pd.isna(r.class_value) else int(r.class_value), _num(r.value), _num(r.area_m2),
                     _num(r.share), float(r.polygon_area_m2), Jsonb(_lineage(raster, compare, feature)), run_id))
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO zonal_results (raster_id, compare_raster_id, geography_type, feature_id, feature_code, level,"
            " valid_from, valid_to, buffer_m, metric, class_value, value, area_m2, share, polygon_area_m2, lineage,"
            " run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return len(rows)


def _num(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def compute_zonal(engine: Engine, raster_id: int, *, compare_raster_id: int | None = None,
                  types: tuple[str, ...] = GEOGRAPHY_TYPES, buffer_m: float = DEFAULT_BUFFER_M,
                  cluster: ClusterOptions = ClusterOptions(), who: str | None = None) -> ZonalRun:
    """Zonal stats of a catalogued raster (or the change from it to ``compare_raster_id``), recorded as a run."""
    with raw_connection(engine) as conn:
        raster = raster_record(conn, raster_id)
        compare = raster_record(conn, compare_raster_id) if compare_raster_id else None
        if compare and compare["product"] != raster["product"]:
            raise ProductError(f"so sánh hai sản phẩm khác nhau / change needs the same product: "
                               f"{raster['product']} vs {compare['product']}")
        options = {"raster_id": raster_id, "compare_raster_id": compare_raster_id, "types": list(types),
                   "buffer_m": buffer_m, "scheduler": cluster.scheduler, "workers": cluster.workers}
        run_id = ledger.start(conn, ledger.RunStart("compute", "zonal_results", ledger.who(who), options))
        try:
            out = _compute(conn, engine, raster, compare, types, buffer_m, cluster, run_id)
        except GeoError as exc:
            conn.rollback()
            ledger.finish(conn, run_id, "failed", error=str(exc))
            conn.commit()
            raise
        conn.commit()
    return out


def _compute(conn: object, engine: Engine, raster: dict, compare: dict | None, types: tuple[str, ...],
             buffer_m: float, cluster: ClusterOptions, run_id: int) -> ZonalRun:
    product = get_product(raster["product"])
    threshold = raster["forest_rule"].get("threshold_pct")
    product = product.with_threshold(threshold) if product.kind == "percent" else product
    geos = load_geographies(engine, types, buffer_m)
    geos = geos[~geos.geometry.is_empty]
    if compare is None:
        results = zonal_stats_distributed(Path(raster["path"]), geos, product, cluster)
    else:
        results = zonal_change_distributed(Path(compare["path"]), Path(raster["path"]), geos, product, cluster)
    n = _store(conn, results, geos, raster, compare, run_id, types)
    ledger.finish(conn, run_id, "succeeded", n_read=len(geos), n_inserted=n)
    run = ZonalRun(run_id, raster["raster_id"], compare["raster_id"] if compare else None, len(geos), n)
    run.by_type = geos.groupby("geography_type").size().to_dict()
    return run
