"""In-process ingestion: report, latest-wins, idempotency, offline layout, online reads, TTL."""

from __future__ import annotations

import re
import time

import pandas as pd
import pyarrow.parquet as pq
import pytest

from rayline.errors import ConflictError, SchemaError, UserInputError
from rayline.featurestore import FeatureGroup, load_feature_definitions
from rayline.store.artifacts import to_path


def _frame(n=6, t0=1_700_000_000.0, value=0.0):
    return pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n)],
            "event_time": [t0 + 3600 * i for i in range(n)],  # one hour partition each
            "price": [value + i for i in range(n)],
            "rooms": list(range(n)),
        }
    )


@pytest.fixture
def group(rayline_home):
    fg = FeatureGroup("prices", load_feature_definitions(_frame()))
    fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
    return fg


def test_ingest_report_and_reads(group):
    report = group.ingest(_frame(), max_workers=1)
    assert report.ok and report.mode == "local"
    assert (report.rows_received, report.online_rows_written, report.offline_rows_written) == (
        6,
        6,
        6,
    )
    assert group.get_record("r2") == {
        "record_id": "r2",
        "event_time": 1_700_007_200.0,
        "price": 2.0,
        "rooms": 2,
    }
    assert group.get_record("r2", feature_names=["rooms"]) == {"rooms": 2}
    assert group.get_record("nope") is None
    assert group.batch_get_record(["r1", "nope", "r5"], feature_names=["price"]) == [
        {"price": 1.0},
        None,
        {"price": 5.0},
    ]
    with pytest.raises(SchemaError, match="'colour' is not in feature group"):
        group.get_record("r1", feature_names=["colour"])
    desc = group.describe()
    assert (desc.online_record_count, desc.offline_record_count) == (6, 6)


def test_reingest_is_idempotent(group):
    group.ingest(_frame())
    again = group.ingest(_frame())
    assert again.online_rows_written == 0 and again.online_rows_superseded == 6
    assert again.offline_rows_written == 0 and again.offline_duplicates_skipped == 6
    assert group.describe().offline_record_count == 6


def test_latest_event_time_wins_online_and_history_is_kept_offline(group):
    group.ingest(_frame(value=100.0))
    older = _frame(value=0.0)
    older["event_time"] -= 10  # older versions of the same records
    report = group.ingest(older)
    assert report.online_rows_written == 0 and report.offline_rows_written == 6
    assert group.get_record("r0")["price"] == 100.0
    newer = _frame(value=500.0).head(2)
    newer["event_time"] += 10
    assert group.ingest(newer).online_rows_written == 2
    assert group.get_record("r0")["price"] == 500.0
    assert group.get_record("r3")["price"] == 103.0
    assert group.describe().offline_record_count == 14


def test_rejected_rows_are_reported_and_the_rest_written(group):
    df = _frame()
    df["rooms"] = df["rooms"].astype(object)
    df.loc[1, "rooms"] = "three"
    df.loc[4, "record_id"] = None
    report = group.ingest(df)
    assert [(r.row, r.record_identifier) for r in report.rejected] == [(1, "r1"), (4, None)]
    assert "value 'three' of feature 'rooms' is not Integral" in report.rejected[0].reason
    assert report.offline_rows_written == 4 and report.online_rows_written == 4
    assert group.get_record("r1") is None
    with pytest.raises(SchemaError, match="2 of 6 rows were rejected"):
        report.raise_for_rejected()


def test_offline_layout_and_extra_columns(group):
    group.ingest(_frame())
    root = to_path(group.describe().offline_store_uri)
    assert re.search(r"offline-store/prices-\d+/data$", root.as_posix())
    files = sorted(root.rglob("*.parquet"))
    assert len(files) == 6
    rel = files[0].relative_to(root).as_posix()
    assert re.fullmatch(
        r"year=2023/month=11/day=14/hour=22/20231114T221320Z_[0-9a-f]{12}_[0-9a-f]{16}\.parquet",
        rel,
    ), rel
    table = pq.read_table(files[0])
    assert table.column_names == [
        "record_id",
        "event_time",
        "price",
        "rooms",
        "write_time",
        "api_invocation_time",
        "is_deleted",
    ]
    assert table.column("is_deleted").to_pylist() == [False]
    assert not list(root.rglob("*.tmp"))


def test_csv_and_parquet_paths(group, tmp_path):
    csv = tmp_path / "in.csv"
    _frame().to_csv(csv, index=False)
    assert group.ingest(csv).online_rows_written == 6
    pq_path = tmp_path / "in.parquet"
    df = _frame(value=1000.0)
    df["event_time"] += 1
    df.to_parquet(pq_path)
    assert group.ingest(str(pq_path)).online_rows_written == 6
    assert group.get_record("r0")["price"] == 1000.0
    with pytest.raises(UserInputError, match="does not exist"):
        group.ingest(tmp_path / "missing.csv")


def test_schema_mismatch_fails_before_writing(group):
    with pytest.raises(SchemaError, match="not features of feature group 'prices'"):
        group.ingest(_frame().assign(colour="red"))
    assert group.describe().offline_record_count == 0


def test_soft_and_hard_delete(group):
    group.ingest(_frame())
    t = 1_700_000_000.0
    group.delete_record("r0", t + 100)
    assert group.get_record("r0") is None
    group.ingest(_frame().head(1))  # older event: stays deleted
    assert group.get_record("r0") is None
    with pytest.raises(ConflictError, match="later event time"):
        group.delete_record("r1", t, deletion_mode="HardDelete")
    group.delete_record("r1", "2030-01-01T00:00:00Z", deletion_mode="HardDelete")
    assert group.get_record("r1") is None
    # Both deletes left an is_deleted marker offline.
    assert group.describe().offline_record_count == 8


def test_ttl_hides_expired_records(rayline_home):
    fg = FeatureGroup("ttl-group", load_feature_definitions(_frame()))
    fg.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        ttl_seconds=3600,
        enable_offline_store=False,
    )
    now = time.time()
    df = _frame(n=2)
    df["event_time"] = [now - 7200, now]  # the first expired an hour ago
    fg.ingest(df)
    assert fg.get_record("r0") is None
    assert fg.get_record("r1")["rooms"] == 1
    fg.ingest(df.assign(event_time=[now - 7000, now + 1]), ttl_seconds=10 * 3600)  # record TTL
    assert fg.get_record("r0")["rooms"] == 0


def test_target_stores(group):
    report = group.ingest(_frame(), target_stores=["OfflineStore"])
    assert report.online_rows_written == 0 and report.offline_rows_written == 6
    assert group.get_record("r0") is None
    with pytest.raises(UserInputError, match="'OnlineStore' and/or 'OfflineStore'"):
        group.ingest(_frame(), target_stores=["Elsewhere"])


def test_added_features_and_reingest_over_older_files(group):
    from rayline.featurestore import StringFeatureDefinition, query

    group.ingest(_frame(n=2))
    group.update(feature_additions=[StringFeatureDefinition("colour")])
    df = _frame(n=3).assign(colour=[None, None, "red"])
    report = group.ingest(df)  # r0 and r1 are stored already (colour was NULL then)
    assert report.offline_duplicates_skipped == 2 and report.offline_rows_written == 1
    rows = query('SELECT record_id, colour FROM "prices" ORDER BY record_id')
    assert rows["record_id"].tolist() == ["r0", "r1", "r2"]
    assert rows["colour"].tolist()[2] == "red"


def test_offline_files_are_encoded_for_their_types(group):
    """Doubles byte-stream-split, an integer identifier delta-encoded, the rest dictionaries:
    smaller and faster to write than the defaults, and DuckDB reads them back."""
    from rayline.featurestore import query
    from rayline.featurestore.offline import parquet_options

    group.ingest(_frame())
    root = to_path(group.describe().offline_store_uri)
    meta = pq.ParquetFile(sorted(root.rglob("*.parquet"))[0]).metadata.row_group(0)
    encodings = {
        meta.column(i).path_in_schema: set(meta.column(i).encodings)
        for i in range(meta.num_columns)
    }
    assert (
        "BYTE_STREAM_SPLIT" in encodings["price"] and "BYTE_STREAM_SPLIT" in encodings["event_time"]
    )
    assert "RLE_DICTIONARY" in encodings["record_id"]  # a String identifier: a dictionary
    assert query('SELECT sum(price) AS s FROM "prices"')["s"][0] == _frame()["price"].sum()

    from dataclasses import replace

    import pyarrow as pa

    schema = pa.schema([("id", pa.int64()), ("t", pa.float64()), ("s", pa.string())])
    desc = replace(group.description, record_identifier_name="id")
    assert parquet_options(desc, schema) == {
        "column_encoding": {"t": "BYTE_STREAM_SPLIT", "id": "DELTA_BINARY_PACKED"},
        "use_dictionary": ["s"],
    }


def test_a_csv_whose_header_is_not_utf8_is_refused_naming_the_file(group, tmp_path):
    # Found by the API fuzz: a PNG uploaded as CSV was a UnicodeDecodeError (a 500).
    path = tmp_path / "image.csv"
    path.write_bytes(b"\x89PNG,event_time\nr1,1.0\n")
    with pytest.raises(UserInputError, match=r"image\.csv, line 1: the header .* not UTF-8"):
        group.ingest(str(path), max_workers=1)
    assert group.describe().offline_record_count == 0
