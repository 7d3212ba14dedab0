"""``rayline endpoint``: deploy Approved model versions on Ray Serve, invoke, update, delete."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, placement, print_json, table, when
from rayline.errors import UserInputError


def register(sub: Any) -> None:
    cmds = add_group(
        sub, "endpoint", "Real-time endpoints on Ray Serve (needs `rayline up` or RAY_ADDRESS)."
    )
    name = arg("name")
    command(
        cmds,
        "create",
        cmd_create,
        "Deploy an Approved version: NAME GROUP/VERSION.",
        name,
        arg("model", help="GROUP/VERSION (must be Approved)"),
        arg("--replicas", type=int, default=1),
        arg("--num-cpus", type=float, default=0.1, help="CPUs reserved per replica"),
        arg("--resources", type=_resources, help=RESOURCES_HELP),
        arg("--no-wait", action="store_true", help="return before it is InService"),
        json=True,
    )
    command(
        cmds,
        "update",
        cmd_update,
        "Serve another Approved version (no downtime).",
        name,
        arg("model", help="GROUP/VERSION"),
        arg("--replicas", type=int),
        arg("--resources", type=_resources, help=RESOURCES_HELP + "; '{}': anywhere"),
        arg("--no-wait", action="store_true"),
        json=True,
    )
    command(cmds, "list", cmd_list, "List endpoints (probing each).", json=True)
    command(
        cmds,
        "describe",
        cmd_describe,
        "An endpoint's status, URL, version and history.",
        name,
        json=True,
    )
    command(
        cmds,
        "invoke",
        cmd_invoke,
        "Send rows: --body '1,2,...' or --file rows.csv (or stdin); prints the answer.",
        name,
        arg("--body", help="the request body (CSV rows, or JSON with --content-type)"),
        arg("--file", help="read the body from this file ('-' for stdin)"),
        arg("--content-type", default="text/csv", choices=["text/csv", "application/json"]),
        arg("--accept", choices=["text/csv", "application/json"]),
    )
    command(cmds, "delete", cmd_delete, "Stop serving and delete an endpoint.", name)


RESOURCES_HELP = (
    "custom Ray resources each replica takes, as JSON: '{\"worker\": 0.1}' places replicas "
    "on nodes that offer `worker`"
)


def _resources(raw: str) -> dict[str, float]:
    """``--resources`` JSON (checked by the API: positive amounts, no CPU/GPU keys)."""
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(
            f"not JSON ({exc.msg}); give an object like '{{\"worker\": 0.1}}'"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("give a JSON object like '{\"worker\": 0.1}'")
    return value


def _endpoints():
    from rayline.serving import Endpoints

    return Endpoints()


def _show(ep, as_json: bool) -> None:
    if as_json:
        print_json(ep.to_dict())
        return
    out = console()
    out.print(f"[bold]{ep.name}[/]  {ep.status}  serving {ep.model_version}")
    rows = [
        ("URL", ep.invocation_url),
        ("Replicas", ep.config.get("replicas")),
        ("Placement", placement(ep.resources)),
        ("Live", "" if ep.live is None else ("yes" if ep.live else "no")),
        ("Failure", ep.failure_reason),
        ("Created", when(ep.created_at)),
        ("Updated", when(ep.updated_at)),
    ]
    out.print(table(None, ["Field", "Value"], [r for r in rows if r[1] not in (None, "")]))
    if ep.events:
        out.print(
            table(
                "History",
                ["When", "Action", "Version", "Status", "By", "Detail"],
                [
                    (when(e.at), e.action, e.model_version or "", e.status, e.by, e.detail or "")
                    for e in ep.events
                ],
            )
        )


def cmd_create(args: Any) -> int:
    ep = _endpoints().create(
        args.name,
        args.model,
        replicas=args.replicas,
        num_cpus=args.num_cpus,
        resources=args.resources,
        wait=not args.no_wait,
    )
    _show(ep, args.json)
    return 0


def cmd_update(args: Any) -> int:
    ep = _endpoints().update(
        args.name,
        args.model,
        replicas=args.replicas,
        resources=args.resources,
        wait=not args.no_wait,
    )
    _show(ep, args.json)
    return 0


def cmd_list(args: Any) -> int:
    eps = _endpoints().list(probe=True)
    if args.json:
        print_json([e.to_dict() for e in eps])
        return 0
    console().print(
        table(
            "Endpoints",
            ["Name", "Status", "Model version", "URL", "Updated"],
            [
                (e.name, e.status, e.model_version, e.invocation_url, when(e.updated_at))
                for e in eps
            ],
        )
    )
    return 0


def cmd_describe(args: Any) -> int:
    _show(_endpoints().describe(args.name), args.json)
    return 0


def cmd_invoke(args: Any) -> int:
    if args.body is not None:
        body = args.body.encode()
    elif args.file == "-" or (args.file is None and not sys.stdin.isatty()):
        body = sys.stdin.buffer.read()
    elif args.file:
        path = Path(args.file)
        if not path.is_file():
            raise UserInputError(f"{args.file} does not exist")
        body = path.read_bytes()
    else:
        raise UserInputError("give the rows with --body '...' or --file FILE (or pipe them in)")
    answer, _ = _endpoints().invoke(
        args.name, body, content_type=args.content_type, accept=args.accept
    )
    sys.stdout.write(answer.decode())
    if not answer.endswith(b"\n"):
        sys.stdout.write("\n")
    return 0


def cmd_delete(args: Any) -> int:
    _endpoints().delete(args.name)
    console().print(f"deleted endpoint {args.name!r}")
    return 0
