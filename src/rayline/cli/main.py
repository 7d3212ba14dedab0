"""Entry point of the ``rayline`` command.

Each command group lives in its own module under ``rayline.cli`` and exposes
``register(subparsers)``; adding a group is one module plus one line in ``_GROUPS``. Handlers
take the parsed ``argparse.Namespace`` and return an exit code. Errors from rayline's hierarchy are
printed as one clear line; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from rayline.errors import RaylineError

# Module names under rayline.cli, in the order `rayline --help` lists them.
_GROUPS = (
    "pipeline",
    "execution",
    "cache",
    "artifacts",
    "featurestore",
    "experiments",
    "registry",
    "endpoint",
    "lineage",
    "cluster",
    "server",
    "token",
    "schedule",
    "webhook",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rayline",
        description="Durable, cached ML pipelines on Ray, with a feature store, experiment "
        "tracking, a model registry with approvals, and endpoints on Ray Serve.",
    )
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name in _GROUPS:
        importlib.import_module(f"rayline.cli.{name}").register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        # A group without a subcommand: show that group's help.
        (getattr(args, "group_parser", None) or parser).print_help()
        return 2
    try:
        return int(handler(args) or 0)
    except RaylineError as exc:
        from rayline.cli.render import error_console

        error_console().print(f"[bold red]error:[/] {type(exc).__name__}: {exc}", highlight=False)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
