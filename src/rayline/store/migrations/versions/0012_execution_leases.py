"""Execution leases: ``executions.lease_expires_at`` and ``fencing_token`` (the owner's
lease, taken by compare-and-set and checked on every write) and ``started_by``.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
