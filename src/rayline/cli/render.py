"""Shared rendering for CLI commands: consoles, tables, times, and ``--json`` output."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table


def console() -> Console:
    c = Console(highlight=False)
    if not c.is_terminal:  # piped or captured: don't squeeze tables into 80 columns
        c = Console(highlight=False, width=160)
    return c


def error_console() -> Console:
    return Console(stderr=True, highlight=False, width=None if sys.stderr.isatty() else 160)


def print_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout (for scripts: ``--json``)."""
    sys.stdout.write(json.dumps(value, indent=2, default=str) + "\n")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> Table:
    t = Table(title=title, title_justify="left", header_style="bold")
    for col in columns:
        t.add_column(col)
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    return t


def when(ts: float | None) -> str:
    """A Unix time as local 'YYYY-mm-dd HH:MM:SS'."""
    if ts is None:
        return ""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def placement(resources: dict[str, float]) -> str:
    """A step's custom Ray resources, ``worker=0.1``; empty when Ray may place it anywhere."""
    return ", ".join(f"{name}={amount:g}" for name, amount in sorted(resources.items()))


def short_node(node: str | None) -> str:
    """Where a step ran: its Ray node's id, cut to 12 characters (enough to tell nodes apart;
    ``--json`` has the whole id)."""
    return (node or "")[:12]
