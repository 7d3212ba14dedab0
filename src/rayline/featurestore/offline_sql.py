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
from rayline.featurestore import offline
from rayline.featurestore._sql import connect_utc
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
    than a SELECT, which once returned None, are refused with a ``UserInputError``.) Through a
    server (``RAYLINE_SERVER_URL``) a result past the server's row cap (``RAYLINE_SQL_MAX_ROWS``)
    is a ``TooLargeError`` naming the cap, never a short frame."""
    from rayline.featurestore.backend import open_feature_store

    return open_feature_store(db_url=db_url).query(sql)


def query_arrow(sql: str, *, db_url: str | None = None) -> pa.Table | None:
    """Like ``query`` but returns a pyarrow Table."""
    from rayline.featurestore.backend import open_feature_store

    return open_feature_store(db_url=db_url).query_arrow(sql)
