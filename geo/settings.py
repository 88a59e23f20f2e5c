"""Settings, one class per concern, read from ``GEO_*`` environment variables; never instantiated at import."""
from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DatabaseSettings(BaseSettings):
    """Where PostGIS is. Without ``GEO_DATABASE_URL`` the embedded local cluster is used."""

    model_config = SettingsConfigDict(env_prefix="GEO_", extra="ignore")

    database_url: str | None = Field(default=None, description="SQLAlchemy URL of a PostGIS database")
    data_dir: Path = Field(default=Path(".geo"), description="Folder of the embedded cluster, runs and reports")
    embedded_port: int = Field(default=55432, description="TCP port of the embedded cluster (loopback only)")
    embedded_db: str = "geo"
    embedded_user: str = "geo"

    def url(self) -> str:
        """The effective database URL (explicit, or the embedded cluster's)."""
        if self.database_url:
            url = self.database_url
            # Accept plain postgresql:// URLs; this platform talks through psycopg 3.
            if url.startswith("postgresql://") or url.startswith("postgres://"):
                url = "postgresql+psycopg://" + url.split("://", 1)[1]
            return url
        return (f"postgresql+psycopg://{self.embedded_user}@127.0.0.1:{self.embedded_port}/"
                f"{self.embedded_db}")

    @property
    def uses_embedded(self) -> bool:
        return not self.database_url


class AreaSettings(BaseSettings):
    """The area of interest used to flag features that lie elsewhere."""

    model_config = SettingsConfigDict(env_prefix="GEO_AOI_", extra="ignore")

    # Default AOI: the frozen former Bình Dương province (code 74, in force before 2025-07-01)
    # when it is loaded into admin_units; otherwise this bounding box (lon/lat).
    province_code: str = "74"
    province_date: str = "2025-06-30"
    bbox: tuple[float, float, float, float] = (106.33, 10.85, 106.98, 11.50)
    margin_m: float = Field(default=1000.0, ge=0, description="Tolerance around the AOI, metres")
    path: Path | None = Field(default=None, description="A vector file whose union is the AOI")


class IngestSettings(BaseSettings):
    """How loads behave."""

    model_config = SettingsConfigDict(env_prefix="GEO_INGEST_", extra="ignore")

    reports_dir: Path = Field(default=Path(".geo/reports"), description="Where rejects reports are written")
    copy_batch_rows: int = 50_000
    user: str | None = Field(default=None, description="Recorded as 'who' in the ledger; default: OS user")


class WebSettings(BaseSettings):
    """The web app and its API."""

    model_config = SettingsConfigDict(env_prefix="GEO_WEB_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8050, ge=1, le=65535)
    threads: int = Field(default=8, ge=1, description="WSGI worker threads (waitress)")
    # "blank" is an inline style with no network access (tests, offline); any other value is a MapLibre
    # style URL or one of plotly's named styles (e.g. "open-street-map", "carto-positron").
    basemap: str = "carto-positron"
    language: str = Field(default="vi", pattern="^(vi|en)$")
    stale_after_hours: int = Field(default=3, ge=1, description="older readings are not 'current'")
    cache_entries: int = Field(default=2048, ge=0)
    api_max_days: int = Field(default=400, ge=1, description="longest time range one API call may ask for")
    public_url: str | None = Field(default=None, description="absolute base URL, e.g. https://aq.example.vn")


class SecuritySettings(BaseSettings):
    """Sessions, cookies and the database roles the web app uses."""

    model_config = SettingsConfigDict(env_prefix="GEO_SECURITY_", extra="ignore")

    secure_cookies: bool = Field(default=True, description="Secure flag on cookies (HTTPS); off only for local http")
    session_hours: float = Field(default=12, gt=0, description="absolute lifetime of a session")
    idle_minutes: float = Field(default=60, gt=0, description="a session unused this long expires")
    app_db_user: str | None = Field(default=None, description="least-privilege role for the app's queries")
    reader_db_user: str | None = Field(default=None, description="read-only role for the public paths")
    db_password: str | None = Field(default=None, description="password of both roles (not needed with trust)")
