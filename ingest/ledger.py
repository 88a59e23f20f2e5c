"""The ingest ledger: one row per run (file, checksum, counts, status, error, who, when)."""
from __future__ import annotations

import getpass
import hashlib
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from geo.errors import RunError

FINAL_OK = ("succeeded", "succeeded_with_rejects")


def sha256_of(path: Path) -> tuple[str, int]:
    """Checksum and size of a file (directories, e.g. a .gdb, are not supported)."""
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def who(configured: str | None) -> str:
    return configured or getpass.getuser()


@dataclass
class RunStart:
    kind: str
    layer: str
    who: str
    options: dict
    file_name: str | None = None
    file_path: str | None = None
    sha256: str | None = None
    size_bytes: int | None = None
    reverts_run_id: int | None = None


def start(conn: psycopg.Connection, run: RunStart) -> int:
    """Record a run as 'running' and commit at once, so even a killed process leaves a trace."""
    row = conn.execute(
        "INSERT INTO ingest_runs (kind, layer, file_name, file_path, sha256, size_bytes, options, status, who, "
        "reverts_run_id) VALUES (%s, %s, %s, %s, %s, %s, %s, 'running', %s, %s) RETURNING run_id",
        (run.kind, run.layer, run.file_name, run.file_path, run.sha256, run.size_bytes, Jsonb(run.options),
         run.who, run.reverts_run_id)).fetchone()
    conn.commit()
    return int(row[0])


def finish(conn: psycopg.Connection, run_id: int, status: str, **fields: object) -> None:
    """Set the final status and counts (inside the caller's transaction when data was written)."""
    allowed = {"error", "source_crs", "aoi", "n_read", "n_inserted", "n_updated", "n_unchanged", "n_deleted",
               "n_rejected", "n_warnings", "rejects_path", "backend_pid", "sha256"}
    unknown = set(fields) - allowed
    if unknown:
        raise ValueError(f"unknown ledger fields {unknown}")
    sets = ", ".join(f"{k} = %({k})s" for k in fields)
    conn.execute(f"UPDATE ingest_runs SET status = %(status)s, finished_at = now()"
                 f"{', ' + sets if sets else ''} WHERE run_id = %(run_id)s",
                 {"status": status, "run_id": run_id, **fields})


def set_backend(conn: psycopg.Connection, run_id: int, pid: int) -> None:
    conn.execute("UPDATE ingest_runs SET backend_pid = %s WHERE run_id = %s", (pid, run_id))


def mark_interrupted(conn: psycopg.Connection) -> int:
    """Runs still 'running' whose database session is gone were killed: say so."""
    cur = conn.execute(
        "UPDATE ingest_runs r SET status = 'interrupted', finished_at = now(), "
        "error = 'the process stopped before the run finished; nothing of it was written' "
        "WHERE status = 'running' AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a "
        "WHERE a.pid = r.backend_pid) AND started_at < now() - interval '2 seconds'")
    return cur.rowcount


def get(conn: psycopg.Connection, run_id: int) -> dict:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute("SELECT * FROM ingest_runs WHERE run_id = %s", (run_id,)).fetchone()
    if row is None:
        raise RunError(f"Không có lần nạp {run_id} / no run {run_id}")
    return row


def recent(conn: psycopg.Connection, layer: str | None = None, limit: int = 20) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM ingest_runs WHERE (%(layer)s::text IS NULL OR layer = %(layer)s) "
            "ORDER BY run_id DESC LIMIT %(limit)s", {"layer": layer, "limit": limit}).fetchall()
