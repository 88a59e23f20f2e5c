"""The first load of an empty layer, streamed: each batch of the file is read, checked and queued for COPY while
the database stores the previous one.

Taken only when it cannot change the outcome of a load: the layer is empty (asked under the load's table lock,
so every feature is an insert and nothing can be updated, deleted or refused a status change) and the file is
one layer that GDAL reads column-wise. Whatever calls for a judgement of the whole file — a rejected feature,
keys repeated across batches, a file-level problem such as a missing CRS — abandons the stream: the transaction
is rolled back (nothing of the file stays) and the caller loads the file the whole-file way, which gives the
same result and the same messages as it always has. Warnings (repaired geometries) do not stop the stream.
"""
from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pandas as pd
import psycopg
import pyarrow as pa
from pyproj import CRS

from geo.errors import GeoError
from ingest import ledger, loader
from ingest.aoi import AreaOfInterest
from ingest.checks import WARNING, Checked, CleanBatch, Problem, check, check_arrow
from ingest.readers import open_stream
from layers.spec import LayerSpec

if TYPE_CHECKING:  # the pipeline imports this module
    from ingest.pipeline import LoadOptions, LoadResult

T = TypeVar("T")
BATCH_ROWS = 20_000  # features per batch: small enough to keep both cores busy, large enough for vector speed


class _Abandon(Exception):
    """Raised inside the COPY to cancel it: the file needs the whole-file path."""


def load_streamed(conn: psycopg.Connection, spec: LayerSpec, path: Path, options: LoadOptions,
                  result: LoadResult, *, aoi: AreaOfInterest | None, crs_override: CRS | None,
                  say: Callable[[str], None]) -> bool:
    """Load ``path`` into the empty ``spec`` layer batch by batch; True when done (the caller commits with the
    ledger row), False when the stream does not apply or was abandoned (the transaction is rolled back)."""
    if options.dry_run:
        return False
    with open_stream(path, layer=options.layer, encoding=options.encoding, batch_size=BATCH_ROWS) as stream:
        if stream is None:
            return False
        ledger.set_backend(conn, result.run_id, conn.info.backend_pid)
        conn.commit()
        conn.execute(f'LOCK TABLE "{spec.table}" IN SHARE ROW EXCLUSIVE MODE')
        if not loader.is_empty(conn, spec):
            conn.rollback()
            return False
        seen = _Seen(spec)
        total = f"/{stream.count:,}" if stream.count is not None else ""

        def checked_batches() -> Iterator[Checked | CleanBatch]:
            plain = not options.mapping and not options.constants
            for batch in stream.batches:
                # A batch plainly clean is taken from its Arrow columns; any doubt, and check() decides.
                clean = check_arrow(batch.attrs, batch.geoms, batch.wkb, batch.crs, path.name, spec, aoi=aoi,
                                    crs_override=crs_override) if plain else None
                yield clean if clean is not None else check(
                    batch.source(), spec, aoi=aoi, crs_override=crs_override, mapping=options.mapping,
                    constants=options.constants, duplicates=False)

        def batches() -> Iterator[loader.Batch]:
            # Reading and checking (GDAL, GEOS: mostly outside the GIL) run one batch ahead in a thread.
            for checked in _ahead(checked_batches()):
                if isinstance(checked, Checked) and checked.n_rejected:
                    raise _Abandon("rejected features")
                seen.add(checked)
                say(f"ghi {seen.n:,}{total} đối tượng mới / writing {seen.n:,}{total} new features (streamed COPY)")
                yield checked.attrs, checked.geoms, checked.wkb
            if seen.n == 0 or seen.has_duplicates():
                raise _Abandon("no features or repeated keys")

        gen = batches()
        try:
            counts = loader.insert_stream(conn, spec, result.run_id, gen, expected=stream.count, progress=say)
        except (_Abandon, GeoError, psycopg.errors.IntegrityError):
            conn.rollback()
            return False
        finally:
            gen.close()  # stops the read-ahead thread before the file is closed
    result.n_read, result.source_crs = seen.n, seen.source_crs
    result.problems = seen.problems
    result.notes = list(stream.notes)
    if seen.ignored:
        result.notes.append(f"columns not in '{spec.name}' ignored: {', '.join(seen.ignored)}")
    result.inserted = counts.inserted
    result.warnings = len(seen.problems)
    result.status = "succeeded"
    return True


class _Seen:
    """What the batches so far have shown: count, warnings (record numbers in file order) and natural keys."""

    def __init__(self, spec: LayerSpec) -> None:
        self.spec = spec
        self.n = 0
        self.problems: list[Problem] = []
        self.keys: list[pd.DataFrame] = []
        self.source_crs: str | None = None
        self.ignored: list[str] = []

    def add(self, checked: Checked | CleanBatch) -> None:
        for p in checked.problems:
            if p.severity == WARNING:
                self.problems.append(Problem(p.record + self.n, p.key, p.field, p.reason, p.severity))
        key = list(self.spec.natural_key)
        self.keys.append(checked.attrs.select(key).to_pandas() if isinstance(checked.attrs, pa.Table)
                         else checked.attrs[key])
        self.source_crs, self.ignored = checked.source_crs, checked.ignored_columns
        self.n += len(checked.attrs)

    def has_duplicates(self) -> bool:
        keys = pd.concat(self.keys, ignore_index=True)
        return bool(keys.duplicated().any())


_END = object()


def _ahead(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """``items`` produced by a worker thread up to ``depth`` ahead of the consumer; the worker's exceptions are
    raised here, and a consumer that stops early stops the worker."""
    box: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        box.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            box.put((_END, None))
        except BaseException as exc:  # handed to the consumer, which raises it
            box.put((_END, exc))

    worker = threading.Thread(target=produce, name="ingest-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = box.get()
            if exc is not None:
                raise exc
            if item is _END:
                return
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                box.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()
