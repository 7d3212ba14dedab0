"""What every state-changing Studio form goes through: the session's CSRF token, the role the
action needs, acting as the signed-in identity, and the audit row the REST API would write.

A page's POST handler reads its form, then calls ``audited(ctx, ...)`` with the action as a
function and the ``Action`` it is (``needs``: its role comes from ``rayline.auth``'s table);
a refusal (``PermissionDeniedError``) or a rayline error comes back out for the page
to show. ``guarded``/``guarded_json`` turn anything else into an error page or a JSON error,
never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from fastapi.responses import Response

from rayline.auth.actions import Action, role_for
from rayline.config import acting_as
from rayline.errors import PermissionDeniedError, RaylineError
from rayline.server.problems import status_of
from rayline.studio import session as sessions
from rayline.studio.web import Ctx, error_page, json_response

T = TypeVar("T")


def check_write(ctx: Ctx, csrf: str, *, needs: Action, doing: str) -> None:
    """A state change needs the session's CSRF token and a role that may do ``needs``
    (``doing`` names the action in the refusal: "approving model versions")."""
    sessions.check_csrf(None if ctx.fresh else ctx.session, csrf)
    require_role(ctx, needs=needs, doing=doing)


def require_role(ctx: Ctx, *, needs: Action, doing: str) -> None:
    """``PermissionDeniedError`` unless the signed-in identity's role may do ``needs``
    (the role ``rayline.auth.actions`` gives it, or above)."""
    identity = ctx.identity
    assert identity is not None  # page() let it through
    role = role_for(needs)
    if identity.role < role:
        raise PermissionDeniedError(
            f"{identity.name!r} has the {identity.role.label} role; {doing} needs the "
            f"{role.label} role or above (an admin can create a token with it: rayline token "
            f"create --name NAME --role {role.label})"
        )


def audited(
    ctx: Ctx,
    *,
    target: str,
    csrf: str,
    action: Callable[[], T],
    needs: Action,
    doing: str,
) -> T:
    """Check the CSRF token and the role ``needs`` takes (``check_write``), run ``action`` as
    the signed-in identity, and write the audit row the API would (a refusal too)."""
    from rayline.auth.audit import record_request

    identity = ctx.identity
    assert identity is not None
    status = 500
    try:
        check_write(ctx, csrf, needs=needs, doing=doing)
        with acting_as(identity.name):
            result = action()
        status = 200
        return result
    except RaylineError as exc:
        status = status_of(exc)
        raise
    finally:
        record_request(
            identity=identity.name,
            role=identity.role.label,
            token_id=identity.token_id,
            method="POST",
            path=ctx.request.url.path,
            status=status,
            client=sessions.client_host(ctx.request),
            target=target,
        )


def guarded(ctx: Ctx, fn: Callable[[], Response]) -> Response:
    """``fn()``, or the error page for whatever it raises."""
    try:
        return fn()
    except Exception as exc:  # an error page, never a traceback
        return error_page(ctx, exc)


def guarded_json(ctx: Ctx, fn: Callable[[], Response]) -> Response:
    """``fn()``, or ``{"detail": ...}`` with the status of the rayline error it raises."""
    try:
        return fn()
    except RaylineError as exc:
        return json_response(ctx, {"detail": str(exc)}, status=status_of(exc))
