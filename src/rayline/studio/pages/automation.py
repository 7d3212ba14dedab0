"""Automation: the schedules (pause and resume) and the webhooks (their recent deliveries,
pause, resume and a test ping).

Both call the Python API the REST routes call (``rayline.schedules.api``,
``rayline.webhooks.api``) acting as the signed-in identity, audited, with the roles those
routes require: schedules are read by any role and paused or resumed by operators; webhooks are
admin-only for reading too (their URLs often carry a receiver's credentials). A webhook's
signing secret is never part of its record, so no page can show it.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rayline.auth.actions import Action
from rayline.errors import NotFoundError, PermissionDeniedError, RaylineError
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded, require_role
from rayline.studio.web import PREFIX, Ctx, error_page, page, render, studio_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PageCtx = Annotated[Ctx, Depends(page)]

#: Schedules and webhooks per page of their lists.
PAGE = 50
#: Deliveries shown on a webhook's page (newest first).
DELIVERIES = 50
#: What webhooks' reads and changes need, as in the REST API's webhooks routes.
WEBHOOKS = Action.MANAGE_WEBHOOKS


# -- schedules ---------------------------------------------------------------------------------


@router.get("/schedules")
@studio_page
def schedules(ctx: PageCtx, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    return _schedules_page(ctx, offset=offset)


def _schedules_page(
    ctx: Ctx, *, offset: int = 0, error: str | None = None, status: int = 200
) -> Response:
    from rayline.schedules import api

    rows = api.list_schedules(offset=offset, limit=PAGE + 1)
    now = time.time()
    return render(
        ctx,
        "schedules.html",
        status=status,
        schedules=[_schedule_row(s, now) for s in rows[:PAGE]],
        more=len(rows) > PAGE,
        offset=offset,
        page_size=PAGE,
        error=error,
        can_operate=ctx.can_operate,
    )


def _schedule_row(schedule: Any, now: float) -> dict[str, Any]:
    """A schedule with its next fire time written in its own time zone, and how far off."""
    upcoming = schedule.next_runs[0] if schedule.next_runs else None
    return {
        "s": schedule,
        "next_local": None if upcoming is None else _in_zone(upcoming, schedule.timezone),
        "next_in_s": None if upcoming is None else max(upcoming - now, 0.0),
        "last_local": (
            None
            if schedule.last_fired_at is None
            else _in_zone(schedule.last_fired_at, schedule.timezone)
        ),
    }


def _in_zone(at: float, zone: str) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


@router.post("/schedules/{name}/{action}")
async def schedule_action(name: str, action: str, request: Request) -> Response:
    """Pause or resume a schedule (operators only, as the REST API's)."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)

    def run() -> Response:
        from rayline.schedules import api

        if action not in ("pause", "resume"):
            raise NotFoundError(f"there is no schedule action {action!r}; use pause or resume")
        change = api.pause_schedule if action == "pause" else api.resume_schedule
        try:
            audited(
                ctx,
                target=f"schedule={name}",
                csrf=str(form.get("csrf") or ""),
                action=lambda: change(name),
                needs=Action.MANAGE_SCHEDULES,
                doing="pausing and resuming schedules",
            )
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            return _schedules_page(ctx, error=str(exc), status=status_of(exc))
        return RedirectResponse(f"{PREFIX}/schedules", status_code=303)

    return await run_in_threadpool(guarded, ctx, run)


# -- webhooks ----------------------------------------------------------------------------------


def _require_admin(ctx: Ctx) -> None:
    """Webhooks are the admins' (their URLs often carry the receiver's credentials), as in the
    API."""
    require_role(ctx, needs=WEBHOOKS, doing="seeing and changing webhooks")


@router.get("/webhooks")
@studio_page
def webhooks(ctx: PageCtx, offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0) -> Response:
    return _webhooks_page(ctx, offset=offset)


def _webhooks_page(
    ctx: Ctx, *, offset: int = 0, error: str | None = None, status: int = 200
) -> Response:
    from rayline.webhooks import api

    _require_admin(ctx)
    hooks = api.list_webhooks(offset=offset, limit=PAGE + 1)
    rows = []
    for hook in hooks[:PAGE]:
        latest = api.list_deliveries(hook.id, limit=1)
        rows.append({"w": hook, "last": latest[0] if latest else None})
    return render(
        ctx,
        "webhooks.html",
        status=status,
        webhooks=rows,
        more=len(hooks) > PAGE,
        offset=offset,
        page_size=PAGE,
        error=error,
    )


@router.get("/webhooks/{webhook_id}")
@studio_page
def webhook(webhook_id: str, ctx: PageCtx) -> Response:
    return _webhook_page(ctx, webhook_id)


def _webhook_page(
    ctx: Ctx, webhook_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    from rayline.webhooks import api

    _require_admin(ctx)
    hook = api.get_webhook(webhook_id)  # 404 for an unknown webhook
    return render(
        ctx,
        "webhook.html",
        status=status,
        w=hook,
        deliveries=api.list_deliveries(webhook_id, limit=DELIVERIES),
        shown=DELIVERIES,
        error=error,
    )


@router.post("/webhooks/{webhook_id}/{action}")
async def webhook_action(webhook_id: str, action: str, request: Request) -> Response:
    """Pause, resume or ping a webhook (admins only, as the REST API's). ``back=list`` in the
    form returns to the list, else to the webhook's page."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    to_list = str(form.get("back") or "") == "list"

    def run() -> Response:
        from rayline.webhooks import api

        acts = {
            "pause": lambda: api.update_webhook(webhook_id, active=False),
            "resume": lambda: api.update_webhook(webhook_id, active=True),
            "ping": lambda: api.ping_webhook(webhook_id),
        }
        if action not in acts:
            raise NotFoundError(f"there is no webhook action {action!r}; use pause, resume or ping")
        try:
            audited(
                ctx,
                target=f"webhook_id={webhook_id}",
                csrf=str(form.get("csrf") or ""),
                action=acts[action],
                needs=WEBHOOKS,
                doing="managing webhooks",
            )
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            if to_list or isinstance(exc, NotFoundError):
                return _webhooks_page(ctx, error=str(exc), status=status_of(exc))
            return _webhook_page(ctx, webhook_id, error=str(exc), status=status_of(exc))
        target = "" if to_list else f"/{webhook_id}"
        return RedirectResponse(f"{PREFIX}/webhooks{target}", status_code=303)

    return await run_in_threadpool(guarded, ctx, run)
