"""The indicator register in PostGIS: sync from the data file, reported values, computation runs, status views."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timezone

import pandas as pd
from psycopg.types.json import Jsonb
from sqlalchemy import Engine, text

from geo.db import raw_connection
from geo.errors import GeoError
from geo.indicator_register import GEOGRAPHIES, Indicator, register
from geo.progress import Point, Progress, progress_status
from geo.raster_errors import IndicatorError
from ingest import ledger
from ingest.indicator_calcs import COMPUTATIONS, Computed

# Computations that read the current state of the map layers: they describe "now", recorded under one year.
MAP_STATE = {"parks_wwtp_auto_station_share", "park_green_share", "park_green_road_shared_share",
             "air_station_count", "automatic_air_station_count", "air_station_coverage", "polluted_sites_count",
             "active_landfills"}
_COLUMNS = [f for f in Indicator.__dataclass_fields__]


def sync_register(engine: Engine) -> int:
    """Upsert every indicator of geo/data/indicators.csv into ``indicators`` (the file is the source of truth)."""
    rows = [ind.as_row() for ind in register().values()]
    cols = ", ".join(_COLUMNS)
    sets = ", ".join(f"{c} = EXCLUDED.{c}" for c in _COLUMNS if c != "indicator_id")
    with raw_connection(engine) as conn:
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO indicators ({cols}) VALUES ({', '.join('%(' + c + ')s' for c in _COLUMNS)}) "
                            f"ON CONFLICT (indicator_id) DO UPDATE SET {sets}, synced_at = now()", rows)
        conn.commit()
    return len(rows)


def get_indicator(indicator_id: str) -> Indicator:
    reg = register()
    if indicator_id not in reg:
        raise IndicatorError(f"Không có chỉ tiêu '{indicator_id}' / unknown indicator '{indicator_id}' "
                             f"(known: {', '.join(reg)})")
    return reg[indicator_id]


def report_value(engine: Engine, indicator_id: str, geography: str, code: str, year: int, value: float,
                 source: str, boundary_valid_from: date | None = None) -> None:
    """Record a reported value with its source (replacing an earlier report of the same cell)."""
    ind = get_indicator(indicator_id)
    if geography not in GEOGRAPHIES:
        raise IndicatorError(f"địa lý không hợp lệ / unknown geography '{geography}' (use {', '.join(GEOGRAPHIES)})")
    if not source.strip():
        raise IndicatorError("cần ghi nguồn / a reported value needs --source")
    if geography == "province" and boundary_valid_from is None:
        boundary_valid_from = _former_province_from(engine)
    sync_register(engine)
    with raw_connection(engine) as conn:
        conn.execute("""
INSERT INTO indicator_values (indicator_id, geography_type, geography_code, boundary_valid_from, year, value,
                              status, source_kind, source_text, lineage)
VALUES (%s, %s, %s, %s, %s, %s, 'ok', 'reported', %s, %s)
ON CONFLICT ON CONSTRAINT indicator_values_key DO UPDATE SET value = EXCLUDED.value, status = 'ok',
  source_text = EXCLUDED.source_text, lineage = EXCLUDED.lineage, computed_at = now()""",
                     (ind.indicator_id, geography, code, boundary_valid_from, year, value, source,
                      Jsonb({"reported_by": ledger.who(None), "source": source})))
        conn.commit()


def _former_province_from(engine: Engine) -> date | None:
    with engine.connect() as conn:
        return conn.execute(text("SELECT valid_from FROM admin_units WHERE level = 'province' AND code = '74' "
                                 "AND valid_from <= DATE '2025-06-30' AND (valid_to IS NULL OR valid_to > "
                                 "DATE '2025-06-30')")).scalar()


@dataclass
class ComputeRun:
    run_id: int
    stored: dict[str, int] = field(default_factory=dict)
    no_data: list[str] = field(default_factory=list)


def _store(conn: object, ind: Indicator, computed: Computed, run_id: int) -> int:
    df = computed.rows
    df = df[df.geography_type.isin(ind.geographies)]
    lineage = {"layers": computed.layers, **computed.extra, "run": run_id,
               "computed_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    years = sorted({int(y) for y in df.year})
    conn.execute("DELETE FROM indicator_values WHERE indicator_id = %s AND source_kind = 'computed' "
                 "AND year = ANY(%s) AND geography_type = ANY(%s)", (ind.indicator_id, years, list(ind.geographies)))
    rows = [(ind.indicator_id, r.geography_type, r.geography_code,
             None if pd.isna(r.boundary_valid_from) else r.boundary_valid_from, int(r.year),
             None if pd.isna(r.value) else float(r.value), "no_data" if pd.isna(r.value) else "ok",
             Jsonb(r.details if isinstance(r.details, dict) else {}), Jsonb(lineage), run_id)
            for r in df.itertuples(index=False)]
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO indicator_values (indicator_id, geography_type, geography_code, "
                        "boundary_valid_from, year, value, status, source_kind, details, lineage, run_id) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, 'computed', %s, %s, %s)", rows)
    return len(rows)


def compute_indicators(engine: Engine, year: int | None = None, only: list[str] | None = None,
                       who: str | None = None) -> ComputeRun:
    """Run every computed indicator (or ``only``) for every geography; one 'compute' run in the ledger."""
    sync_register(engine)
    wanted = [i for i in register().values() if i.computation_kind == "computed"
              and (not only or i.indicator_id in only)]
    state_year = year or date.today().year
    with raw_connection(engine) as conn:
        run_id = ledger.start(conn, ledger.RunStart("compute", "indicator_values", ledger.who(who),
                                                    {"year": year, "indicators": [i.indicator_id for i in wanted]}))
        out = ComputeRun(run_id)
        try:
            with engine.connect() as sa:
                for ind in wanted:
                    arg = state_year if ind.computation in MAP_STATE else year
                    computed = COMPUTATIONS[ind.computation](sa, arg)
                    if computed.rows.empty:
                        out.no_data.append(ind.indicator_id)
                        continue
                    if "no_data" in computed.extra:
                        computed.rows["year"] = computed.rows["year"].fillna(state_year)
                        out.no_data.append(ind.indicator_id)
                    out.stored[ind.indicator_id] = _store(conn, ind, computed, run_id)
            ledger.finish(conn, run_id, "succeeded", n_inserted=sum(out.stored.values()))
        except GeoError as exc:
            conn.rollback()
            ledger.finish(conn, run_id, "failed", error=str(exc))
            conn.commit()
            raise
        conn.commit()
    return out


def indicator_values(engine: Engine, indicator_id: str, geography: str | None = None) -> pd.DataFrame:
    """Values of one indicator (reported preferred over computed for the same cell), with progress status."""
    ind = get_indicator(indicator_id)
    with engine.connect() as conn:
        df = pd.read_sql(text("""
SELECT DISTINCT ON (geography_type, geography_code, boundary_valid_from, year)
  geography_type, geography_code, boundary_valid_from, year, value, status, source_kind, source_text, details,
  lineage, run_id
FROM indicator_values WHERE indicator_id = :i AND (CAST(:g AS text) IS NULL OR geography_type = :g)
ORDER BY geography_type, geography_code, boundary_valid_from, year, (source_kind = 'reported') DESC"""),
                         conn, params={"i": indicator_id, "g": geography})
    if df.empty:
        return df.assign(progress=[])
    statuses = {}
    for key, g in df[df.status == "ok"].groupby(["geography_type", "geography_code"], dropna=False):
        statuses[key] = status_for(ind, g.sort_values("year"), is_reference=key[0] == "province")
    df["progress"] = [statuses.get((t, c)).label if (t, c) in statuses else "—"
                      for t, c in zip(df.geography_type, df.geography_code)]
    return df


def status_for(ind: Indicator, series: pd.DataFrame, is_reference: bool) -> Progress:
    """Progress of one geography's series; the register's baseline applies to the reference geography only."""
    first, last = series.iloc[0], series.iloc[-1]
    baseline = Point(int(first.year), float(first.value))
    if is_reference and ind.baseline_value is not None and ind.baseline_year is not None \
            and ind.baseline_year <= int(last.year):
        baseline = Point(ind.baseline_year, ind.baseline_value)
    target = Point(ind.target_year, ind.target_value) if ind.target_value is not None and ind.target_year else None
    return progress_status(baseline, Point(int(last.year), float(last.value)), target, ind.direction, ind.ceiling)
