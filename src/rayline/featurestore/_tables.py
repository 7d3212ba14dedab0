"""The feature store's metadata tables (SQLAlchemy Core): the groups (migration 0002) and their
offline ingestions (migration 0008)."""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

feature_groups = sa.Table(
    "feature_groups",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("record_identifier_name", sa.String(64), nullable=False),
    sa.Column("event_time_feature_name", sa.String(64), nullable=False),
    # [{"FeatureName": ..., "FeatureType": ...}, ...] in definition order.
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

# One row per ingestion (or delete marker) into a group's offline store, inserted before its
# first file is written. Its files are visible to readers only once ``status`` is Committed: a
# killed or failed ingestion leaves files nobody reads. Files whose ingestion has no row predate
# this table and stay visible.
feature_group_ingestions = sa.Table(
    "feature_group_ingestions",
    metadata,
    sa.Column("ingest_id", sa.String(32), primary_key=True),
    sa.Column("feature_group", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("finished_at", sa.Float),
    sa.Column("rows_written", sa.BigInteger),
)
