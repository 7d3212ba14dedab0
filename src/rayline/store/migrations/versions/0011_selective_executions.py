"""Selective executions: ``executions.selective``, the steps an execution runs and the execution
it takes their unselected upstream steps from (``SelectiveExecutionConfig``), or null for an
execution of the whole pipeline.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.add_column(sa.Column("selective", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("executions") as batch:
        batch.drop_column("selective")
