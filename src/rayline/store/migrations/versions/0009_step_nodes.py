"""Where each step ran: ``step_runs.node``, the Ray node of the task that ran the step.

The worker reports its node's id (as ``ray.nodes()`` names it) with the step's outcome and the
scheduler records it with the step's final status (a step the scheduler runs itself, as a
condition, records the driver's node). Cache hits and runs recorded before this revision keep a
null column.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("node", sa.String(256)))


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("node")
