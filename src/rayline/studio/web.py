"""The pieces every Studio page shares: the templates, who the request acts as, rendering with
the session cookie and security headers, and turning rayline's errors into a page.

A page handler takes ``ctx: Ctx = Depends(page)`` (a signed-in identity, or a redirect to the
sign-in page) and returns ``render(ctx, "template.html", ...)``. It raises rayline's errors as the
Python API does; ``studio_page`` shows them on the error page with their status (never a
traceback).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse

from rayline.auth.actions import Action, allows
from rayline.server.problems import status_of
from rayline.server.security import Identity
from rayline.studio import session as sessions

log = logging.getLogger("rayline.studio")

HERE = Path(__file__).parent
PREFIX = "/studio"

#: Only our own files: no inline script, no CDN; ``data:`` for the empty favicon.
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Ctx:
    """One request to Studio: its session (``fresh``: new, its cookie still to be set) and who
    it acts as (None: nobody signed in)."""

    request: Request
    session: sessions.Session
    identity: Identity | None
    fresh: bool

    def may(self, action: Action) -> bool:
        """Whether the signed-in identity's role may do ``action`` (``rayline.auth.actions``)."""
        return self.identity is not None and allows(self.identity.role, action)

    @property
    def can_operate(self) -> bool:
        """Whether the operator's forms (start, stop, deploy, schedules) are enabled: they all
        need the role of starting an execution."""
        return self.may(Action.START_EXECUTION)

    @property
    def signed_in(self) -> bool:
        """Whether a token signed in (with authentication off nobody needs to)."""
        return self.session.token_id is not None and self.identity is not None


class SignInRequired(Exception):
    """Raised by ``page`` for a visitor who is not signed in: a page redirects to the sign-in
    form, a fetch gets 401."""

    def __init__(self, next_url: str, *, api: bool) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.api = api


def context(request: Request) -> Ctx:
    current = sessions.decode(request.cookies.get(sessions.COOKIE))
    fresh = current is None
    if current is None:
        current = sessions.new_session(None)
    return Ctx(request, current, sessions.identity_of(request, current), fresh)


def page(request: Request) -> Ctx:
    """A dependency: the request's context, signed in (else ``SignInRequired``)."""
    ctx = context(request)
    if ctx.identity is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(target, api=False)
    return ctx


def fetch(request: Request) -> Ctx:
    """A dependency for what the page's script fetches: signed in, else 401."""
    ctx = context(request)
    if ctx.identity is None:
        raise SignInRequired(request.url.path, api=True)
    return ctx


def _templates() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["duration"] = duration
    env.filters["when"] = when
    env.filters["pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True, default=str)
    env.globals["prefix"] = PREFIX
    return env


@functools.cache
def templates() -> Any:
    return _templates()


def render(ctx: Ctx, template: str, *, status: int = 200, **values: Any) -> HTMLResponse:
    html = (
        templates()
        .get_template(template)
        .render(ctx=ctx, identity=ctx.identity, csrf=ctx.session.csrf, **values)
    )
    response = HTMLResponse(html, status_code=status, headers=HEADERS)
    if ctx.fresh:
        sessions.set_cookie(response, ctx.session, ctx.request)
    return response


def json_response(ctx: Ctx, body: Any, *, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def error_page(ctx: Ctx, exc: Exception) -> HTMLResponse:
    status = status_of(exc)
    if status >= 500:
        log.exception("studio page %s failed", ctx.request.url.path, exc_info=exc)
        message = "the server failed to show this page; its log has the details"
    else:
        message = str(exc)
    return render(ctx, "error.html", status=status, message=message, title=_TITLES.get(status))


_TITLES = {
    400: "Bad request",
    401: "Not signed in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    503: "Unavailable",
}


def studio_page(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Show what a page handler raises on the error page (rayline's errors with their status;
    anything else as a 500 that names no internals)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # rayline's errors by their status, the rest as a 500
            return error_page(kwargs["ctx"], exc)

    return wrapper


def script_json(value: Any) -> Any:
    """``value`` as JSON to put inside ``<script type="application/json">``: not
    HTML-escaped (a script's text is not decoded), and with ``<``, ``>`` and ``&`` written as
    JSON escapes so no text of a user's (a step name) can close the script element."""
    from markupsafe import Markup

    text = json.dumps(value).replace("<", "\\u003c").replace(">", "\\u003e")
    return Markup(text.replace("&", "\\u0026"))


def sign_in_url(next_url: str) -> str:
    return f"{PREFIX}/signin?next={quote(next_url, safe='')}"


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a Studio path only (never another site)."""
    if value and value.startswith(PREFIX + "/") and not any(s in value for s in ("\\", "://")):
        return value
    return f"{PREFIX}/pipelines"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    return f"{minutes // 60} h {minutes % 60} min"


def when(at: float | None) -> str:
    if at is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))
