"""Feature-group ingestions: an offline ingestion's files become visible when it commits.

A row is inserted (InProgress) before an ingestion writes its first offline file and set to
Committed when every file is written; readers skip the files of any other status, so a killed
ingestion leaves nothing visible. Files of ingestions with no row (written before this
revision) stay visible.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_group_ingestions",
        sa.Column("ingest_id", sa.String(32), primary_key=True),
        sa.Column("feature_group", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float),
        sa.Column("rows_written", sa.BigInteger),
    )
    op.create_index(
        "ix_feature_group_ingestions_feature_group",
        "feature_group_ingestions",
        ["feature_group"],
    )


def downgrade() -> None:
    op.drop_index("ix_feature_group_ingestions_feature_group", "feature_group_ingestions")
    op.drop_table("feature_group_ingestions")
