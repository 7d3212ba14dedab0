"""Feature groups.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature_groups",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("record_identifier_name", sa.String(64), nullable=False),
        sa.Column("event_time_feature_name", sa.String(64), nullable=False),
        sa.Column("feature_definitions", sa.JSON, nullable=False),
        sa.Column("online_store_enabled", sa.Boolean, nullable=False),
        sa.Column("offline_store_enabled", sa.Boolean, nullable=False),
        sa.Column("online_store_uri", sa.Text),
        sa.Column("offline_store_uri", sa.Text),
        sa.Column("ttl_seconds", sa.Float),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("last_update_status", sa.String(16)),
    )


def downgrade() -> None:
    op.drop_table("feature_groups")
