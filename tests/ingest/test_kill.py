"""A load killed (SIGKILL) while it writes leaves the layer, its history and the database as they were."""
from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
from sqlalchemy import Engine, text

from geo.db import raw_connection
from geo.settings import DatabaseSettings
from ingest import ledger, loader
from ingest.pipeline import LoadOptions, ingest_file
from layers import REGISTRY
from tests.factories import data_fingerprint

ROOT = Path(__file__).resolve().parents[2]
PARKS = REGISTRY.get("industrial_parks")
N_BIG = 80_000      # big enough that the write takes seconds
N_BEFORE = 300      # pre-loaded: the same codes as the big file's first records, other attributes and shapes


def _synthetic() -> ModuleType:
    """The benchmark's deterministic generator (bench/ingest_vector.py), imported from its path."""
    spec = importlib.util.spec_from_file_location("bench_ingest_vector", ROOT / "bench" / "ingest_vector.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _q(engine: Engine, sql: str, **params: object) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def _ingest_cmd(path: Path) -> list[str]:
    return [sys.executable, "-m", "geo", "ingest", "industrial_parks", str(path)]


def _env(db_settings: DatabaseSettings, reports: Path) -> dict[str, str]:
    return dict(os.environ, GEO_DATABASE_URL=db_settings.url(), GEO_INGEST_REPORTS_DIR=str(reports),
                GEO_INGEST_USER="pytest")


def _wait_until_writing(engine: Engine, proc: subprocess.Popen, file_name: str,
                        sizes_before: tuple[int, int], timeout: float = 300.0) -> tuple[int, int]:
    """(run_id, backend pid) once the load's merge statement runs and the layer's files have grown.

    The merge is one statement (upsert + history); pg_stat_activity keeps only its first 1 kB by default,
    which holds its start, so that is what is matched.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the ingest ended (exit {proc.returncode}) before it could be killed while writing")
        rows = _q(engine, """
            SELECT r.run_id, r.backend_pid FROM ingest_runs r JOIN pg_stat_activity a ON a.pid = r.backend_pid
            WHERE r.file_name = :f AND r.status = 'running' AND a.state = 'active'
              AND a.query LIKE '%WITH src AS%INSERT INTO "industrial_parks"%'
              AND (pg_relation_size('industrial_parks') > :a OR pg_relation_size('feature_history') > :b)""",
                  f=file_name, a=sizes_before[0], b=sizes_before[1])
        if rows:
            return rows[0]
        time.sleep(0.02)
    pytest.fail("the ingest did not start writing in time")


def _wait_backend_gone(engine: Engine, pid: int, timeout: float = 120.0) -> None:
    """The server ends the orphaned session (rolling its transaction back) once it notices the client is gone."""
    deadline = time.monotonic() + timeout
    while _q(engine, "SELECT 1 FROM pg_stat_activity WHERE pid = :p", p=pid):
        if time.monotonic() > deadline:
            pytest.fail(f"backend {pid} of the killed ingest is still there after {timeout:.0f} s")
        time.sleep(0.1)


@pytest.mark.slow
def test_sigkill_while_writing_leaves_everything_as_before(db, db_settings, tmp_path, ingest_settings, area):
    synthetic = _synthetic()
    small = synthetic.write_parks(N_BEFORE, tmp_path / "small", seed=7)
    big = synthetic.write_parks(N_BIG, tmp_path / "big")
    first = ingest_file(db, PARKS, small, LoadOptions(), ingest_settings=ingest_settings, area=area)
    assert (first.status, first.inserted) == ("succeeded", N_BEFORE)
    before = data_fingerprint(db)
    runs_before = _q(db, "SELECT run_id, status FROM ingest_runs ORDER BY run_id")
    sizes = _q(db, "SELECT pg_relation_size('industrial_parks'), pg_relation_size('feature_history')")[0]

    env = _env(db_settings, tmp_path / "reports")
    with (tmp_path / "killed.out").open("wb") as out:
        proc = subprocess.Popen(_ingest_cmd(big), env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            run_id, pid = _wait_until_writing(db, proc, big.name, sizes)
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _wait_backend_gone(db, pid)

    assert data_fingerprint(db) == before
    left = _q(db, "SELECT l.mode, l.pid FROM pg_locks l WHERE l.relation = 'industrial_parks'::regclass "
                  "AND l.pid <> pg_backend_pid()")
    assert left == []
    assert _q(db, "SELECT relname FROM pg_class WHERE relpersistence = 't' AND relname = :s", s=loader.STAGE) == []
    assert _q(db, "SELECT run_id, status FROM ingest_runs WHERE run_id <> :r ORDER BY run_id", r=run_id) == runs_before

    with raw_connection(db) as conn:
        deadline = time.monotonic() + 10  # mark_interrupted leaves runs younger than 2 s alone
        while ledger.mark_interrupted(conn) == 0 and time.monotonic() < deadline:
            conn.rollback()
            time.sleep(0.2)
        conn.commit()
        killed = ledger.get(conn, run_id)
    assert killed["status"] == "interrupted"
    assert killed["finished_at"] is not None and "nothing of it was written" in killed["error"]

    again = subprocess.run(_ingest_cmd(big), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    (rerun,) = _q(db, "SELECT status, n_read, n_inserted, n_updated, n_unchanged FROM ingest_runs "
                      "WHERE file_name = :f AND run_id > :r", f=big.name, r=run_id)
    assert rerun == ("succeeded", N_BIG, N_BIG - N_BEFORE, N_BEFORE, 0)
    expected = {f"KCN-BD-{i:06d}" for i in range(1, N_BIG + 1)}
    assert {c for (c,) in _q(db, "SELECT code FROM industrial_parks")} == expected
    assert _q(db, "SELECT count(*) FROM feature_history WHERE run_id = :r", r=run_id) == [(0,)]
    assert _q(db, "SELECT count(*) FROM feature_insert_spans WHERE run_id = :r", r=run_id) == [(0,)]
    # The first (small) load is one span of ids, the rerun one history row per written feature.
    assert _q(db, "SELECT run_id, last_id - first_id + 1 FROM feature_insert_spans") == [(first.run_id, N_BEFORE)]
    assert _q(db, "SELECT op, count(*), count(DISTINCT feature_id) FROM feature_history GROUP BY op ORDER BY op") == [
        ("insert", N_BIG - N_BEFORE, N_BIG - N_BEFORE), ("update", N_BEFORE, N_BEFORE)]


@pytest.mark.slow
def test_sigkill_during_a_first_load_leaves_no_span_and_no_rows(db, db_settings, tmp_path, ingest_settings, area):
    """A first load killed after it wrote its rows and its insert span, before its commit: neither stays.

    The run's ledger row is locked here once the load has recorded its backend, so the load stops at its final
    ledger update, the last statement before COMMIT, with everything else written: the kill lands there.
    """
    big = _synthetic().write_parks(N_BIG, tmp_path / "big")
    before = data_fingerprint(db)
    env = _env(db_settings, tmp_path / "reports")
    with (tmp_path / "killed.out").open("wb") as out, db.connect() as locker:
        proc = subprocess.Popen(_ingest_cmd(big), env=env, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT)
        try:
            run_id, pid = _wait_for(proc, lambda: _q(
                db, "SELECT run_id, backend_pid FROM ingest_runs WHERE file_name = :f AND backend_pid IS NOT NULL",
                f=big.name))
            locker.execute(text("SELECT 1 FROM ingest_runs WHERE run_id = :r FOR UPDATE"), {"r": run_id})
            _wait_for(proc, lambda: _q(db, "SELECT 1 FROM pg_stat_activity WHERE pid = :p AND wait_event_type = "
                                           "'Lock' AND query LIKE 'UPDATE ingest_runs SET status%'", p=pid))
            # the load's transaction has written rows and recorded a span (a lock it holds till its end)
            held = _q(db, "SELECT relation::regclass::text FROM pg_locks WHERE pid = :p AND mode = "
                          "'RowExclusiveLock' AND relation IN ('industrial_parks'::regclass, "
                          "'feature_insert_spans'::regclass) ORDER BY 1", p=pid)
            assert held == [("feature_insert_spans",), ("industrial_parks",)]
            proc.send_signal(signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
        finally:
            locker.rollback()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _wait_backend_gone(db, pid)

    assert data_fingerprint(db) == before
    assert _q(db, "SELECT count(*) FROM industrial_parks") == [(0,)]
    assert _q(db, "SELECT count(*) FROM feature_insert_spans") == [(0,)]
    assert _q(db, "SELECT count(*) FROM feature_history") == [(0,)]
    again = subprocess.run(_ingest_cmd(big), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout + again.stderr
    (rerun,) = _q(db, "SELECT run_id, n_inserted FROM ingest_runs WHERE file_name = :f AND run_id > :r",
                  f=big.name, r=run_id)
    assert rerun[1] == N_BIG
    assert _q(db, "SELECT s.run_id, s.first_id = min(p.id), s.last_id = max(p.id), count(*) "
                  "FROM feature_insert_spans s, industrial_parks p GROUP BY s.history_id") == [(rerun[0], True, True,
                                                                                                N_BIG)]


def _wait_for(proc: subprocess.Popen, probe, timeout: float = 300.0):  # type: ignore[no-untyped-def]
    """The first row ``probe`` returns while the ingest still runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the ingest ended (exit {proc.returncode}) before it could be killed")
        found = probe()
        if found:
            return found[0]
        time.sleep(0.02)
    pytest.fail("the ingest did not get there in time")
