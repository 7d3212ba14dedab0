"""The model registry's tables (SQLAlchemy Core, on the shared metadata; migrations 0004, 0005).

``model_package_deployments`` says which endpoint serves which version. Serving writes it through
:class:`~rayline.registry.registry.ModelRegistry` in the same transaction as its own endpoint
record, so the registry can refuse to delete a served version (and name the endpoints) without
reading serving's tables; ``ON DELETE RESTRICT`` makes the database refuse it too.
"""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

model_package_groups = sa.Table(
    "model_package_groups",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
)

model_packages = sa.Table(
    "model_packages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "group_name",
        sa.String(256),
        sa.ForeignKey("model_package_groups.name", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("model_uri", sa.Text, nullable=False),
    sa.Column("preprocessor_uri", sa.Text),
    sa.Column("metrics_uri", sa.Text),
    sa.Column("metrics", sa.JSON),
    sa.Column("inference_spec", sa.JSON, nullable=False),
    # Where the artifacts were registered from (step outputs), for lineage.
    sa.Column("sources", sa.JSON, nullable=False),
    sa.Column("mlflow_run_id", sa.String(64)),
    sa.Column("execution_id", sa.String(64)),
    sa.Column("step_name", sa.String(256)),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.UniqueConstraint("group_name", "version", name="uq_model_packages_group_version"),
    sa.Index("ix_model_packages_execution", "execution_id"),
)

model_approval_history = sa.Table(
    "model_approval_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "package_id",
        sa.Integer,
        sa.ForeignKey("model_packages.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("from_status", sa.String(32)),
    sa.Column("to_status", sa.String(32), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("by", sa.String(256), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, default=""),
)

model_package_deployments = sa.Table(
    "model_package_deployments",
    metadata,
    sa.Column("endpoint_name", sa.String(256), primary_key=True),
    sa.Column(
        "package_id",
        sa.Integer,
        sa.ForeignKey("model_packages.id", ondelete="RESTRICT"),
        nullable=False,
        index=True,
    ),
)
