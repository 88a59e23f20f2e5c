"""Layer family table: monitoring_stations.

Revision ID: 0005_monitoring_stations
Revises: 0004_park_zones
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0005_monitoring_stations"
down_revision = "0004_park_zones"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "monitoring_stations",
        [("code", "text NOT NULL"), ("name_vi", "text NOT NULL"), ("name_en", "text"),
         ("medium", "text NOT NULL"), ("mode", "text NOT NULL"), ("operator", "text"),
         ("status", "text NOT NULL"), ("park_code", "text"), ("commissioned_on", "date"), ("source", "text"),
         ("notes", "text")],
        "Point", ("code",))


def downgrade() -> None:
    op.execute("DROP TABLE monitoring_stations")
