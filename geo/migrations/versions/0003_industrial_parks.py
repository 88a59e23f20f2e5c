"""Layer family table: industrial_parks.

Revision ID: 0003_industrial_parks
Revises: 0002_admin_units
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0003_industrial_parks"
down_revision = "0002_admin_units"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "industrial_parks",
        [("code", "text NOT NULL"), ("name_vi", "text NOT NULL"), ("name_en", "text"), ("developer", "text"),
         ("area_declared_ha", "double precision"), ("established_on", "date"),
         ("occupancy_pct", "double precision"), ("operating_status", "text NOT NULL"), ("source", "text"),
         ("notes", "text")],
        "MultiPolygon", ("code",), ("area_ha",))


def downgrade() -> None:
    op.execute("DROP TABLE industrial_parks")
