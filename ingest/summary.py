"""What is loaded, per layer family: feature count, extent, total area and the last ingest run."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, text

from layers import REGISTRY
from layers.spec import LayerSpec


@dataclass(frozen=True)
class LayerSummary:
    """One layer's numbers; bbox is (min lon, min lat, max lon, max lat) or None when the layer is empty."""

    layer: str
    title_vi: str
    title_en: str
    features: int
    bbox: tuple[float, float, float, float] | None
    area_ha: float | None
    last_run_id: int | None
    last_run_status: str | None
    last_run_at: datetime | None


def _query(spec: LayerSpec) -> str:
    """One statement per layer: aggregates over the table plus the newest ledger row (by index)."""
    area = "sum(area_ha)" if spec.is_polygonal else "NULL::double precision"
    # Table names come from the registry, never from user input.
    return (f'SELECT count(*), ST_XMin(ST_Extent(geom)), ST_YMin(ST_Extent(geom)), ST_XMax(ST_Extent(geom)), '
            f'ST_YMax(ST_Extent(geom)), {area}, r.run_id, r.status, coalesce(r.finished_at, r.started_at) '
            f'FROM "{spec.table}" LEFT JOIN LATERAL (SELECT run_id, status, finished_at, started_at '
            f'FROM ingest_runs WHERE layer = :layer ORDER BY run_id DESC LIMIT 1) r ON true '
            f'GROUP BY r.run_id, r.status, r.finished_at, r.started_at')


def summarize(engine: Engine, layers: tuple[str, ...] | None = None) -> list[LayerSummary]:
    """Per-layer counts, extent, total area (ha, polygon layers) and last run, in registry order."""
    specs = [REGISTRY.get(n) for n in layers] if layers else list(REGISTRY)
    out = []
    with engine.connect() as conn:
        for spec in specs:
            n, x0, y0, x1, y1, area, run_id, status, at = conn.execute(
                text(_query(spec)), {"layer": spec.name}).one()
            out.append(LayerSummary(spec.name, spec.title_vi, spec.title_en, int(n),
                                    (x0, y0, x1, y1) if n else None,
                                    float(area) if area is not None else (0.0 if spec.is_polygonal else None),
                                    run_id, status, at))
    return out
