"""The feature store under concurrent writers and killed ones, with real OS processes.

Four processes ingest overlapping and distinct records into one group at once; every one of
them takes its snapshot of the committed files before any of them writes (the worst case: all
of them store the shared rows). Readers (SQL, describe, datasets, preprocessing) still see each
(record, event time) once and the online store holds the latest per record. An ingestion killed
with SIGKILL after its first file leaves nothing visible, and running it again converges to the
state of one clean run. Both on PostgreSQL + Redis + ``s3://`` and on the embedded defaults.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from tests.conftest import REDIS_URL

from rayline.featurestore import (
    FeatureGroup,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
    create_dataset,
    query,
)
from rayline.featurestore import _repository as repo
from rayline.featurestore._offline_files import OfflineFiles
from rayline.featurestore.offline import arrow_schema
from rayline.store.db import open_database

CHILD = Path(__file__).with_name("_ingest_child.py")
REPO_ROOT = Path(__file__).resolve().parents[3]
T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z
WRITERS = 4
SHARED, CONTESTED, DISTINCT = 100, 20, 50


@pytest.fixture(
    params=[
        pytest.param("postgres-redis-s3", marks=[pytest.mark.postgres, pytest.mark.redis]),
        "sqlite-local",
    ]
)
def online_uri(request, rayline_home, monkeypatch):
    """The backends the writers share (through the environment they inherit); returns the online
    store URI to create the group with (None: the embedded SQLite default)."""
    if request.param == "sqlite-local":
        yield None
        return
    request.getfixturevalue("s3_artifacts")
    monkeypatch.setenv("RAYLINE_DB_URL", request.getfixturevalue("postgres_url"))
    prefix = f"test-conc-{uuid.uuid4().hex[:8]}:"
    yield f"{REDIS_URL}?prefix={prefix}"
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def group(online_uri):
    fg = FeatureGroup(
        "concurrent",
        [
            StringFeatureDefinition("record_id"),
            FractionalFeatureDefinition("event_time"),
            FractionalFeatureDefinition("price"),
            IntegralFeatureDefinition("rooms"),
        ],
    )
    fg.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        online_store_uri=online_uri,
    )
    yield fg
    fg.delete()


def _rows(ids: list[str], times: list[float], prices: list[float]) -> pa.Table:
    return pa.table(
        {
            "record_id": ids,
            "event_time": pa.array(times, pa.float64()),
            "price": pa.array(prices, pa.float64()),
            "rooms": pa.array(range(len(ids)), pa.int64()),
        }
    )


def _shared() -> pa.Table:
    """The same rows for every writer, spread over 17 hour partitions."""
    n = SHARED
    return _rows(
        [f"s{i:03d}" for i in range(n)],
        [T0 + i * 600.0 for i in range(n)],
        [i * 1.5 for i in range(n)],
    )


def _contested(k: int) -> pa.Table:
    """The same records for every writer, writer k's at a later event time than writer k-1's."""
    n = CONTESTED
    return _rows(
        [f"c{i:02d}" for i in range(n)],
        [T0 + 100_000.0 + k * 60.0 + i for i in range(n)],
        [1000.0 * k + i for i in range(n)],
    )


def _distinct(k: int) -> pa.Table:
    n = DISTINCT
    return _rows(
        [f"d{k}-{i:02d}" for i in range(n)],
        [T0 + i * 900.0 for i in range(n)],
        [10.0 * k + i for i in range(n)],
    )


def _data(k: int) -> pa.Table:
    return pa.concat_tables([_shared(), _contested(k), _distinct(k)])


def _spawn(group: str, data: pa.Table, sync: Path, name: str, *flags: str) -> subprocess.Popen:
    path = sync / f"{name}.parquet"
    pq.write_table(data, path)
    return subprocess.Popen(
        [sys.executable, str(CHILD), group, str(path), str(sync), name, *flags],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(paths: list[Path], procs: list[subprocess.Popen], timeout: float = 120.0) -> None:
    """Wait until every path exists, failing early when a child died instead."""
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        for proc in procs:
            if proc.poll() is not None and proc.returncode != 0:
                pytest.fail(f"a writer failed: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"timed out waiting for {paths}"
        time.sleep(0.02)


def _stored_rows(fg: FeatureGroup) -> int:
    """Rows in every offline file, committed or not (what a reader must not trust)."""
    desc = fg.describe()
    loc = OfflineFiles.of(desc)
    return loc.dataset(None, arrow_schema(desc), partitioned=True).count_rows()


def _visible(fg: FeatureGroup) -> list[tuple]:
    table = query(
        f'SELECT record_id, event_time, price, rooms FROM "{fg.name}" '
        "ORDER BY record_id, event_time"
    )
    return list(table.itertuples(index=False, name=None))


def _expected(tables: list[pa.Table]) -> list[tuple]:
    rows = set()
    for t in tables:
        rows.update(zip(*(t[c].to_pylist() for c in t.column_names), strict=True))
    return sorted(rows)


@pytest.mark.slow
@pytest.mark.ray
def test_four_writers_at_once(group, tmp_path, ray_session):
    sync = tmp_path / "sync"
    sync.mkdir()
    procs = [_spawn(group.name, _data(k), sync, f"w{k}", "--together") for k in range(WRITERS)]
    try:
        # Every writer has looked at the committed files before any writes: none sees another.
        _wait_for([sync / f"ready-w{k}" for k in range(WRITERS)], procs)
        (sync / "go").touch()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=180)
            assert proc.returncode == 0, err
            reports.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    assert all(r["ok"] for r in reports)
    # The shared rows were stored by all four (nobody could skip them) ...
    assert sum(r["offline_rows_written"] for r in reports) == _stored_rows(group)
    assert _stored_rows(group) == WRITERS * SHARED + WRITERS * CONTESTED + WRITERS * DISTINCT
    # ... and every reader sees each (record, event time) once.
    everything = [_data(k) for k in range(WRITERS)]
    visible = _visible(group)
    assert visible == _expected(everything)
    n_visible = SHARED + WRITERS * (CONTESTED + DISTINCT)
    assert len(visible) == n_visible
    dupes = query(
        f'SELECT record_id, event_time, count(*) AS n FROM "{group.name}" GROUP BY ALL '
        "HAVING count(*) > 1"
    )
    assert dupes.empty
    desc = group.describe()
    assert desc.offline_record_count == n_visible
    n_latest = SHARED + CONTESTED + WRITERS * DISTINCT
    assert desc.online_record_count == n_latest

    history = create_dataset(group).to_arrow()
    assert history.num_rows == n_visible
    keys = zip(history["record_id"].to_pylist(), history["event_time"].to_pylist(), strict=True)
    assert len(set(keys)) == n_visible
    every_copy = create_dataset(group).include_duplicated_records().to_arrow()
    assert every_copy.num_rows == n_visible  # copies of one version are one version
    latest = create_dataset(group).latest_records_only().to_dataframe().set_index("record_id")
    assert len(latest) == n_latest
    last = WRITERS - 1
    for i in range(CONTESTED):
        assert latest.loc[f"c{i:02d}", "price"] == 1000.0 * last + i

    # The online store holds the latest per record, whichever writer finished last.
    contested = group.batch_get_record([f"c{i:02d}" for i in range(CONTESTED)])
    assert [r["price"] for r in contested] == [1000.0 * last + i for i in range(CONTESTED)]
    assert [r["event_time"] for r in contested] == [
        T0 + 100_000.0 + last * 60.0 + i for i in range(CONTESTED)
    ]
    assert group.get_record("s042") == {
        "record_id": "s042",
        "event_time": T0 + 42 * 600.0,
        "price": 63.0,
        "rooms": 42,
    }

    # Preprocessing reads the latest record per identifier: each once across the splits.
    from rayline.ml.preprocessing import feature_group_source, preprocess

    source, drop = feature_group_source(group.name)
    dirs = {n: tmp_path / "pre" / n for n in ("train", "validation", "test", "preprocessor")}
    result = preprocess(source, label="price", output_dirs=dirs, drop_columns=drop)
    assert sum(result.rows.values()) == n_latest


@pytest.mark.slow
def test_killed_ingestion_leaves_nothing_visible_and_rerun_converges(group, tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    before = group.ingest(_shared())
    assert before.offline_rows_written == SHARED
    data = _data(0)
    proc = _spawn(group.name, data, sync, "killed", "--hang")
    try:
        # Killed at a known point: its first offline file is stored, the rest is not.
        _wait_for([sync / "wrote-killed"], [proc])
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    # Its files are there, but no reader sees them; nothing went online.
    assert _stored_rows(group) > SHARED
    assert _visible(group) == _expected([_shared()])
    desc = group.describe()
    assert desc.offline_record_count == SHARED
    assert desc.online_record_count == SHARED
    assert group.get_record("c00") is None and group.get_record("d0-00") is None
    assert create_dataset(group).to_arrow().num_rows == SHARED
    db = open_database()
    assert len(repo.hidden_ingestions(db, group.name)) == 1

    # The same ingestion again converges to what one clean run gives.
    again = group.ingest(data)
    assert again.ok
    assert again.offline_duplicates_skipped == SHARED
    assert again.offline_rows_written == CONTESTED + DISTINCT
    assert _visible(group) == _expected([data])
    desc = group.describe()
    assert desc.offline_record_count == SHARED + CONTESTED + DISTINCT
    assert desc.online_record_count == SHARED + CONTESTED + DISTINCT
    assert group.get_record("c05")["price"] == 5.0
    latest = create_dataset(group).latest_records_only().to_arrow()
    assert latest.num_rows == SHARED + CONTESTED + DISTINCT


def test_failed_ingestion_removes_its_files(group, tmp_path):
    sync = tmp_path / "sync"
    sync.mkdir()
    group.ingest(_shared())
    proc = _spawn(group.name, _data(1), sync, "failing", "--fail")
    _out, err = proc.communicate(timeout=180)
    assert proc.returncode != 0 and "failing after the first offline file" in err
    assert (sync / "wrote-failing").exists()
    # Marked failed, and what it wrote is gone (not only hidden).
    assert _stored_rows(group) == SHARED
    assert _visible(group) == _expected([_shared()])
    assert len(repo.hidden_ingestions(open_database(), group.name)) == 1


def test_files_of_untracked_ingestions_stay_visible(group):
    """Files written before ingestions were recorded (no row) are read as before."""
    import uuid as uuid_

    from rayline.featurestore import offline
    from rayline.featurestore.validation import validate

    checked = validate(_shared(), group.describe())
    offline.append(
        group.description,
        checked.table,
        checked.event_seconds,
        ingest_id=uuid_.uuid4().hex[:12],
        api_invocation_time=time.time(),
    )
    assert _visible(group) == _expected([_shared()])
    assert group.describe().offline_record_count == SHARED


def test_a_commit_during_a_listing_shows_none_of_its_files(group, monkeypatch):
    """A reader lists while an ingestion is still writing, and the ingestion commits before the
    reader is done: the reader shows none of its files, never the part it listed."""
    from rayline.featurestore import offline
    from rayline.featurestore.validation import validate

    db = open_database()
    desc = group.describe()
    ingest_id = uuid.uuid4().hex[:12]
    repo.begin_ingestion(db, group.name, ingest_id)
    checked = validate(_shared(), desc)
    offline.append(
        desc, checked.table, checked.event_seconds, ingest_id=ingest_id, api_invocation_time=T0
    )
    listing = OfflineFiles.parquet_files

    def partial_listing_then_commit(self):
        files = listing(self)[:1]  # listed while only the first file was stored ...
        repo.commit_ingestion(db, ingest_id, rows=SHARED)  # ... then the writer commits
        return files

    monkeypatch.setattr(OfflineFiles, "parquet_files", partial_listing_then_commit)
    assert offline.visible_files(desc, db) == []
    monkeypatch.setattr(OfflineFiles, "parquet_files", listing)
    assert len(offline.visible_files(desc, db)) == len(listing(OfflineFiles.of(desc)))
