"""Layer family table: waste_facilities.

Revision ID: 0010_waste_facilities
Revises: 0009_water_abstraction_points
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0010_waste_facilities"
down_revision = "0009_water_abstraction_points"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "waste_facilities",
        [("code", "text NOT NULL"), ("name_vi", "text NOT NULL"), ("kind", "text NOT NULL"),
         ("landfill_status", "text"), ("waste_streams", "text"), ("capacity_t_per_day", "double precision"),
         ("opened_on", "date"), ("closed_on", "date"), ("operator", "text"), ("source", "text"),
         ("notes", "text")],
        "Geometry", ("code",), ("area_ha",), ("Point", "MultiPolygon"))


def downgrade() -> None:
    op.execute("DROP TABLE waste_facilities")
