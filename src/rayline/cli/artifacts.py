"""``rayline artifacts``: look after the artifact store (``gc``: collect orphaned objects)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, print_json, table, when
from rayline.errors import UserInputError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def register(sub: Any) -> None:
    cmds = add_group(sub, "artifacts", "Look after the artifact store.")
    command(
        cmds,
        "gc",
        cmd_gc,
        "Delete what step attempts wrote but never committed (failed, stopped or killed "
        "attempts, deleted executions); never what a running execution or a committed step "
        "may still read.",
        arg(
            "--older-than",
            type=_duration_arg,
            default=None,
            metavar="DURATION",
            help="only prefixes not modified for this long (e.g. 90s, 30m, 12h, 7d)",
        ),
        arg("--dry-run", action="store_true", help="list what would be deleted; delete nothing"),
        json=True,
    )


def parse_duration(text: str) -> float:
    """Seconds from ``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if match is None:
        raise UserInputError(
            f"--older-than {text!r} is not a duration: write a number with s, m, h, d or w "
            "(e.g. 7d)"
        )
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def _duration_arg(text: str) -> float:
    try:
        return parse_duration(text)
    except UserInputError as exc:  # argparse shows this message, not a generic one
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_gc(args: Any) -> int:
    from rayline.executions import collect_orphaned_artifacts

    result = collect_orphaned_artifacts(older_than_s=args.older_than, dry_run=args.dry_run)
    if args.json:
        print_json(
            {
                "deleted": result.deleted,
                "kept": result.kept,
                "bytes": result.size,
                "orphans": [
                    {
                        "uri": o.uri,
                        "execution_id": o.execution_id,
                        "step": o.step_name,
                        "attempt": o.attempt,
                        "files": o.files,
                        "bytes": o.size,
                        "modified_at": o.modified_at,
                    }
                    for o in result.orphans
                ],
            }
        )
        return 0
    out = console()
    if result.orphans:
        out.print(
            table(
                "Orphaned prefixes" + (" (dry run: nothing deleted)" if args.dry_run else ""),
                ["execution", "step", "attempt", "files", "bytes", "modified"],
                [
                    (o.execution_id, o.step_name, o.attempt, o.files, o.size, when(o.modified_at))
                    for o in result.orphans
                ],
            )
        )
    verb = "would delete" if args.dry_run else "deleted"
    out.print(
        f"{verb} {len(result.orphans)} orphaned prefix(es), {result.size} bytes; kept {result.kept}"
    )
    return 0
