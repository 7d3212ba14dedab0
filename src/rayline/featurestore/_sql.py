"""DuckDB plumbing shared by the offline store, SQL queries and datasets.

Values always travel as bound parameters (``$name``); only identifiers, which SQL cannot bind, are
written into statements, through ``quote``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

#: DuckDB's type for each feature type.
DUCK_TYPES = {"Integral": "BIGINT", "Fractional": "DOUBLE", "String": "VARCHAR"}


def quote(name: str) -> str:
    """``name`` as a DuckDB identifier (double-quoted, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


#: The default memory limit's share of this machine's memory, and its cap. DuckDB's own default
#: (80% of the memory) would let one join crowd out the Ray workers beside it; past the limit it
#: spills to disk (under ``RAYLINE_HOME``) instead of failing.
_MEMORY_SHARE = 0.25
_MEMORY_CAP = 4 << 30


def connect_utc():
    """A fresh in-memory DuckDB connection whose session time zone is UTC, held to
    ``memory_limit`` (``RAYLINE_DUCKDB_MEMORY_LIMIT``) and spilling past it into a directory of
    its own under ``RAYLINE_HOME`` (DuckDB removes it when the connection closes)."""
    import duckdb

    limit, temp = spill_settings()
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{limit}'")
    con.execute(f"SET temp_directory = '{temp}'")
    return con


def spill_settings() -> tuple[str, str]:
    """``(memory limit, temp directory)`` for a new connection. The directory is unique: DuckDB
    names its spill files alike in every process, so processes must not share one."""
    import secrets

    from rayline.config import settings

    current = settings()
    limit = current.duckdb_memory_limit or f"{_default_memory_limit() >> 20}MiB"
    parent = current.home / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    temp = parent / f"duckdb-{os.getpid()}-{secrets.token_hex(4)}"
    return limit, str(temp).replace("'", "''")


def _default_memory_limit() -> int:
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: DuckDB's own default
        return _MEMORY_CAP
    return max(256 << 20, min(_MEMORY_CAP, int(total * _MEMORY_SHARE)))


def fetch_arrow(con, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """The result of ``sql`` (with its ``$name`` parameters bound) as a pyarrow Table."""
    return to_arrow(con.sql(sql, params=dict(params) if params else None))


def to_arrow(rel) -> pa.Table:
    """A DuckDB relation as a pyarrow Table (DuckDB 1.x and 2.x name the method differently)."""
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()
