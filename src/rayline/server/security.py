"""Who is calling: authentication (API tokens), role checks, and the audit log.

A middleware authenticates every request under ``/api/`` once: it reads the bearer token, finds
its identity (``Identity``), makes that identity the acting user for the request
(``rayline.config.acting_as``: the registry, endpoints and executions record it) and, after a
state-changing request (POST, PUT, PATCH, DELETE), writes the audit log. A route states the
action (``Depends(requires(Action.START_EXECUTION))``); the role that takes is the one
``rayline.auth.actions`` gives it.

Whether a token is needed is ``RAYLINE_SERVER_AUTH``: ``on``, ``off`` (every request is
``LOCAL``, an admin; loopback only, see ``check_listen``) or ``auto``: on once any token was
ever created, and for every request that does not come from loopback.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rayline.auth.actions import Action, role_for
from rayline.auth.roles import Role
from rayline.config import acting_as, settings
from rayline.errors import AuthenticationError, ConfigError, PermissionDeniedError
from rayline.server import problems

log = logging.getLogger("rayline.server")

#: Methods that change state: each such request under /api/ gets an audit row.
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: Routes anyone may call: is the server up, and what does it run.
PUBLIC = frozenset({"/api/v1/health", "/api/v1/version"})


@dataclass(frozen=True)
class Identity:
    """Who made a request: a token's name and role (``local`` with auth off)."""

    name: str
    role: Role
    token_id: str | None = None


#: The identity of every request when authentication is off (loopback only).
LOCAL = Identity("local", Role.ADMIN)


def requires(action: Action) -> Callable[[Request], Identity]:
    """A dependency that lets the request through when its identity's role may do ``action``
    (``rayline.auth.actions``). The action stays on the dependency (``.action``), so the
    action of every route can be listed (``route_action``)."""
    if not isinstance(action, Action):
        raise TypeError(
            f"requires() takes an Action of rayline.auth.actions, not {action!r}: the role "
            "comes from that table"
        )
    role = role_for(action)

    def check(request: Request) -> Identity:
        identity: Identity | None = getattr(request.state, "identity", None)
        if identity is None:
            # Only a route outside the authenticated paths gets here: refuse, never guess.
            raise AuthenticationError(
                "this route needs an API token: send 'Authorization: Bearer <token>'"
            )
        if identity.role < role:
            raise PermissionDeniedError(
                f"{identity.name!r} has the {identity.role.label} role; this needs "
                f"{role.label} or above (an admin can create a token with it: "
                f"rayline token create --name NAME --role {role.label})"
            )
        return identity

    check.__name__ = f"requires_{action.value}"
    check.action = action  # type: ignore[attr-defined]
    return check


def route_action(route: Any) -> Action | None:
    """The action a route of the app declared with ``requires`` (None: a public route)."""
    pending = [route.dependant]
    while pending:
        dependant = pending.pop()
        found = getattr(dependant.call, "action", None)
        if isinstance(found, Action):
            return found
        pending.extend(dependant.dependencies)
    return None


def is_loopback(host: str | None) -> bool:
    """Whether ``host`` (an address or name) is this machine's loopback only."""
    if not host:
        return False  # "" listens on every interface
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any interface


def check_listen(host: str) -> None:
    """Refuse to listen beyond loopback without authentication (raises ``ConfigError``)."""
    if is_loopback(host):
        return
    mode = settings().server_auth
    if mode == "on":
        return
    from rayline.auth.tokens import any_token_exists

    if mode == "auto" and any_token_exists():
        return
    why = (
        "RAYLINE_SERVER_AUTH=off"
        if mode == "off"
        else "RAYLINE_SERVER_AUTH=auto and no API token exists yet"
    )
    raise ConfigError(
        f"refusing to listen on {host!r} without authentication ({why}): anyone who can reach "
        "it would act as admin. Create the first admin token on this machine "
        "(rayline token create --name admin --role admin) and unset RAYLINE_SERVER_AUTH or set "
        "it to on; or listen on loopback only (--host 127.0.0.1)"
    )


def auth_required(client_host: str | None) -> bool:
    """Whether a request from ``client_host`` must present a token (``RAYLINE_SERVER_AUTH``)."""
    mode = settings().server_auth
    if mode != "auto":
        return mode == "on"
    if not is_loopback(client_host):
        return True
    from rayline.auth.tokens import any_token_exists

    return any_token_exists()


def authenticate(authorization: str | None, client_host: str | None) -> Identity:
    """The identity of a request to an authenticated route (``AuthenticationError`` when it
    has no valid token and needs one)."""
    if not auth_required(client_host):
        return LOCAL
    scheme, _, secret = (authorization or "").strip().partition(" ")
    if not authorization:
        raise AuthenticationError(
            "this server requires an API token: send 'Authorization: Bearer <token>' (the CLI "
            "and Python API send RAYLINE_TOKEN); an admin creates one with "
            "rayline token create --name NAME --role viewer"
        )
    if scheme.lower() != "bearer" or not secret.strip():
        raise AuthenticationError(
            "the Authorization header must be 'Bearer <token>' with a rayline API token"
        )
    from rayline.auth.tokens import verify_token

    record = verify_token(secret.strip())
    return Identity(record.name, record.role, record.id)


class AuthMiddleware:
    """Authenticate, act as the identity for the rest of the request, audit state changes.

    Pure ASGI (not ``BaseHTTPMiddleware``): streamed responses (logs, Server-Sent Events) pass
    through untouched, and the identity's context reaches the routes' threadpool.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"].startswith("/api/"):
            await self._websocket(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        client = scope.get("client")
        client_host = client[0] if client else None
        state = scope.setdefault("state", {})
        if not path.startswith("/api/") or path in PUBLIC:
            # Docs, OpenAPI, health: public. They act as no one in particular.
            if not await run_in_threadpool(auth_required, client_host):
                state["identity"] = LOCAL
            await self.app(scope, receive, send)
            return
        audited = method in WRITES
        authorization = _header(scope, b"authorization")
        try:
            identity = await run_in_threadpool(authenticate, authorization, client_host)
        except AuthenticationError as exc:
            if audited:
                await _audit(scope, None, 401, client_host)
            response = problems.problem(401, str(exc), title="AuthenticationError", instance=path)
            await response(scope, receive, send)
            return
        state["identity"] = identity
        status = 500
        written = False

        async def send_audited(message: Message) -> None:
            nonlocal status, written
            if message["type"] == "http.response.start":
                status = message["status"]
            elif (
                audited
                and not written
                and message["type"] == "http.response.body"
                and not message.get("more_body", False)
            ):
                # Before the response's end: a client that reads the audit log next sees it.
                written = True
                await _audit(scope, identity, status, client_host)
            await send(message)

        with acting_as(identity.name):
            try:
                await self.app(scope, receive, send_audited)
            finally:
                if audited and not written:
                    await _audit(scope, identity, status, client_host)

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A WebSocket under /api/ is authenticated like a request; refused, it is closed
        before it opens (the client sees 403)."""
        client = scope.get("client")
        client_host = client[0] if client else None
        try:
            identity = await run_in_threadpool(
                authenticate, _header(scope, b"authorization"), client_host
            )
        except AuthenticationError:
            await receive()  # websocket.connect
            await send({"type": "websocket.close", "code": 1008})
            return
        scope.setdefault("state", {})["identity"] = identity
        with acting_as(identity.name):
            await self.app(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _audit(scope: Scope, identity: Identity | None, status: int, client: str | None) -> None:
    """One audit row for this request; a failure to write it is logged, never the caller's."""
    from rayline.auth.audit import record_request

    params = scope.get("path_params") or {}
    target = ",".join(f"{k}={v}" for k, v in params.items()) or None
    try:
        # Shielded: a client that hangs up must not take the row of its change with it.
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(
                record_request,
                identity=identity.name if identity else "anonymous",
                role=identity.role.label if identity else None,
                token_id=identity.token_id if identity else None,
                method=scope["method"],
                path=scope["path"],
                status=status,
                client=client,
                target=target,
            )
    except Exception:  # the request's own outcome stands; the log says what was not audited
        log.exception("could not write the audit row of %s %s", scope["method"], scope["path"])


def install(app: FastAPI) -> None:
    """Authenticate requests and record the audit log (see the module docstring)."""
    app.add_middleware(AuthMiddleware)
