"""Webhooks on a rayline server (``/api/v1/webhooks``, admin): the backend
``rayline.webhooks.api`` works on when ``RAYLINE_SERVER_URL`` is set. The server generates a new
webhook's signing secret and returns it this once, as embedded."""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.remote.records import from_json
from rayline.webhooks.entities import Delivery, DeliveryAttempt, Webhook

if TYPE_CHECKING:
    from rayline.remote.client import Client


class RemoteWebhooks:
    """The server's webhooks, through ``client``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, url: str, *, events: tuple[str, ...], description: str) -> tuple[Webhook, str]:
        body = {"url": url, "events": list(events), "description": description}
        made = self._client.post("/webhooks", json=body)
        return _webhook(made["webhook"]), made["secret"]

    def get(self, webhook_id: str) -> Webhook:
        return _webhook(self._client.get(_path(webhook_id)))

    def list(self, *, offset: int, limit: int | None) -> list[Webhook]:
        return [_webhook(w) for w in _skip(self._client, "/webhooks", offset, limit)]

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None,
        events: tuple[str, ...] | None,
        description: str | None,
        active: bool | None,
    ) -> Webhook:
        given = {
            "url": url,
            "events": None if events is None else list(events),
            "description": description,
            "active": active,
        }
        body = {key: value for key, value in given.items() if value is not None}
        return _webhook(self._client.call("PATCH", _path(webhook_id), json=body))

    def delete(self, webhook_id: str) -> None:
        self._client.delete(_path(webhook_id))

    def deliveries(self, webhook_id: str, *, offset: int, limit: int) -> list[Delivery]:
        path = f"{_path(webhook_id)}/deliveries"
        return [_delivery(d) for d in _skip(self._client, path, offset, limit)]

    def ping(self, webhook_id: str) -> Delivery:
        return _delivery(self._client.post(f"{_path(webhook_id)}/ping"))


def _path(webhook_id: str) -> str:
    return f"/webhooks/{quote(webhook_id, safe='')}"


def _skip(client: Client, path: str, offset: int, limit: int | None) -> Any:
    # The pages start at the first item: the offset is skipped here.
    items = client.items(path, limit=None if limit is None else offset + limit)
    return itertools.islice(items, offset, None)


def _webhook(data: Any) -> Webhook:
    webhook = from_json(Webhook, data)
    return dataclasses.replace(webhook, events=tuple(webhook.events))


def _delivery(data: Any) -> Delivery:
    delivery = from_json(Delivery, data)
    history = tuple(from_json(DeliveryAttempt, a) for a in delivery.history)
    return dataclasses.replace(delivery, history=history)
