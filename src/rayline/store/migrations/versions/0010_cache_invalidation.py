"""Cache invalidation: ``step_runs.cache_invalidated_at``, when a run stopped being a cache entry.

``rayline cache invalidate`` (``invalidate_cache``) sets it on the runs that computed a cached
result; cache lookups skip such runs, so the next execution computes the step again. The run
itself (its outputs, properties, logs) stays in the history. Runs recorded before this revision
keep a null column: they are still entries.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.add_column(sa.Column("cache_invalidated_at", sa.Float))


def downgrade() -> None:
    with op.batch_alter_table("step_runs") as batch:
        batch.drop_column("cache_invalidated_at")
