"""The offline store: append-only Parquet, partitioned hourly by event time.

Layout (SageMaker's): ``<artifact root>/offline-store/<group>-<created epoch>/data/
year=YYYY/month=MM/day=DD/hour=HH/<latest event time>_<ingest id>_<random>.parquet``.
Each file holds the features plus ``write_time``, ``api_invocation_time`` and ``is_deleted``;
the partition columns come from the directory names (hive style), so
``ray.data.read_parquet(location)`` returns them too. The root is the artifact store's, a
local directory or an ``s3://`` prefix (``_offline_files``); either way a file is written once,
whole, under a unique name, so no reader ever sees a half-written file (though a raw read of
the directory also sees uncommitted ingestions: see below).

Re-ingesting rows that are already stored is skipped (same identifier, event time and values),
which makes ingestion idempotent; a changed value with the same event time is appended as a new
version, as SageMaker does.

Commit, then publish: an ingestion is recorded (``feature_group_ingestions``) before it writes its
first file and committed after its last, and readers read only the files of committed ingestions
(``visible_files``), so a killed ingestion leaves nothing visible and a rerun converges.
Concurrent ingestions take no lock: each skips only the rows committed before it started, so two
of them may both store a row; readers drop such copies (``create_view``), keeping the first
written, so every (identifier, event time, values) is seen once.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rayline.featurestore import _repository as repo
from rayline.featurestore._offline_files import OfflineFiles
from rayline.featurestore._sql import DUCK_TYPES, fetch_arrow, quote
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.db import Database
from rayline.store.s3 import S3Connection

EXTRA_SCHEMA = pa.schema(
    [
        ("write_time", pa.timestamp("us", tz="UTC")),
        ("api_invocation_time", pa.timestamp("us", tz="UTC")),
        ("is_deleted", pa.bool_()),
    ]
)
#: Partitions written at once: a local disk is busy with a few; S3 writes wait on round trips.
_WRITE_THREADS = 4
_S3_WRITE_THREADS = 8


def location_parts(name: str, created_at: float) -> tuple[str, ...]:
    """Artifact-store path parts of a group's offline data directory."""
    return ("offline-store", f"{name}-{int(created_at)}", "data")


def prepare(desc: FeatureGroupDescription) -> None:
    """Make the group's offline store ready for data (the data directory, on a local disk)."""
    OfflineFiles.of(desc).prepare()


def ingest_id_of(path: str) -> str:
    """The ingestion that wrote a data file (``<latest event time>_<ingest id>_<random>``)."""
    parts = path.rsplit("/", 1)[-1].split("_")
    return parts[1] if len(parts) >= 3 else ""


def visible_files(
    desc: FeatureGroupDescription, db: Database, *, connection: S3Connection | None = None
) -> list[tuple[str, int]]:
    """``(path, size)`` of the data files readers see: those of ingestions committed before the
    listing began, all of whose files are therefore listed (a commit during the listing shows
    none of its files, never some), and those older than the ingestions table (no row)."""
    committed, recorded = repo.committed_ingestions(db, desc.name)
    files = OfflineFiles.of(desc, connection=connection).parquet_files()
    ids = {path: ingest_id_of(path) for path, _size in files}
    # An id unknown before the listing is either untracked (old) or started since: ask again.
    unknown = {i for i in ids.values() if i not in recorded}
    started_since = repo.recorded_ingestions(db, desc.name, unknown) if unknown else frozenset()
    return [
        (path, size)
        for path, size in files
        if ids[path] in committed or (ids[path] not in recorded and ids[path] not in started_since)
    ]


def committed_files(
    desc: FeatureGroupDescription, db: Database, *, connection: S3Connection | None = None
) -> dict[str, tuple[str, ...]]:
    """``partition -> paths`` of the visible files, for an ingestion to skip rows already
    committed (one listing, on the driver; its workers are handed the result)."""
    loc = OfflineFiles.of(desc, connection=connection)
    prefix = len(loc.root.rstrip("/")) + 1
    by_partition: dict[str, list[str]] = {}
    for path, _size in visible_files(desc, db, connection=connection):
        folder = path[prefix:].rpartition("/")[0]
        by_partition.setdefault(folder, []).append(path)
    return {k: tuple(v) for k, v in by_partition.items()}


def create_view(
    con, desc: FeatureGroupDescription, view: str, *, db: Database, distinct: bool = True
) -> None:
    """Make ``view`` on DuckDB connection ``con`` select the offline rows of a group that readers
    see: its features, the extra columns and the partition columns (empty but typed when
    nothing is visible yet).

    Only committed files are read (``visible_files``). With ``distinct`` a row stored twice
    (same identifier, event time, values and deletion flag: two concurrent ingestions of the
    same data) is read once, the first written; a dataset, which keeps one row per (identifier,
    event time) itself, passes ``distinct=False`` and saves that work.

    On a local disk DuckDB reads the files itself (as fast as a pyarrow dataset, measured). On
    S3 a lazy ``pyarrow.dataset`` over the store's filesystem is registered (DuckDB's httpfs
    extension is version-locked to DuckDB releases the project does not use): DuckDB pushes
    projections and filters into it and streams it, so a query reads only the groups and
    columns it uses, and a join larger than memory can still spill.
    """
    files = [path for path, _size in visible_files(desc, db)]
    if not files:
        _empty_view(con, desc, view)
        return
    loc = OfflineFiles.of(desc)
    raw = f"{view}__files" if distinct else view
    if loc.local is None:
        con.register(raw, loc.dataset(files, arrow_schema(desc), partitioned=True))
    else:
        rel = con.read_parquet(files, hive_partitioning=True, union_by_name=True)
        # A feature added after every file was written is in none of them: it reads as NULL.
        missing = [
            f"NULL::{DUCK_TYPES[f.feature_type.value]} AS {quote(f.feature_name)}"
            for f in desc.feature_definitions
            if f.feature_name not in rel.columns
        ]
        if missing:
            rel = rel.select(", ".join(["*", *missing]))
        rel.create_view(raw, replace=True)
    if distinct:
        key = ", ".join(quote(c) for c in [*desc.feature_names, "is_deleted"])
        con.sql(
            f"SELECT * FROM {quote(raw)} QUALIFY row_number() OVER (PARTITION BY {key} "
            "ORDER BY api_invocation_time, write_time) = 1"
        ).create_view(view, replace=True)


def _empty_view(con, desc: FeatureGroupDescription, view: str) -> None:
    cols = [
        f"NULL::{DUCK_TYPES[f.feature_type.value]} AS {quote(f.feature_name)}"
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
    con.sql(f"SELECT {', '.join(cols)} WHERE false").create_view(view, replace=True)


def count_rows(desc: FeatureGroupDescription, db: Database) -> int:
    """Rows readers see in the offline store (a row stored twice by concurrent ingestions counts
    once)."""
    from rayline.featurestore._sql import connect_utc

    con = connect_utc()
    try:
        create_view(con, desc, "rows_", db=db, distinct=False)
        key = ", ".join(quote(c) for c in [*desc.feature_names, "is_deleted"])
        (n,) = con.execute(f"SELECT count(*) FROM (SELECT DISTINCT {key} FROM rows_)").fetchone()
    finally:
        con.close()
    return int(n)


def arrow_schema(desc: FeatureGroupDescription) -> pa.Schema:
    """The schema of the offline files: features in definition order, then the extra columns."""
    fields = [pa.field(f.feature_name, f.feature_type.arrow_type) for f in desc.feature_definitions]
    return pa.schema(fields + list(EXTRA_SCHEMA))


@dataclass(frozen=True)
class OfflineWrite:
    """What one ``append`` wrote: rows, rows skipped as already stored, and files."""

    written: int
    duplicates_skipped: int
    files: int


def append(
    desc: FeatureGroupDescription,
    table: pa.Table,
    event_seconds: pa.Array,
    *,
    ingest_id: str,
    api_invocation_time: float,
    is_deleted: bool = False,
    existing: Mapping[str, Sequence[str]] | None = None,
    connection: S3Connection | None = None,
) -> OfflineWrite:
    """Append validated rows, one file per hour partition touched (on S3 through
    ``connection``, default: the environment's). Rows stored already in the ``existing`` files
    (``partition -> paths``, from ``committed_files``) are skipped; None writes every row.

    The files stay invisible until ingestion ``ingest_id`` is committed
    (``_repository.commit_ingestion``)."""
    n = table.num_rows
    if n == 0:
        return OfflineWrite(0, 0, 0)
    loc = OfflineFiles.of(desc, connection=connection)
    now = _ts(time.time(), n)
    full = table.append_column(EXTRA_SCHEMA.field("write_time"), now)
    full = full.append_column(
        EXTRA_SCHEMA.field("api_invocation_time"), _ts(api_invocation_time, n)
    )
    full = full.append_column(
        EXTRA_SCHEMA.field("is_deleted"), pa.array(np.full(n, is_deleted), pa.bool_())
    )

    seconds = event_seconds.to_numpy(zero_copy_only=False)
    hours = np.floor(seconds / 3600.0).astype(np.int64)
    order = np.argsort(hours, kind="stable")
    sorted_hours = hours[order]
    starts = np.flatnonzero(np.r_[True, sorted_hours[1:] != sorted_hours[:-1]])
    ends = np.r_[starts[1:], n]
    if len(starts) > 1:
        full = full.take(pa.array(order))
        seconds = seconds[order]
    options = parquet_options(desc, full.schema)

    def write_one(i: int) -> tuple[int, int]:
        s, e = int(starts[i]), int(ends[i])
        part = full.slice(s, e - s)
        partition = _partition(int(sorted_hours[s]))
        skipped = 0
        if existing is not None:
            before = part.num_rows
            part = _without_stored(part, desc, loc, list(existing.get(partition, ())))
            skipped = before - part.num_rows
        if part.num_rows == 0:
            return 0, skipped
        latest = float(np.max(seconds[s:e]))
        name = (
            f"{datetime.fromtimestamp(latest, UTC):%Y%m%dT%H%M%SZ}_{ingest_id}_"
            f"{secrets.token_hex(8)}.parquet"
        )
        loc.write(part, partition, name, options=options)
        return part.num_rows, skipped

    if len(starts) == 1:
        results = [write_one(0)]
    else:
        threads = _WRITE_THREADS if loc.local is not None else _S3_WRITE_THREADS
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(write_one, range(len(starts))))
    written = sum(r[0] for r in results)
    skipped = sum(r[1] for r in results)
    return OfflineWrite(written, skipped, sum(1 for r in results if r[0]))


def parquet_options(desc: FeatureGroupDescription, schema: pa.Schema) -> dict:
    """``pq.write_table`` options for a group's files: floating-point columns byte-stream-split
    (dictionaries of random doubles are abandoned half-built; split bytes compress), an integer
    record identifier delta-encoded (near-sorted within an hour), the rest dictionary-encoded.
    Measured on 1M rows x 10 features: 2.3x faster to write and 22% smaller than the defaults,
    which on S3 is 22% fewer bytes to upload and to read back."""
    encodings = {f.name: "BYTE_STREAM_SPLIT" for f in schema if pa.types.is_floating(f.type)}
    rid = schema.field(desc.record_identifier_name)
    if pa.types.is_integer(rid.type):
        encodings[rid.name] = "DELTA_BINARY_PACKED"
    return {
        "column_encoding": encodings,
        "use_dictionary": [name for name in schema.names if name not in encodings],
    }


def _ts(seconds: float, n: int) -> pa.Array:
    return pa.array(np.full(n, int(seconds * 1_000_000), dtype=np.int64), pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )


def _partition(hour: int) -> str:
    dt = datetime.fromtimestamp(hour * 3600, UTC)
    return f"year={dt.year:04d}/month={dt.month:02d}/day={dt.day:02d}/hour={dt.hour:02d}"


def _without_stored(
    part: pa.Table, desc: FeatureGroupDescription, loc: OfflineFiles, existing: list[str]
) -> pa.Table:
    """Drop rows whose identifier, event time, values and deletion flag are stored already in
    the files ``existing``."""
    if not existing:
        return part
    import duckdb

    cols = [*desc.feature_names, "is_deleted"]
    quoted = ", ".join(quote(c) for c in cols)
    rid, et = quote(desc.record_identifier_name), quote(desc.event_time_feature_name)
    con = duckdb.connect()
    try:
        con.register("new_rows", part)
        params: dict | None = None
        if loc.local is not None:
            # Files written before features were added lack their columns: those values were
            # NULL.
            stored = set()
            for path in existing:
                stored.update(pq.read_schema(path).names)
            old_cols = ", ".join(
                quote(f.feature_name)
                if f.feature_name in stored
                else f"NULL::{DUCK_TYPES[f.feature_type.value]}"
                for f in desc.feature_definitions
            )
            source = "read_parquet($files, union_by_name = true, hive_partitioning = false)"
            params = {"files": existing}
        else:
            # The dataset's schema is the group's: a column a file lacks reads as a typed NULL.
            con.register("old_files", loc.dataset(existing, arrow_schema(desc), partitioned=False))
            old_cols = ", ".join(quote(f.feature_name) for f in desc.feature_definitions)
            source = "old_files"
        kept = fetch_arrow(
            con,
            f"""
            WITH new_rows_h AS (SELECT *, hash({quoted}) AS h__ FROM new_rows),
                 old AS (SELECT DISTINCT {rid} AS rid, {et} AS et,
                                hash({old_cols}, is_deleted) AS h__
                         FROM {source})
            SELECT * EXCLUDE (h__) FROM new_rows_h n
            WHERE NOT EXISTS (SELECT 1 FROM old o
                              WHERE o.rid = n.{rid} AND o.et = n.{et} AND o.h__ = n.h__)
            """,
            params,
        )
    finally:
        con.close()
    return kept.cast(part.schema) if kept.num_rows else part.slice(0, 0)


def remove_ingestion(
    desc: FeatureGroupDescription, ingest_id: str, *, connection: S3Connection | None = None
) -> None:
    """Remove the files of an ingestion that will never commit (readers skip them anyway)."""
    loc = OfflineFiles.of(desc, connection=connection)
    loc.delete_files([p for p, _size in loc.parquet_files() if ingest_id_of(p) == ingest_id])


def delete_data(desc: FeatureGroupDescription) -> None:
    """Remove a group's whole offline directory (``<group>-<epoch>/``)."""
    OfflineFiles.of(desc).delete_group_data()
