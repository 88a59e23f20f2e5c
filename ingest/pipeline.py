"""The load of one file: read → check → stage (binary COPY) → merge, in one transaction, recorded in the ledger."""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psycopg
from sqlalchemy import Engine

from geo.crs import resolve_crs
from geo.db import raw_connection
from geo.errors import DatabaseError, GeoError, InputError
from geo.settings import AreaSettings, IngestSettings
from ingest import first_load, ledger, loader
from ingest.aoi import resolve_aoi
from ingest.checks import Checked, Problem, check
from ingest.readers import read_vector
from ingest.report import write_rejects
from layers.spec import LayerSpec

Progress = Callable[[str], None]


@dataclass
class LoadOptions:
    crs: str | None = None
    layer: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    constants: dict[str, str] = field(default_factory=dict)
    encoding: str | None = None
    dry_run: bool = False
    skip_invalid: bool = False
    sync: bool = False

    def as_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False, {}, [])}


@dataclass
class LoadResult:
    run_id: int | None
    status: str
    layer: str
    file: str
    n_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    warnings: int = 0
    problems: list[Problem] = field(default_factory=list)
    rejects_path: Path | None = None
    error: str | None = None
    source_crs: str | None = None
    aoi: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("succeeded", "succeeded_with_rejects", "dry_run")


def ingest_file(engine: Engine, spec: LayerSpec, path: Path, options: LoadOptions, *,
                ingest_settings: IngestSettings, area: AreaSettings, who: str | None = None,
                progress: Progress | None = None) -> LoadResult:
    """Load one file into ``spec``'s table. A file-level failure writes nothing but the ledger row."""
    say = progress or (lambda _msg: None)
    path = Path(path)
    result = LoadResult(None, "running", spec.name, path.name)
    # The file's checksum is computed alongside the load (hashlib works outside the GIL) and written with the
    # run's outcome; the size is known at once.
    size = path.stat().st_size if path.is_file() else None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-sha256") as pool, \
            raw_connection(engine) as conn:
        checksum = pool.submit(ledger.sha256_of, path) if path.is_file() else None
        run = ledger.RunStart("load", spec.name, ledger.who(who or ingest_settings.user), options.as_json(),
                              path.name, str(path.resolve()), None, size)
        result.run_id = ledger.start(conn, run) if not options.dry_run else None
        run_guarded(conn, result,
                    lambda: _load(conn, engine, spec, path, options, result, ingest_settings, area, say),
                    lambda: _close_run(conn, result, ingest_settings, checksum))
    return result


def run_guarded(conn: psycopg.Connection, result: LoadResult, body: Callable[[], None],
                close: Callable[[], None]) -> None:
    """Run one file's load; any failure rolls back (nothing written) and is recorded by ``close``.

    Bad input and database refusals become a failed run with a readable reason; anything else is a bug:
    it is recorded as failed too, then re-raised.
    """
    try:
        body()
    except GeoError as exc:
        conn.rollback()
        result.status, result.error = "failed", str(exc)
    except psycopg.Error as exc:
        conn.rollback()
        result.status = "failed"
        result.error = f"cơ sở dữ liệu từ chối / the database refused the load: {_pg_reason(exc)}"
    except Exception as exc:
        conn.rollback()
        result.status, result.error = "failed", f"internal error: {exc!r}"
        close()
        raise
    close()


def _load(conn: psycopg.Connection, engine: Engine, spec: LayerSpec, path: Path, options: LoadOptions,
          result: LoadResult, ingest_settings: IngestSettings, area: AreaSettings, say: Progress) -> None:
    override = resolve_crs(options.crs) if options.crs else None
    aoi = resolve_aoi(area, engine)
    result.aoi = aoi.label
    say("đọc tệp / reading")
    if first_load.load_streamed(conn, spec, path, options, result, aoi=aoi, crs_override=override, say=say):
        return
    source = read_vector(path, layer=options.layer, encoding=options.encoding)
    result.notes = list(source.notes)
    say(f"kiểm tra {len(source.frame)} đối tượng / checking {len(source.frame)} features")
    checked = check(source, spec, aoi=aoi, crs_override=override, mapping=options.mapping,
                    constants=options.constants)
    result.n_read, result.source_crs = len(checked.ok), checked.source_crs
    result.problems = checked.problems
    if checked.ignored_columns:
        result.notes.append(f"columns not in '{spec.name}' ignored: {', '.join(checked.ignored_columns)}")
    if options.dry_run:
        result.status = "dry_run"
        result.rejected, result.warnings = checked.n_rejected, checked.n_warnings
        return
    if result.n_read == 0:
        raise InputError("tệp không có đối tượng nào / the file has no features", file=path.name)
    if checked.n_rejected and not options.skip_invalid:
        result.status = "rejected"
        result.rejected, result.warnings = checked.n_rejected, checked.n_warnings
        result.error = (f"{checked.n_rejected} of {result.n_read} feature(s) failed the checks; nothing was "
                        "written (see the rejects report, or load the valid ones with --skip-invalid)")
        return
    _write(conn, spec, checked, options, result, say)


def _write(conn: psycopg.Connection, spec: LayerSpec, checked: Checked, options: LoadOptions,
           result: LoadResult, say: Progress) -> None:
    """Everything from here to COMMIT is one transaction: a kill leaves the layer as it was."""
    ledger.set_backend(conn, result.run_id, conn.info.backend_pid)
    conn.commit()
    # Serialise loads of the same layer so two files cannot interleave their upserts.
    conn.execute(f'LOCK TABLE "{spec.table}" IN SHARE ROW EXCLUSIVE MODE')
    keep = np.flatnonzero(checked.ok)
    attrs, geoms = checked.attrs.iloc[keep], checked.geoms[keep]
    if not (options.sync and not loader.is_empty(conn, spec)) and not loader.keys_exist(conn, spec, attrs):
        # No key of the file is in the layer yet: every feature is an insert (no update, no status change,
        # nothing for --sync to delete), written straight into the table.
        say(f"ghi {keep.size} đối tượng mới / writing {keep.size} new features (binary COPY)")
        counts = loader.insert_new(conn, spec, attrs, geoms, result.run_id)
        result.inserted, result.rejected = counts.inserted, int((~checked.ok).sum())
        result.warnings = sum(p.severity == "warning" for p in result.problems)
        result.status = "succeeded_with_rejects" if result.rejected else "succeeded"
        return
    say(f"nạp tạm {keep.size} đối tượng / staging {keep.size} features (binary COPY)")
    loader.stage(conn, spec, attrs, geoms, keep + 1)
    ok = checked.ok.copy()
    bad = loader.transition_conflicts(conn, spec)
    if bad:
        for rec, fname, old, new in bad:
            ok[rec - 1] = False
            result.problems.append(Problem(rec, str(checked.attrs.iloc[rec - 1][list(spec.natural_key)].tolist()),
                                           fname, f"chuyển trạng thái không hợp lệ / status change {old} → {new} "
                                           "is not allowed"))
        if not options.skip_invalid:
            conn.rollback()
            result.status, result.rejected = "rejected", int((~ok).sum())
            result.error = f"{len(bad)} feature(s) have a status change that is not allowed; nothing was written"
            return
        loader.drop_records(conn, [b[0] for b in bad])
    say("hợp nhất / merging")
    counts = loader.merge(conn, spec, result.run_id)
    deleted = loader.delete_missing(conn, spec, result.run_id) if options.sync else 0
    result.inserted, result.updated, result.unchanged, result.deleted = (
        counts.inserted, counts.updated, counts.unchanged, deleted)
    result.rejected = int((~ok).sum())
    result.warnings = sum(p.severity == "warning" for p in result.problems)
    result.status = "succeeded_with_rejects" if result.rejected else "succeeded"


def _close_run(conn: psycopg.Connection, result: LoadResult, ingest_settings: IngestSettings,
               checksum: Future | None = None) -> None:
    """Write the rejects report and the ledger row; data (if any) commits with the ledger update."""
    result.rejects_path = write_rejects(result.problems, ingest_settings.reports_dir, result.run_id, result.file)
    if result.run_id is None:
        return
    digest = {}
    if checksum is not None:
        try:
            digest = {"sha256": checksum.result()[0]}
        except OSError:  # the file went away or became unreadable during the load: no checksum, said so
            result.notes.append("không ghi được mã kiểm tra / checksum not recorded: the file could not be read "
                                "again")
    try:
        ledger.finish(conn, result.run_id, result.status, **digest, error=result.error, source_crs=result.source_crs,
                      aoi=result.aoi, n_read=result.n_read, n_inserted=result.inserted, n_updated=result.updated,
                      n_unchanged=result.unchanged, n_deleted=result.deleted, n_rejected=result.rejected,
                      n_warnings=result.warnings,
                      rejects_path=str(result.rejects_path) if result.rejects_path else None)
        conn.commit()
    except psycopg.Error as exc:
        conn.rollback()
        raise DatabaseError(f"could not record run {result.run_id}: {_pg_reason(exc)}") from exc


def _pg_reason(exc: psycopg.Error) -> str:
    diag = getattr(exc, "diag", None)
    primary = diag.message_primary if diag is not None and diag.message_primary else str(exc).splitlines()[0]
    detail = f" ({diag.message_detail})" if diag is not None and diag.message_detail else ""
    return f"{primary}{detail}"
