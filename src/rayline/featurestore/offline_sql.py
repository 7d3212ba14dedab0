"""SQL over the offline store with DuckDB.

Every feature group with an offline store is a view named after the group (quote names with
hyphens: ``SELECT * FROM "housing-features"``); its columns are the features, ``write_time``,
``api_invocation_time``, ``is_deleted`` and the partition columns ``year, month, day, hour``.
A view reads only committed ingestions, and a row two concurrent ingestions both stored once.

``query`` and ``query_arrow`` run in the SQL sandbox (``rayline.featurestore.sandbox``): one
read-only SELECT over those views, no file, extension or setting besides, and a timeout
(``RAYLINE_SQL_TIMEOUT_S``). Anything else is a ``UserInputError`` saying so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyarrow as pa

from rayline.featurestore import _repository as repo
from rayline.featurestore import offline, sandbox
from rayline.featurestore._sql import connect_utc, to_arrow
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import open_database

if TYPE_CHECKING:
    import pandas as pd


def connect(groups: Iterable[FeatureGroupDescription] | None = None, *, db_url: str | None = None):
    """A DuckDB connection (UTC session time zone) with one view per feature group (every group
    with an offline store in the metadata DB at ``db_url`` unless ``groups`` are given).

    The connection is not sandboxed: it is for this process's own code. SQL that comes from a
    user goes through ``query`` / ``query_arrow`` (or ``sandbox.open_sandbox``)."""
    db = open_database(db_url)
    if groups is None:
        groups = repo.list_all(db)
    con = connect_utc()
    for desc in groups:
        if desc.offline_store_enabled:
            offline.create_view(con, desc, desc.name, db=db)
    return con


def query(sql: str, *, db_url: str | None = None) -> pd.DataFrame | None:
    """Run one SELECT over the offline stores; returns a pandas DataFrame. (Statements other
    than a SELECT, which once returned None, are refused with a ``UserInputError``.)"""
    return _run(sql, db_url=db_url, fetch=lambda rel: rel.df())


def query_arrow(sql: str, *, db_url: str | None = None) -> pa.Table | None:
    """Like ``query`` but returns a pyarrow Table."""
    return _run(sql, db_url=db_url, fetch=to_arrow)


def _run(sql: str, *, db_url: str | None, fetch):
    sandbox.check_select(sql)  # before any view is made: a refused statement costs nothing
    con = sandbox.open_sandbox(db=open_database(db_url))
    try:
        result, _truncated = sandbox.run_select(con, sql, fetch=fetch)
    finally:
        con.close()
    return result
