"""/api/v1/webhooks: subscriptions to execution and model package status changes, their
deliveries, and a ping (admin). A webhook's signing secret is in the response of its creation
only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from rayline.auth.actions import Action
from rayline.errors import UserInputError
from rayline.server.pagination import PageRequest, page_request, paginate
from rayline.server.security import requires

router = APIRouter(tags=["webhooks"], dependencies=[Depends(requires(Action.MANAGE_WEBHOOKS))])

_EVENTS_DOC = "event types: '*' (all), 'execution.status_changed', 'model_package.status_changed'"


def _checked(check: Any, value: Any) -> Any:
    # Checked in the model so a bad URL or event type is a 422 naming the field.
    try:
        return check(value)
    except UserInputError as exc:
        raise ValueError(str(exc)) from None


def _url(value: str) -> str:
    from rayline.webhooks.api import check_url

    return _checked(check_url, value)


def _events(value: list[str]) -> list[str]:
    from rayline.webhooks.api import check_events

    return list(_checked(check_events, value))


class WebhookCreate(BaseModel):
    """A new webhook: POST the events of ``events`` to ``url``."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1, max_length=2048, examples=["https://ci.example.com/hooks"])
    events: list[str] = Field(
        default_factory=lambda: ["*"], min_length=1, max_length=16, description=_EVENTS_DOC
    )
    description: str = Field(default="", max_length=4096)

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _url(value)

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: list[str]) -> list[str]:
        return _events(value)


class WebhookChange(BaseModel):
    """What to change (what is left out stays)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(default=None, min_length=1, max_length=2048)
    events: list[str] | None = Field(
        default=None, min_length=1, max_length=16, description=_EVENTS_DOC
    )
    description: str | None = Field(default=None, max_length=4096)
    active: bool | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _url(value)

    @field_validator("events")
    @classmethod
    def _check_events(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _events(value)


@router.post("/webhooks", status_code=201)
def create_webhook(body: WebhookCreate) -> dict[str, Any]:
    """The webhook and its signing ``secret`` (``whsec_...``, shown this once): the receiver
    verifies each POST's ``webhook-signature`` with it (Standard Webhooks)."""
    from rayline.webhooks import api

    webhook, secret = api.create_webhook(body.url, events=body.events, description=body.description)
    return {"webhook": webhook.to_dict(), "secret": secret}


@router.get("/webhooks")
def list_webhooks(page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    """Webhooks, oldest first (without their secrets)."""
    from rayline.webhooks import api

    result = paginate(page, lambda offset, n: api.list_webhooks(offset=offset, limit=n))
    result["items"] = [w.to_dict() for w in result["items"]]
    return result


@router.get("/webhooks/{webhook_id}")
def get_webhook(webhook_id: str) -> dict[str, Any]:
    from rayline.webhooks import api

    return api.get_webhook(webhook_id).to_dict()


@router.patch("/webhooks/{webhook_id}")
def update_webhook(webhook_id: str, body: WebhookChange) -> dict[str, Any]:
    """Change the URL, the event types, the description or whether it is active."""
    from rayline.webhooks import api

    return api.update_webhook(
        webhook_id,
        url=body.url,
        events=body.events,
        description=body.description,
        active=body.active,
    ).to_dict()


@router.delete("/webhooks/{webhook_id}", status_code=204)
def delete_webhook(webhook_id: str) -> Response:
    """Delete the webhook with its deliveries."""
    from rayline.webhooks import api

    api.delete_webhook(webhook_id)
    return Response(status_code=204)


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: str, page: Annotated[PageRequest, Depends(page_request)]
) -> dict[str, Any]:
    """The webhook's deliveries, newest first, each with every attempt (``history``)."""
    from rayline.webhooks import api

    result = paginate(
        page, lambda offset, n: api.list_deliveries(webhook_id, offset=offset, limit=n)
    )
    result["items"] = [d.to_dict() for d in result["items"]]
    return result


@router.post("/webhooks/{webhook_id}/ping", status_code=202)
def ping_webhook(webhook_id: str) -> dict[str, Any]:
    """Queue a ``ping`` event to the webhook; its delivery (returned, pending) shows the
    outcome in ``GET /webhooks/{id}/deliveries`` a moment later."""
    from rayline.webhooks import api

    return api.ping_webhook(webhook_id).to_dict()
