"""The webhooks package's tables, on the shared ``rayline.store.schema.metadata`` (migration 0015).

- ``webhooks``: the subscriptions: a URL, the event types it wants (``["*"]``: all) and the secret
  its POSTs are signed with. The secret is stored as given (it is needed to sign every POST), is
  shown once at creation and never returned again.
- ``webhook_deliveries``: one row per (subscription, event): the body sent, how many attempts,
  ``pending`` / ``succeeded`` / ``failed``, the last status code or error and when the next
  attempt is due. ``(webhook_id, event_id)`` is unique: an event reaches a subscription once.
- ``webhook_delivery_attempts``: every attempt of a delivery, with its outcome and duration.
- ``webhook_cursors``: how far the dispatcher has read each source (the id of the last event of
  the engine's log, of the registry's status history, it turned into deliveries).

Times are Unix epoch seconds.
"""

from __future__ import annotations

import sqlalchemy as sa

from rayline.store.schema import metadata

webhooks = sa.Table(
    "webhooks",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("events", sa.JSON, nullable=False),  # event types, or ["*"]
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("secret", sa.String(256), nullable=False),  # whsec_<base64>
    sa.Column("created_by", sa.String(256), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
)

webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "webhook_id",
        sa.String(64),
        sa.ForeignKey("webhooks.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # the webhook-id header: the same on every attempt, so a receiver can drop repeats
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # a DeliveryStatus
    sa.Column("last_status_code", sa.Integer),
    sa.Column("last_error", sa.Text),
    # when the next attempt is due (null once it succeeded or failed); a sender claims a due
    # delivery by moving this forward, so two servers never send the same attempt
    sa.Column("next_attempt_at", sa.Float),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("last_attempt_at", sa.Float),
    sa.Column("ended_at", sa.Float),
    sa.UniqueConstraint("webhook_id", "event_id", name="uq_webhook_deliveries_webhook_event"),
    sa.Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
)

webhook_delivery_attempts = sa.Table(
    "webhook_delivery_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "delivery_id",
        sa.Integer,
        sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("attempt", sa.Integer, nullable=False),  # 1, 2, ...
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("duration_s", sa.Float, nullable=False),
    sa.Column("status_code", sa.Integer),  # null: no response (refused, timed out)
    sa.Column("error", sa.Text),  # null: a 2xx answer
)

webhook_cursors = sa.Table(
    "webhook_cursors",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)
