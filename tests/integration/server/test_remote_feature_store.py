"""The feature store through the server: with ``RAYLINE_SERVER_URL`` and ``RAYLINE_TOKEN``,
``FeatureGroup``, ``list_feature_groups``, ``query``, ``create_dataset`` and the ``rayline``
feature-store commands call the server's REST API, and the client's home stays empty.

The server is a process of its own with its own ``RAYLINE_HOME``, authentication on, an
upload cap of about 20 KB (so an ingestion really goes in several chunks) and a SQL row cap of
50; the test process is the client, with an empty ``RAYLINE_HOME``: anything that went embedded
by accident would find nothing there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from rayline.errors import ConflictError, NotFoundError, TooLargeError
from rayline.featurestore import (
    FeatureGroup,
    create_dataset,
    list_feature_groups,
    load_feature_definitions,
    query,
)
from rayline.featurestore.remote import RemoteFeatureStore, _input_tables, _parquet_chunks
from rayline.remote.client import Client

pytestmark = [pytest.mark.ray, pytest.mark.server]

UPLOAD_MB = 0.02  # 20,971 bytes
SQL_MAX_ROWS = 50
ROWS = 2000


@dataclass
class Remote:
    url: str
    token: str
    server_home: Path
    client_home: Path

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        """``rayline ARGS`` in a subprocess with this client's environment."""
        env = {
            **os.environ,
            "RAYLINE_HOME": str(self.client_home),
            "RAYLINE_SERVER_URL": self.url,
            "RAYLINE_TOKEN": self.token,
        }
        return subprocess.run(
            [sys.executable, "-m", "rayline.cli.main", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def staged(self) -> list[Path]:
        """What chunked ingestions left staged on the server."""
        root = self.server_home / "artifacts" / "feature-store-staging"
        return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def remote(start_server_process, tmp_path, monkeypatch) -> Remote:
    """A server (auth on, its own home, small caps, an operator token) and this process set up
    as its client with an empty home."""
    from rayline.auth import Role, create_token

    server_home = tmp_path / "server-home"
    monkeypatch.setenv("RAYLINE_HOME", str(server_home))
    _, secret = create_token(name="fs-remote", role=Role.OPERATOR)
    server = start_server_process(
        env={
            "RAYLINE_HOME": str(server_home),
            "RAYLINE_SERVER_AUTH": "on",
            "RAYLINE_SERVER_MAX_UPLOAD_MB": str(UPLOAD_MB),
            "RAYLINE_SQL_MAX_ROWS": str(SQL_MAX_ROWS),
        }
    )
    client_home = tmp_path / "client-home"
    monkeypatch.setenv("RAYLINE_HOME", str(client_home))
    monkeypatch.setenv("RAYLINE_SERVER_URL", server.url)
    monkeypatch.setenv("RAYLINE_TOKEN", secret)
    return Remote(server.url, secret, server_home, client_home)


def _frame(ids, *, at: float = 1_700_000_000.0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "house_id": list(ids),
            "event_time": [at + i for i in ids],
            "city": [f"city-{i % 7}-{'x' * (i % 13)}" for i in ids],
            "price": [1000.0 * i + 0.5 for i in ids],
        }
    )


def _count(group: str) -> int:
    return int(query(f'SELECT count(*) AS n FROM "{group}"')["n"][0])


def _client_home_is_empty(remote: Remote) -> None:
    written = [p for p in remote.client_home.rglob("*")] if remote.client_home.exists() else []
    assert written == [], f"the client wrote {written}"


def test_the_feature_store_goes_through_the_server(remote: Remote, tmp_path):
    df = _frame(range(ROWS))
    fg = FeatureGroup("houses", load_feature_definitions(df))
    assert isinstance(fg._store, RemoteFeatureStore)
    desc = fg.create(record_identifier_name="house_id", event_time_feature_name="event_time")
    assert desc.status == "Created"
    assert fg.exists() and not FeatureGroup("nope").exists()
    assert str(remote.server_home) in fg.offline_store_uri  # the server's own store
    assert [g.name for g in list_feature_groups()] == ["houses"]

    # A CSV several times the upload cap: in chunks, all one ingestion.
    csv = tmp_path / "houses.csv"
    df.to_csv(csv, index=False)
    cap = int(UPLOAD_MB * 2**20)
    assert csv.stat().st_size > 3 * cap
    report = fg.ingest(str(csv))
    assert report.ok and report.rows_received == ROWS
    assert report.offline_rows_written == ROWS and report.online_rows_written == ROWS
    assert _count("houses") == ROWS
    assert fg.describe().offline_record_count == ROWS
    assert remote.staged() == []

    # Records.
    assert fg.get_record(7) == {
        "house_id": 7,
        "event_time": 1_700_000_007.0,
        "city": "city-0-xxxxxxx",
        "price": 7000.5,
    }
    assert fg.get_record("7", feature_names=["price"]) == {"price": 7000.5}
    assert fg.batch_get_record([1, 99999, 2], feature_names=["price"]) == [
        {"price": 1000.5},
        None,
        {"price": 2000.5},
    ]
    fg.delete_record(7, 1_700_000_100.0)
    assert fg.get_record(7) is None
    assert _count("houses") == ROWS + 1  # the offline delete marker

    # SQL: past the server's row cap is an error naming it, never a short frame.
    with pytest.raises(TooLargeError, match=f"more than {SQL_MAX_ROWS} rows.*RAYLINE_SQL_MAX_ROWS"):
        query('SELECT * FROM "houses"')
    small = query('SELECT house_id, price FROM "houses" WHERE house_id < 5 ORDER BY house_id')
    assert small["house_id"].tolist() == [0, 1, 2, 3, 4]
    assert small["price"].tolist() == [0.5, 1000.5, 2000.5, 3000.5, 4000.5]

    # A dataset: inline when small ...
    entities = pd.DataFrame({"house_id": [3, 7, 5], "at": [1_800_000_000.0] * 3})
    builder = (
        create_dataset(
            entities,
            record_identifier_feature_name="house_id",
            event_time_identifier_feature_name="at",
        )
        .with_feature_group(fg, included_feature_names=["price"])
        .point_in_time_accurate_join()
    )
    joined = builder.to_dataframe()
    assert joined["house_id"].tolist() == [3, 7, 5]
    assert joined["price"].tolist()[0] == 3000.5 and joined["price"].tolist()[2] == 5000.5
    assert pd.isna(joined["price"].tolist()[1])  # deleted as of the entity's time
    assert "ASOF" in builder.sql()
    assert not (remote.server_home / "artifacts" / "datasets").exists()
    # ... and through the server's artifact store when larger than its cap.
    whole = create_dataset(fg).to_arrow()
    assert whole.num_rows == ROWS - 1  # the deleted record left out
    stored = list((remote.server_home / "artifacts" / "datasets").glob("*.parquet"))
    assert len(stored) == 1
    out = tmp_path / "out" / "whole.parquet"
    assert create_dataset(fg).to_parquet(out) == ROWS - 1
    assert pd.read_parquet(out)["house_id"].nunique() == ROWS - 1

    fg.delete()
    assert not fg.exists() and list_feature_groups() == []
    with pytest.raises(NotFoundError, match="houses"):
        fg.describe()
    _client_home_is_empty(remote)


def test_nothing_is_visible_before_the_last_chunk_commits(remote: Remote, tmp_path):
    df = _frame(range(ROWS))
    fg = FeatureGroup("staged", load_feature_definitions(df))
    fg.create(record_identifier_name="house_id", event_time_feature_name="event_time")
    cap = int(UPLOAD_MB * 2**20)
    chunks = list(_parquet_chunks(_input_tables(df, fg.description), cap - 1024, cap=cap))
    assert len(chunks) >= 3

    client = Client()
    path = "/feature-groups/staged/ingestions"
    begun = client.post(path)
    assert begun["max_upload_bytes"] == cap
    ingestion = f"{path}/{begun['ingestion_id']}"
    for seq, chunk in enumerate(chunks):
        client.post(
            f"{ingestion}/chunks", params={"seq": seq}, files={"file": ("c.parquet", chunk)}
        )
        assert _count("staged") == 0
        assert fg.get_record(0) is None
    # A commit that names the wrong number of chunks is refused, and commits nothing.
    with pytest.raises(ConflictError, match="missing"):
        client.post(f"{ingestion}/commit", json={"chunks": len(chunks) + 1})
    assert _count("staged") == 0
    report = client.post(f"{ingestion}/commit", json={"chunks": len(chunks)})
    assert report["rows_received"] == ROWS and not report["rejected"]
    assert _count("staged") == ROWS
    assert fg.get_record(0)["price"] == 0.5
    assert remote.staged() == []
    with pytest.raises(NotFoundError, match="no chunked ingestion"):
        client.post(f"{ingestion}/commit", json={"chunks": len(chunks)})

    # An input that fails after some chunks went up: aborted, nothing visible, nothing left.
    parts = tmp_path / "parts"
    parts.mkdir()
    _frame(range(ROWS, 2 * ROWS)).to_parquet(parts / "a.parquet", index=False)
    bad = _frame(range(2 * ROWS, 2 * ROWS + 10))
    bad["price"] = "not a number"
    bad.to_parquet(parts / "b.parquet", index=False)
    with pytest.raises(Exception, match=r"not a number|[Ff]ailed to parse|convert"):
        fg.ingest(str(parts))
    assert _count("staged") == ROWS
    assert fg.get_record(ROWS) is None
    assert remote.staged() == []

    # Rejected rows are numbered across the whole input, not per chunk.
    mixed = _frame(range(3 * ROWS, 4 * ROWS))
    mixed.loc[ROWS - 3, "event_time"] = None
    report = fg.ingest(mixed)
    assert [r.row for r in report.rejected] == [ROWS - 3]
    assert _count("staged") == 2 * ROWS - 1
    fg.delete()
    _client_home_is_empty(remote)


def test_the_cli_goes_through_the_server(remote: Remote, tmp_path):
    csv = tmp_path / "cli.csv"
    _frame(range(ROWS)).to_csv(csv, index=False)
    created = remote.cli(
        "feature-group",
        "create",
        "cli-houses",
        "--record-identifier",
        "house_id",
        "--event-time",
        "event_time",
        "--from-file",
        str(csv),
    )
    assert created.returncode == 0, created.stderr
    ingested = remote.cli("ingest", "cli-houses", str(csv), "--json")
    assert ingested.returncode == 0, ingested.stderr
    assert json.loads(ingested.stdout)["offline_rows_written"] == ROWS
    record = remote.cli("get-record", "cli-houses", "3", "--json")
    assert record.returncode == 0, record.stderr
    assert json.loads(record.stdout)["price"] == 3000.5
    counted = remote.cli("query", 'SELECT count(*) AS n FROM "cli-houses"', "--json")
    assert counted.returncode == 0, counted.stderr
    assert json.loads(counted.stdout) == [{"n": ROWS}]
    capped = remote.cli("query", 'SELECT * FROM "cli-houses"')
    assert capped.returncode != 0 and "RAYLINE_SQL_MAX_ROWS" in capped.stderr
    listed = remote.cli("feature-group", "list", "--json")
    assert [g["name"] for g in json.loads(listed.stdout)] == ["cli-houses"]
    deleted = remote.cli("feature-group", "delete", "cli-houses")
    assert deleted.returncode == 0, deleted.stderr
    assert FeatureGroup("cli-houses").exists() is False
    _client_home_is_empty(remote)
