"""The Python API of webhooks: create, read, change and delete subscriptions, read their
deliveries, send a ping (what the server's routes and the CLI call). The server's
``rayline.webhooks.service`` collects and sends the deliveries.

Each call works on one backend, chosen by the shared rule (``rayline.remote.client.
server_client``): the metadata DB (``EmbeddedWebhooks``), or with ``RAYLINE_SERVER_URL`` the
server's ``/api/v1/webhooks`` (``rayline.webhooks.remote``; an admin's token), which calls this
same API there. URLs and event types are checked here, before either backend is asked.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import Iterable, Iterator
from typing import Any, Protocol
from urllib.parse import urlsplit

from rayline.config import settings
from rayline.errors import ConflictError, UserInputError
from rayline.webhooks.entities import ALL_EVENTS, Delivery, EventType, Webhook
from rayline.webhooks.repository import WebhookRepository, open_webhooks
from rayline.webhooks.signing import new_secret

#: The longest URL a webhook takes.
MAX_URL = 2048


def check_url(url: str) -> str:
    """``url`` if it is an absolute ``http``/``https`` URL with a host; ``UserInputError``."""
    text = str(url).strip()
    try:
        parts = urlsplit(text)
        port = parts.port  # a port out of range raises here
    except ValueError as exc:
        raise UserInputError(f"webhook URL {url!r} is malformed ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserInputError(
            f"webhook URL {url!r} is not an http(s) URL; give one such as "
            "https://ci.example.com/hooks/rayline"
        )
    if len(text) > MAX_URL or any(c.isspace() or ord(c) < 32 for c in text):
        raise UserInputError(
            f"webhook URL {url[:80]!r}... has spaces or control characters, or is longer than "
            f"{MAX_URL} characters"
        )
    if parts.username or parts.password:
        raise UserInputError(
            "a webhook URL must not hold a user name or password: the URL is shown to every "
            "admin; the receiver authenticates the POSTs by their signature instead"
        )
    del port
    return text


def check_events(events: Iterable[str] | str) -> tuple[str, ...]:
    """The event types, without repeats: ``*`` alone, or known ``EventType`` values."""
    given = [events] if isinstance(events, str) else list(events)
    names = list(dict.fromkeys(str(e).strip() for e in given))
    known = [t.value for t in EventType]
    unknown = [n for n in names if n != ALL_EVENTS and n not in known]
    if not names or unknown:
        what = f"unknown event type(s) {', '.join(map(repr, unknown))}" if unknown else "no events"
        raise UserInputError(
            f"{what}: subscribe to '*' (all) or any of {', '.join(map(repr, known))}"
        )
    return (ALL_EVENTS,) if ALL_EVENTS in names else tuple(names)


class Webhooks(Protocol):
    """Where webhooks live: what the functions below need of a backend. Arguments arrive
    checked; ``None`` in ``update`` leaves that field as it is."""

    def create(
        self, url: str, *, events: tuple[str, ...], description: str
    ) -> tuple[Webhook, str]: ...

    def get(self, webhook_id: str) -> Webhook: ...

    def list(self, *, offset: int, limit: int | None) -> list[Webhook]: ...

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None,
        events: tuple[str, ...] | None,
        description: str | None,
        active: bool | None,
    ) -> Webhook: ...

    def delete(self, webhook_id: str) -> None: ...

    def deliveries(self, webhook_id: str, *, offset: int, limit: int) -> list[Delivery]: ...

    def ping(self, webhook_id: str) -> Delivery: ...


def create_webhook(
    url: str,
    *,
    events: Iterable[str] | str = (ALL_EVENTS,),
    description: str = "",
    db_url: str | None = None,
) -> tuple[Webhook, str]:
    """Subscribe ``url`` to ``events``; the webhook and its signing secret (``whsec_...``),
    which is returned this once."""
    with _backend(db_url) as backend:
        return backend.create(
            check_url(url), events=check_events(events), description=str(description)
        )


def get_webhook(webhook_id: str, *, db_url: str | None = None) -> Webhook:
    """Webhook ``webhook_id`` (``NotFoundError`` if there is none)."""
    with _backend(db_url) as backend:
        return backend.get(webhook_id)


def list_webhooks(
    *, offset: int = 0, limit: int | None = None, db_url: str | None = None
) -> list[Webhook]:
    """Webhooks, oldest first."""
    with _backend(db_url) as backend:
        return backend.list(offset=offset, limit=limit)


def update_webhook(
    webhook_id: str,
    *,
    url: str | None = None,
    events: Iterable[str] | str | None = None,
    description: str | None = None,
    active: bool | None = None,
    db_url: str | None = None,
) -> Webhook:
    """Change what is given: the URL, the event types, the description, whether it is active
    (an inactive webhook is sent nothing; its pending deliveries wait)."""
    with _backend(db_url) as backend:
        return backend.update(
            webhook_id,
            url=None if url is None else check_url(url),
            events=None if events is None else check_events(events),
            description=None if description is None else str(description),
            active=None if active is None else bool(active),
        )


def delete_webhook(webhook_id: str, *, db_url: str | None = None) -> None:
    """Delete the webhook with its deliveries."""
    with _backend(db_url) as backend:
        backend.delete(webhook_id)


def list_deliveries(
    webhook_id: str, *, offset: int = 0, limit: int = 100, db_url: str | None = None
) -> list[Delivery]:
    """The webhook's deliveries, newest first, each with every attempt."""
    with _backend(db_url) as backend:
        return backend.deliveries(webhook_id, offset=offset, limit=limit)


def ping_webhook(webhook_id: str, *, db_url: str | None = None) -> Delivery:
    """Queue a ``ping`` event to the webhook (the server's webhooks service sends it within a
    second or so; its delivery shows the outcome)."""
    with _backend(db_url) as backend:
        return backend.ping(webhook_id)


@contextlib.contextmanager
def _backend(db_url: str | None) -> Iterator[Webhooks]:
    """The server's webhooks when the API goes through one, else the metadata DB's."""
    from rayline.remote.client import server_client

    client = server_client(db_url)
    if client is None:
        yield EmbeddedWebhooks(open_webhooks(db_url))
        return
    from rayline.webhooks.remote import RemoteWebhooks

    with client:
        yield RemoteWebhooks(client)


class EmbeddedWebhooks:
    """Webhooks in the metadata DB (what a server, or a user without one, works on)."""

    def __init__(self, repo: WebhookRepository) -> None:
        self._repo = repo

    def create(self, url: str, *, events: tuple[str, ...], description: str) -> tuple[Webhook, str]:
        now = time.time()
        webhook = Webhook(
            id=f"wh_{secrets.token_hex(8)}",
            url=url,
            events=events,
            description=description,
            created_by=settings().user,
            created_at=now,
            updated_at=now,
            active=True,
        )
        secret = new_secret()
        self._repo.insert(webhook, secret=secret)
        return webhook, secret

    def get(self, webhook_id: str) -> Webhook:
        return self._repo.get(webhook_id)

    def list(self, *, offset: int, limit: int | None) -> list[Webhook]:
        return self._repo.list(offset=offset, limit=limit)

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None,
        events: tuple[str, ...] | None,
        description: str | None,
        active: bool | None,
    ) -> Webhook:
        given = {"url": url, "events": events, "description": description, "active": active}
        values: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
        if events is not None:
            values["events"] = list(events)
        return self._repo.update(webhook_id, **values)

    def delete(self, webhook_id: str) -> None:
        self._repo.delete(webhook_id)

    def deliveries(self, webhook_id: str, *, offset: int, limit: int) -> list[Delivery]:
        return self._repo.deliveries(webhook_id, offset=offset, limit=limit)

    def ping(self, webhook_id: str) -> Delivery:
        from rayline.webhooks.dispatcher import ping

        webhook = self._repo.get(webhook_id)
        if not webhook.active:
            raise ConflictError(
                f"webhook {webhook_id!r} is inactive and is sent nothing; activate it first "
                "(rayline webhook update ID --active, or PATCH /api/v1/webhooks/{id} with "
                '{"active": true})'
            )
        return ping(self._repo, webhook)
