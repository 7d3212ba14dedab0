"""API tokens with roles (stored hashed), the table of which role may do which action, and the
audit log of who changed what.

>>> from rayline.auth import Role, create_token
>>> record, secret = create_token(name="alice", role=Role.OPERATOR)

Names are imported on first use: ``rayline.auth.roles`` is pure, and the server's role checks
must not load the metadata store before they need it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rayline._lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "Action": "rayline.auth.actions",
    "ROLES": "rayline.auth.actions",
    "allows": "rayline.auth.actions",
    "role_for": "rayline.auth.actions",
    "Role": "rayline.auth.roles",
    "TokenRecord": "rayline.auth.tokens",
    "any_token_exists": "rayline.auth.tokens",
    "create_token": "rayline.auth.tokens",
    "get_token": "rayline.auth.tokens",
    "list_tokens": "rayline.auth.tokens",
    "revoke_token": "rayline.auth.tokens",
    "verify_token": "rayline.auth.tokens",
    "AuditRecord": "rayline.auth.audit",
    "list_audit": "rayline.auth.audit",
    "record_request": "rayline.auth.audit",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)


if TYPE_CHECKING:  # pragma: no cover
    from rayline.auth.actions import ROLES, Action, allows, role_for  # noqa: F401
    from rayline.auth.audit import AuditRecord, list_audit, record_request  # noqa: F401
    from rayline.auth.roles import Role  # noqa: F401
    from rayline.auth.tokens import (  # noqa: F401
        TokenRecord,
        any_token_exists,
        create_token,
        get_token,
        list_tokens,
        revoke_token,
        verify_token,
    )
