"""The offline store on ``s3://`` artifacts, against the real local S3 server: the same layout
as on disk, ingestion in-process and on Ray actors, dedup, deletes, SQL queries, datasets and
Ray Data reading the group back."""

from __future__ import annotations

import io
import json
import re
import time

import numpy as np
import pandas as pd
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from rayline.errors import UserInputError
from rayline.featurestore import (
    FeatureGroup,
    StringFeatureDefinition,
    create_dataset,
    load_feature_definitions,
    query,
)
from rayline.store.s3 import S3Connection, split_uri

T0 = 1_700_000_000.0  # 2023-11-14T22:13:20Z


def _frame(n: int = 6, *, value: float = 0.0, t0: float = T0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "event_time": t0 + np.arange(n) * 1800.0,  # two rows per hour partition
            "price": np.arange(n) * 10.0 + value,
            "rooms": np.arange(n, dtype=np.int64),
        }
    )


def _objects(uri: str) -> list[str]:
    """Keys (relative to ``uri``) of every object under ``uri``, read straight from S3."""
    bucket, key = split_uri(uri)
    client = S3Connection.from_environment().client()
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key + "/")
    return sorted(o["Key"][len(key) + 1 :] for p in pages for o in p.get("Contents", []))


@pytest.fixture
def group(s3_artifacts):
    fg = FeatureGroup("prices", load_feature_definitions(_frame()))
    fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
    return fg


def test_layout_and_columns_on_s3(group, s3_artifacts):
    report = group.ingest(_frame())
    assert report.ok and report.offline_rows_written == 6 and report.mode == "local"
    desc = group.describe()
    assert re.fullmatch(
        re.escape(s3_artifacts) + r"/offline-store/prices-\d+/data", desc.offline_store_uri
    ), desc.offline_store_uri
    assert group.offline_store_uri == desc.offline_store_uri
    assert desc.offline_record_count == 6
    keys = _objects(desc.offline_store_uri.rsplit("/", 1)[0])
    # Only data files: no staging objects, no temporary names (S3 has no rename).
    assert len(keys) == 3 and all(k.startswith("data/") for k in keys), keys
    assert re.fullmatch(
        r"data/year=2023/month=11/day=14/hour=22/20231114T224320Z_[0-9a-f]{12}_[0-9a-f]{16}"
        r"\.parquet",
        keys[0],
    ), keys[0]
    bucket, key = split_uri(desc.offline_store_uri.rsplit("/", 1)[0])
    body = (
        S3Connection.from_environment().client().get_object(Bucket=bucket, Key=f"{key}/{keys[0]}")
    )
    table = pq.read_table(io.BytesIO(body["Body"].read()))
    assert table.column_names == [
        "record_id",
        "event_time",
        "price",
        "rooms",
        "write_time",
        "api_invocation_time",
        "is_deleted",
    ]
    assert table.column("is_deleted").to_pylist() == [False, False]


def test_dedup_queries_datasets_and_deletes_on_s3(group):
    group.ingest(_frame())
    again = group.ingest(_frame())
    assert again.offline_rows_written == 0 and again.offline_duplicates_skipped == 6
    cut = time.time()
    time.sleep(0.01)
    changed = _frame().head(2).assign(price=[-1.0, -2.0])  # same event times, new values
    assert group.ingest(changed).offline_rows_written == 2
    assert group.describe().offline_record_count == 8

    counts = query('SELECT count(*) AS n, count(DISTINCT record_id) AS ids FROM "prices"')
    assert counts.to_dict("records") == [{"n": 8, "ids": 6}]
    hours = query('SELECT DISTINCT year, month, day, hour FROM "prices" ORDER BY ALL')
    assert hours.to_dict("records")[0] == {"year": 2023, "month": 11, "day": 14, "hour": 22}

    # The newest version of each (identifier, event time) wins in a dataset.
    latest = create_dataset(group).to_dataframe().sort_values("record_id")
    assert latest["price"].tolist() == [-1.0, -2.0, 20.0, 30.0, 40.0, 50.0]
    # as_of (a bound parameter) reads the store as it was before the change.
    before = create_dataset(group).as_of(cut).to_dataframe().sort_values("record_id")
    assert before["price"].tolist() == [0.0, 10.0, 20.0, 30.0, 40.0, 50.0]

    entities = pd.DataFrame({"record_id": ["r3", "r5", "r9"], "at": [T0 + 99_999, T0, T0]})
    joined = (
        create_dataset(
            entities,
            record_identifier_feature_name="record_id",
            event_time_identifier_feature_name="at",
        )
        .with_feature_group(group, included_feature_names=["price"])
        .point_in_time_accurate_join()
        .to_dataframe()
    )
    assert joined["record_id"].tolist() == ["r3", "r5", "r9"]
    assert joined["price"].tolist()[0] == 30.0
    assert joined["price"].isna().tolist()[1:] == [True, True]  # r5 not yet, r9 never

    assert group.get_record("r4") == {
        "record_id": "r4",
        "event_time": T0 + 4 * 1800,
        "price": 40.0,
        "rooms": 4,
    }
    group.delete_record("r4", T0 + 10 * 3600)
    assert group.get_record("r4") is None
    assert group.describe().offline_record_count == 9
    marker = query('SELECT record_id FROM "prices" WHERE is_deleted')
    assert marker["record_id"].tolist() == ["r4"]
    assert "r4" not in create_dataset(group).to_dataframe()["record_id"].tolist()

    # Files written before a feature was added read it as NULL, and dedup sees it so.
    group.update(feature_additions=[StringFeatureDefinition("colour")])
    more = _frame(7).tail(3).assign(colour=[None, None, "red"])
    report = group.ingest(more.iloc[1:])  # r5 stored already; r6 is new
    assert report.offline_duplicates_skipped == 1 and report.offline_rows_written == 1
    colours = query('SELECT record_id, colour FROM "prices" WHERE colour IS NOT NULL')
    assert colours.to_dict("records") == [{"record_id": "r6", "colour": "red"}]
    rows = create_dataset(group).to_dataframe().sort_values("record_id")
    assert rows["record_id"].tolist() == ["r0", "r1", "r2", "r3", "r5", "r6"]
    assert rows["colour"].tolist()[-1] == "red" and rows["colour"].isna().sum() == 5

    root = group.offline_store_uri.rsplit("/", 1)[0]
    assert _objects(root)
    group.delete()
    assert _objects(root) == []


def test_empty_group_on_s3_is_typed_and_queryable(group):
    assert group.describe().offline_record_count == 0
    empty = query('SELECT * FROM "prices"')
    assert len(empty) == 0
    assert {"price", "write_time", "is_deleted", "hour"} <= set(empty.columns)
    assert len(create_dataset(group).to_dataframe()) == 0


@pytest.mark.ray
def test_ray_actor_ingestion_on_s3_and_ray_data_round_trip(ray_session, group):
    # ray_session started before the fixtures set the AWS variables: its workers never saw
    # them, so the actors reach S3 only through the connection handed to them.
    df = _frame(240).assign(event_time=T0 + np.arange(240) * 60.0)
    report = group.ingest(df, max_workers=2)
    assert report.mode == "ray" and report.workers == 2
    assert report.offline_rows_written == 240 and report.ok
    again = group.ingest(df, max_workers=2)
    assert again.offline_rows_written == 0 and again.offline_duplicates_skipped == 240
    assert group.describe().offline_record_count == 240

    fs = S3Connection.from_environment().filesystem()
    read = ray_session.data.read_parquet(group.offline_store_uri, filesystem=fs).to_pandas()
    assert len(read) == 240
    assert {"record_id", "price", "write_time", "is_deleted", "year", "hour"} <= set(read.columns)
    assert sorted(read["record_id"]) == sorted(df["record_id"])
    # 240 minutes from 22:13 UTC span five hour partitions.
    assert read["hour"].astype(int).nunique() == 5
    assert not read["is_deleted"].any()

    # A Ray Dataset read back from S3 ingests into a second group on S3.
    copy = FeatureGroup("prices-copy", load_feature_definitions(_frame()))
    copy.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        enable_online_store=False,
    )
    columns = list(df.columns)
    source = ray_session.data.read_parquet(group.offline_store_uri, filesystem=fs).select_columns(
        columns
    )
    assert copy.ingest(source, max_workers=2).offline_rows_written == 240
    assert copy.describe().offline_record_count == 240
    info = fs.get_file_info(pafs.FileSelector(split_uri(copy.offline_store_uri)[0], recursive=True))
    assert not [i.path for i in info if i.path.endswith(".tmp")]


def test_cli_describe_and_query_on_s3(group, s3_artifacts, capsys):
    from rayline.cli.main import main

    group.ingest(_frame())
    capsys.readouterr()
    assert main(["feature-group", "describe", "prices", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["offline_store_uri"].startswith(s3_artifacts + "/offline-store/prices-")
    assert described["offline_record_count"] == 6
    assert main(["feature-group", "describe", "prices"]) == 0
    assert "s3://" in capsys.readouterr().out
    assert main(["query", 'SELECT count(*) AS n FROM "prices"', "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 6}]


def test_ingest_reads_csv_and_parquet_inputs_on_s3(group, s3_bucket):
    import pyarrow as pa

    fs = S3Connection.from_environment().filesystem()
    bucket = split_uri(s3_bucket)[0]
    with fs.open_output_stream(f"{bucket}/raw/in.csv") as out:
        out.write(_frame().to_csv(index=False).encode())
    assert group.ingest(f"{s3_bucket}/raw/in.csv").offline_rows_written == 6
    newer = pa.Table.from_pandas(_frame(value=1000.0, t0=T0 + 1), preserve_index=False)
    pq.write_table(newer, f"{bucket}/raw/parts/part-0.parquet", filesystem=fs)
    assert group.ingest(f"{s3_bucket}/raw/parts").offline_rows_written == 6
    assert group.get_record("r0")["price"] == 1000.0
    with pytest.raises(UserInputError, match="does not exist"):
        group.ingest(f"{s3_bucket}/raw/missing.csv")
