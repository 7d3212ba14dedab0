"""The endpoints' tables (SQLAlchemy Core, on the shared metadata; migration 0004).

``endpoints`` is the desired and observed state of each endpoint; ``endpoint_events`` keeps every
deployment change (which model version an endpoint served from when), for lineage and audit.
"""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

endpoints = sa.Table(
    "endpoints",
    metadata,
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

endpoint_events = sa.Table(
    "endpoint_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("endpoint_name", sa.String(256), nullable=False, index=True),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("model_package_group", sa.String(256)),
    sa.Column("model_package_version", sa.Integer),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("by", sa.String(256), nullable=False),
    sa.Column("detail", sa.Text),
)
