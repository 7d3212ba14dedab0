"""Cron schedules of pipelines, run by the server.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedules",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("pipeline_name", sa.String(256), nullable=False),
        sa.Column("cron", sa.String(256), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("pipeline_version", sa.Integer),
        sa.Column("missed", sa.String(16), nullable=False),
        sa.Column("paused", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("anchor_at", sa.Float, nullable=False),
        sa.Column("last_fired_at", sa.Float),
        sa.Column("last_execution_id", sa.String(64)),
        sa.Column("last_error", sa.Text),
        sa.Column("last_notice", sa.Text),
        sa.Column("revision", sa.Integer, nullable=False),
    )
    op.create_index("ix_schedules_pipeline_name", "schedules", ["pipeline_name"])


def downgrade() -> None:
    op.drop_index("ix_schedules_pipeline_name", table_name="schedules")
    op.drop_table("schedules")
