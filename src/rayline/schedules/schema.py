"""The schedules package's tables, on the shared ``rayline.store.schema.metadata``.

``schedules``: one row per cron schedule. Due times count from ``anchor_at`` (when it was
created or last resumed) or ``last_fired_at``, whichever is later; ``revision`` grows with every
change, and a server takes due times with a compare-and-set on it, so two servers on one
database never both start the same scheduled time. Times are Unix epoch seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

schedules = sa.Table(
    "schedules",
    metadata,
    sa.Column("name", sa.String(256), primary_key=True),
    sa.Column("pipeline_name", sa.String(256), nullable=False, index=True),
    sa.Column("cron", sa.String(256), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    # the values given when it was created (checked then); the pipeline's defaults fill the rest
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("pipeline_version", sa.Integer),  # null: the latest version at each fire time
    sa.Column("missed", sa.String(16), nullable=False),  # a MissedPolicy
    sa.Column("paused", sa.Boolean, nullable=False),
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("anchor_at", sa.Float, nullable=False),
    sa.Column("last_fired_at", sa.Float),  # the scheduled time last taken
    sa.Column("last_execution_id", sa.String(64)),
    sa.Column("last_error", sa.Text),  # why the last start failed (null once one succeeds)
    sa.Column("last_notice", sa.Text),  # missed times not started, and why
    sa.Column("revision", sa.Integer, nullable=False),
)
