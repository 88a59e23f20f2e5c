"""Layer family table: water_abstraction_points.

Revision ID: 0009_water_abstraction_points
Revises: 0008_water_bodies
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0009_water_abstraction_points"
down_revision = "0008_water_bodies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "water_abstraction_points",
        [("code", "text NOT NULL"), ("name_vi", "text"), ("kind", "text NOT NULL"), ("aquifer", "text"),
         ("permitted_m3_per_day", "double precision"), ("permit_no", "text"), ("permit_valid_to", "date"),
         ("operator", "text"), ("source", "text"), ("notes", "text")],
        "Point", ("code",))


def downgrade() -> None:
    op.execute("DROP TABLE water_abstraction_points")
