"""SQL over the offline store with DuckDB.

Every feature group with an offline store is a view named after the group (quote names with
hyphens: ``SELECT * FROM "housing-features"``); its columns are the features, ``write_time``,
``api_invocation_time``, ``is_deleted`` and the partition columns ``year, month, day, hour``.
A view reads only committed ingestions, and a row two concurrent ingestions both stored once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pyarrow as pa

from rayline.errors import UserInputError
from rayline.featurestore import _repository as repo
from rayline.featurestore import offline
from rayline.featurestore._sql import connect_utc, to_arrow
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import open_database

if TYPE_CHECKING:
    import pandas as pd


def connect(groups: Iterable[FeatureGroupDescription] | None = None, *, db_url: str | None = None):
    """A DuckDB connection (UTC session time zone) with one view per feature group (every group
    with an offline store in the metadata DB at ``db_url`` unless ``groups`` are given)."""
    db = open_database(db_url)
    if groups is None:
        groups = repo.list_all(db)
    con = connect_utc()
    for desc in groups:
        if desc.offline_store_enabled:
            offline.create_view(con, desc, desc.name, db=db)
    return con


def query(sql: str, *, db_url: str | None = None) -> pd.DataFrame | None:
    """Run ``sql`` over the offline stores; returns a pandas DataFrame (None for a statement
    that returns no rows, e.g. ``SET``)."""
    con = connect(db_url=db_url)
    try:
        rel = _relation(con, sql)
        return rel.df() if rel is not None else None
    finally:
        con.close()


def query_arrow(sql: str, *, db_url: str | None = None) -> pa.Table | None:
    """Like ``query`` but returns a pyarrow Table."""
    con = connect(db_url=db_url)
    try:
        rel = _relation(con, sql)
        return to_arrow(rel) if rel is not None else None
    finally:
        con.close()


def _relation(con, sql: str):
    import duckdb

    try:
        return con.sql(sql)
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
        raise UserInputError(
            f"query failed: {exc}. Feature groups are views named after the group; quote names "
            'with hyphens, e.g. SELECT * FROM "my-group"'
        ) from exc
