"""Webhooks and their deliveries as the API returns them (frozen records; FastAPI and
``--json`` serialise them). A webhook's secret is never part of its record: it is returned once,
beside the record, when the webhook is created."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    """What a webhook can subscribe to (or ``*``: all of them)."""

    #: an execution's status changed (Executing, Succeeded, Failed, Stopping, Stopped)
    EXECUTION_STATUS_CHANGED = "execution.status_changed"
    #: a model package version's approval status changed (registered, Approved, Rejected, ...)
    MODEL_PACKAGE_STATUS_CHANGED = "model_package.status_changed"


#: Subscribes a webhook to every event type.
ALL_EVENTS = "*"

#: The event ``POST /webhooks/{id}/ping`` sends: always delivered, whatever the subscription.
PING = "ping"


class DeliveryStatus(StrEnum):
    #: not yet answered with a 2xx; the next attempt is due at ``next_attempt_at``
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    #: every attempt failed
    FAILED = "failed"


@dataclass(frozen=True)
class Webhook:
    """A subscription: POST each event of the ``events`` types (``("*",)``: all) to ``url``."""

    id: str
    url: str
    events: tuple[str, ...]
    description: str
    created_by: str
    created_at: float
    updated_at: float
    #: an inactive webhook is sent nothing (its pending deliveries wait until it is active)
    active: bool

    def wants(self, event_type: str) -> bool:
        return ALL_EVENTS in self.events or event_type in self.events

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["events"] = list(self.events)
        return out


@dataclass(frozen=True)
class DeliveryAttempt:
    """One POST of a delivery: when, how long it took, the status code (None: no answer) and
    what went wrong (None: a 2xx answer)."""

    attempt: int
    started_at: float
    duration_s: float
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Delivery:
    """One event sent (or being sent) to one webhook: the body, every attempt, the outcome."""

    id: int
    webhook_id: str
    #: the ``webhook-id`` header: the same on every attempt, so a receiver can drop repeats
    event_id: str
    event_type: str
    payload: dict[str, Any]
    attempts: int
    status: DeliveryStatus
    last_status_code: int | None
    last_error: str | None
    #: when the next attempt is due; None once the delivery succeeded or failed
    next_attempt_at: float | None
    created_at: float
    updated_at: float
    last_attempt_at: float | None = None
    ended_at: float | None = None
    #: every attempt, oldest first
    history: tuple[DeliveryAttempt, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status"] = self.status.value
        out["history"] = [asdict(a) for a in self.history]
        return out
