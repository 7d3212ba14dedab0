"""SQL over the offline store with DuckDB.

Every feature group with an offline store is a view named after the group (quote names with
hyphens: ``SELECT * FROM "housing-features"``); its columns are the features, ``write_time``,
``api_invocation_time``, ``is_deleted`` and the partition columns ``year, month, day, hour``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa

from rayline.featurestore import _repository as repo
from rayline.featurestore import offline
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import open_database

_DUCK_TYPES = {"Integral": "BIGINT", "Fractional": "DOUBLE", "String": "VARCHAR"}


def connect(groups: Iterable[FeatureGroupDescription] | None = None, *, db_url: str | None = None):
    """A DuckDB connection (UTC session time zone) with one view per feature group."""
    import duckdb

    if groups is None:
        groups = repo.list_all(open_database(db_url))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for desc in groups:
        if desc.offline_store_enabled:
            con.execute(f"CREATE OR REPLACE VIEW {quote(desc.name)} AS {source_sql(desc)}")
    return con


def source_sql(desc: FeatureGroupDescription) -> str:
    """A SELECT of every offline row of a group (empty but typed when nothing is written)."""
    if offline.files(desc):
        return (
            f"SELECT * FROM read_parquet({literal(offline.parquet_glob(desc))}, "
            "hive_partitioning = true, union_by_name = true)"
        )
    cols = [
        f"NULL::{_DUCK_TYPES[f.feature_type.value]} AS {quote(f.feature_name)}"
        for f in desc.feature_definitions
    ]
    cols += [
        "NULL::TIMESTAMPTZ AS write_time",
        "NULL::TIMESTAMPTZ AS api_invocation_time",
        "NULL::BOOLEAN AS is_deleted",
        "NULL::BIGINT AS year",
        "NULL::BIGINT AS month",
        "NULL::BIGINT AS day",
        "NULL::BIGINT AS hour",
    ]
    return f"SELECT {', '.join(cols)} WHERE false"


def query(sql: str, *, db_url: str | None = None):
    """Run ``sql`` over the offline stores; returns a pandas DataFrame."""
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
        return _arrow(rel) if rel is not None else None
    finally:
        con.close()


def _relation(con, sql: str):
    import duckdb

    from rayline.errors import UserInputError

    try:
        return con.sql(sql)
    except (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException) as exc:
        raise UserInputError(
            f"query failed: {exc}. Feature groups are views named after the group; quote names "
            'with hyphens, e.g. SELECT * FROM "my-group"'
        ) from exc


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def fetch_arrow(con, sql: str) -> pa.Table:
    """The result of ``sql`` as a pyarrow Table (DuckDB 1.x and 2.x)."""
    return _arrow(con.sql(sql))


def _arrow(rel) -> pa.Table:
    fetch = getattr(rel, "to_arrow_table", None) or rel.arrow
    return fetch()
