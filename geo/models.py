"""SQLAlchemy models of the platform's own tables: the ingest ledger and the feature history (rows and insert spans)."""
from __future__ import annotations

from datetime import datetime

from geoalchemy2 import Geometry
from sqlalchemy import BigInteger, Boolean, CheckConstraint, DateTime, ForeignKey, Integer, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class IngestRun(Base):
    """One row per load (or revert) of one source file: the ledger."""

    __tablename__ = "ingest_runs"

    run_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(Text, nullable=False)  # load | revert
    layer: Mapped[str] = mapped_column(Text, nullable=False)
    file_name: Mapped[str | None] = mapped_column(Text)
    file_path: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(Text)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    options: Mapped[dict] = mapped_column(JSONB, nullable=False, server_default="{}")
    status: Mapped[str] = mapped_column(Text, nullable=False)
    error: Mapped[str | None] = mapped_column(Text)
    who: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    source_crs: Mapped[str | None] = mapped_column(Text)
    aoi: Mapped[str | None] = mapped_column(Text)
    n_read: Mapped[int] = mapped_column(Integer, server_default="0")
    n_inserted: Mapped[int] = mapped_column(Integer, server_default="0")
    n_updated: Mapped[int] = mapped_column(Integer, server_default="0")
    n_unchanged: Mapped[int] = mapped_column(Integer, server_default="0")
    n_deleted: Mapped[int] = mapped_column(Integer, server_default="0")
    n_rejected: Mapped[int] = mapped_column(Integer, server_default="0")
    n_warnings: Mapped[int] = mapped_column(Integer, server_default="0")
    rejects_path: Mapped[str | None] = mapped_column(Text)
    backend_pid: Mapped[int | None] = mapped_column(Integer)
    reverts_run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ingest_runs.run_id"))
    reverted_by_run_id: Mapped[int | None] = mapped_column(BigInteger, ForeignKey("ingest_runs.run_id"))


class FeatureHistory(Base):
    """The previous version of every feature a run inserted, updated or deleted."""

    __tablename__ = "feature_history"

    history_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # no FK since 0021: the ledger is append-only
    layer: Mapped[str] = mapped_column(Text, nullable=False)
    feature_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    feature_key: Mapped[dict] = mapped_column(JSONB, nullable=False)
    op: Mapped[str] = mapped_column(Text, nullable=False)  # insert | update | delete
    old_attrs: Mapped[dict | None] = mapped_column(JSONB)
    old_geom = mapped_column(Geometry(srid=4326, spatial_index=False))
    new_attrs: Mapped[dict | None] = mapped_column(JSONB)
    geom_changed: Mapped[bool | None] = mapped_column(Boolean)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class FeatureInsertSpan(Base):
    """A first load's inserts as one block of ids (``first_id``..``last_id``) instead of one history row each.

    ``history_id`` is drawn from ``feature_history``'s identity sequence: spans and history rows share one order.
    The key of a spanned feature is that of its live row, or of the later history row that deleted it.
    """

    __tablename__ = "feature_insert_spans"
    __table_args__ = (CheckConstraint("first_id <= last_id", name="feature_insert_spans_range"),)

    history_id: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False,
        server_default=text("nextval(pg_get_serial_sequence('feature_history', 'history_id')::regclass)"))
    run_id: Mapped[int] = mapped_column(BigInteger, nullable=False)  # no FK: the ledger is append-only (0021)
    layer: Mapped[str] = mapped_column(Text, nullable=False)
    first_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    last_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
