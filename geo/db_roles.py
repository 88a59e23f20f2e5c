"""Least-privilege database roles for the web app: one for its own queries, one read-only for public paths."""
from __future__ import annotations

from psycopg import sql
from sqlalchemy import Engine

from geo.db import raw_connection

# What the app itself writes: accounts and sessions (login), and nothing of the data layers.
APP_WRITES = ("users", "sessions", "login_attempts", "layer_access")
# The eco-park tracker records assessments, evidence, declarations and status changes from the app.
APP_WRITES += ("eip_assessments", "eip_assessment_results", "eip_evidence", "eip_declarations", "eip_status_history")
APP_WRITES += ("eip_enterprise_results", "eip_enterprise_certificates", "eip_certificate_history")
# Tables the public paths never read, whatever the layer levels say.
NEVER_PUBLIC = ("users", "sessions", "login_attempts", "feature_history", "feature_insert_spans", "measurement_changes",
                "ingest_runs")


def ensure_roles(engine: Engine, app_user: str, reader_user: str, public_tables: list[str],
                 password: str | None = None) -> None:
    """Create (or update) both roles and set their grants from scratch; safe to repeat."""
    with raw_connection(engine) as conn:
        db = conn.info.dbname
        for role in (app_user, reader_user):
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = "ALTER" if exists else "CREATE"
            stmt = sql.SQL("{} ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE").format(
                sql.SQL(verb), sql.Identifier(role))
            if password:
                stmt = stmt + sql.SQL(" PASSWORD {}").format(sql.Literal(password))
            conn.execute(stmt)
            conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(db), sql.Identifier(role)))
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(sql.Identifier(role)))
        app = sql.Identifier(app_user)
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(app))
        conn.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(t) for t in APP_WRITES), app))
        reader_tables = [t for t in public_tables if t not in NEVER_PUBLIC]
        if reader_tables:
            conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in reader_tables), sql.Identifier(reader_user)))
        conn.commit()
