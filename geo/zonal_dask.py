"""Spread zonal statistics over a dask.distributed cluster in chunks of polygons (same result as serial)."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.raster_products import RasterProduct
from geo.zonal import COLUMNS, zonal_change, zonal_stats


@dataclass(frozen=True)
class ClusterOptions:
    """Where to run: an existing scheduler, a LocalCluster of N workers, or in this process (neither)."""

    scheduler: str | None = None
    workers: int | None = None
    chunk_size: int = 500

    @property
    def distributed(self) -> bool:
        return bool(self.scheduler or self.workers)


@contextmanager
def client_for(options: ClusterOptions) -> Iterator[object]:
    """A dask.distributed client (imported lazily: serial runs never pay for starting dask)."""
    from distributed import Client, LocalCluster
    if options.scheduler:
        with Client(options.scheduler) as client:
            yield client
        return
    # Processes, one thread each: exactextract and GDAL reads hold the GIL for part of the work.
    with LocalCluster(n_workers=options.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


def _chunks(polygons: gpd.GeoDataFrame, size: int) -> list[gpd.GeoDataFrame]:
    # Chunks of neighbouring polygons (sorted by centroid x) so each worker reads a compact part of the raster.
    order = np.argsort(polygons.geometry.representative_point().x.to_numpy(), kind="stable")
    ordered = polygons.iloc[order]
    return [ordered.iloc[i:i + size] for i in range(0, len(ordered), size)]


def _run(func: Callable[..., pd.DataFrame], args: tuple, polygons: gpd.GeoDataFrame,
         options: ClusterOptions) -> pd.DataFrame:
    if not options.distributed or polygons.empty:
        return func(*args[:-1], polygons, args[-1])
    with client_for(options) as client:
        futures = [client.submit(func, *args[:-1], chunk, args[-1], pure=False)
                   for chunk in _chunks(polygons, options.chunk_size)]
        parts = client.gather(futures)
    frames = [p for p in parts if not p.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)


def zonal_stats_distributed(raster: Path, polygons: gpd.GeoDataFrame, product: RasterProduct,
                            options: ClusterOptions) -> pd.DataFrame:
    """:func:`geo.zonal.zonal_stats`, chunked over a cluster when ``options`` names one."""
    return _run(zonal_stats, (raster, product), polygons, options)


def zonal_change_distributed(raster_from: Path, raster_to: Path, polygons: gpd.GeoDataFrame,
                             product: RasterProduct, options: ClusterOptions) -> pd.DataFrame:
    """:func:`geo.zonal.zonal_change`, chunked over a cluster when ``options`` names one."""
    return _run(zonal_change, (raster_from, raster_to, product), polygons, options)
