"""``rayline lineage REF``: what is upstream and downstream of a model version, an endpoint or an
execution (data → steps → model → endpoint)."""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import arg, command
from rayline.cli.render import console, print_json, table


def register(sub: Any) -> None:
    command(
        sub,
        "lineage",
        cmd_lineage,
        "Show what is upstream and downstream of a model version, endpoint or execution.",
        arg(
            "ref",
            help="GROUP/VERSION, an endpoint name, or an execution id (prefix); "
            "or model:..., endpoint:..., execution:...",
        ),
        arg("--depth", type=int, help="stop after this many hops"),
        json=True,
        description=__doc__,
    )


def cmd_lineage(args: Any) -> int:
    from rayline.lineage import lineage

    result = lineage(args.ref, max_depth=args.depth)
    if args.json:
        print_json(result.to_dict())
        return 0
    out = console()
    focus = result.focus
    out.print(f"[bold]{focus.kind} {focus.label}[/]  {focus.detail}")
    columns = ["Hops", "Kind", "Name", "Relation", "Detail"]
    if result.members:
        out.print(
            table(
                "In this execution",
                ["Kind", "Name", "Detail"],
                [(n.kind, n.label, n.detail) for n in result.members],
            )
        )
    for title, entries in (("Upstream", result.upstream), ("Downstream", result.downstream)):
        # Farthest first upstream, so the table reads in the direction data flows.
        ordered = sorted(entries, key=lambda e: -e.depth) if title == "Upstream" else entries
        out.print(
            table(
                title,
                columns,
                [(e.depth, e.node.kind, e.node.label, e.relation, e.node.detail) for e in ordered],
            )
        )
    return 0
