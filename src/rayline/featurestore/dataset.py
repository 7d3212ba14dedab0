"""Training datasets from feature groups, point-in-time correct (DuckDB ``ASOF JOIN``).

>>> ds = (create_dataset(entities, record_identifier_feature_name="record_id",
...                      event_time_identifier_feature_name="event_time")
...       .with_feature_group(FeatureGroup("housing"))
...       .point_in_time_accurate_join())
>>> df = ds.to_dataframe()

Every base (entity) row is kept, in its original order. With a point-in-time join each row gets
the feature values of the latest record whose event time is at or before the row's event time;
without one, the latest record overall. By default (as in SageMaker) records are deduplicated per
(identifier, event time), keeping the latest written, and a record whose latest row is a delete
marker yields no values (``include_deleted_records()`` ignores delete markers instead).
``as_of(t)`` reads the store as it was at ``t`` (rows written after ``t`` are ignored).

Cost: DuckDB runs the join within ``RAYLINE_DUCKDB_MEMORY_LIMIT`` and spills to disk past it
(``_sql.connect_utc``); ``to_parquet`` streams the result to a file, so neither the join nor its
output has to fit in memory (``to_arrow`` / ``to_dataframe`` hold the result).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from rayline.errors import SchemaError, UserInputError
from rayline.featurestore import offline
from rayline.featurestore._sql import connect_utc, quote
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.validation import parse_event_time

if TYPE_CHECKING:
    from rayline.featurestore.backend import FeatureStore

_ROW = "__rayline_row"
_ET = "__rayline_et"
# The point-in-time join's ordering key: (event time, api_invocation_time). The ASOF JOIN picks
# the greatest key at or before the base row's, so among a record's rows with one event time it
# takes the latest ingested: the per-(identifier, event time) deduplication, without a window
# over every feature row (half the cost of a 10M x 10M join, measured).
_KEY = "__rayline_key"


@dataclass(frozen=True)
class _Join:
    desc: FeatureGroupDescription
    key: str
    features: tuple[str, ...]
    prefix: str
    db_url: str | None = None  # the metadata DB recording the group's ingestions


@dataclass(frozen=True)
class DatasetBuilder:
    """An immutable description of a dataset; each ``with_``/option method returns a new one."""

    base: object  # pandas DataFrame, pyarrow Table, or FeatureGroupDescription
    record_identifier_feature_name: str
    event_time_identifier_feature_name: str | None
    joins: tuple[_Join, ...] = ()
    point_in_time: bool = False
    latest_only: bool = False
    include_deleted: bool = False
    include_duplicated: bool = False
    as_of_time: float | None = None
    event_time_range: tuple[float | None, float | None] = (None, None)
    db_url: str | None = field(default=None, repr=False)
    #: who runs the query: this process, or the server (``backend.open_feature_store``)
    store: FeatureStore | None = field(default=None, repr=False, compare=False)

    def with_feature_group(
        self,
        group,
        *,
        target_feature_name_in_base: str | None = None,
        included_feature_names: Sequence[str] | None = None,
        prefix: str = "",
    ) -> DatasetBuilder:
        """Join a feature group on ``target_feature_name_in_base`` (default: the base's record
        identifier) = the group's record identifier. By default every feature but the group's
        identifier and event time is added; ``prefix`` renames them (``prefix + name``)."""
        desc = _describe(group, self.db_url)
        if not desc.offline_store_enabled:
            raise UserInputError(f"feature group {desc.name!r} has no offline store to join")
        if included_feature_names is None:
            features = tuple(
                n
                for n in desc.feature_names
                if n not in (desc.record_identifier_name, desc.event_time_feature_name)
            )
        else:
            unknown = [n for n in included_feature_names if n not in desc.feature_names]
            if unknown:
                raise SchemaError(f"features {unknown} are not in feature group {desc.name!r}")
            features = tuple(included_feature_names)
        key = target_feature_name_in_base or self.record_identifier_feature_name
        join = _Join(desc, key, features, prefix, _db_url_of(group, self.db_url))
        return replace(self, joins=(*self.joins, join))

    def point_in_time_accurate_join(self) -> DatasetBuilder:
        """Give each base row the values as of its event time (needs a base event time)."""
        if self.event_time_identifier_feature_name is None:
            raise UserInputError(
                "a point-in-time join needs the base's event time column: pass "
                "event_time_identifier_feature_name= to create_dataset"
            )
        return replace(self, point_in_time=True)

    def latest_records_only(self) -> DatasetBuilder:
        """Keep only the latest record per identifier of a feature-group base."""
        return replace(self, latest_only=True)

    def include_deleted_records(self) -> DatasetBuilder:
        """Ignore delete markers (deleted records keep their last values)."""
        return replace(self, include_deleted=True)

    def include_duplicated_records(self) -> DatasetBuilder:
        """Keep every stored version of an (identifier, event time)."""
        return replace(self, include_duplicated=True)

    def as_of(self, timestamp) -> DatasetBuilder:
        """Read the stores as they were at ``timestamp`` (Unix seconds or ISO-8601)."""
        return replace(self, as_of_time=_seconds(timestamp, "as_of"))

    def with_event_time_range(self, start=None, end=None) -> DatasetBuilder:
        """Only feature records with ``start <= event time <= end``."""
        return replace(
            self,
            event_time_range=(
                None if start is None else _seconds(start, "start"),
                None if end is None else _seconds(end, "end"),
            ),
        )

    # -- output ----------------------------------------------------------------------------

    def to_arrow(self) -> pa.Table:
        """The dataset as a pyarrow Table (base rows in their original order). Through a server,
        a dataset too large to answer inline is written to the server's artifact store and read
        from there when this machine can; else the error names its URI."""
        return self._store().dataset_arrow(self)

    def to_dataframe(self):
        """The dataset as a pandas DataFrame (base rows in their original order)."""
        # Through Arrow: DuckDB's direct pandas conversion is slower for wide results.
        return self.to_arrow().to_pandas()

    def to_parquet(self, location: str | os.PathLike, *, keep_order: bool = True) -> int:
        """Write the dataset to one Parquet file at ``location`` (a local path or an ``s3://``
        URI) and return its rows. DuckDB streams the result to the file, so a dataset larger
        than memory is written without being held (past ``RAYLINE_DUCKDB_MEMORY_LIMIT`` the join
        spills to disk). Base rows keep their original order unless ``keep_order=False``, which
        skips the final sort (about a third of a 10M-row join's time): for a training set that
        is shuffled anyway. Through a server, the server writes an ``s3://`` location itself."""
        return self._store().dataset_parquet(self, os.fspath(location), keep_order=keep_order)

    def sql(self) -> str:
        """The DuckDB query this builder runs. Values (``as_of``, the event-time range) are bound
        parameters (``$as_of``, ``$start``, ``$end``); each feature group's offline rows are a
        view (``base_offline``, ``f0_offline``, ...) on the connection the query runs on."""
        return self._store().dataset_sql(self)

    def _store(self) -> FeatureStore:
        if self.store is not None:
            return self.store
        from rayline.featurestore.embedded import EmbeddedFeatureStore

        return EmbeddedFeatureStore(db_url=self.db_url)

    def _write_parquet(self, location: str, *, keep_order: bool) -> int:
        """``to_parquet`` in this process."""
        from rayline.store import locations

        con, sql, params = self._prepare(keep_order=keep_order)
        try:
            rel = con.sql(sql, params=dict(params) if params else None)
            if not locations.is_remote(str(location)):
                path = Path(os.fspath(location)).expanduser()
                path.parent.mkdir(parents=True, exist_ok=True)
                rel.write_parquet(str(path))
                return _parquet_rows(path)
            # S3: written beside DuckDB's spill files, then uploaded whole.
            with tempfile.TemporaryDirectory(dir=_spill_parent()) as tmp:
                path = Path(tmp) / "dataset.parquet"
                rel.write_parquet(str(path))
                rows = _parquet_rows(path)
                locations.upload(path, str(location))
                return rows
        finally:
            con.close()

    def _prepare(self, *, keep_order: bool = True) -> tuple[object, str, dict[str, float]]:
        """A DuckDB connection holding the inputs, the query, and its parameters."""
        from rayline.store.db import open_database

        db = open_database(self.db_url)
        # Rows are kept once per (identifier, event time) below; only when every version is
        # asked for must copies stored by concurrent ingestions be dropped in the view.
        distinct = self.include_duplicated
        con = connect_utc()
        params: dict[str, float] = {}
        # Order comes from an explicit ORDER BY; without this setting DuckDB keeps every
        # intermediate in scan order, which costs about a third of a 1M-row join.
        con.execute("SET preserve_insertion_order = false")
        # Point-in-time joins dedupe through the ASOF key (``_KEY``); only they need it.
        asof = self.point_in_time and not self.include_duplicated

        def base_src(rows: str) -> str:
            return f"base_src AS ({_keyed(rows, latest=True) if asof else rows})"

        ctes = []
        if isinstance(self.base, FeatureGroupDescription):
            desc = self.base
            offline.create_view(con, desc, "base_offline", db=db, distinct=distinct)
            records = self._records_sql(desc, "base_offline", params, for_base=True)
            ctes.append(base_src(records))
            base_cols = list(desc.feature_names)
            base_et = _ET
        else:
            table = _as_arrow(self.base)
            for col in (
                self.record_identifier_feature_name,
                self.event_time_identifier_feature_name,
            ):
                if col is not None and col not in table.column_names:
                    raise SchemaError(
                        f"the base has no column {col!r} (columns: {', '.join(table.column_names)})"
                    )
            table = table.append_column(_ROW, pa.array(np.arange(table.num_rows), pa.int64()))
            con.register("base_input", table)
            base_cols = [c for c in table.column_names if c != _ROW]
            et = self.event_time_identifier_feature_name
            et_expr = (
                _seconds_expr(quote(et), table.schema.field(et).type) if et else "NULL::DOUBLE"
            )
            ctes.append(base_src(f"SELECT *, {et_expr} AS {_ET} FROM base_input"))
            base_et = _ET
        select_cols = [f"b.{quote(c)}" for c in base_cols]
        taken = set(base_cols)
        joins_sql = []
        for i, join in enumerate(self.joins):
            alias = f"f{i}"
            if join.key not in base_cols:
                raise SchemaError(
                    f"the base has no column {join.key!r} to join feature group "
                    f"{join.desc.name!r} on; pass target_feature_name_in_base="
                )
            join_db = db if join.db_url == self.db_url else open_database(join.db_url)
            offline.create_view(con, join.desc, f"{alias}_offline", db=join_db, distinct=distinct)
            records = self._records_sql(
                join.desc, f"{alias}_offline", params, for_base=False, dedup=not asof
            )
            rid = quote(join.desc.record_identifier_name)
            if asof:
                records = _keyed(records, latest=False)
            ctes.append(f"{alias}_src AS ({records})")
            if self.point_in_time:
                on = f"b.{_KEY} >= {alias}.{_KEY}" if asof else f"b.{base_et} >= {alias}.{_ET}"
                joins_sql.append(
                    f"ASOF LEFT JOIN {alias}_src {alias} ON b.{quote(join.key)} = {alias}.{rid} "
                    f"AND {on}"
                )
            else:
                ctes.append(
                    f"{alias}_latest AS (SELECT * FROM {alias}_src QUALIFY row_number() OVER "
                    f"(PARTITION BY {rid} ORDER BY {_ET} DESC, api_invocation_time DESC, "
                    "write_time DESC) = 1)"
                )
                joins_sql.append(
                    f"LEFT JOIN {alias}_latest {alias} ON b.{quote(join.key)} = {alias}.{rid}"
                )
            for name in join.features:
                out = join.prefix + name
                if out in taken:
                    raise SchemaError(
                        f"column {out!r} of feature group {join.desc.name!r} clashes with "
                        "another column of the dataset; pass prefix= or included_feature_names="
                    )
                taken.add(out)
                value = f"{alias}.{quote(name)}"
                if not self.include_deleted:
                    value = f"CASE WHEN {alias}.is_deleted THEN NULL ELSE {value} END"
                select_cols.append(f"{value} AS {quote(out)}")
        keep = keep_order and not isinstance(self.base, FeatureGroupDescription)
        order = f" ORDER BY b.{_ROW}" if keep else ""
        sql = (
            "WITH "
            + ",\n".join(ctes)
            + f"\nSELECT {', '.join(select_cols)} FROM base_src b "
            + " ".join(joins_sql)
            + order
        )
        return con, sql, params

    def _records_sql(
        self,
        desc: FeatureGroupDescription,
        source: str,
        params: dict[str, float],
        *,
        for_base: bool,
        dedup: bool = True,
    ) -> str:
        """A group's rows (from view ``source``) after as-of, time range, dedup (unless the
        caller dedups by other means) and delete handling; the values it compares with go into
        ``params``."""
        et_type = desc.feature_type(desc.event_time_feature_name).arrow_type
        et_expr = _seconds_expr(quote(desc.event_time_feature_name), et_type)
        rid = quote(desc.record_identifier_name)
        where = []
        if self.as_of_time is not None:
            params["as_of"] = self.as_of_time
            where.append("write_time <= to_timestamp($as_of)")
        start, end = self.event_time_range
        if start is not None:
            params["start"] = start
            where.append(f"{_ET} >= $start")
        if end is not None:
            params["end"] = end
            where.append(f"{_ET} <= $end")
        if self.include_deleted:
            where.append("NOT is_deleted")
        sql = f"SELECT *, {et_expr} AS {_ET} FROM {quote(source)}"
        if where:
            sql = f"SELECT * FROM ({sql}) WHERE {' AND '.join(where)}"
        if dedup and not self.include_duplicated:
            sql += (
                f" QUALIFY row_number() OVER (PARTITION BY {rid}, {_ET} ORDER BY "
                "api_invocation_time DESC, write_time DESC) = 1"
                if not where
                else ""
            )
            if where:
                sql = (
                    f"SELECT * FROM ({sql}) QUALIFY row_number() OVER (PARTITION BY {rid}, {_ET} "
                    "ORDER BY api_invocation_time DESC, write_time DESC) = 1"
                )
        if for_base:
            if self.latest_only or not self.include_deleted:
                # Latest row per record: drop records whose latest row is a delete marker, and
                # with latest_only keep only that row.
                ranked = (
                    f"SELECT *, row_number() OVER (PARTITION BY {rid} ORDER BY {_ET} DESC, "
                    "api_invocation_time DESC, write_time DESC) AS __rank, "
                    f"first_value(is_deleted) OVER (PARTITION BY {rid} ORDER BY {_ET} DESC, "
                    "api_invocation_time DESC, write_time DESC) AS __latest_deleted "
                    f"FROM ({sql})"
                )
                conds = ["NOT is_deleted"]
                if not self.include_deleted:
                    conds.append("NOT __latest_deleted")
                if self.latest_only:
                    conds.append("__rank = 1")
                sql = (
                    f"SELECT * EXCLUDE (__rank, __latest_deleted) FROM ({ranked}) "
                    f"WHERE {' AND '.join(conds)}"
                )
            else:
                sql = f"SELECT * FROM ({sql}) WHERE NOT is_deleted"
        return sql


def _keyed(sql: str, *, latest: bool) -> str:
    """``sql``'s rows with the ASOF key ``_KEY``: (event time, api_invocation_time), or for a
    base row (``latest``) (event time, the end of time). No event time, no key (no match)."""
    api = "'infinity'::TIMESTAMPTZ" if latest else "api_invocation_time"
    return (
        f"SELECT *, CASE WHEN {_ET} IS NULL THEN NULL "
        f"ELSE {{'et': {_ET}, 'api': {api}}} END AS {_KEY} FROM ({sql})"
    )


def create_dataset(
    base,
    *,
    record_identifier_feature_name: str | None = None,
    event_time_identifier_feature_name: str | None = None,
    db_url: str | None = None,
) -> DatasetBuilder:
    """Start a dataset from a base: a ``FeatureGroup`` (its records) or a DataFrame / Arrow
    table of entity rows (name its identifier and, for point-in-time joins, its event time)."""
    from rayline.featurestore.backend import open_feature_store
    from rayline.featurestore.group import FeatureGroup

    if isinstance(base, FeatureGroup | FeatureGroupDescription):
        desc = _describe(base, db_url)
        if not desc.offline_store_enabled:
            raise UserInputError(f"feature group {desc.name!r} has no offline store")
        own_db = _db_url_of(base, db_url)
        return DatasetBuilder(
            base=desc,
            record_identifier_feature_name=desc.record_identifier_name,
            event_time_identifier_feature_name=desc.event_time_feature_name,
            db_url=own_db,
            store=open_feature_store(db_url=own_db),
        )
    if record_identifier_feature_name is None:
        raise UserInputError(
            "a DataFrame base needs record_identifier_feature_name= (its entity key column)"
        )
    return DatasetBuilder(
        base=base,
        record_identifier_feature_name=record_identifier_feature_name,
        event_time_identifier_feature_name=event_time_identifier_feature_name,
        db_url=db_url,
        store=open_feature_store(db_url=db_url),
    )


def dataset_spec(builder: DatasetBuilder) -> dict:
    """What ``builder`` asks for, JSON-able, groups by name (a table base is sent apart): how a
    client hands a dataset to a server, which rebuilds it with ``builder_from_spec``."""
    base = builder.base
    return {
        "base_feature_group": base.name if isinstance(base, FeatureGroupDescription) else None,
        "record_identifier_feature_name": builder.record_identifier_feature_name,
        "event_time_identifier_feature_name": builder.event_time_identifier_feature_name,
        "joins": [
            {
                "feature_group": j.desc.name,
                "target_feature_name_in_base": j.key,
                "included_feature_names": list(j.features),
                "prefix": j.prefix,
            }
            for j in builder.joins
        ],
        "point_in_time": builder.point_in_time,
        "latest_only": builder.latest_only,
        "include_deleted": builder.include_deleted,
        "include_duplicated": builder.include_duplicated,
        "as_of_time": builder.as_of_time,
        "event_time_range": list(builder.event_time_range),
    }


def builder_from_spec(spec: dict, base: pa.Table | None = None) -> DatasetBuilder:
    """The builder ``dataset_spec`` described, on this process's feature store: each group is
    looked up (and each join checked) again here."""
    from rayline.featurestore.group import FeatureGroup

    if spec.get("base_feature_group"):
        builder = create_dataset(FeatureGroup(spec["base_feature_group"]))
    elif base is None:
        raise UserInputError("the dataset names neither a base feature group nor a base table")
    else:
        builder = create_dataset(
            base,
            record_identifier_feature_name=spec["record_identifier_feature_name"],
            event_time_identifier_feature_name=spec.get("event_time_identifier_feature_name"),
        )
    for join in spec.get("joins") or ():
        builder = builder.with_feature_group(
            FeatureGroup(join["feature_group"]),
            target_feature_name_in_base=join.get("target_feature_name_in_base"),
            included_feature_names=join.get("included_feature_names"),
            prefix=join.get("prefix") or "",
        )
    if spec.get("point_in_time"):
        builder = builder.point_in_time_accurate_join()
    start, end = spec.get("event_time_range") or (None, None)
    return replace(
        builder,
        latest_only=bool(spec.get("latest_only")),
        include_deleted=bool(spec.get("include_deleted")),
        include_duplicated=bool(spec.get("include_duplicated")),
        as_of_time=spec.get("as_of_time"),
        event_time_range=(start, end),
    )


def base_table(builder: DatasetBuilder) -> pa.Table | None:
    """The builder's base as an Arrow table (None when the base is a feature group)."""
    if isinstance(builder.base, FeatureGroupDescription):
        return None
    return _as_arrow(builder.base)


def store_dataset(table: pa.Table, *, artifact_uri: str | None = None) -> str:
    """Write a dataset to the artifact store (``datasets/<id>.parquet``); returns its URI. For
    a dataset too large to hand back inline (the server's answer)."""
    import uuid

    import pyarrow.parquet as pq

    from rayline.store.artifacts import open_artifact_store

    store = open_artifact_store(artifact_uri)
    uri = store.uri_for("datasets", f"{uuid.uuid4().hex}.parquet")
    with tempfile.TemporaryDirectory(dir=_spill_parent()) as tmp:
        path = Path(tmp) / "dataset.parquet"
        pq.write_table(table, path)
        store.upload(path, uri)
    return uri


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _spill_parent() -> Path:
    from rayline.config import settings

    parent = settings().home / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    return parent


def _describe(group, db_url) -> FeatureGroupDescription:
    if isinstance(group, FeatureGroupDescription):
        return group
    from rayline.featurestore.group import FeatureGroup

    if isinstance(group, str):
        group = FeatureGroup(group, db_url=db_url)
    return group.description


def _db_url_of(group, default: str | None) -> str | None:
    """The metadata DB of a ``FeatureGroup`` handle opened on its own ``db_url``, else
    ``default``."""
    return default if default is not None else getattr(group, "_db_url", None)


def _as_arrow(data) -> pa.Table:
    if isinstance(data, pa.Table):
        return data
    return pa.Table.from_pandas(data, preserve_index=False)


def _seconds_expr(column: str, arrow_type: pa.DataType) -> str:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return f"epoch(CAST({column} AS TIMESTAMPTZ))"
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        return f"epoch({column})"
    return f"CAST({column} AS DOUBLE)"


def _seconds(value, what: str) -> float:
    seconds = parse_event_time(value)
    if seconds is None:
        raise UserInputError(f"{what} {value!r} is not Unix seconds or ISO-8601")
    return seconds
