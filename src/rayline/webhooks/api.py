"""The Python API of webhooks: create, read, change and delete subscriptions, read their
deliveries, send a ping (what the server's routes and the CLI call). The server's
``rayline.webhooks.service`` collects and sends the deliveries."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from rayline.config import settings
from rayline.errors import ConflictError, UserInputError
from rayline.webhooks.entities import ALL_EVENTS, Delivery, EventType, Webhook
from rayline.webhooks.repository import open_webhooks
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


def create_webhook(
    url: str,
    *,
    events: Iterable[str] | str = (ALL_EVENTS,),
    description: str = "",
    db_url: str | None = None,
) -> tuple[Webhook, str]:
    """Subscribe ``url`` to ``events``; the webhook and its signing secret (``whsec_...``),
    which is returned this once."""
    now = time.time()
    webhook = Webhook(
        id=f"wh_{secrets.token_hex(8)}",
        url=check_url(url),
        events=check_events(events),
        description=str(description),
        created_by=settings().user,
        created_at=now,
        updated_at=now,
        active=True,
    )
    secret = new_secret()
    open_webhooks(db_url).insert(webhook, secret=secret)
    return webhook, secret


def get_webhook(webhook_id: str, *, db_url: str | None = None) -> Webhook:
    """Webhook ``webhook_id`` (``NotFoundError`` if there is none)."""
    return open_webhooks(db_url).get(webhook_id)


def list_webhooks(
    *, offset: int = 0, limit: int | None = None, db_url: str | None = None
) -> list[Webhook]:
    """Webhooks, oldest first."""
    return open_webhooks(db_url).list(offset=offset, limit=limit)


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
    values: dict[str, object] = {}
    if url is not None:
        values["url"] = check_url(url)
    if events is not None:
        values["events"] = list(check_events(events))
    if description is not None:
        values["description"] = str(description)
    if active is not None:
        values["active"] = bool(active)
    return open_webhooks(db_url).update(webhook_id, **values)


def delete_webhook(webhook_id: str, *, db_url: str | None = None) -> None:
    """Delete the webhook with its deliveries."""
    open_webhooks(db_url).delete(webhook_id)


def list_deliveries(
    webhook_id: str, *, offset: int = 0, limit: int = 100, db_url: str | None = None
) -> list[Delivery]:
    """The webhook's deliveries, newest first, each with every attempt."""
    return open_webhooks(db_url).deliveries(webhook_id, offset=offset, limit=limit)


def ping_webhook(webhook_id: str, *, db_url: str | None = None) -> Delivery:
    """Queue a ``ping`` event to the webhook (the server's webhooks service sends it within a
    second or so; its delivery shows the outcome)."""
    from rayline.webhooks.dispatcher import ping

    repo = open_webhooks(db_url)
    webhook = repo.get(webhook_id)
    if not webhook.active:
        raise ConflictError(
            f"webhook {webhook_id!r} is inactive and is sent nothing; activate it first "
            '(PATCH /api/v1/webhooks/{id} with {"active": true})'
        )
    return ping(repo, webhook)
