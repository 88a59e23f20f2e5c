"""Layer family table: symbiosis_links.

Revision ID: 0016_symbiosis_links
Revises: 0015_enterprises
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0016_symbiosis_links"
down_revision = "0015_enterprises"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "symbiosis_links",
        [("code", "text NOT NULL"), ("from_enterprise", "text NOT NULL"), ("to_enterprise", "text NOT NULL"),
         ("link_type", "text NOT NULL"), ("started_on", "date"), ("ended_on", "date"), ("quantity", "double precision"),
         ("unit", "text"), ("description", "text"), ("source", "text"), ("notes", "text")],
        "MultiLineString", ("code",), derived=("length_m",))
    op.execute("CREATE INDEX symbiosis_links_ends_idx ON symbiosis_links (from_enterprise, to_enterprise)")


def downgrade() -> None:
    op.execute("DROP TABLE symbiosis_links")
