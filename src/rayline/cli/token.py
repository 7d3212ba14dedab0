"""``rayline token``: the server's API tokens (create, list, revoke).

These work on the metadata DB directly (``RAYLINE_DB_URL``), on the server's machine: that is
how the first admin token is made, before any token could authorise a request. With
``RAYLINE_SERVER_URL`` set they go through the server's ``/api/v1/tokens`` instead, presenting
``RAYLINE_TOKEN`` (an admin's).
"""

from __future__ import annotations

import argparse
from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, print_json, table, when
from rayline.config import settings
from rayline.errors import (
    AuthenticationError,
    BackendError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RaylineError,
    UserInputError,
)

ROLES = ("viewer", "operator", "approver", "admin")


def register(sub: Any) -> None:
    cmds = add_group(
        sub,
        "token",
        "API tokens of the rayline server (run on its machine: works on the metadata DB).",
    )
    command(
        cmds,
        "create",
        cmd_create,
        "Create a token; prints its secret once (the server keeps only its hash).",
        arg("--name", required=True, help="who or what uses it (unique among active tokens)"),
        arg(
            "--role",
            required=True,
            choices=ROLES,
            help="what it may do (each includes the ones before it)",
        ),
        json=True,
    )
    command(
        cmds,
        "list",
        cmd_list,
        "List tokens (never their secrets).",
        arg("--active", action="store_true", help="leave out revoked tokens"),
        json=True,
    )
    command(cmds, "revoke", cmd_revoke, "Revoke a token: it stops working.", arg("id"), json=True)


def cmd_create(args: argparse.Namespace) -> int:
    if settings().server_url:
        made = _remote("POST", "/tokens", json={"name": args.name, "role": args.role})
        token, secret = made["token"], made["secret"]
    else:
        from rayline.auth.roles import Role
        from rayline.auth.tokens import create_token

        record, secret = create_token(name=args.name, role=Role.parse(args.role))
        token = record.to_dict()
    if args.json:
        print_json({"token": token, "secret": secret})
        return 0
    out = console()
    out.print(
        f"Created token {token['id']} ({token['name']!r}, {token['role']}). Its secret, "
        "shown this once:",
        highlight=False,
    )
    out.print(secret, highlight=False, soft_wrap=True)
    out.print("Use it as RAYLINE_TOKEN (or 'Authorization: Bearer <secret>').", highlight=False)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    if settings().server_url:
        records = _remote_list(active_only=args.active)
    else:
        from rayline.auth.tokens import list_tokens

        records = [r.to_dict() for r in list_tokens(include_revoked=not args.active)]
    if args.json:
        print_json(records)
        return 0
    console().print(
        table(
            "API tokens",
            ["Id", "Name", "Role", "Created", "By", "Last used", "Revoked"],
            [
                (
                    r["id"],
                    r["name"],
                    r["role"],
                    when(r["created_at"]),
                    r["created_by"],
                    when(r["last_used_at"]),
                    when(r["revoked_at"]),
                )
                for r in records
            ],
        )
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    if settings().server_url:
        _remote("DELETE", f"/tokens/{args.id}")
        token = _remote("GET", f"/tokens/{args.id}")
    else:
        from rayline.auth.tokens import get_token, revoke_token

        get_token(args.id)  # an unknown id is an error, not a silent no-op
        token = revoke_token(args.id).to_dict()
    if args.json:
        print_json(token)
        return 0
    console().print(f"Revoked token {token['id']} ({token['name']!r}).", highlight=False)
    return 0


def _remote_list(*, active_only: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"active_only": active_only, "limit": 1000}
    while True:
        page = _remote("GET", "/tokens", params=params)
        items.extend(page["items"])
        if not page.get("next_token"):
            return items
        params["next_token"] = page["next_token"]


#: The error a problem's status stands for (the server's mapping, read backwards).
_ERRORS: dict[int, type[RaylineError]] = {
    400: UserInputError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UserInputError,
}


def _remote(method: str, path: str, **request: Any) -> Any:
    """One call of the server's token API (``RAYLINE_SERVER_URL``, ``RAYLINE_TOKEN``)."""
    import platform

    import httpx

    from rayline import __version__

    config = settings()
    headers = {"X-Rayline-Client": f"rayline/{__version__} python/{platform.python_version()}"}
    if config.token:
        headers["Authorization"] = f"Bearer {config.token}"
    url = f"{config.server_url}/api/v1{path}"
    try:
        response = httpx.request(method, url, headers=headers, timeout=30, **request)
    except httpx.HTTPError as exc:
        raise BackendError(
            f"cannot reach the rayline server at {config.server_url} ({exc}); check "
            "RAYLINE_SERVER_URL, or unset it to manage the tokens of this machine's database"
        ) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.text
        except ValueError:
            detail = response.text
        error = _ERRORS.get(response.status_code, BackendError)
        raise error(f"the server at {config.server_url} answered {response.status_code}: {detail}")
    return response.json() if response.content else None
