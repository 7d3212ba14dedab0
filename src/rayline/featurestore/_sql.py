"""DuckDB plumbing shared by the offline store, SQL queries and datasets.

Values always travel as bound parameters (``$name``); only identifiers, which SQL cannot bind, are
written into statements, through ``quote``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyarrow as pa

#: DuckDB's type for each feature type.
DUCK_TYPES = {"Integral": "BIGINT", "Fractional": "DOUBLE", "String": "VARCHAR"}


def quote(name: str) -> str:
    """``name`` as a DuckDB identifier (double-quoted, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


def connect_utc():
    """A fresh in-memory DuckDB connection whose session time zone is UTC."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    return con


def fetch_arrow(con, sql: str, params: Mapping[str, Any] | None = None) -> pa.Table:
    """The result of ``sql`` (with its ``$name`` parameters bound) as a pyarrow Table."""
    return to_arrow(con.sql(sql, params=dict(params) if params else None))


def to_arrow(rel) -> pa.Table:
    """A DuckDB relation as a pyarrow Table (DuckDB 1.x and 2.x name the method differently)."""
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()
