"""Layer family table: water_bodies.

Revision ID: 0008_water_bodies
Revises: 0007_polluted_sites
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0008_water_bodies"
down_revision = "0007_polluted_sites"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "water_bodies",
        [("code", "text NOT NULL"), ("name_vi", "text NOT NULL"), ("name_en", "text"), ("kind", "text NOT NULL"),
         ("basin", "text"), ("source", "text"), ("notes", "text")],
        "Geometry", ("code",), ("area_ha", "length_m"), ("MultiLineString", "MultiPolygon"))


def downgrade() -> None:
    op.execute("DROP TABLE water_bodies")
