"""All SQL on the endpoints' tables: ``endpoints`` (each endpoint's desired and observed state)
and ``endpoint_events`` (every change, kept after the endpoint is deleted)."""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

import sqlalchemy as sa

from rayline.errors import ConflictError, NotFoundError
from rayline.registry.entities import ModelPackage, current_user
from rayline.serving.entities import Endpoint, EndpointEvent, EndpointStatus
from rayline.serving.schema import endpoint_events, endpoints
from rayline.store.db import Database
from rayline.store.rows import from_row


class EndpointRepository:
    """The endpoints' rows in the metadata DB.

    Writes take the caller's connection (:meth:`transaction`), so that the registry's record of
    which version an endpoint serves changes in the same transaction.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    def transaction(self) -> AbstractContextManager[sa.Connection]:
        """A connection in a transaction, committed when the block ends without error."""
        return self.db.begin()

    # -- writing ----------------------------------------------------------------------------

    @staticmethod
    def insert(
        conn: sa.Connection, name: str, package: ModelPackage, *, config: dict[str, Any], url: str
    ) -> None:
        """Record a new endpoint (Creating); a name taken already is a :class:`ConflictError`."""
        existing = conn.execute(
            sa.select(endpoints.c.status).where(endpoints.c.name == name)
        ).first()
        if existing is not None:
            raise ConflictError(
                f"endpoint {name!r} exists already ({existing.status}); update it with "
                f"`rayline endpoint update {name} GROUP/VERSION` or delete it first"
            )
        now = time.time()
        conn.execute(
            endpoints.insert().values(
                name=name,
                model_package_group=package.group,
                model_package_version=package.version,
                status=EndpointStatus.CREATING,
                config=config,
                url=url,
                failure_reason=None,
                created_at=now,
                updated_at=now,
            )
        )
        EndpointRepository.add_event(conn, name, "create", package, EndpointStatus.CREATING)

    @staticmethod
    def update(conn: sa.Connection, name: str, **values: Any) -> None:
        """Set columns of endpoint ``name`` (and its ``updated_at``)."""
        conn.execute(
            endpoints.update()
            .where(endpoints.c.name == name)
            .values(**values, updated_at=time.time())
        )

    @staticmethod
    def delete(conn: sa.Connection, name: str) -> None:
        """Forget endpoint ``name`` (its events stay)."""
        conn.execute(endpoints.delete().where(endpoints.c.name == name))

    @staticmethod
    def add_event(
        conn: sa.Connection,
        name: str,
        action: str,
        package: ModelPackage | None,
        status: str,
        detail: str | None = None,
    ) -> None:
        """Append a change to endpoint ``name``'s history."""
        conn.execute(
            endpoint_events.insert().values(
                endpoint_name=name,
                action=action,
                model_package_group=package.group if package else None,
                model_package_version=package.version if package else None,
                status=status,
                at=time.time(),
                by=current_user(),
                detail=detail,
            )
        )

    # -- reading ----------------------------------------------------------------------------

    def get(self, name: str, *, events: bool = False) -> Endpoint:
        """Endpoint ``name`` (``events``: with its history); :class:`NotFoundError` if none."""
        with self.db.connect() as conn:
            endpoint = self.read(conn, name)
            if not events:
                return endpoint
            return replace(endpoint, events=self.history(conn, name))

    @staticmethod
    def read(conn: sa.Connection, name: str) -> Endpoint:
        """Endpoint ``name`` read on ``conn`` (inside the caller's transaction)."""
        row = conn.execute(sa.select(endpoints).where(endpoints.c.name == name)).first()
        if row is None:
            known = ", ".join(repr(n) for n in _names(conn)[:20]) or "none"
            raise NotFoundError(f"endpoint {name!r} does not exist (endpoints: {known})")
        return _endpoint(row)

    def find(self, name: str) -> Endpoint | None:
        """Endpoint ``name``, or None if there is none."""
        with self.db.connect() as conn:
            row = conn.execute(sa.select(endpoints).where(endpoints.c.name == name)).first()
        return None if row is None else _endpoint(row)

    def names(self, *, group: str | None = None, version: int | None = None) -> list[str]:
        """Endpoint names, sorted; optionally only those serving ``group`` (and ``version``)."""
        query = sa.select(endpoints.c.name)
        if group is not None:
            query = query.where(endpoints.c.model_package_group == group)
        if version is not None:
            query = query.where(endpoints.c.model_package_version == version)
        with self.db.connect() as conn:
            return [r.name for r in conn.execute(query.order_by(endpoints.c.name))]

    def active(self) -> list[Endpoint]:
        """Every endpoint not being deleted, by name: what Serve should run."""
        query = (
            sa.select(endpoints)
            .where(endpoints.c.status != EndpointStatus.DELETING)
            .order_by(endpoints.c.name)
        )
        with self.db.connect() as conn:
            return [_endpoint(r) for r in conn.execute(query)]

    @staticmethod
    def history(conn: sa.Connection, name: str) -> tuple[EndpointEvent, ...]:
        """Every change of endpoint ``name``, oldest first."""
        rows = conn.execute(
            sa.select(endpoint_events)
            .where(endpoint_events.c.endpoint_name == name)
            .order_by(endpoint_events.c.id)
        ).all()
        return tuple(_event(r) for r in rows)

    def events(self, name: str) -> tuple[EndpointEvent, ...]:
        """Every change of endpoint ``name``, oldest first, also after it was deleted."""
        with self.db.connect() as conn:
            return self.history(conn, name)

    def served_by(self, group: str, version: int) -> list[str]:
        """Endpoints that ever served ``group/version`` (by their history), by name."""
        query = (
            sa.select(endpoint_events.c.endpoint_name)
            .where(
                endpoint_events.c.model_package_group == group,
                endpoint_events.c.model_package_version == version,
            )
            .distinct()
            .order_by(endpoint_events.c.endpoint_name)
        )
        with self.db.connect() as conn:
            return [r.endpoint_name for r in conn.execute(query)]


def _names(conn: sa.Connection) -> list[str]:
    return [r.name for r in conn.execute(sa.select(endpoints.c.name).order_by(endpoints.c.name))]


def _endpoint(row: Any) -> Endpoint:
    return from_row(Endpoint, row, config=dict(row.config or {}))


def _event(row: Any) -> EndpointEvent:
    version = (
        f"{row.model_package_group}/{row.model_package_version}"
        if row.model_package_group
        else None
    )
    return from_row(EndpointEvent, row, model_version=version)
