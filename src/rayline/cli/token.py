"""``rayline token``: the server's API tokens (create, list, revoke), over
``rayline.auth.tokens``.

Without ``RAYLINE_SERVER_URL`` they work on the metadata DB (``RAYLINE_DB_URL``), on the
server's machine: that is how the first admin token is made, before any token could authorise a
request. With it they go through the server, presenting ``RAYLINE_TOKEN`` (an admin's).
"""

from __future__ import annotations

import argparse
from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, print_json, table, when

ROLES = ("viewer", "operator", "approver", "admin")


def register(sub: Any) -> None:
    cmds = add_group(
        sub,
        "token",
        "API tokens of the rayline server (on its machine, or through it: RAYLINE_SERVER_URL).",
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
    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token

    record, secret = create_token(name=args.name, role=Role.parse(args.role))
    if args.json:
        print_json({"token": record.to_dict(), "secret": secret})
        return 0
    out = console()
    out.print(
        f"Created token {record.id} ({record.name!r}, {record.role.label}). Its secret, "
        "shown this once:",
        highlight=False,
    )
    out.print(secret, highlight=False, soft_wrap=True)
    out.print("Use it as RAYLINE_TOKEN (or 'Authorization: Bearer <secret>').", highlight=False)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rayline.auth.tokens import list_tokens

    records = list_tokens(include_revoked=not args.active)
    if args.json:
        print_json([r.to_dict() for r in records])
        return 0
    console().print(
        table(
            "API tokens",
            ["Id", "Name", "Role", "Created", "By", "Last used", "Revoked"],
            [
                (
                    r.id,
                    r.name,
                    r.role.label,
                    when(r.created_at),
                    r.created_by,
                    when(r.last_used_at),
                    when(r.revoked_at),
                )
                for r in records
            ],
        )
    )
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from rayline.auth.tokens import revoke_token

    token = revoke_token(args.id)
    if args.json:
        print_json(token.to_dict())
        return 0
    console().print(f"Revoked token {token.id} ({token.name!r}).", highlight=False)
    return 0
