"""One batch of ingestion: validate, append offline, upsert online. The same code runs
in-process and inside Ray actors; it needs only the group's description (picklable)."""

from __future__ import annotations

from dataclasses import dataclass

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


def ingest_batch(
    desc: FeatureGroupDescription, table: pa.Table, options: BatchOptions
) -> BatchResult:
    """Validate ``table`` and write its valid rows to the target stores."""
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
            connection=options.s3,
        )
    online_written = 0
    if ONLINE in options.target_stores and n_valid:
        online_written = put_online(
            desc, valid, checked.event_seconds, checked.record_ids, ttl_seconds=options.ttl_seconds
        )
    return BatchResult(
        rows=table.num_rows,
        rows_valid=n_valid,
        online_written=online_written,
        online_superseded=(n_valid - online_written) if ONLINE in options.target_stores else 0,
        offline_written=off.written,
        offline_skipped=off.duplicates_skipped,
        rejected=checked.rejected,
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
