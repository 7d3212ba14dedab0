"""Cost that grows no faster than the work: ingestion streams CSV / Parquet inputs (local and
``s3://``) in bounded batches with rows numbered across them, and a point-in-time join held to a
small DuckDB memory limit spills to disk and still gives the right, ordered result."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rayline.errors import ConfigError
from rayline.featurestore import (
    FeatureGroup,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
    _input,
    create_dataset,
    ingestion,
    offline,
    query,
)
from rayline.featurestore._offline_files import OfflineFiles

T0 = 1_735_689_600.0  # 2025-01-01T00:00:00Z
CHILD = Path(__file__).with_name("_stream_child.py")
DEFS = [
    IntegralFeatureDefinition("record_id"),
    FractionalFeatureDefinition("event_time"),
    FractionalFeatureDefinition("x"),
    StringFeatureDefinition("code"),
]


def _frame(n: int, *, bad: tuple[int, ...] = (), seed: int = 0) -> pd.DataFrame:
    """``n`` rows within one hour (one offline file per batch); rows ``bad`` lack an event
    time."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "record_id": np.arange(n, dtype=np.int64),
            "event_time": T0 + rng.random(n) * 3000,
            "x": rng.normal(size=n),
            "code": [f"{i % 1000:03d}" for i in range(n)],
        }
    )
    df.loc[list(bad), "event_time"] = np.nan
    return df


def _group(name: str = "stream") -> FeatureGroup:
    fg = FeatureGroup(name, DEFS)
    fg.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        enable_online_store=False,
    )
    return fg


def _files(fg: FeatureGroup) -> list[str]:
    return [p for p, _size in OfflineFiles.of(fg.description).parquet_files()]


def _ingest_in_child(tmp_path: Path, rows: int) -> dict:
    """Ingest a ``rows``-row Parquet file (6 numeric columns, 100k-row groups) in a child
    process streaming 100k-row batches; its counts and peak memory growth."""
    rng = np.random.default_rng(0)
    table = pa.table(
        {
            "record_id": np.arange(rows, dtype=np.int64),
            "event_time": T0 + rng.random(rows) * 3000,
            **{f"f{i}": rng.normal(size=rows) for i in range(4)},
        }
    )
    data = tmp_path / f"in-{rows}.parquet"
    pq.write_table(table, data, row_group_size=100_000)
    del table
    out = subprocess.run(
        [sys.executable, str(CHILD), f"rows-{rows}", str(data), "100000"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["rows_received"] == rows
    assert figures["offline_rows_written"] == rows
    assert figures["rejected"] == 0
    return figures


def test_offline_ingestion_memory_does_not_grow_with_the_input(rayline_home, tmp_path):
    # 1.8M more rows of 6 numbers are 82 MB more in memory; an ingestion that reads its input
    # whole peaks at least that much higher (the table, then its validated copy: +170 MB
    # measured). Streamed in 100k-row batches it holds the same few batches either way.
    small = _ingest_in_child(tmp_path, 600_000)
    large = _ingest_in_child(tmp_path, 2_400_000)
    growth = large["peak_growth_mb"] - small["peak_growth_mb"]
    assert growth < 30, (small, large)


def test_csv_streams_in_batches_with_rows_numbered_across_them(rayline_home, tmp_path, monkeypatch):
    monkeypatch.setattr(ingestion, "MAX_BATCH_ROWS", 1000)
    monkeypatch.setattr(_input, "_CSV_BLOCK_BYTES", 16 << 10)  # several blocks per batch
    bad = (3, 999, 1000, 4321, 9999)
    path = tmp_path / "in.csv"
    _frame(10_000, bad=bad).to_csv(path, index=False)
    fg = _group()
    report = fg.ingest(path)
    assert report.rows_received == 10_000
    assert report.offline_rows_written == 10_000 - len(bad)
    assert [r.row for r in report.rejected] == list(bad)
    assert [r.record_identifier for r in report.rejected] == [str(i) for i in bad]
    assert len(_files(fg)) == 10  # one file per 1000-row batch (every row in one hour)
    codes = dict(query('SELECT record_id, code FROM "stream"').itertuples(index=False))
    assert codes[7] == "007"  # a String feature keeps its text


def test_parquet_directory_streams_in_order(rayline_home, tmp_path, monkeypatch):
    monkeypatch.setattr(ingestion, "MAX_BATCH_ROWS", 700)
    folder = tmp_path / "parts"
    folder.mkdir()
    df = _frame(3000, bad=(5, 1500, 2999))
    for i, start in enumerate(range(0, 3000, 1000)):
        part = pa.Table.from_pandas(df.iloc[start : start + 1000], preserve_index=False)
        pq.write_table(part, folder / f"part-{i}.parquet", row_group_size=300)
    fg = _group()
    report = fg.ingest(folder)
    assert report.rows_received == 3000
    assert [r.row for r in report.rejected] == [5, 1500, 2999]
    assert len(_files(fg)) == 5  # ceil(3000 / 700) batches


def test_s3_parquet_input_streams(rayline_home, s3_bucket, monkeypatch):
    from rayline.store.s3 import S3Connection, split_uri

    monkeypatch.setattr(ingestion, "MAX_BATCH_ROWS", 400)
    fs = S3Connection.from_environment().filesystem()
    bucket = split_uri(s3_bucket)[0]
    table = pa.Table.from_pandas(_frame(2000, bad=(1999,)), preserve_index=False)
    pq.write_table(table, f"{bucket}/raw/in.parquet", filesystem=fs, row_group_size=250)
    with fs.open_output_stream(f"{bucket}/raw/in.csv") as out:
        out.write(_frame(1000, bad=(0,), seed=1).to_csv(index=False).encode())
    fg = _group()
    report = fg.ingest(f"{s3_bucket}/raw/in.parquet")
    assert (report.rows_received, report.offline_rows_written) == (2000, 1999)
    assert [r.row for r in report.rejected] == [1999]
    assert len(_files(fg)) == 5
    report = fg.ingest(f"{s3_bucket}/raw/in.csv")
    assert (report.rows_received, [r.row for r in report.rejected]) == (1000, [0])


def test_point_in_time_join_spills_under_a_small_memory_limit(rayline_home, tmp_path, monkeypatch):
    n = 300_000
    rng = np.random.default_rng(1)
    features = pd.DataFrame(
        {
            "record_id": np.arange(n, dtype=np.int64) % (n // 3),
            "event_time": T0 + rng.random(n) * 86400,
            "x": rng.normal(size=n),
            "code": rng.choice(["red", "green", "blue"], size=n),
        }
    )
    fg = _group()
    assert fg.ingest(features).offline_rows_written == n
    entities = pd.DataFrame(
        {
            "record_id": rng.integers(0, n // 3, size=n),
            "event_time": T0 + rng.random(n) * 90000,
        }
    )
    builder = (
        create_dataset(
            entities,
            record_identifier_feature_name="record_id",
            event_time_identifier_feature_name="event_time",
        )
        .with_feature_group(fg)
        .point_in_time_accurate_join()
    )
    expected = builder.to_arrow()  # under the default limit: no spill needed

    monkeypatch.setenv("RAYLINE_DUCKDB_MEMORY_LIMIT", "50MB")
    out = tmp_path / "dataset" / "joined.parquet"
    assert builder.to_parquet(out) == n
    written = pq.read_table(out)
    assert written.equals(expected)  # the same rows, base order kept
    assert written.column("x").null_count < n  # the join found values
    # Held to the same limit with nowhere to spill, the same query fails: the spill is what
    # made it fit.
    con, sql, _params = builder._prepare()
    try:
        con.execute("SET temp_directory = ''")
        with pytest.raises(duckdb.OutOfMemoryException):
            con.sql(sql).write_parquet(str(tmp_path / "no-spill.parquet"))
    finally:
        con.close()
    # Each connection spilled into a directory of its own, which DuckDB removed on close.
    assert list((rayline_home / "tmp").iterdir()) == []
    assert offline.count_rows(fg.description, db=_db()) == n


def test_memory_limit_setting_is_checked(monkeypatch):
    from rayline.config import settings

    monkeypatch.setenv("RAYLINE_DUCKDB_MEMORY_LIMIT", "512MiB")
    assert settings().duckdb_memory_limit == "512MiB"
    monkeypatch.setenv("RAYLINE_DUCKDB_MEMORY_LIMIT", "lots")
    with pytest.raises(ConfigError, match="RAYLINE_DUCKDB_MEMORY_LIMIT"):
        settings()


def _db():
    from rayline.store.db import open_database

    return open_database(None)


def test_ray_dataset_streams_its_blocks_with_rows_numbered_across_them(rayline_home, ray_session):
    # 7 blocks on 2 actors: more than the 4 batches allowed in flight, so the driver waits for
    # the actors before it takes the next blocks.
    df = _frame(700, bad=(0, 150, 699))
    blocks = [df.iloc[start : start + 100] for start in range(0, 700, 100)]
    ds = ray_session.data.from_pandas(blocks)
    fg = _group()
    report = fg.ingest(ds, max_workers=2)
    assert report.mode == "ray"
    assert (report.rows_received, report.offline_rows_written) == (700, 697)
    assert [r.row for r in report.rejected] == [0, 150, 699]
    assert len(_files(fg)) == 7
