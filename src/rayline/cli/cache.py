"""``rayline cache``: list and invalidate a pipeline's cache entries."""

from __future__ import annotations

import dataclasses
from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, print_json, table, when

# Enough of a SHA-256 cache key to tell entries apart; --json has the whole key.
_KEY_PREFIX = 12


def register(sub: Any) -> None:
    cmds = add_group(sub, "cache", "See and drop the step results executions may reuse.")
    target = (
        arg("pipeline"),
        arg("step", nargs="?", help="one step (default: every step of the pipeline)"),
    )
    command(
        cmds,
        "list",
        cmd_list,
        "List cache entries: per step and cache key, the run whose result is reused.",
        *target,
        json=True,
    )
    command(
        cmds,
        "invalidate",
        cmd_invalidate,
        "Drop cache entries, so the next execution computes those steps again.",
        *target,
        json=True,
    )


def _scope(args: Any) -> str:
    return f"step {args.step} of pipeline {args.pipeline}" if args.step else args.pipeline


def cmd_list(args: Any) -> int:
    from rayline.pipelines import cache_entries

    entries = cache_entries(args.pipeline, args.step)
    if args.json:
        print_json([dataclasses.asdict(e) for e in entries])
        return 0
    if not entries:
        console().print(f"no cache entries for {_scope(args)}")
        return 0
    console().print(
        table(
            f"Cache entries of {_scope(args)}",
            ["step", "cache key", "execution", "computed", "expires", "hits"],
            [
                (
                    e.step_name,
                    e.cache_key[:_KEY_PREFIX],
                    e.execution_id,
                    when(e.computed_at),
                    when(e.expires_at) if e.expires_at is not None else "never",
                    e.hits,
                )
                for e in entries
            ],
        )
    )
    return 0


def cmd_invalidate(args: Any) -> int:
    from rayline.pipelines import invalidate_cache

    dropped = invalidate_cache(args.pipeline, args.step)
    if args.json:
        print_json(
            {
                "pipeline": args.pipeline,
                "step": args.step,
                "invalidated": len(dropped),
                "entries": [dataclasses.asdict(e) for e in dropped],
            }
        )
        return 0
    if not dropped:
        console().print(f"no cache entries to invalidate for {_scope(args)}")
        return 0
    noun = "entry" if len(dropped) == 1 else "entries"
    console().print(
        f"invalidated {len(dropped)} cache {noun} of {_scope(args)}; the next execution "
        "computes the step(s) again"
    )
    return 0
