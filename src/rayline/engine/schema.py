"""The pipeline engine's tables (SQLAlchemy Core, on the shared ``rayline.store.schema.metadata``).

The engine owns them: pipelines and their versions, executions, step runs and the event log. Other
owners define theirs beside their code on the same metadata; the migrations in
``store/migrations/versions`` create them all.

Times are Unix epoch seconds (float): exact, time-zone free, and the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

pipelines = sa.Table(
    "pipelines",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("description", sa.Text, nullable=False, default=""),
    sa.Column("latest_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

pipeline_versions = sa.Table(
    "pipeline_versions",
    metadata,
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

executions = sa.Table(
    "executions",
    metadata,
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
    # Ownership: the driver holds the execution until lease_expires_at (renewed by heartbeat);
    # each claim increments fencing_token, and every write of the owner names the token it holds.
    sa.Column("lease_expires_at", sa.Float),
    sa.Column("fencing_token", sa.Integer, nullable=False, server_default="0"),
    sa.Column("started_by", sa.String(256)),
    sa.Column("mlflow_run_id", sa.String(64)),
    # SelectiveExecutionConfig as recorded (SourcePipelineExecutionId, SelectedSteps), or null
    sa.Column("selective", sa.JSON),
)


def _execution_row(*, index: bool = False) -> list[sa.Column]:
    """The surrogate id and the execution a step run or event belongs to (deleted with it)."""
    return [
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column(
            "execution_id",
            sa.String(64),
            sa.ForeignKey("executions.id", ondelete="CASCADE"),
            nullable=False,
            index=index,
        ),
    ]


step_runs = sa.Table(
    "step_runs",
    metadata,
    *_execution_row(),
    sa.Column("pipeline_name", sa.String(256), nullable=False),
    sa.Column("step_name", sa.String(256), nullable=False),
    sa.Column("step_type", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
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
    sa.Column("branch", sa.String(256)),  # the branch a step with branches took
    # The committed outputs' manifests (name -> URI, tree hash, files), written in the same
    # transaction as the Succeeded status: only what is recorded here is ever resolved.
    sa.Column("manifests", sa.JSON),
    # The Ray node (its id) that ran the step: its task's, or the driver's for a step the
    # scheduler runs itself; null for cache hits.
    sa.Column("node", sa.String(256)),
    # When the run stopped being a cache entry (`rayline cache invalidate`): lookups skip it,
    # but the run stays in the history.
    sa.Column("cache_invalidated_at", sa.Float),
    sa.UniqueConstraint("execution_id", "step_name", name="uq_step_runs_execution_step"),
    sa.Index("ix_step_runs_cache", "pipeline_name", "step_name", "cache_key"),
)

events = sa.Table(
    "events",
    metadata,
    *_execution_row(index=True),
    sa.Column("step_name", sa.String(256)),
    sa.Column("kind", sa.String(32), nullable=False),  # an EventKind
    sa.Column("status", sa.String(32)),  # the new status, for a status change
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("detail", sa.Text),
)
