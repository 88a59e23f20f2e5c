"""Vector layers bulk load: lineage and validity checked by the loader, the ledger kept append-only.

The per-row foreign keys from every layer table (and from ``feature_history``) to ``ingest_runs`` cost one
trigger call per written row — about a fifth of a large first load — for a reference only the loader writes,
always to the run it has just opened in the same transaction. They are replaced by a guard on the referenced
side: the ledger refuses DELETE, so no reference can dangle. The ``ST_IsValid`` CHECK on each layer's geometry
repeated the test the loader has already made with the same GEOS library on every geometry it writes (and
reverts only write back geometries the table held before); it cost as much as the COPY itself.

Revision ID: 0021_vector_bulk_load
Revises: 0020_index_store_fast
"""
from alembic import op

revision = "0021_vector_bulk_load"
down_revision = "0020_index_store_fast"
branch_labels = None
depends_on = None

# The layer-family tables as of this revision (frozen: a later family adds its own migration).
_LAYER_TABLES = ("admin_units", "industrial_parks", "park_zones", "monitoring_stations", "forest_areas",
                 "polluted_sites", "water_bodies", "water_abstraction_points", "waste_facilities", "enterprises",
                 "symbiosis_links")


def upgrade() -> None:
    for table in _LAYER_TABLES:
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_ingest_run_id_fkey")
        op.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {table}_geom_valid")
    op.execute("ALTER TABLE feature_history DROP CONSTRAINT IF EXISTS feature_history_run_id_fkey")
    op.execute("""
CREATE FUNCTION geo_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'sổ nhật ký nạp chỉ được ghi thêm / the ingest ledger is append-only: run % cannot be deleted',
    OLD.run_id USING ERRCODE = 'restrict_violation';
END $$""")
    op.execute("CREATE TRIGGER ingest_runs_append_only BEFORE DELETE ON ingest_runs "
               "FOR EACH ROW EXECUTE FUNCTION geo_ledger_append_only()")


def downgrade() -> None:
    op.execute("DROP TRIGGER ingest_runs_append_only ON ingest_runs")
    op.execute("DROP FUNCTION geo_ledger_append_only()")
    op.execute("ALTER TABLE feature_history ADD CONSTRAINT feature_history_run_id_fkey "
               "FOREIGN KEY (run_id) REFERENCES ingest_runs(run_id)")
    for table in _LAYER_TABLES:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_ingest_run_id_fkey "
                   "FOREIGN KEY (ingest_run_id) REFERENCES ingest_runs(run_id)")
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_geom_valid CHECK (ST_IsValid(geom))")
