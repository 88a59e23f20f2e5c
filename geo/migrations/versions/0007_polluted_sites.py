"""Layer family table: polluted_sites.

Revision ID: 0007_polluted_sites
Revises: 0006_forest_areas
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0007_polluted_sites"
down_revision = "0006_forest_areas"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "polluted_sites",
        [("code", "text NOT NULL"), ("name_vi", "text"), ("pollutant_group", "text NOT NULL"),
         ("severity", "text"), ("pollution_source", "text"), ("status", "text NOT NULL"),
         ("status_changed_on", "date"), ("area_declared_ha", "double precision"), ("source", "text"),
         ("notes", "text")],
        "Geometry", ("code",), ("area_ha",), ("MultiPolygon", "Point"))


def downgrade() -> None:
    op.execute("DROP TABLE polluted_sites")
