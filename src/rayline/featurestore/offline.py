"""The offline store: append-only Parquet, partitioned hourly by event time.

Layout (SageMaker's): ``<artifact root>/offline-store/<group>-<created epoch>/data/
year=YYYY/month=MM/day=DD/hour=HH/<latest event time>_<ingest id>_<random>.parquet``.
Each file holds the features plus ``write_time``, ``api_invocation_time`` and ``is_deleted``;
the partition columns come from the directory names (hive style), so
``ray.data.read_parquet(location)`` returns them too. Files are written beside the data
directory and renamed into place, so no reader ever sees a half-written file.

Re-ingesting rows that are already stored is skipped (same identifier, event time and values),
which makes ingestion idempotent; a changed value with the same event time is appended as a new
version, as SageMaker does.
"""

from __future__ import annotations

import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from rayline.featurestore._sql import DUCK_TYPES, fetch_arrow, quote
from rayline.featurestore.description import FeatureGroupDescription
from rayline.store.artifacts import to_path

EXTRA_SCHEMA = pa.schema(
    [
        ("write_time", pa.timestamp("us", tz="UTC")),
        ("api_invocation_time", pa.timestamp("us", tz="UTC")),
        ("is_deleted", pa.bool_()),
    ]
)
_WRITE_THREADS = 4


def location_parts(name: str, created_at: float) -> tuple[str, ...]:
    """Artifact-store path parts of a group's offline data directory."""
    return ("offline-store", f"{name}-{int(created_at)}", "data")


def data_dir(desc: FeatureGroupDescription) -> Path:
    """The local directory of a group's offline data (``.../<group>-<epoch>/data``)."""
    return to_path(desc.offline_store_uri)


def parquet_glob(desc: FeatureGroupDescription) -> str:
    """A glob of every data file (for DuckDB)."""
    return str(data_dir(desc) / "**" / "*.parquet")


def files(desc: FeatureGroupDescription) -> list[Path]:
    """Every data file of a group, sorted (none when nothing is written yet)."""
    root = data_dir(desc)
    if not root.is_dir():
        return []
    return sorted(root.rglob("*.parquet"))


def create_view(con, desc: FeatureGroupDescription, view: str) -> None:
    """Make ``view`` on DuckDB connection ``con`` select every offline row of a group: its
    features, the extra columns and the partition columns (empty but typed when nothing is
    written yet)."""
    if files(desc):
        rel = con.read_parquet(parquet_glob(desc), hive_partitioning=True, union_by_name=True)
    else:
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
        rel = con.sql(f"SELECT {', '.join(cols)} WHERE false")
    rel.create_view(view, replace=True)


def count_rows(desc: FeatureGroupDescription) -> int:
    """Rows in the offline store (from the Parquet footers; reads no data)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in files(desc))


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
    deduplicate: bool = True,
) -> OfflineWrite:
    """Append validated rows, one file per hour partition touched."""
    n = table.num_rows
    if n == 0:
        return OfflineWrite(0, 0, 0)
    root = data_dir(desc)
    staging = root.parent / "staging"
    staging.mkdir(parents=True, exist_ok=True)
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

    def write_one(i: int) -> tuple[int, int]:
        s, e = int(starts[i]), int(ends[i])
        part = full.slice(s, e - s)
        hour = int(sorted_hours[s])
        target_dir = root / _partition(hour)
        if deduplicate:
            before = part.num_rows
            part = _without_stored(part, desc, target_dir, ingest_id)
            skipped = before - part.num_rows
        else:
            skipped = 0
        if part.num_rows == 0:
            return 0, skipped
        latest = float(np.max(seconds[s:e]))
        name = (
            f"{datetime.fromtimestamp(latest, UTC):%Y%m%dT%H%M%SZ}_{ingest_id}_"
            f"{secrets.token_hex(8)}.parquet"
        )
        tmp = staging / f"{name}.tmp"
        pq.write_table(part, tmp)
        target_dir.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target_dir / name)
        return part.num_rows, skipped

    if len(starts) == 1:
        results = [write_one(0)]
    else:
        with ThreadPoolExecutor(_WRITE_THREADS) as pool:
            results = list(pool.map(write_one, range(len(starts))))
    written = sum(r[0] for r in results)
    skipped = sum(r[1] for r in results)
    return OfflineWrite(written, skipped, sum(1 for r in results if r[0]))


def _ts(seconds: float, n: int) -> pa.Array:
    return pa.array(np.full(n, int(seconds * 1_000_000), dtype=np.int64), pa.int64()).cast(
        pa.timestamp("us", tz="UTC")
    )


def _partition(hour: int) -> str:
    dt = datetime.fromtimestamp(hour * 3600, UTC)
    return f"year={dt.year:04d}/month={dt.month:02d}/day={dt.day:02d}/hour={dt.hour:02d}"


def _without_stored(
    part: pa.Table, desc: FeatureGroupDescription, target_dir: Path, ingest_id: str
) -> pa.Table:
    """Drop rows whose identifier, event time, values and deletion flag are stored already
    (files of this same ingestion are left out: its workers hold disjoint rows)."""
    if not target_dir.is_dir():
        return part
    existing = [str(p) for p in target_dir.glob("*.parquet") if f"_{ingest_id}_" not in p.name]
    if not existing:
        return part
    import duckdb

    cols = [*desc.feature_names, "is_deleted"]
    quoted = ", ".join(quote(c) for c in cols)
    # Files written before features were added lack their columns: those values were NULL.
    stored = set()
    for path in existing:
        stored.update(pq.read_schema(path).names)
    old_cols = (
        ", ".join(
            quote(f.feature_name)
            if f.feature_name in stored
            else f"NULL::{DUCK_TYPES[f.feature_type.value]}"
            for f in desc.feature_definitions
        )
        + ", is_deleted"
    )
    rid, et = quote(desc.record_identifier_name), quote(desc.event_time_feature_name)
    con = duckdb.connect()
    try:
        con.register("new_rows", part)
        kept = fetch_arrow(
            con,
            f"""
            WITH new_rows_h AS (SELECT *, hash({quoted}) AS h__ FROM new_rows),
                 old AS (SELECT DISTINCT {rid} AS rid, {et} AS et, hash({old_cols}) AS h__
                         FROM read_parquet($files, union_by_name = true,
                                           hive_partitioning = false))
            SELECT * EXCLUDE (h__) FROM new_rows_h n
            WHERE NOT EXISTS (SELECT 1 FROM old o
                              WHERE o.rid = n.{rid} AND o.et = n.{et} AND o.h__ = n.h__)
            """,
            {"files": existing},
        )
    finally:
        con.close()
    return kept.cast(part.schema) if kept.num_rows else part.slice(0, 0)


def delete_data(desc: FeatureGroupDescription) -> None:
    """Remove a group's whole offline directory (``<group>-<epoch>/``)."""
    import shutil

    root = data_dir(desc).parent
    if root.is_dir():
        shutil.rmtree(root, ignore_errors=True)
