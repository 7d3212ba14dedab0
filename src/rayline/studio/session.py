"""Studio's sign-in sessions: a signed cookie naming an API token, and the CSRF token bound to it.

The cookie (HttpOnly, SameSite=Strict) holds the token's id, the session's expiry and a random
nonce, signed with a key kept in ``RAYLINE_HOME/studio-session.key`` (mode 0600); never the
token's secret. Every request re-reads the token by its id, so a revoked token ends its sessions
at once. With authentication off (``RAYLINE_SERVER_AUTH=off``, or ``auto`` on loopback before any
token exists) a request acts as ``LOCAL`` without signing in, but still gets a session: its nonce
is what the CSRF token of its forms is bound to.

The CSRF token is an HMAC of the session's nonce: a form or fetch that changes state carries it
(a hidden field ``csrf`` or the ``X-CSRF-Token`` header) and ``check_csrf`` compares it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request, Response

from rayline.config import settings
from rayline.errors import AuthenticationError, NotFoundError, PermissionDeniedError
from rayline.server.security import LOCAL, Identity, auth_required

COOKIE = "rayline_studio"
#: How long a sign-in lasts; the token's own revocation ends it sooner.
SESSION_S = 12 * 3600.0
KEY_FILE = "studio-session.key"

_keys: dict[Path, bytes] = {}
_keys_lock = threading.Lock()


@dataclass(frozen=True)
class Session:
    """A browser's session: the token it signed in with (None: not signed in), its expiry and
    the nonce its CSRF token is derived from."""

    token_id: str | None
    expires_at: float
    nonce: str

    @property
    def csrf(self) -> str:
        return hmac.new(_key(), f"csrf:{self.nonce}".encode(), hashlib.sha256).hexdigest()


def _key() -> bytes:
    """The signing key of this home (created on first use, readable by its owner only)."""
    path = settings().home / KEY_FILE
    with _keys_lock:
        if path in _keys:
            return _keys[path]
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            key = bytes.fromhex(path.read_text().strip())
        else:
            key = secrets.token_bytes(32)
            with os.fdopen(fd, "w") as out:
                out.write(key.hex())
        _keys[path] = key
        return key


def _serializer() -> Any:
    from itsdangerous import URLSafeSerializer

    return URLSafeSerializer(_key(), salt="rayline-studio-session")


def new_session(token_id: str | None) -> Session:
    return Session(token_id, time.time() + SESSION_S, secrets.token_urlsafe(16))


def encode(session: Session) -> str:
    return _serializer().dumps([session.token_id, session.expires_at, session.nonce])


def decode(value: str | None) -> Session | None:
    """The session a cookie holds; None when it is missing, forged or expired."""
    if not value:
        return None
    from itsdangerous import BadSignature

    try:
        token_id, expires_at, nonce = _serializer().loads(value)
    except (BadSignature, ValueError, TypeError):
        return None
    if not isinstance(expires_at, int | float) or expires_at < time.time():
        return None
    if not isinstance(nonce, str) or not (token_id is None or isinstance(token_id, str)):
        return None
    return Session(token_id, float(expires_at), nonce)


def set_cookie(response: Response, session: Session, request: Request) -> None:
    response.set_cookie(
        COOKIE,
        encode(session),
        max_age=int(SESSION_S),
        path="/studio",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def client_host(request: Request) -> str | None:
    return request.client.host if request.client else None


def identity_of(request: Request, session: Session | None) -> Identity | None:
    """Who the request acts as: LOCAL when no token is needed, the session's token's identity
    while that token is active, else None (sign in)."""
    if not auth_required(client_host(request)):
        return LOCAL
    if session is None or session.token_id is None:
        return None
    from rayline.auth.tokens import get_token

    try:
        record = get_token(session.token_id)
    except NotFoundError:
        return None
    if not record.active:
        return None
    return Identity(record.name, record.role, record.id)


def sign_in(secret: str) -> Identity:
    """The identity of an API token's secret (``AuthenticationError`` when it is not active)."""
    from rayline.auth.tokens import verify_token

    secret = secret.strip()
    if not secret:
        raise AuthenticationError(
            "paste an API token (rl_...); an admin creates one with "
            "rayline token create --name NAME --role viewer"
        )
    record = verify_token(secret)
    return Identity(record.name, record.role, record.id)


def check_csrf(session: Session | None, sent: str | None) -> None:
    """Refuse a state change whose CSRF token is not the session's (403)."""
    if session is None or not sent or not hmac.compare_digest(session.csrf, sent):
        raise PermissionDeniedError(
            "the form's CSRF token does not match this session (it expired, or the request "
            "came from another site); reload the page and try again"
        )
