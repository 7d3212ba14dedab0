"""All SQL on the webhooks' tables: subscriptions, deliveries, their attempts, the cursors."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from rayline.errors import NotFoundError
from rayline.store.db import Database, open_database
from rayline.store.rows import from_row
from rayline.webhooks.entities import Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from rayline.webhooks.schema import (
    webhook_cursors,
    webhook_deliveries,
    webhook_delivery_attempts,
    webhooks,
)


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to create: ``event_id`` of ``event_type`` with ``payload`` to ``webhook_id``."""

    webhook_id: str
    event_id: str
    event_type: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class Outgoing:
    """A claimed delivery with what sending it needs: where to, and the secret to sign with."""

    delivery: Delivery
    url: str
    secret: str


class WebhookRepository:
    """The webhooks' rows in the metadata DB.

    Several servers may share one database: the dispatcher moves a source's cursor with a
    compare-and-set in the same transaction as the deliveries it creates, and a sender claims a
    due delivery by moving its ``next_attempt_at`` forward with a compare-and-set, so each event
    becomes one delivery per webhook and each attempt is sent by one server.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- subscriptions ----------------------------------------------------------------------

    def insert(self, webhook: Webhook, *, secret: str) -> None:
        values = webhook.to_dict()
        with self.db.begin() as conn:
            conn.execute(webhooks.insert().values(**values, secret=secret))

    def get(self, webhook_id: str) -> Webhook:
        with self.db.connect() as conn:
            return _webhook(_webhook_row(conn, webhook_id))

    def list(
        self, *, active_only: bool = False, offset: int = 0, limit: int | None = None
    ) -> list[Webhook]:
        """Webhooks, oldest first."""
        query = sa.select(webhooks).order_by(webhooks.c.created_at, webhooks.c.id).offset(offset)
        if active_only:
            query = query.where(webhooks.c.active.is_(True))
        if limit is not None:
            query = query.limit(limit)
        with self.db.connect() as conn:
            return [_webhook(r) for r in conn.execute(query)]

    def update(self, webhook_id: str, **values: Any) -> Webhook:
        """Change the given columns (``url``, ``events``, ``description``, ``active``)."""
        with self.db.begin() as conn:
            _webhook_row(conn, webhook_id)
            if values:
                conn.execute(
                    webhooks.update()
                    .where(webhooks.c.id == webhook_id)
                    .values(**values, updated_at=time.time())
                )
            return _webhook(_webhook_row(conn, webhook_id))

    def delete(self, webhook_id: str) -> None:
        """Delete the webhook with its deliveries and their attempts."""
        with self.db.begin() as conn:
            _webhook_row(conn, webhook_id)
            ids = sa.select(webhook_deliveries.c.id).where(
                webhook_deliveries.c.webhook_id == webhook_id
            )
            conn.execute(
                webhook_delivery_attempts.delete().where(
                    webhook_delivery_attempts.c.delivery_id.in_(ids)
                )
            )
            conn.execute(
                webhook_deliveries.delete().where(webhook_deliveries.c.webhook_id == webhook_id)
            )
            conn.execute(webhooks.delete().where(webhooks.c.id == webhook_id))

    # -- turning source events into deliveries ----------------------------------------------

    def cursor(self, source: str) -> int:
        """How far the dispatcher has read ``source`` (0: nothing yet)."""
        with self.db.connect() as conn:
            position = conn.execute(
                sa.select(webhook_cursors.c.position).where(webhook_cursors.c.source == source)
            ).scalar()
        return int(position or 0)

    def enqueue(
        self, source: str, *, read_from: int, read_to: int, deliveries: Sequence[NewDelivery]
    ) -> bool:
        """Create ``deliveries`` and move ``source``'s cursor from ``read_from`` to ``read_to``,
        in one transaction; False (nothing written) when another server moved it first."""
        now = time.time()
        try:
            with self.db.begin() as conn:
                if read_from == 0 and self._no_cursor(conn, source):
                    conn.execute(
                        webhook_cursors.insert().values(
                            source=source, position=read_to, updated_at=now
                        )
                    )
                else:
                    moved = conn.execute(
                        webhook_cursors.update()
                        .where(
                            webhook_cursors.c.source == source,
                            webhook_cursors.c.position == read_from,
                        )
                        .values(position=read_to, updated_at=now)
                    ).rowcount
                    if moved != 1:
                        raise _LostRace
                for new in deliveries:
                    _insert_delivery(conn, new, now=now)
        except (_LostRace, sa.exc.IntegrityError):
            return False
        return True

    @staticmethod
    def _no_cursor(conn: sa.Connection, source: str) -> bool:
        query = sa.select(webhook_cursors.c.source).where(webhook_cursors.c.source == source)
        return conn.execute(query).first() is None

    def add_delivery(self, new: NewDelivery) -> Delivery:
        """Create one delivery, due now (a ping)."""
        with self.db.begin() as conn:
            delivery_id = _insert_delivery(conn, new, now=time.time())
            return _read_delivery(conn, delivery_id)

    # -- sending ----------------------------------------------------------------------------

    def due(self, *, now: float, limit: int = 50) -> list[tuple[int, float]]:
        """``(delivery id, next_attempt_at)`` of pending deliveries due at ``now`` to active
        webhooks, the longest due first."""
        d = webhook_deliveries.c
        query = (
            sa.select(d.id, d.next_attempt_at)
            .select_from(webhook_deliveries.join(webhooks, webhooks.c.id == d.webhook_id))
            .where(
                d.status == DeliveryStatus.PENDING.value,
                d.next_attempt_at <= now,
                webhooks.c.active.is_(True),
            )
            .order_by(d.next_attempt_at, d.id)
            .limit(limit)
        )
        with self.db.connect() as conn:
            return [(r.id, r.next_attempt_at) for r in conn.execute(query)]

    def claim(self, delivery_id: int, *, due_at: float, until: float) -> Outgoing | None:
        """Take the attempt due at ``due_at`` for this server: no other sender sees it as due
        before ``until`` (if this one dies mid-attempt, the attempt is retried then). None when
        another server took it first, or it is no longer pending."""
        d = webhook_deliveries.c
        with self.db.begin() as conn:
            taken = conn.execute(
                webhook_deliveries.update()
                .where(
                    d.id == delivery_id,
                    d.status == DeliveryStatus.PENDING.value,
                    d.next_attempt_at == due_at,
                )
                .values(next_attempt_at=until)
            ).rowcount
            if taken != 1:
                return None
            delivery = _read_delivery(conn, delivery_id, history=False)
            hook = conn.execute(
                sa.select(webhooks.c.url, webhooks.c.secret).where(
                    webhooks.c.id == delivery.webhook_id
                )
            ).one()
        return Outgoing(delivery, hook.url, hook.secret)

    def record_attempt(
        self,
        delivery: Delivery,
        attempt: DeliveryAttempt,
        *,
        status: DeliveryStatus,
        next_attempt_at: float | None,
    ) -> Delivery:
        """Record one attempt and what follows: succeeded, failed, or the next attempt's time."""
        now = time.time()
        values: dict[str, Any] = {
            "attempts": attempt.attempt,
            "status": status.value,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
            "last_attempt_at": attempt.started_at,
            "next_attempt_at": next_attempt_at,
            "updated_at": now,
        }
        if status is not DeliveryStatus.PENDING:
            values["ended_at"] = now
        with self.db.begin() as conn:
            conn.execute(
                webhook_delivery_attempts.insert().values(
                    delivery_id=delivery.id,
                    attempt=attempt.attempt,
                    started_at=attempt.started_at,
                    duration_s=attempt.duration_s,
                    status_code=attempt.status_code,
                    error=attempt.error,
                )
            )
            conn.execute(
                webhook_deliveries.update()
                .where(webhook_deliveries.c.id == delivery.id)
                .values(**values)
            )
            return _read_delivery(conn, delivery.id)

    # -- reading deliveries -----------------------------------------------------------------

    def deliveries(self, webhook_id: str, *, offset: int = 0, limit: int = 100) -> list[Delivery]:
        """A webhook's deliveries, newest first, each with its attempts."""
        d = webhook_deliveries.c
        with self.db.connect() as conn:
            _webhook_row(conn, webhook_id)
            rows = conn.execute(
                sa.select(webhook_deliveries)
                .where(d.webhook_id == webhook_id)
                .order_by(d.id.desc())
                .offset(offset)
                .limit(limit)
            ).all()
            history = _attempts(conn, [r.id for r in rows])
        return [_delivery(r, history.get(r.id, ())) for r in rows]

    def delivery(self, delivery_id: int) -> Delivery:
        with self.db.connect() as conn:
            return _read_delivery(conn, delivery_id)


class _LostRace(Exception):
    """Another server moved the cursor first: roll back."""


def open_webhooks(db_url: str | None = None) -> WebhookRepository:
    """The webhooks of the metadata DB at ``db_url`` (default: ``RAYLINE_DB_URL``)."""
    return WebhookRepository(open_database(db_url))


def _insert_delivery(conn: sa.Connection, new: NewDelivery, *, now: float) -> int:
    d = webhook_deliveries.c
    existing = conn.execute(
        sa.select(d.id).where(d.webhook_id == new.webhook_id, d.event_id == new.event_id)
    ).scalar()
    if existing is not None:  # read again after a crash between send and cursor: once is enough
        return int(existing)
    result = conn.execute(
        webhook_deliveries.insert().values(
            webhook_id=new.webhook_id,
            event_id=new.event_id,
            event_type=new.event_type,
            payload=new.payload,
            attempts=0,
            status=DeliveryStatus.PENDING.value,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
    )
    return int(result.inserted_primary_key[0])


def _webhook_row(conn: sa.Connection, webhook_id: str) -> Any:
    row = conn.execute(sa.select(webhooks).where(webhooks.c.id == webhook_id)).first()
    if row is None:
        ids = [r.id for r in conn.execute(sa.select(webhooks.c.id).order_by("id").limit(20))]
        known = ", ".join(repr(i) for i in ids) or "none"
        raise NotFoundError(
            f"webhook {webhook_id!r} does not exist (webhooks: {known}; GET /api/v1/webhooks)"
        )
    return row


def _read_delivery(conn: sa.Connection, delivery_id: int, *, history: bool = True) -> Delivery:
    row = conn.execute(
        sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    ).first()
    if row is None:
        raise NotFoundError(f"webhook delivery {delivery_id} does not exist")
    attempts = _attempts(conn, [delivery_id]).get(delivery_id, ()) if history else ()
    return _delivery(row, attempts)


def _attempts(
    conn: sa.Connection, delivery_ids: list[int]
) -> dict[int, tuple[DeliveryAttempt, ...]]:
    if not delivery_ids:
        return {}
    a = webhook_delivery_attempts.c
    rows = conn.execute(
        sa.select(webhook_delivery_attempts)
        .where(a.delivery_id.in_(delivery_ids))
        .order_by(a.delivery_id, a.attempt, a.id)
    ).all()
    out: dict[int, list[DeliveryAttempt]] = {}
    for r in rows:
        out.setdefault(r.delivery_id, []).append(from_row(DeliveryAttempt, r))
    return {k: tuple(v) for k, v in out.items()}


def _webhook(row: Any) -> Webhook:
    return from_row(Webhook, row, events=tuple(row.events or ()), active=bool(row.active))


def _delivery(row: Any, history: Sequence[DeliveryAttempt]) -> Delivery:
    return from_row(
        Delivery,
        row,
        payload=dict(row.payload or {}),
        status=DeliveryStatus(row.status),
        history=tuple(history),
    )
