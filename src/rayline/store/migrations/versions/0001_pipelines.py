"""Pipelines, versions, executions, step runs and the event log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("latest_version", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "pipeline_versions",
        sa.Column(
            "pipeline_name",
            sa.String(256),
            sa.ForeignKey("pipelines.name", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("definition", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_table(
        "executions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("pipeline_name", sa.String(256), nullable=False, index=True),
        sa.Column("pipeline_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("parameters", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("ended_at", sa.Float),
        sa.Column("failure_reason", sa.Text),
        sa.Column("max_parallel_steps", sa.Integer),
        sa.Column("driver", sa.String(256)),
        sa.Column("heartbeat_at", sa.Float),
        sa.Column("mlflow_run_id", sa.String(64)),
    )
    op.create_table(
        "step_runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "execution_id",
            sa.String(64),
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("pipeline_name", sa.String(256), nullable=False),
        sa.Column("step_name", sa.String(256), nullable=False),
        sa.Column("step_type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", sa.Float),
        sa.Column("ended_at", sa.Float),
        sa.Column("failure_reason", sa.Text),
        sa.Column("user_traceback", sa.Text),
        sa.Column("logs", sa.Text),
        sa.Column("outputs", sa.JSON),
        sa.Column("properties", sa.JSON),
        sa.Column("cache_key", sa.String(64)),
        sa.Column("cached_from", sa.String(64)),
        sa.Column("mlflow_run_id", sa.String(64)),
        sa.UniqueConstraint("execution_id", "step_name", name="uq_step_runs_execution_step"),
    )
    op.create_index("ix_step_runs_cache", "step_runs", ["pipeline_name", "step_name", "cache_key"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "execution_id",
            sa.String(64),
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("step_name", sa.String(256)),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("detail", sa.Text),
    )


def downgrade() -> None:
    for table in ("events", "step_runs", "executions", "pipeline_versions", "pipelines"):
        op.drop_table(table)
