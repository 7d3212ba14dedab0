"""Executions are owned under a lease with a fencing token, and record who started them.

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("lease_expires_at", sa.Float))
        batch.add_column(sa.Column("fencing_token", sa.Integer, nullable=False, server_default="0"))
        batch.add_column(sa.Column("started_by", sa.String(256)))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("started_by")
        batch.drop_column("fencing_token")
        batch.drop_column("lease_expires_at")
