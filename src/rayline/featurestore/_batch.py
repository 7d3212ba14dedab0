"""One batch of ingestion: validate and append offline, then (once the ingestion's offline files
are committed) upsert online. The same code runs in-process and inside Ray actors; it needs only
the group's description (picklable)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

import pyarrow as pa
import pyarrow.compute as pc

from rayline.featurestore import offline
from rayline.featurestore._sql import fetch_arrow
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.online import OnlineRecords, open_online_store
from rayline.featurestore.report import RejectedRow
from rayline.featurestore.validation import validate
from rayline.store.s3 import S3Connection

ONLINE = "OnlineStore"
OFFLINE = "OfflineStore"
_ONLINE_CHUNK = 200_000


@dataclass(frozen=True)
class BatchOptions:
    """What every batch of one ``ingest`` call shares."""

    ingest_id: str
    api_invocation_time: float
    target_stores: tuple[str, ...]
    ttl_seconds: float | None
    #: How to reach an ``s3://`` offline store, handed to Ray workers explicitly (a worker
    #: started earlier never sees a later change of the driver's environment).
    s3: S3Connection | None = None
    #: ``partition -> paths`` of the offline files committed before this ingestion started
    #: (rows stored there are skipped); None writes every row.
    existing: Mapping[str, tuple[str, ...]] | None = None


@dataclass(frozen=True)
class BatchResult:
    """Counts of one batch; rejected rows are numbered within the batch."""

    rows: int
    rows_valid: int
    online_written: int
    online_superseded: int
    offline_written: int
    offline_skipped: int
    rejected: tuple[RejectedRow, ...]
    #: the Ray node of the worker that ingested the batch ("" in the driver's process)
    node: str = ""

    def with_online(self, written: int) -> BatchResult:
        """This result once its valid rows went online (``written`` of them were newer)."""
        return replace(self, online_written=written, online_superseded=self.rows_valid - written)


@dataclass(frozen=True)
class ValidRows:
    """A batch's validated rows, held until they go online."""

    table: pa.Table
    event_seconds: pa.Array
    record_ids: pa.Array


def ingest_batch(
    desc: FeatureGroupDescription, table: pa.Table, options: BatchOptions
) -> tuple[BatchResult, ValidRows | None]:
    """Validate ``table`` and append its valid rows offline (if targeted). Returns the counts
    and the rows for ``write_online`` (None when the online store is not targeted or no row is
    valid), which the caller runs after committing the offline files: a killed ingestion
    leaves nothing visible online either."""
    checked = validate(table, desc)
    valid = checked.table
    n_valid = valid.num_rows
    off = offline.OfflineWrite(0, 0, 0)
    if OFFLINE in options.target_stores and n_valid:
        off = offline.append(
            desc,
            valid,
            checked.event_seconds,
            ingest_id=options.ingest_id,
            api_invocation_time=options.api_invocation_time,
            existing=options.existing,
            connection=options.s3,
        )
    result = BatchResult(
        rows=table.num_rows,
        rows_valid=n_valid,
        online_written=0,
        online_superseded=0,
        offline_written=off.written,
        offline_skipped=off.duplicates_skipped,
        rejected=checked.rejected,
    )
    held = None
    if ONLINE in options.target_stores and n_valid:
        held = ValidRows(valid, checked.event_seconds, checked.record_ids)
    return result, held


def write_online(desc: FeatureGroupDescription, rows: ValidRows, options: BatchOptions) -> int:
    """Upsert a batch's validated rows online; returns how many were newer than the stored."""
    return put_online(
        desc, rows.table, rows.event_seconds, rows.record_ids, ttl_seconds=options.ttl_seconds
    )


def put_online(
    desc: FeatureGroupDescription,
    valid: pa.Table,
    event_seconds: pa.Array,
    record_ids: pa.Array,
    *,
    ttl_seconds: float | None,
) -> int:
    """Upsert validated rows into the online store (latest event time wins)."""
    store = open_online_store(desc.online_store_uri)
    ttl = ttl_seconds if ttl_seconds is not None else desc.ttl_seconds
    written = 0
    for start in range(0, valid.num_rows, _ONLINE_CHUNK):
        part = valid.slice(start, _ONLINE_CHUNK)
        secs = event_seconds.slice(start, _ONLINE_CHUNK)
        ids = record_ids.slice(start, _ONLINE_CHUNK).to_pylist()
        times = secs.to_pylist()
        expires = pc.add(secs, ttl).to_pylist() if ttl else [None] * len(times)
        written += store.put(desc.name, OnlineRecords(ids, times, expires, payloads(part)))
    return written


def payloads(table: pa.Table) -> list[str]:
    """Each row as a JSON object (vectorised in DuckDB rather than a Python loop)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("rows_", table)
        out = fetch_arrow(con, "SELECT to_json(r)::VARCHAR FROM rows_ r")
    finally:
        con.close()
    return out.column(0).to_pylist()
