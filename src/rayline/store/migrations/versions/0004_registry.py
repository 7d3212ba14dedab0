"""Model registry (groups, versions, approval history) and endpoints (records, events).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_package_groups",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
    )
    op.create_table(
        "model_packages",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "group_name",
            sa.String(256),
            sa.ForeignKey("model_package_groups.name", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("model_uri", sa.Text, nullable=False),
        sa.Column("preprocessor_uri", sa.Text),
        sa.Column("metrics_uri", sa.Text),
        sa.Column("metrics", sa.JSON),
        sa.Column("inference_spec", sa.JSON, nullable=False),
        sa.Column("sources", sa.JSON, nullable=False),
        sa.Column("mlflow_run_id", sa.String(64)),
        sa.Column("execution_id", sa.String(64)),
        sa.Column("step_name", sa.String(256)),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(256), nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.UniqueConstraint("group_name", "version", name="uq_model_packages_group_version"),
    )
    op.create_index("ix_model_packages_execution", "model_packages", ["execution_id"])
    op.create_table(
        "model_approval_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "package_id",
            sa.Integer,
            sa.ForeignKey("model_packages.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("from_status", sa.String(32)),
        sa.Column("to_status", sa.String(32), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("by", sa.String(256), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_model_approval_history_package_id", "model_approval_history", ["package_id"]
    )
    op.create_table(
        "endpoints",
        sa.Column("name", sa.String(256), primary_key=True),
        sa.Column("model_package_group", sa.String(256), nullable=False),
        sa.Column("model_package_version", sa.Integer, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("url", sa.Text),
        sa.Column("failure_reason", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )
    op.create_table(
        "endpoint_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("endpoint_name", sa.String(256), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("model_package_group", sa.String(256)),
        sa.Column("model_package_version", sa.Integer),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("by", sa.String(256), nullable=False),
        sa.Column("detail", sa.Text),
    )
    op.create_index("ix_endpoint_events_endpoint_name", "endpoint_events", ["endpoint_name"])


def downgrade() -> None:
    for table in (
        "endpoint_events",
        "endpoints",
        "model_approval_history",
        "model_packages",
        "model_package_groups",
    ):
        op.drop_table(table)
