"""API tokens: create, list, revoke, verify.

Create, list, get and revoke work on one backend, chosen by the shared rule
(``rayline.remote.client.server_client``): the metadata DB (``EmbeddedTokens``), or with
``RAYLINE_SERVER_URL`` the server's ``/api/v1/tokens`` (``rayline.auth.remote``; an admin's
token). ``verify_token`` and ``any_token_exists`` are how a server authenticates its requests:
they always read this process's metadata DB.

A token's secret is ``rl_`` and 32 random bytes (URL-safe base64). Only its SHA-256 is stored:
verifying a presented secret is one lookup of its hash on a unique index, so no comparison of
secrets happens in Python (nothing to time), and a copy of the database yields no usable token.
The token's ``id`` is the secret's first characters after ``rl_``: enough for a human to tell
which listed token a secret is, far too few to guess the rest (208 bits remain).

The server verifies a token on every request, so verified tokens are remembered for
``CACHE_S`` (a revocation in this process forgets them at once; one made elsewhere, with the
CLI, takes effect within ``CACHE_S``), and ``last_used_at`` is written at most once every
``TOUCH_S`` per token.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa

from rayline.auth.roles import Role
from rayline.auth.schema import api_tokens
from rayline.config import settings
from rayline.errors import AuthenticationError, ConflictError, NotFoundError, UserInputError
from rayline.store.db import Database, open_database
from rayline.store.rows import from_row

PREFIX = "rl_"
ID_CHARS = 8
#: How long a verified token is trusted without asking the database again.
CACHE_S = 2.0
#: ``last_used_at`` is written at most this often per token (it costs a write).
TOUCH_S = 60.0
#: How long "no token exists" is believed (a token created elsewhere counts within this).
NONE_EXIST_S = 0.5


@dataclass(frozen=True)
class TokenRecord:
    """An API token as stored (never its secret)."""

    id: str
    name: str
    role: Role
    created_at: float
    created_by: str
    revoked_at: float | None = None
    last_used_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def to_dict(self) -> dict[str, object]:
        """The JSON shape (the role by its name)."""
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.label,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "revoked_at": self.revoked_at,
            "last_used_at": self.last_used_at,
            "active": self.active,
        }


def hash_secret(secret: str) -> str:
    """The stored form of a secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


class Tokens(Protocol):
    """Where the tokens live: what the functions below need of a backend."""

    def create(
        self, *, name: str, role: Role, created_by: str | None
    ) -> tuple[TokenRecord, str]: ...

    def list(
        self, *, include_revoked: bool, offset: int, limit: int | None
    ) -> list[TokenRecord]: ...

    def get(self, token_id: str) -> TokenRecord: ...

    def revoke(self, token_id: str) -> TokenRecord: ...


def create_token(
    *, name: str, role: Role, db_url: str | None = None, created_by: str | None = None
) -> tuple[TokenRecord, str]:
    """A new token named ``name`` with ``role``: its record and its secret, which is shown
    this once and cannot be recovered. A name held by an active token is a ConflictError.
    ``created_by`` (default: who is acting) is for the server, which names the admin whose
    token asked."""
    name = name.strip()
    if not name or len(name) > 256:
        raise UserInputError("a token needs a name of 1 to 256 characters, e.g. --name alice")
    role = role if isinstance(role, Role) else Role.parse(str(role))
    with _backend(db_url) as backend:
        return backend.create(name=name, role=role, created_by=created_by)


def list_tokens(
    *,
    include_revoked: bool = True,
    offset: int = 0,
    limit: int | None = None,
    db_url: str | None = None,
) -> list[TokenRecord]:
    """The tokens, oldest first."""
    with _backend(db_url) as backend:
        return backend.list(include_revoked=include_revoked, offset=offset, limit=limit)


def get_token(token_id: str, *, db_url: str | None = None) -> TokenRecord:
    """Token ``token_id`` (``NotFoundError`` if there is none)."""
    with _backend(db_url) as backend:
        return backend.get(token_id)


def revoke_token(token_id: str, *, db_url: str | None = None) -> TokenRecord:
    """Revoke token ``token_id`` (its record stays); revoking a revoked token changes nothing,
    an unknown id is a ``NotFoundError``."""
    with _backend(db_url) as backend:
        return backend.revoke(token_id)


@contextlib.contextmanager
def _backend(db_url: str | None) -> Iterator[Tokens]:
    """The server's tokens when the API goes through one, else the metadata DB's."""
    from rayline.remote.client import server_client

    client = server_client(db_url)
    if client is None:
        yield EmbeddedTokens(open_database(db_url))
        return
    from rayline.auth.remote import RemoteTokens

    with client:
        yield RemoteTokens(client)


class EmbeddedTokens:
    """The tokens in the metadata DB (what a server, or its admin on its machine, works on)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, *, name: str, role: Role, created_by: str | None) -> tuple[TokenRecord, str]:
        db = self._db
        by = created_by or settings().user
        for _ in range(5):  # a clash of the short id is rare; draw again
            secret, token_id = _draw()
            record = TokenRecord(token_id, name, role, time.time(), by)
            try:
                with db.begin() as conn:
                    _check_name_free(conn, name)
                    conn.execute(
                        api_tokens.insert().values(
                            id=record.id,
                            name=name,
                            role=role.label,
                            secret_sha256=hash_secret(secret),
                            created_at=record.created_at,
                            created_by=by,
                        )
                    )
            except sa.exc.IntegrityError:
                with db.connect() as conn:
                    _check_name_free(conn, name)  # lost a race for the name: say so
                continue
            _state(db).any_token = True
            return record, secret
        raise ConflictError("could not draw a free token id; try again")  # pragma: no cover

    def list(self, *, include_revoked: bool, offset: int, limit: int | None) -> list[TokenRecord]:
        query = sa.select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        if not include_revoked:
            query = query.where(api_tokens.c.revoked_at.is_(None))
        query = query.offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self._db.connect() as conn:
            return [_record(row) for row in conn.execute(query)]

    def get(self, token_id: str) -> TokenRecord:
        with self._db.connect() as conn:
            row = conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id)).first()
        if row is None:
            raise NotFoundError(
                f"token {token_id!r} does not exist; see the ids: rayline token list"
            )
        return _record(row)

    def revoke(self, token_id: str) -> TokenRecord:
        with self._db.begin() as conn:
            conn.execute(
                api_tokens.update()
                .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                .values(revoked_at=time.time())
            )
        state = _state(self._db)
        with state.lock:
            for key, (record, _) in list(state.verified.items()):
                if record.id == token_id:
                    del state.verified[key]
        return self.get(token_id)


def _draw() -> tuple[str, str]:
    """A new secret and its id; the id is letters and digits only, so that it reads (and
    passes as a command-line argument: no leading ``-``) as one word."""
    while True:
        secret = PREFIX + secrets.token_urlsafe(32)
        token_id = secret[len(PREFIX) : len(PREFIX) + ID_CHARS]
        if token_id.isalnum():
            return secret, token_id


def _check_name_free(conn: sa.Connection, name: str) -> None:
    taken = conn.execute(
        sa.select(api_tokens.c.id).where(
            api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None)
        )
    ).first()
    if taken is not None:
        raise ConflictError(
            f"an active token named {name!r} exists already (id {taken.id}); pick another "
            f"name, or revoke it first: rayline token revoke {taken.id}"
        )


def verify_token(secret: str, *, db_url: str | None = None) -> TokenRecord:
    """The active token whose secret is ``secret``; AuthenticationError otherwise."""
    if not secret.startswith(PREFIX) or len(secret) < len(PREFIX) + ID_CHARS:
        raise AuthenticationError(
            "the bearer token is not a rayline API token (they start with 'rl_'); "
            "an admin can create one: rayline token create --name NAME --role viewer"
        )
    digest = hash_secret(secret)
    db = open_database(db_url)
    state = _state(db)
    now = time.monotonic()
    with state.lock:
        hit = state.verified.get(digest)
    if hit is not None and now - hit[1] < CACHE_S:
        record = hit[0]
    else:
        with db.connect() as conn:
            row = conn.execute(
                sa.select(api_tokens).where(api_tokens.c.secret_sha256 == digest)
            ).first()
        if row is None:
            raise AuthenticationError(
                "the API token is not known to this server; check RAYLINE_TOKEN, or ask an "
                "admin for one: rayline token create --name NAME --role viewer"
            )
        record = _record(row)
        if not record.active:
            raise AuthenticationError(
                f"API token {record.id} ({record.name!r}) was revoked; ask an admin for a new "
                "one: rayline token create --name NAME --role ROLE"
            )
        with state.lock:
            state.verified[digest] = (record, now)
    _touch(db, state, record.id)
    return record


def _touch(db: Database, state: _DbState, token_id: str) -> None:
    """Record that the token was used, at most once every TOUCH_S."""
    now = time.monotonic()
    with state.lock:
        if now - state.touched.get(token_id, -TOUCH_S) < TOUCH_S:
            return
        state.touched[token_id] = now
    with db.begin() as conn:
        conn.execute(
            api_tokens.update().where(api_tokens.c.id == token_id).values(last_used_at=time.time())
        )


def any_token_exists(*, db_url: str | None = None) -> bool:
    """Whether a token was ever created (revoked ones count: auth stays on once it was)."""
    db = open_database(db_url)
    state = _state(db)
    if state.any_token:
        return True
    now = time.monotonic()
    if now - state.checked_none < NONE_EXIST_S:
        return False
    with db.connect() as conn:
        found = conn.execute(sa.select(api_tokens.c.id).limit(1)).first() is not None
    if found:
        state.any_token = True
    else:
        state.checked_none = now
    return found


def _record(row: sa.Row) -> TokenRecord:
    return from_row(TokenRecord, row, role=Role.parse(row.role))


class _DbState:
    """What this process remembers of one database's tokens."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.verified: dict[str, tuple[TokenRecord, float]] = {}
        self.touched: dict[str, float] = {}
        self.any_token = False
        self.checked_none = -NONE_EXIST_S


_states: dict[str, _DbState] = {}
_states_lock = threading.Lock()


def _state(db: Database) -> _DbState:
    with _states_lock:
        return _states.setdefault(db.url, _DbState())
