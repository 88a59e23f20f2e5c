"""Layer family table: forest_areas.

Revision ID: 0006_forest_areas
Revises: 0005_monitoring_stations
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0006_forest_areas"
down_revision = "0005_monitoring_stations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "forest_areas",
        [("code", "text NOT NULL"), ("name_vi", "text"), ("forest_type", "text NOT NULL"), ("origin", "text"),
         ("year", "bigint"), ("area_declared_ha", "double precision"), ("operator", "text"), ("source", "text"),
         ("notes", "text")],
        "MultiPolygon", ("code",), ("area_ha",))


def downgrade() -> None:
    op.execute("DROP TABLE forest_areas")
