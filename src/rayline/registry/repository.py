"""All SQL on the registry's tables: groups, versions, approval history, deployments.

:class:`~rayline.registry.registry.ModelRegistry` validates and handles files; this module only
reads and writes rows and says, in its errors, what exists instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from rayline.errors import ConflictError, NotFoundError
from rayline.registry.entities import (
    ApprovalChange,
    InferenceSpec,
    ModelPackage,
    ModelPackageGroup,
)
from rayline.registry.schema import (
    model_approval_history,
    model_package_deployments,
    model_package_groups,
    model_packages,
)
from rayline.store.db import Database
from rayline.store.rows import from_row


class RegistryRepository:
    """The registry's rows in the metadata DB."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- groups -----------------------------------------------------------------------------

    def insert_group(self, name: str, *, description: str, user: str, exist_ok: bool) -> None:
        """Add group ``name``; an existing one is a :class:`ConflictError` unless ``exist_ok``."""
        with self.db.begin() as conn:
            if _group_row(conn, name) is None:
                conn.execute(
                    model_package_groups.insert().values(
                        name=name, description=description, created_at=time.time(), created_by=user
                    )
                )
            elif not exist_ok:
                raise ConflictError(
                    f"model package group {name!r} exists already; register a new version in "
                    "it, or delete it first"
                )

    def group(self, name: str) -> ModelPackageGroup:
        """Group ``name`` with its version count and latest version."""
        with self.db.connect() as conn:
            row = _group_row(conn, name)
            if row is None:
                raise NotFoundError(_no_group(conn, name))
            count, latest = conn.execute(
                sa.select(sa.func.count(), sa.func.max(model_packages.c.version)).where(
                    model_packages.c.group_name == name
                )
            ).one()
        return from_row(ModelPackageGroup, row, version_count=count, latest_version=latest)

    def groups(self) -> list[ModelPackageGroup]:
        """Every group, by name, with its version count and latest version."""
        counts = (
            sa.select(
                model_packages.c.group_name,
                sa.func.count().label("version_count"),
                sa.func.max(model_packages.c.version).label("latest_version"),
            )
            .group_by(model_packages.c.group_name)
            .subquery()
        )
        query = (
            sa.select(model_package_groups, counts.c.version_count, counts.c.latest_version)
            .select_from(
                model_package_groups.outerjoin(
                    counts, counts.c.group_name == model_package_groups.c.name
                )
            )
            .order_by(model_package_groups.c.name)
        )
        with self.db.connect() as conn:
            return [
                from_row(ModelPackageGroup, r, version_count=r.version_count or 0)
                for r in conn.execute(query)
            ]

    def delete_group(self, name: str, *, force: bool) -> int:
        """Delete group ``name`` (``force``: with its versions); returns how many versions went.

        Refused while it holds versions (without ``force``) or an endpoint serves one of them.
        """
        with self.db.begin() as conn:
            if _group_row(conn, name) is None:
                raise NotFoundError(_no_group(conn, name))
            versions = [
                r.version
                for r in conn.execute(
                    sa.select(model_packages.c.version).where(model_packages.c.group_name == name)
                )
            ]
            if versions and not force:
                raise ConflictError(
                    f"model package group {name!r} still holds {len(versions)} version(s) "
                    f"({', '.join(map(str, sorted(versions)))}); delete them first or pass "
                    "force=True (CLI: --force)"
                )
            _refuse_if_deployed(conn, name, None)
            conn.execute(model_package_groups.delete().where(model_package_groups.c.name == name))
        return len(versions)

    # -- versions ---------------------------------------------------------------------------

    def insert_version(
        self,
        group: str,
        *,
        create_group: bool,
        user: str,
        values: dict[str, Any],
        reason: str,
        uris: Callable[[int], dict[str, str | None]],
        store_files: Callable[[int], None],
    ) -> int:
        """Add the next version of ``group``; returns its number.

        ``values`` are the version's columns; ``uris(version)`` adds where its files will be, and
        ``store_files(version)`` writes them once the number is held, inside the transaction: a
        writer that lost a race for the number never touches the winner's files. The loser gets
        an ``IntegrityError`` (the unique constraint) and may simply try again.
        """
        with self.db.begin() as conn:
            if _group_row(conn, group) is None:
                if not create_group:
                    raise NotFoundError(_no_group(conn, group))
                conn.execute(
                    model_package_groups.insert().values(
                        name=group, description="", created_at=time.time(), created_by=user
                    )
                )
            version = _next_version(conn, group)
            now = time.time()
            package_id = conn.execute(
                model_packages.insert().values(
                    **values,
                    **uris(version),
                    group_name=group,
                    version=version,
                    created_at=now,
                    created_by=user,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            _add_history(conn, package_id, None, values["status"], at=now, by=user, reason=reason)
            store_files(version)
        return version

    def package(self, group: str, version: int | None = None) -> ModelPackage:
        """A version with its approval history (``version=None``: the latest)."""
        with self.db.connect() as conn:
            row = _version_row(conn, group, version)
            history = conn.execute(
                sa.select(model_approval_history)
                .where(model_approval_history.c.package_id == row.id)
                .order_by(model_approval_history.c.id)
            ).all()
        return _package(row, history)

    def packages(
        self,
        group: str | None = None,
        *,
        status: str | None = None,
        execution_id: str | None = None,
    ) -> list[ModelPackage]:
        """Versions (without history), by group and newest first; optionally only ``group``'s
        (which must exist), those with ``status``, or those registered by ``execution_id``."""
        query = sa.select(model_packages)
        if group is not None:
            query = query.where(model_packages.c.group_name == group)
        if status is not None:
            query = query.where(model_packages.c.status == status)
        if execution_id is not None:
            query = query.where(model_packages.c.execution_id == execution_id)
        query = query.order_by(model_packages.c.group_name, model_packages.c.version.desc())
        with self.db.connect() as conn:
            if group is not None and _group_row(conn, group) is None:
                raise NotFoundError(_no_group(conn, group))
            return [_package(r, ()) for r in conn.execute(query)]

    def set_status(self, group: str, version: int, status: str, *, reason: str, by: str) -> None:
        """Change a version's approval status and record the change."""
        with self.db.begin() as conn:
            row = _version_row(conn, group, version)
            if row.status == status:
                raise ConflictError(
                    f"model version {group}/{version} is {status} already; nothing to change"
                )
            now = time.time()
            conn.execute(
                model_packages.update()
                .where(model_packages.c.id == row.id)
                .values(status=status, updated_at=now)
            )
            _add_history(conn, row.id, row.status, status, at=now, by=by, reason=reason)

    def delete_version(self, group: str, version: int) -> None:
        """Delete a version's rows; refused while an endpoint serves it."""
        with self.db.begin() as conn:
            row = _version_row(conn, group, version)
            _refuse_if_deployed(conn, group, version)
            conn.execute(model_packages.delete().where(model_packages.c.id == row.id))

    # -- deployments ------------------------------------------------------------------------

    @staticmethod
    def record_deployment(conn: sa.Connection, endpoint: str, group: str, version: int) -> None:
        """Endpoint ``endpoint`` serves ``group/version`` now (replacing what it served)."""
        package_id = _version_row(conn, group, version).id
        updated = conn.execute(
            model_package_deployments.update()
            .where(model_package_deployments.c.endpoint_name == endpoint)
            .values(package_id=package_id)
        ).rowcount
        if not updated:
            conn.execute(
                model_package_deployments.insert().values(
                    endpoint_name=endpoint, package_id=package_id
                )
            )

    @staticmethod
    def release_deployment(conn: sa.Connection, endpoint: str) -> None:
        """Endpoint ``endpoint`` serves no version any more."""
        conn.execute(
            model_package_deployments.delete().where(
                model_package_deployments.c.endpoint_name == endpoint
            )
        )

    # -- the status history as a log ----------------------------------------------------------

    def status_changes_after(
        self, change_id: int, *, limit: int = 500
    ) -> list[tuple[int, str, int, ApprovalChange]]:
        """Up to ``limit`` approval changes of every version with an id above ``change_id``,
        oldest first, each as ``(id, group, version, change)``: how a reader (webhooks) tails
        the status history from a position it stored."""
        h = model_approval_history
        query = (
            sa.select(h, model_packages.c.group_name, model_packages.c.version)
            .select_from(h.join(model_packages, model_packages.c.id == h.c.package_id))
            .where(h.c.id > change_id)
            .order_by(h.c.id)
            .limit(limit)
        )
        with self.db.connect() as conn:
            return [
                (r.id, r.group_name, r.version, from_row(ApprovalChange, r))
                for r in conn.execute(query)
            ]


def _group_row(conn: sa.Connection, name: str) -> Any:
    return conn.execute(
        sa.select(model_package_groups).where(model_package_groups.c.name == name)
    ).first()


def _version_row(conn: sa.Connection, group: str, version: int | None) -> Any:
    query = sa.select(model_packages).where(model_packages.c.group_name == group)
    if version is None:
        query = query.order_by(model_packages.c.version.desc()).limit(1)
    else:
        query = query.where(model_packages.c.version == int(version))
    row = conn.execute(query).first()
    if row is None:
        if _group_row(conn, group) is None:
            raise NotFoundError(_no_group(conn, group))
        existing = [
            r.version
            for r in conn.execute(
                sa.select(model_packages.c.version)
                .where(model_packages.c.group_name == group)
                .order_by(model_packages.c.version)
            )
        ]
        raise NotFoundError(
            f"model package group {group!r} has no version {version}; it has "
            + (", ".join(map(str, existing)) if existing else "no versions yet")
        )
    return row


def _add_history(
    conn: sa.Connection,
    package_id: int,
    from_status: str | None,
    to_status: str,
    *,
    at: float,
    by: str,
    reason: str,
) -> None:
    conn.execute(
        model_approval_history.insert().values(
            package_id=package_id,
            from_status=from_status,
            to_status=to_status,
            at=at,
            by=by,
            reason=reason,
        )
    )


def _next_version(conn: sa.Connection, group: str) -> int:
    # Lock the group row so concurrent registrations get distinct numbers (PostgreSQL);
    # SQLite serialises writers anyway.
    if conn.dialect.name == "postgresql":
        conn.execute(
            sa.select(model_package_groups.c.name)
            .where(model_package_groups.c.name == group)
            .with_for_update()
        )
    latest = conn.execute(
        sa.select(sa.func.max(model_packages.c.version)).where(model_packages.c.group_name == group)
    ).scalar()
    return (latest or 0) + 1


def _refuse_if_deployed(conn: sa.Connection, group: str, version: int | None) -> None:
    query = (
        sa.select(model_package_deployments.c.endpoint_name, model_packages.c.version)
        .select_from(
            model_package_deployments.join(
                model_packages, model_packages.c.id == model_package_deployments.c.package_id
            )
        )
        .where(model_packages.c.group_name == group)
        .order_by(model_package_deployments.c.endpoint_name)
    )
    if version is not None:
        query = query.where(model_packages.c.version == version)
    served = conn.execute(query).all()
    if served:
        names = ", ".join(f"{r.endpoint_name} (serves {group}/{r.version})" for r in served)
        raise ConflictError(
            f"endpoint(s) {names} still serve this model; update them to another version "
            "or delete them first (`rayline endpoint delete NAME`)"
        )


def _no_group(conn: sa.Connection, name: str) -> str:
    names = [
        r.name
        for r in conn.execute(
            sa.select(model_package_groups.c.name).order_by(model_package_groups.c.name)
        )
    ]
    known = ", ".join(repr(n) for n in names[:20]) if names else "none yet"
    return f"model package group {name!r} does not exist (groups: {known})"


def _package(row: Any, history: Any) -> ModelPackage:
    return from_row(
        ModelPackage,
        row,
        group=row.group_name,
        inference_spec=InferenceSpec.from_dict(row.inference_spec or {}),
        sources=dict(row.sources or {}),
        history=tuple(from_row(ApprovalChange, h) for h in history),
    )
