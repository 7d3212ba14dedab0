"""Feature group rows in the metadata DB."""

from __future__ import annotations

import time

import sqlalchemy as sa

from rayline.errors import ConflictError, NotFoundError
from rayline.featurestore._tables import feature_groups
from rayline.featurestore.definitions import FeatureDefinition
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import Database


def insert(db: Database, desc: FeatureGroupDescription) -> None:
    row = _to_row(desc)
    try:
        with db.begin() as conn:
            conn.execute(feature_groups.insert().values(**row))
    except sa.exc.IntegrityError:
        raise ConflictError(
            f"feature group {desc.name!r} exists already; describe it with "
            f"`rayline feature-group describe {desc.name}` or delete it first"
        ) from None


def get(db: Database, name: str) -> FeatureGroupDescription:
    with db.connect() as conn:
        row = (
            conn.execute(sa.select(feature_groups).where(feature_groups.c.name == name))
            .mappings()
            .first()
        )
    if row is None:
        raise NotFoundError(
            f"feature group {name!r} does not exist; list them with `rayline feature-group list`"
        )
    return _from_row(row)


def find(db: Database, name: str) -> FeatureGroupDescription | None:
    try:
        return get(db, name)
    except NotFoundError:
        return None


def list_all(db: Database, *, name_contains: str | None = None) -> list[FeatureGroupDescription]:
    query = sa.select(feature_groups).order_by(feature_groups.c.created_at)
    if name_contains:
        query = query.where(feature_groups.c.name.contains(name_contains, autoescape=True))
    with db.connect() as conn:
        return [_from_row(r) for r in conn.execute(query).mappings()]


def update(db: Database, name: str, **values) -> None:
    values.setdefault("updated_at", time.time())
    if "feature_definitions" in values:
        values["feature_definitions"] = [f.to_dict() for f in values["feature_definitions"]]
    with db.begin() as conn:
        result = conn.execute(
            feature_groups.update().where(feature_groups.c.name == name).values(**values)
        )
    if result.rowcount == 0:
        raise NotFoundError(f"feature group {name!r} does not exist")


def delete(db: Database, name: str) -> None:
    with db.begin() as conn:
        conn.execute(feature_groups.delete().where(feature_groups.c.name == name))


def _to_row(desc: FeatureGroupDescription) -> dict:
    return {
        "name": desc.name,
        "status": desc.status,
        "record_identifier_name": desc.record_identifier_name,
        "event_time_feature_name": desc.event_time_feature_name,
        "feature_definitions": [f.to_dict() for f in desc.feature_definitions],
        "online_store_enabled": desc.online_store_enabled,
        "offline_store_enabled": desc.offline_store_enabled,
        "online_store_uri": desc.online_store_uri,
        "offline_store_uri": desc.offline_store_uri,
        "ttl_seconds": desc.ttl_seconds,
        "description": desc.description,
        "tags": dict(desc.tags),
        "created_at": desc.created_at,
        "updated_at": desc.updated_at,
        "last_update_status": desc.last_update_status,
    }


def _from_row(row) -> FeatureGroupDescription:
    return FeatureGroupDescription(
        name=row["name"],
        status=row["status"],
        record_identifier_name=row["record_identifier_name"],
        event_time_feature_name=row["event_time_feature_name"],
        feature_definitions=tuple(
            FeatureDefinition.from_dict(d) for d in row["feature_definitions"]
        ),
        online_store_enabled=bool(row["online_store_enabled"]),
        offline_store_enabled=bool(row["offline_store_enabled"]),
        online_store_uri=row["online_store_uri"],
        offline_store_uri=row["offline_store_uri"],
        ttl_seconds=row["ttl_seconds"],
        description=row["description"],
        tags=dict(row["tags"] or {}),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        last_update_status=row["last_update_status"],
    )
