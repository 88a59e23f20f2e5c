"""Insert spans: a first load's history recorded as one block of feature ids instead of one row per feature.

A first load (no key of the file in the layer yet) takes a contiguous block of ids from the layer's identity
sequence. Its per-feature 'insert' history rows held nothing but the key (an insert has no previous version),
yet writing them cost more than half of a large first load. One span row — run, layer, first and last id —
says the same: the key of a spanned feature is that of its live row, or, once a later run deleted it, the key
on that delete's history row (natural keys never change for a feature id). The span's ``history_id`` is drawn
from ``feature_history``'s own identity sequence, so spans and history rows share one order, which is what
diff, the revert's conflict check and a feature's history are ordered and compared by. The default names the
sequence itself (resolved here, once), which records the dependency on it. No foreign key to ``ingest_runs``:
the ledger refuses DELETE (0021), so no run id can dangle.

Revision ID: 0022_insert_spans
Revises: 0021_vector_bulk_load
"""
from alembic import op

revision = "0022_insert_spans"
down_revision = "0021_vector_bulk_load"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""
DO $$
BEGIN
  EXECUTE format($t$
CREATE TABLE feature_insert_spans (
  history_id bigint PRIMARY KEY DEFAULT nextval(%L::regclass),
  run_id bigint NOT NULL,
  layer text NOT NULL,
  first_id bigint NOT NULL,
  last_id bigint NOT NULL,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT feature_insert_spans_range CHECK (first_id <= last_id)
)$t$, pg_get_serial_sequence('feature_history', 'history_id'));
END $$""")
    op.execute("CREATE INDEX feature_insert_spans_run_idx ON feature_insert_spans (run_id)")
    op.execute("CREATE INDEX feature_insert_spans_range_idx ON feature_insert_spans (layer, first_id, last_id)")


def downgrade() -> None:
    op.execute("DROP TABLE feature_insert_spans")
