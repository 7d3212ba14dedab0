"""Commit, then publish: step runs record the manifests of their committed outputs.

``step_runs.manifests`` (JSON: output name -> URI, tree hash, files) is written in the same
transaction as a step's Succeeded status; cache keys use the hashes recorded there. Old runs
keep a null column (their outputs are hashed where they are stored when a cache key needs them).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("manifests", sa.JSON))


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("manifests")
