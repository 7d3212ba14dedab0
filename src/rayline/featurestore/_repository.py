"""Feature group rows, and their offline ingestions, in the metadata DB."""

from __future__ import annotations

import time

import sqlalchemy as sa

from rayline.errors import ConflictError, NotFoundError
from rayline.featurestore._tables import feature_group_ingestions, feature_groups
from rayline.featurestore.definitions import FeatureDefinition
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import Database
from rayline.store.rows import from_row


def insert(db: Database, desc: FeatureGroupDescription) -> None:
    """Record a new group (``ConflictError`` when the name is taken)."""
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
    """The stored description of group ``name`` (``NotFoundError`` when there is none)."""
    with db.connect() as conn:
        row = conn.execute(sa.select(feature_groups).where(feature_groups.c.name == name)).first()
    if row is None:
        raise NotFoundError(
            f"feature group {name!r} does not exist; list them with `rayline feature-group list`"
        )
    return _from_row(row)


def find(db: Database, name: str) -> FeatureGroupDescription | None:
    """The stored description of group ``name``, or None."""
    try:
        return get(db, name)
    except NotFoundError:
        return None


def list_all(db: Database, *, name_contains: str | None = None) -> list[FeatureGroupDescription]:
    """Every group (whose name contains ``name_contains``), oldest first."""
    query = sa.select(feature_groups).order_by(feature_groups.c.created_at)
    if name_contains:
        query = query.where(feature_groups.c.name.contains(name_contains, autoescape=True))
    with db.connect() as conn:
        return [_from_row(r) for r in conn.execute(query)]


def update(db: Database, name: str, **values) -> None:
    """Set columns of group ``name`` (``updated_at`` defaults to now)."""
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
    """Remove group ``name``'s record and its ingestions (a no-op when there is none)."""
    with db.begin() as conn:
        ingestions = feature_group_ingestions
        conn.execute(ingestions.delete().where(ingestions.c.feature_group == name))
        conn.execute(feature_groups.delete().where(feature_groups.c.name == name))


# -- offline ingestions ------------------------------------------------------------------------

IN_PROGRESS, COMMITTED, FAILED = "InProgress", "Committed", "Failed"


def begin_ingestion(db: Database, group: str, ingest_id: str) -> None:
    """Record that ingestion ``ingest_id`` starts writing offline files (not yet visible)."""
    with db.begin() as conn:
        conn.execute(
            feature_group_ingestions.insert().values(
                ingest_id=ingest_id, feature_group=group, status=IN_PROGRESS, started_at=time.time()
            )
        )


def commit_ingestion(db: Database, ingest_id: str, *, rows: int) -> None:
    """Commit an ingestion: its files become visible, all at once."""
    with db.begin() as conn:
        conn.execute(
            feature_group_ingestions.update()
            .where(feature_group_ingestions.c.ingest_id == ingest_id)
            .values(status=COMMITTED, finished_at=time.time(), rows_written=rows)
        )


def fail_ingestion(db: Database, ingest_id: str) -> bool:
    """Mark an ingestion that has not committed as failed (its files stay hidden); False when
    it had committed already."""
    with db.begin() as conn:
        result = conn.execute(
            feature_group_ingestions.update()
            .where(
                feature_group_ingestions.c.ingest_id == ingest_id,
                feature_group_ingestions.c.status == IN_PROGRESS,
            )
            .values(status=FAILED, finished_at=time.time())
        )
    return result.rowcount == 1


def committed_ingestions(db: Database, group: str) -> tuple[frozenset[str], frozenset[str]]:
    """``(committed, all)`` ids of the group's recorded ingestions."""
    query = sa.select(
        feature_group_ingestions.c.ingest_id, feature_group_ingestions.c.status
    ).where(feature_group_ingestions.c.feature_group == group)
    with db.connect() as conn:
        rows = conn.execute(query).all()
    return frozenset(i for i, status in rows if status == COMMITTED), frozenset(i for i, _ in rows)


def recorded_ingestions(db: Database, group: str, ids: set[str]) -> frozenset[str]:
    """Those of ``ids`` that are recorded ingestions of the group."""
    if not ids:
        return frozenset()
    table = feature_group_ingestions
    query = sa.select(table.c.ingest_id).where(
        table.c.feature_group == group, table.c.ingest_id.in_(sorted(ids))
    )
    with db.connect() as conn:
        return frozenset(conn.execute(query).scalars())


def hidden_ingestions(db: Database, group: str) -> frozenset[str]:
    """Ids of the group's ingestions that have not committed (in progress, failed or killed)."""
    query = sa.select(feature_group_ingestions.c.ingest_id).where(
        feature_group_ingestions.c.feature_group == group,
        feature_group_ingestions.c.status != COMMITTED,
    )
    with db.connect() as conn:
        return frozenset(conn.execute(query).scalars())


def _to_row(desc: FeatureGroupDescription) -> dict:
    row = {column.name: getattr(desc, column.name) for column in feature_groups.columns}
    row["feature_definitions"] = [f.to_dict() for f in desc.feature_definitions]
    row["tags"] = dict(desc.tags)
    return row


def _from_row(row) -> FeatureGroupDescription:
    return from_row(
        FeatureGroupDescription,
        row,
        feature_definitions=tuple(FeatureDefinition.from_dict(d) for d in row.feature_definitions),
        online_store_enabled=bool(row.online_store_enabled),
        offline_store_enabled=bool(row.offline_store_enabled),
        tags=dict(row.tags or {}),
    )
