"""Turning what the engine and the registry record into signed POSTs, and sending them.

A tick does two things:

- **collect**: read each source past its stored cursor (the engine's event log: execution
  status changes; the registry's status history: model package status changes), make one
  delivery per event and active webhook that wants its type (and was created before it
  happened), and move the cursor, in one transaction.
- **send**: POST each due delivery (claimed first, so of several servers one sends it), signed
  (``signing``), with a timeout and no redirects followed. A 2xx answer ends it; anything else is
  retried with exponential backoff and jitter, up to ``max_attempts``. Every attempt is recorded.

The options are settings (``rayline.config``):

- ``RAYLINE_WEBHOOK_POLL_S``: seconds between ticks (default 1).
- ``RAYLINE_WEBHOOK_BACKOFF_S``: the wait after the first failed attempt (default 5); it doubles
  with each further failure, up to an hour, plus up to a quarter more at random.
- ``RAYLINE_WEBHOOK_MAX_ATTEMPTS``: attempts before a delivery fails (default 10).
- ``RAYLINE_WEBHOOK_TIMEOUT_S``: how long one POST may take (default 10).
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from rayline.config import settings
from rayline.webhooks.entities import (
    PING,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EventType,
    Webhook,
)
from rayline.webhooks.repository import NewDelivery, Outgoing, WebhookRepository
from rayline.webhooks.signing import signed_headers

log = logging.getLogger("rayline.webhooks")

#: The sources' names in ``webhook_cursors``.
EXECUTION_EVENTS = "engine.events"
MODEL_STATUS_HISTORY = "registry.model_approval_history"

#: An event is read once it is this old: a transaction that took its id earlier but commits
#: later (PostgreSQL) is in by then, so the cursor never moves past an event still to come.
SETTLE_S = 0.5

#: Events read per query.
BATCH = 500

#: Deliveries sent per tick, and at once.
SEND_BATCH = 50
SENDERS = 8


@dataclass(frozen=True)
class Options:
    """How the dispatcher polls and retries (see the module docstring for the variables)."""

    poll_s: float = 1.0
    backoff_s: float = 5.0
    max_backoff_s: float = 3600.0
    max_attempts: int = 10
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls) -> Options:
        s = settings()
        return cls(
            poll_s=s.webhook_poll_s,
            backoff_s=s.webhook_backoff_s,
            max_attempts=s.webhook_max_attempts,
            timeout_s=s.webhook_timeout_s,
        )

    def backoff(self, failed: int) -> float:
        """Seconds to wait after the ``failed``-th failed attempt."""
        delay = min(self.max_backoff_s, self.backoff_s * 2.0 ** (failed - 1))
        # Jitter: receivers that came back after an outage are not hit by every retry at once.
        return delay * random.uniform(1.0, 1.25)


class Dispatcher:
    """Collects deliveries and sends them, one :meth:`tick` at a time (the service's thread)."""

    def __init__(
        self,
        repo: WebhookRepository,
        *,
        options: Options | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        from rayline.engine.repository import PipelineRepository
        from rayline.registry.repository import RegistryRepository

        self.repo = repo
        self.options = options or Options.from_env()
        self.engine = PipelineRepository(repo.db)
        self.registry = RegistryRepository(repo.db)
        self.client = client or httpx.Client(timeout=self.options.timeout_s, follow_redirects=False)
        self._senders = ThreadPoolExecutor(SENDERS, thread_name_prefix="rayline-webhook-send")

    def close(self) -> None:
        self._senders.shutdown(wait=True)
        self.client.close()

    def tick(self) -> None:
        """Collect what happened since the last tick, then send what is due."""
        self.collect()
        self.send_due()

    # -- collecting -------------------------------------------------------------------------

    def collect(self, *, now: float | None = None) -> int:
        """Make the deliveries of every event recorded since the cursors; how many."""
        hooks = self.repo.list(active_only=True)
        if not hooks:
            return 0  # nothing to match; the cursors wait (events before a webhook never match)
        settled = (time.time() if now is None else now) - SETTLE_S
        return self._collect_executions(hooks, settled) + self._collect_models(hooks, settled)

    def _collect_executions(self, hooks: Sequence[Webhook], settled: float) -> int:
        from rayline.engine.records import EventKind

        kinds = (EventKind.EXECUTION_STATUS, EventKind.EXECUTION_ENDED)
        made = 0
        position = self.repo.cursor(EXECUTION_EVENTS)
        while True:
            events = self.engine.events_after(position, kinds=kinds, limit=BATCH)
            ready = _until(events, lambda e: e.at <= settled)
            if not ready:
                return made
            pipelines: dict[str, tuple[str, int] | None] = {}
            new: list[NewDelivery] = []
            for event in ready:
                if event.execution_id not in pipelines:
                    record = self.engine.find_execution(event.execution_id)
                    pipelines[event.execution_id] = (
                        None if record is None else (record.pipeline_name, record.pipeline_version)
                    )
                pipeline = pipelines[event.execution_id]
                if pipeline is None:  # deleted meanwhile
                    continue
                data = {
                    "execution_id": event.execution_id,
                    "pipeline": pipeline[0],
                    "pipeline_version": pipeline[1],
                    "status": event.status,
                    "failure_reason": event.detail,
                    "at": event.at,
                }
                new += _fan_out(
                    hooks,
                    f"evt_exec_{event.id}",
                    EventType.EXECUTION_STATUS_CHANGED,
                    event.at,
                    data,
                )
            if not self.repo.enqueue(
                EXECUTION_EVENTS, read_from=position, read_to=ready[-1].id, deliveries=new
            ):
                return made  # another server took these; the next tick reads on from its cursor
            made += len(new)
            position = ready[-1].id
            if len(ready) < BATCH:
                return made

    def _collect_models(self, hooks: Sequence[Webhook], settled: float) -> int:
        made = 0
        position = self.repo.cursor(MODEL_STATUS_HISTORY)
        while True:
            changes = self.registry.status_changes_after(position, limit=BATCH)
            ready = _until(changes, lambda c: c[3].at <= settled)
            if not ready:
                return made
            new: list[NewDelivery] = []
            for change_id, group, version, change in ready:
                data = {
                    "group": group,
                    "version": version,
                    "status": change.to_status,
                    "previous_status": change.from_status,
                    "reason": change.reason,
                    "by": change.by,
                    "at": change.at,
                }
                new += _fan_out(
                    hooks,
                    f"evt_model_{change_id}",
                    EventType.MODEL_PACKAGE_STATUS_CHANGED,
                    change.at,
                    data,
                )
            if not self.repo.enqueue(
                MODEL_STATUS_HISTORY, read_from=position, read_to=ready[-1][0], deliveries=new
            ):
                return made
            made += len(new)
            position = ready[-1][0]
            if len(ready) < BATCH:
                return made

    # -- sending ----------------------------------------------------------------------------

    def send_due(self, *, now: float | None = None) -> list[Delivery]:
        """Send every delivery due now (at most ``SEND_BATCH``, several at once); what each
        attempt gave."""
        now = time.time() if now is None else now
        # Claimed until the attempt surely ended: a server that dies mid-send leaves it due then.
        until = now + self.options.timeout_s + 60.0
        claimed = [
            out
            for delivery_id, due_at in self.repo.due(now=now, limit=SEND_BATCH)
            if (out := self.repo.claim(delivery_id, due_at=due_at, until=until)) is not None
        ]
        return list(self._senders.map(self.send, claimed))

    def send(self, outgoing: Outgoing) -> Delivery:
        """One attempt of a claimed delivery, recorded with what follows from it."""
        delivery = outgoing.delivery
        body = encode(delivery.payload)
        started = time.time()
        headers = {
            "content-type": "application/json",
            "user-agent": _user_agent(),
            **signed_headers(
                outgoing.secret, msg_id=delivery.event_id, timestamp=int(started), body=body
            ),
        }
        code: int | None = None
        error: str | None = None
        try:
            response = self.client.post(outgoing.url, content=body, headers=headers)
            code = response.status_code
            if not 200 <= code < 300:
                error = f"HTTP {code} {response.reason_phrase}: {response.text[:200]}".rstrip(": ")
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        except Exception as exc:  # a URL httpx refuses: recorded, never the thread's end
            error = f"{type(exc).__name__}: {exc}"
        attempt = DeliveryAttempt(
            attempt=delivery.attempts + 1,
            started_at=started,
            duration_s=time.time() - started,
            status_code=code,
            error=error,
        )
        if error is None:
            status, next_at = DeliveryStatus.SUCCEEDED, None
        elif attempt.attempt >= self.options.max_attempts:
            status, next_at = DeliveryStatus.FAILED, None
            log.warning(
                "webhook %s: delivery %d (%s) failed after %d attempts: %s",
                delivery.webhook_id,
                delivery.id,
                delivery.event_type,
                attempt.attempt,
                error,
            )
        else:
            status = DeliveryStatus.PENDING
            next_at = time.time() + self.options.backoff(attempt.attempt)
        return self.repo.record_attempt(delivery, attempt, status=status, next_attempt_at=next_at)


def ping(repo: WebhookRepository, webhook: Webhook) -> Delivery:
    """Queue a ``ping`` event for ``webhook`` (sent by the service at its next tick)."""
    now = time.time()
    event_id = f"evt_ping_{secrets.token_hex(8)}"
    data = {"webhook_id": webhook.id, "url": webhook.url, "at": now}
    (new,) = _fan_out([webhook], event_id, PING, now, data, check=False)
    return repo.add_delivery(new)


def encode(payload: dict[str, Any]) -> bytes:
    """The body of a POST: compact JSON (what is signed is exactly what is sent)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def _fan_out(
    hooks: Sequence[Webhook],
    event_id: str,
    event_type: str,
    at: float,
    data: dict[str, Any],
    *,
    check: bool = True,
) -> list[NewDelivery]:
    # The Standard Webhooks payload shape: type, timestamp, data (and the id, for logs).
    payload = {"id": event_id, "type": str(event_type), "timestamp": _iso(at), "data": data}
    return [
        NewDelivery(hook.id, event_id, str(event_type), payload)
        for hook in hooks
        # only what happened after the webhook was created: a new one gets no history
        if not check or (hook.wants(event_type) and at >= hook.created_at)
    ]


def _until(items: Sequence[Any], ok: Any) -> list[Any]:
    """The leading items for which ``ok`` holds (the cursor must not skip one that does not)."""
    out = []
    for item in items:
        if not ok(item):
            break
        out.append(item)
    return out


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _user_agent() -> str:
    from rayline._version import __version__

    return f"rayline-webhooks/{__version__}"
