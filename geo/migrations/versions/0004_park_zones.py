"""Layer family table: park_zones.

Revision ID: 0004_park_zones
Revises: 0003_industrial_parks
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0004_park_zones"
down_revision = "0003_industrial_parks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "park_zones",
        [("park_code", "text NOT NULL"), ("zone_code", "text NOT NULL"), ("zone_type", "text NOT NULL"),
         ("name_vi", "text"), ("source", "text"), ("notes", "text")],
        "MultiPolygon", ("park_code", "zone_code"), ("area_ha",))


def downgrade() -> None:
    op.execute("DROP TABLE park_zones")
