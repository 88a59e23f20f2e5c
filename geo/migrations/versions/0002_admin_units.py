"""Layer family table: admin_units.

Revision ID: 0002_admin_units
Revises: 0001_core
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0002_admin_units"
down_revision = "0001_core"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "admin_units",
        [("level", "text NOT NULL"), ("code", "text NOT NULL"), ("name_vi", "text NOT NULL"),
         ("name_en", "text"), ("parent_code", "text"), ("valid_from", "date NOT NULL"),
         ("valid_to", "date"), ("source", "text")],
        "MultiPolygon", ("level", "code", "valid_from"), ("area_ha",))
    # Codes repeat across boundary versions, but one code may not be in force twice at once.
    op.execute("ALTER TABLE admin_units ADD CONSTRAINT admin_units_no_overlap EXCLUDE USING gist "
               "(level WITH =, code WITH =, daterange(valid_from, valid_to) WITH &&)")
    op.execute("CREATE INDEX admin_units_period_idx ON admin_units USING gist (daterange(valid_from, valid_to))")


def downgrade() -> None:
    op.execute("DROP TABLE admin_units")
