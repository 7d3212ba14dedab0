"""API tokens and the audit log on a rayline server (``/api/v1/tokens``, ``/api/v1/audit``,
admin): the backend ``rayline.auth.tokens`` and ``rayline.auth.audit`` work on when
``RAYLINE_SERVER_URL`` is set. The server makes a new token's secret, returns it this once and
records the admin whose token asked as its creator."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.auth.audit import AuditRecord
from rayline.auth.roles import Role
from rayline.auth.tokens import TokenRecord
from rayline.errors import UserInputError
from rayline.remote.records import from_json

if TYPE_CHECKING:
    from rayline.remote.client import Client


class RemoteTokens:
    """The server's API tokens, through ``client``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(self, *, name: str, role: Role, created_by: str | None) -> tuple[TokenRecord, str]:
        if created_by is not None:
            raise UserInputError(
                f"created_by={created_by!r} cannot be set through a rayline server: it records "
                "the identity of RAYLINE_TOKEN as the token's creator; leave created_by out"
            )
        made = self._client.post("/tokens", json={"name": name, "role": role.label})
        return _token(made["token"]), made["secret"]

    def list(self, *, include_revoked: bool, offset: int, limit: int | None) -> list[TokenRecord]:
        params = {"active_only": not include_revoked}
        return [_token(t) for t in _skip(self._client, "/tokens", params, offset, limit)]

    def get(self, token_id: str) -> TokenRecord:
        return _token(self._client.get(_path(token_id)))

    def revoke(self, token_id: str) -> TokenRecord:
        self._client.delete(_path(token_id))
        return self.get(token_id)


def list_audit(
    client: Client,
    *,
    identity: str | None,
    since: float | None,
    offset: int,
    limit: int | None,
) -> list[AuditRecord]:
    """The server's audit rows, newest first (as ``rayline.auth.audit.list_audit``)."""
    params = {"identity": identity, "since": None if since is None else repr(float(since))}
    return [from_json(AuditRecord, r) for r in _skip(client, "/audit", params, offset, limit)]


def _path(token_id: str) -> str:
    return f"/tokens/{quote(token_id, safe='')}"


def _skip(client: Client, path: str, params: dict[str, Any], offset: int, limit: int | None) -> Any:
    # The pages start at the first item: the offset is skipped here.
    items = client.items(path, params=params, limit=None if limit is None else offset + limit)
    return itertools.islice(items, offset, None)


def _token(data: Any) -> TokenRecord:
    if isinstance(data, dict) and "role" in data:
        data = {**data, "role": Role.parse(str(data["role"]))}
    return from_json(TokenRecord, data)
