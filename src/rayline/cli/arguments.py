"""argparse helpers the command modules share: command groups, commands declared in one call,
and the ``KEY=VALUE`` options several commands take.

>>> cmds = add_group(sub, "pipeline", "Define, store and start pipelines.")
>>> command(cmds, "describe", cmd_describe, "Show a pipeline.", arg("name"), json=True)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rayline.errors import UserInputError


@dataclass(frozen=True)
class Argument:
    """One ``add_argument`` call: its flags (or positional name) and options."""

    flags: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)


def arg(*flags: str, **options: Any) -> Argument:
    """An argument for ``command``, written as for ``ArgumentParser.add_argument``."""
    return Argument(flags, options)


def add_group(sub: Any, name: str, help_text: str) -> Any:
    """Add a command group and return its subparsers (``rayline NAME SUBCOMMAND``)."""
    group = sub.add_parser(name, help=help_text, description=help_text)
    group.set_defaults(group_parser=group)
    return group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")


def command(
    parent: Any,
    name: str,
    handler: Callable[[argparse.Namespace], int],
    help_text: str,
    *arguments: Argument,
    json: bool | str = False,
    defaults: dict[str, Any] | None = None,
    **parser_options: Any,
) -> argparse.ArgumentParser:
    """Add command ``name`` to ``parent`` (subparsers) with ``arguments`` in order, then
    ``--json`` when ``json`` is set (a string is its help text), run by ``handler``."""
    p = parent.add_parser(name, help=help_text, **parser_options)
    add_arguments(p, arguments, json=json)
    p.set_defaults(handler=handler, **(defaults or {}))
    return p


def add_arguments(
    parser: argparse.ArgumentParser, arguments: Iterable[Argument], *, json: bool | str = False
) -> None:
    """Add ``arguments`` to ``parser`` in order, then ``--json`` when ``json`` is set."""
    for argument in arguments:
        parser.add_argument(*argument.flags, **argument.options)
    if json:
        parser.add_argument(
            "--json", action="store_true", help=json if isinstance(json, str) else None
        )


def parse_pairs(
    specs: Iterable[str],
    *,
    option: str,
    sep: str = "=",
    form: str = "KEY=VALUE",
    example: str | None = None,
    error: type[UserInputError] = UserInputError,
) -> list[tuple[str, str]]:
    """The ``(key, value)`` pairs of a repeatable ``option`` whose values are written as
    ``form``, each split at its first ``sep``; keys are stripped of surrounding spaces. A value
    without ``sep`` or without a key raises ``error``, naming the option and the form."""
    pairs = []
    for spec in specs:
        key, found, value = spec.partition(sep)
        if not found or not key.strip():
            hint = f", e.g. {example}" if example else ""
            raise error(f"{option} {spec!r}: write {form}{hint}")
        pairs.append((key.strip(), value))
    return pairs


def parallelism(max_parallel: int | None) -> Any:
    """``--max-parallel N`` as a ``ParallelismConfiguration`` (None: the pipeline's own)."""
    if max_parallel is None:
        return None
    from rayline.definition.policies import ParallelismConfiguration

    return ParallelismConfiguration(max_parallel_execution_steps=max_parallel)
