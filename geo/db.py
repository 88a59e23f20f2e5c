"""Database engine and connections: SQLAlchemy for queries, raw psycopg 3 for binary COPY."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from geo.errors import DatabaseError
from geo.settings import DatabaseSettings


def make_engine(settings: DatabaseSettings, **kwargs: object) -> Engine:
    """Create an engine for the configured database (no connection is made yet)."""
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(settings.url(), **kwargs)  # type: ignore[arg-type]


def psycopg_conninfo(url: str) -> str:
    """Turn a SQLAlchemy URL into a libpq connection string for psycopg."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def check_connection(engine: Engine, *, require_postgis: bool = True) -> str:
    """Return the PostGIS (or, before the first migration, PostgreSQL) version; raise a readable DatabaseError."""
    query = "SELECT postgis_lib_version()" if require_postgis else "SELECT current_setting('server_version')"
    try:
        with engine.connect() as conn:
            return conn.execute(text(query)).scalar_one()
    except OperationalError as exc:
        raise DatabaseError(
            f"Không kết nối được cơ sở dữ liệu / cannot reach the database at "
            f"{engine.url.render_as_string(hide_password=True)}: {exc.orig}") from exc
    except Exception as exc:  # e.g. postgis not installed: undefined function
        raise DatabaseError(f"PostGIS is not available in the database: {exc}") from exc


@contextmanager
def raw_connection(engine: Engine) -> Iterator[psycopg.Connection]:
    """A psycopg 3 connection from the engine's pool (for COPY), committed/rolled back by the caller."""
    conn = engine.raw_connection()
    try:
        yield conn.driver_connection  # type: ignore[misc]
    finally:
        conn.close()
