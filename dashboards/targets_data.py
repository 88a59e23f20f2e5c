"""Data of the targets page: indicator values per geography, progress, re-aggregation across boundary versions, lineage.

Geographies (targets.md convention 3): the frozen former province (code 74, in force on 2025-06-30) is the
reference for targets; the map offers the pre-2025 districts (in force on 2025-06-30) and the post-2025 wards
(in force on 2025-07-01). A value computed on one version is shown on the other through the area crosswalk of
:func:`geo.boundaries.crosswalk`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date

import pandas as pd
from sqlalchemy import Engine, text

from geo.boundaries import crosswalk
from geo.indicator_register import Indicator, register
from geo.progress import Point, Progress, progress_status

THEMES = ("12", "13", "14", "15", "9")
PROVINCE_CODE = "74"
FORMER_DATE, NEW_DATE = date(2025, 6, 30), date(2025, 7, 1)
# version → (date the units are in force, level, indicator_values.geography_type)
VERSIONS = {"pre2025": (FORMER_DATE, "district"), "post2025": (NEW_DATE, "commune")}
# Units whose values are intensive (a share or a rate): re-aggregated as area-weighted means; anything else
# (counts, hectares) is extensive and split in proportion to the overlapping area of the source unit.
INTENSIVE_UNITS = ("%",)


def indicators_for(theme: str) -> list[Indicator]:
    """The register's indicators of one theme, in register order."""
    return [i for i in register().values() if i.theme == theme]


def indicator_values(engine: Engine, indicator_id: str) -> pd.DataFrame:
    """Every value of one indicator, the reported one preferred over the computed one for the same cell."""
    with engine.connect() as conn:
        return pd.read_sql(text("""
SELECT DISTINCT ON (geography_type, geography_code, boundary_valid_from, year)
  geography_type, geography_code, boundary_valid_from, year, value, status, source_kind, source_text, lineage,
  computed_at, run_id
FROM indicator_values WHERE indicator_id = :i
ORDER BY geography_type, geography_code, boundary_valid_from, year, (source_kind = 'reported') DESC"""),
                           conn, params={"i": indicator_id})


def reference_series(values: pd.DataFrame) -> pd.DataFrame:
    """The former province's series (year, value), oldest first, values with data only."""
    ok = values[(values.geography_type == "province") & (values.geography_code == PROVINCE_CODE)
                & (values.status == "ok")]
    return ok.sort_values("year")[["year", "value", "source_kind"]].reset_index(drop=True)


def progress_of(ind: Indicator, series: pd.DataFrame) -> Progress | None:
    """Status by geo.progress: from the register's baseline (when not after the latest year) to the latest value."""
    if series.empty:
        return None
    first, last = series.iloc[0], series.iloc[-1]
    baseline = Point(int(first.year), float(first.value))
    if ind.baseline_value is not None and ind.baseline_year is not None and ind.baseline_year <= int(last.year):
        baseline = Point(ind.baseline_year, ind.baseline_value)
    target = Point(ind.target_year, ind.target_value) if ind.target_value is not None and ind.target_year else None
    return progress_status(baseline, Point(int(last.year), float(last.value)), target, ind.direction, ind.ceiling)


@dataclass(frozen=True)
class Card:
    """What one indicator card shows."""

    indicator: Indicator
    value: float | None
    year: int | None
    source_kind: str | None
    progress: Progress | None


def cards(engine: Engine, theme: str) -> list[Card]:
    out = []
    for ind in indicators_for(theme):
        series = reference_series(indicator_values(engine, ind.indicator_id))
        last = series.iloc[-1] if len(series) else None
        out.append(Card(ind, None if last is None else float(last.value), None if last is None else int(last.year),
                        None if last is None else last.source_kind, progress_of(ind, series)))
    return out


def units(engine: Engine, version: str) -> pd.DataFrame:
    """Units of one boundary version (code, names, GeoJSON simplified to ~10 m for the browser)."""
    on, level = VERSIONS[version]
    with engine.connect() as conn:
        df = pd.read_sql(text("""
SELECT code, name_vi, COALESCE(name_en, name_vi) AS name_en,
       ST_AsGeoJSON(ST_SimplifyPreserveTopology(geom, 0.0001), 6) AS geojson
FROM admin_units WHERE level = :l AND valid_from <= :d AND (valid_to IS NULL OR valid_to > :d) ORDER BY code"""),
                         conn, params={"l": level, "d": on})
    return df


def feature_collection(frame: pd.DataFrame) -> dict:
    return {"type": "FeatureCollection",
            "features": [{"type": "Feature", "id": c, "properties": {"code": c}, "geometry": json.loads(g)}
                         for c, g in zip(frame.code, frame.geojson)]}


def reaggregate(values: pd.DataFrame, walk: pd.DataFrame, intensive: bool) -> pd.DataFrame:
    """Values of the source units (code, value) carried onto the target units of a crosswalk.

    Intensive values (shares, %): the area-weighted mean of the overlapping source values, weights = overlap
    area (km²), i.e. the share is assumed uniform inside each source unit. Extensive values (counts, ha): the
    sum of source values × share_of_source (the part of the source unit's area inside the target).
    Returns target_code, value and coverage (share of the target's overlap that had a source value).
    """
    merged = walk.merge(values.rename(columns={"code": "source_code"}), on="source_code", how="left")
    merged["has"] = merged.value.notna()
    merged["w"] = merged.overlap_km2.where(merged.has, 0.0)
    if intensive:
        merged["num"] = merged.value.fillna(0.0) * merged.w
    else:
        merged["num"] = merged.value.fillna(0.0) * merged.share_of_source
    g = merged.groupby("target_code")
    out = pd.DataFrame({"num": g.num.sum(), "w": g.w.sum(), "all": g.overlap_km2.sum()})
    out["value"] = (out.num / out.w.where(out.w > 0)) if intensive else out.num.where(out.w > 0)
    out["coverage"] = out.w / out["all"]
    return out.reset_index()[["target_code", "value", "coverage"]].rename(columns={"target_code": "code"})


def latest_year(values: pd.DataFrame) -> int | None:
    ok = values[values.status == "ok"]
    return int(ok.year.max()) if len(ok) else None


def unit_values(engine: Engine, ind: Indicator, version: str, year: int | None = None,
                values: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str]:
    """(code, value) on the version's units for ``year`` (default: latest), and how they were obtained.

    The method is 'direct' when the indicator was computed on that version, 'crosswalk' when it came from
    the other version, 'none' when neither has values.
    """
    values = indicator_values(engine, ind.indicator_id) if values is None else values
    year = year or latest_year(values)
    _on, level = VERSIONS[version]
    other = "post2025" if version == "pre2025" else "pre2025"
    for v, method in ((version, "direct"), (other, "crosswalk")):
        lvl = VERSIONS[v][1]
        rows = values[(values.geography_type == lvl) & (values.year == year) & (values.status == "ok")]
        if rows.empty:
            continue
        frame = rows.rename(columns={"geography_code": "code"})[["code", "value"]]
        if method == "direct":
            return frame.reset_index(drop=True).assign(coverage=1.0), method
        walk = crosswalk(engine, VERSIONS[v][0], VERSIONS[version][0], lvl, level)
        return reaggregate(frame, walk, ind.unit in INTENSIVE_UNITS), method
    return pd.DataFrame(columns=["code", "value", "coverage"]), "none"


def export_table(engine: Engine, ind: Indicator, version: str, year: int | None = None) -> pd.DataFrame:
    """The table the page exports: one row per unit with its value, year, method and the register's context."""
    values = indicator_values(engine, ind.indicator_id)
    year = year or latest_year(values)
    frame, method = unit_values(engine, ind, version, year, values)
    names = units(engine, version)[["code", "name_vi", "name_en"]]
    table = names.merge(frame, on="code", how="left")
    table.insert(0, "indicator_id", ind.indicator_id)
    return table.assign(unit=ind.unit, year=year, boundary_version=version, method=method,
                        target_value=ind.target_value, target_year=ind.target_year,
                        target_confidence=ind.target_confidence)


def _runs(engine: Engine, run_ids: list[int]) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text("SELECT run_id, kind, layer, file_name, sha256, finished_at FROM ingest_runs "
                                "WHERE run_id = ANY(:ids) ORDER BY run_id"), conn, params={"ids": run_ids})


def _rasters(engine: Engine, raster_ids: list[int]) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(text("SELECT raster_id, product, year, source_path, sha256, ingest_run_id "
                                "FROM raster_catalogue WHERE raster_id = ANY(:ids) ORDER BY raster_id"),
                           conn, params={"ids": raster_ids})


def lineage(engine: Engine, indicator_id: str, values: pd.DataFrame | None = None) -> dict | None:
    """Where the latest reference value comes from: layers with their ingest runs (file, sha256), rasters,
    the computing runs and when (targets.md convention 2). None when the indicator has no value yet."""
    values = indicator_values(engine, indicator_id) if values is None else values
    ok = values[values.status == "ok"]
    if ok.empty:
        return None
    ref = ok[(ok.geography_type == "province") & (ok.geography_code == PROVINCE_CODE)]
    row = (ref if len(ref) else ok).sort_values("year").iloc[-1]
    lin = row.lineage if isinstance(row.lineage, dict) else {}
    layer_runs = {t: [int(r) for r in ids] for t, ids in (lin.get("layers") or {}).items()}
    raster_ids = [int(r) for r in lin.get("raster_ids", [])]
    rasters = _rasters(engine, raster_ids) if raster_ids else pd.DataFrame()
    compute_runs = [int(r) for r in lin.get("zonal_runs", [])] + ([int(row.run_id)] if pd.notna(row.run_id) else [])
    ids = sorted({r for rs in layer_runs.values() for r in rs} | set(compute_runs)
                 | ({int(r) for r in rasters.ingest_run_id} if len(rasters) else set()))
    runs = _runs(engine, ids) if ids else pd.DataFrame(columns=["run_id"])
    runs = runs.astype(object).where(runs.notna(), None)   # NULL file/checksum of compute runs: None, not NaN
    return {"indicator_id": indicator_id, "geography": f"{row.geography_type} {row.geography_code}",
            "year": int(row.year), "source_kind": row.source_kind, "source_text": row.source_text,
            "computed_at": lin.get("computed_at") or str(row.computed_at), "layer_runs": layer_runs,
            "rasters": rasters.to_dict("records"), "compute_runs": sorted(set(compute_runs)),
            "runs": runs.set_index("run_id").to_dict("index") if len(runs) else {}}
