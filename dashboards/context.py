"""What every page, callback and route of one app instance shares: settings, engine, cache."""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine

from dashboards.cache import VersionedCache
from geo.db import make_engine
from geo.settings import DatabaseSettings, WebSettings


@dataclass
class AppSettings:
    """The concerns the web app needs, each its own settings class (read from GEO_* and GEO_WEB_*)."""

    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    web: WebSettings = field(default_factory=WebSettings)


@dataclass
class AppContext:
    settings: AppSettings
    engine: Engine
    cache: VersionedCache

    @classmethod
    def build(cls, settings: AppSettings) -> AppContext:
        engine = make_engine(settings.database, pool_size=max(5, settings.web.threads), max_overflow=10)
        return cls(settings, engine, VersionedCache(engine, settings.web.cache_entries))
