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
    from rayline.remote.client import Client

    with Client() as client:
        return list(client.items("/tokens", params={"active_only": active_only}))


def _remote(method: str, path: str, **request: Any) -> Any:
    """One call of the server's token API (``RAYLINE_SERVER_URL``, ``RAYLINE_TOKEN``)."""
    from rayline.remote.client import Client

    with Client() as client:
        return client.call(method, path, **request)
