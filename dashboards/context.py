"""What every page, callback and route of one app instance shares: settings, engine, cache."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from dashboards.cache import VersionedCache
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from geo.settings import DatabaseSettings, SecuritySettings, WebSettings


@dataclass
class AppSettings:
    """The concerns the web app needs, each its own settings class (read from GEO_* and GEO_WEB_*)."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    web: WebSettings = field(default_factory=WebSettings)
    security: SecuritySettings = field(default_factory=SecuritySettings)


def _as_user(url: str, user: str | None, password: str | None) -> str:
    """The same database reached as another role (GEO_SECURITY_APP_DB_USER / READER_DB_USER)."""
    if not user:
        return url
    return make_url(url).set(username=user, password=password).render_as_string(hide_password=False)


@dataclass
class AppContext:
    """``engine`` runs as the app's least-privilege role; ``public_engine`` as the read-only role."""

    settings: AppSettings
    engine: Engine
    public_engine: Engine
    cache: VersionedCache

    @classmethod
    def build(cls, settings: AppSettings) -> AppContext:
        sec, base = settings.security, settings.database.url()
        pool = {"pool_size": max(5, settings.web.threads), "max_overflow": 10, "pool_pre_ping": True}
        engine = create_engine(_as_user(base, sec.app_db_user, sec.db_password), **pool)
        reader = sec.reader_db_user or sec.app_db_user
        public = create_engine(_as_user(base, reader, sec.db_password), **pool) if reader else engine
        return cls(settings, engine, public, VersionedCache(engine, settings.web.cache_entries))
