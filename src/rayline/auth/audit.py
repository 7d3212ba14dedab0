"""The audit log: who changed (or tried to change) what, when, from where.

The server writes one row per state-changing request (POST, PUT, PATCH, DELETE under
``/api/``) once it knows the response's status, refused requests (401, 403, 4xx) included
(``record_request``: the server's own, always on its metadata DB). ``list_audit`` reads it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import sqlalchemy as sa

from rayline.auth.schema import audit_log
from rayline.store.db import open_database
from rayline.store.rows import from_row


@dataclass(frozen=True)
class AuditRecord:
    """One audited request. ``identity`` is ``anonymous`` when no valid token came with it."""

    id: int
    at: float
    identity: str
    role: str | None
    token_id: str | None
    method: str
    path: str
    status: int
    client: str | None
    target: str | None


def record_request(
    *,
    identity: str,
    role: str | None,
    method: str,
    path: str,
    status: int,
    client: str | None = None,
    target: str | None = None,
    token_id: str | None = None,
    at: float | None = None,
    db_url: str | None = None,
) -> None:
    """Append one row to the audit log."""
    with open_database(db_url).begin() as conn:
        conn.execute(
            audit_log.insert().values(
                at=time.time() if at is None else at,
                identity=identity,
                role=role,
                token_id=token_id,
                method=method,
                path=path,
                status=status,
                client=client,
                target=target,
            )
        )


def list_audit(
    *,
    identity: str | None = None,
    since: float | None = None,
    offset: int = 0,
    limit: int | None = None,
    db_url: str | None = None,
) -> list[AuditRecord]:
    """Audit rows, newest first; ``identity`` and ``since`` (a Unix time) narrow them. With
    ``RAYLINE_SERVER_URL`` (``rayline.remote.client.server_client``), the server's (an admin's
    token): the log is of its requests."""
    from rayline.remote.client import server_client

    client = server_client(db_url)
    if client is not None:
        from rayline.auth import remote

        with client:
            return remote.list_audit(
                client, identity=identity, since=since, offset=offset, limit=limit
            )
    query = sa.select(audit_log).order_by(audit_log.c.id.desc())
    if identity is not None:
        query = query.where(audit_log.c.identity == identity)
    if since is not None:
        query = query.where(audit_log.c.at >= since)
    query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with open_database(db_url).connect() as conn:
        return [from_row(AuditRecord, row) for row in conn.execute(query)]
