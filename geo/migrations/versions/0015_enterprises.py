"""Layer family table: enterprises.

Revision ID: 0015_enterprises
Revises: 0014_access
"""
from alembic import op

from geo.layer_ddl import create_layer_table

revision = "0015_enterprises"
down_revision = "0014_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_layer_table(
        "enterprises",
        [("code", "text NOT NULL"), ("name_vi", "text NOT NULL"), ("name_en", "text"), ("park_code", "text NOT NULL"),
         ("sector", "text"), ("workers", "bigint"), ("recp_aware", "boolean"), ("recp_applied", "boolean"),
         ("symbiosis_plan", "boolean"), ("discloses_information", "boolean"), ("has_grievance_rules", "boolean"),
         ("gender_equality", "boolean"), ("anti_harassment", "boolean"), ("eco_certificate_no", "text"),
         ("eco_certificate_on", "date"), ("eco_certificate_body", "text"), ("source", "text"), ("notes", "text")],
        "Point", ("code",))
    op.execute("CREATE INDEX enterprises_park_idx ON enterprises (park_code)")


def downgrade() -> None:
    op.execute("DROP TABLE enterprises")
