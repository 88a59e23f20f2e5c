"""Tests of the embedded PostGIS cluster: a real PostgreSQL 15 started in a temporary data dir."""
from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from geo import embedded
from geo.errors import EmbeddedDatabaseError
from geo.settings import DatabaseSettings


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _connect(settings: DatabaseSettings) -> psycopg.Connection:
    return psycopg.connect(host="127.0.0.1", port=settings.embedded_port, user=settings.embedded_user,
                           dbname=settings.embedded_db, connect_timeout=5, autocommit=True)


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[DatabaseSettings]:
    """Settings for a cluster in this test's tmp dir; the server is always stopped afterwards."""
    settings = DatabaseSettings(database_url=None, data_dir=tmp_path / "data", embedded_port=_free_port())
    yield settings
    assert not embedded.down(settings).running


@pytest.mark.slow
def test_up_creates_a_running_cluster_with_postgis(settings: DatabaseSettings, tmp_path: Path) -> None:
    status = embedded.up(settings)

    assert (status.exists, status.running, status.port) == (True, True, settings.embedded_port)
    assert status.data_dir == (tmp_path / "data").resolve()
    assert status.url == settings.url()
    with _connect(settings) as conn:
        assert conn.execute("SELECT postgis_lib_version()").fetchone()[0].startswith("3.")
        extensions = {row[0] for row in conn.execute("SELECT extname FROM pg_extension")}
        assert {"postgis", "btree_gist"} <= extensions
        assert conn.execute("SHOW server_encoding").fetchone()[0] == "UTF8"
        assert conn.execute("SHOW listen_addresses").fetchone()[0] == "127.0.0.1"


@pytest.mark.slow
def test_up_twice_is_idempotent(settings: DatabaseSettings) -> None:
    first = embedded.up(settings)

    assert embedded.up(settings) == first


@pytest.mark.slow
def test_status_reflects_running(settings: DatabaseSettings) -> None:
    before = embedded.status(settings)
    embedded.up(settings)
    after = embedded.status(settings)

    assert (before.exists, before.running, before.pid) == (False, False, None)
    assert after.exists and after.running and after.pid is not None


@pytest.mark.slow
def test_server_runs_as_an_unprivileged_account(settings: DatabaseSettings) -> None:
    pid = embedded.up(settings).pid

    assert os.stat(f"/proc/{pid}").st_uid != 0


@pytest.mark.slow
def test_down_stops_and_up_restarts_with_data_kept(settings: DatabaseSettings) -> None:
    embedded.up(settings)
    with _connect(settings) as conn:
        conn.execute("CREATE TABLE kept (id int PRIMARY KEY, geom geometry(Point, 4326))")
        conn.execute("INSERT INTO kept VALUES (1, ST_SetSRID(ST_MakePoint(106.65, 11.0), 4326))")

    stopped = embedded.down(settings)

    assert (stopped.exists, stopped.running, stopped.pid) == (True, False, None)
    with pytest.raises(psycopg.OperationalError):
        _connect(settings).close()
    assert embedded.up(settings).running
    with _connect(settings) as conn:
        assert conn.execute("SELECT id FROM kept").fetchall() == [(1,)]


def test_down_without_cluster_is_a_no_op(settings: DatabaseSettings, tmp_path: Path) -> None:
    status = embedded.down(settings)

    assert (status.exists, status.running, status.pid) == (False, False, None)
    assert not (tmp_path / "data").exists()


def test_port_in_use_names_the_port_and_setting(settings: DatabaseSettings) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", settings.embedded_port))
        squatter.listen()
        with pytest.raises(EmbeddedDatabaseError, match=rf"{settings.embedded_port}.*GEO_EMBEDDED_PORT"):
            embedded.up(settings)

    assert not embedded.status(settings).running


def test_relative_data_dir_resolves_against_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)

    status = embedded.status(DatabaseSettings(database_url=None, data_dir=Path("rel")))

    assert status.data_dir == tmp_path.resolve() / "rel"
    assert status.data_dir.is_absolute()
