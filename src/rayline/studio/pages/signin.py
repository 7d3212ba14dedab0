"""Signing in to Studio with a token, and out; ``/studio`` itself goes to the pipelines."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rayline.errors import AuthenticationError, PermissionDeniedError
from rayline.server.problems import status_of
from rayline.studio import session as sessions
from rayline.studio.web import PREFIX, context, error_page, render, safe_next

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/pipelines", status_code=303)


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    ctx = context(request)
    return render(ctx, "signin.html", next=safe_next(next), error=None)


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    ctx = await run_in_threadpool(context, request)
    target = safe_next(str(form.get("next") or ""))
    try:
        sessions.check_csrf(None if ctx.fresh else ctx.session, str(form.get("csrf") or ""))
        identity = await run_in_threadpool(sessions.sign_in, str(form.get("token") or ""))
    except (AuthenticationError, PermissionDeniedError) as exc:
        return render(ctx, "signin.html", status=status_of(exc), next=target, error=str(exc))
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(response, sessions.new_session(identity.token_id), request)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await request.form()
    ctx = await run_in_threadpool(context, request)
    try:
        sessions.check_csrf(ctx.session, str(form.get("csrf") or ""))
    except PermissionDeniedError as exc:
        return error_page(ctx, exc)
    response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
    sessions.set_cookie(response, sessions.new_session(None), request)
    return response
