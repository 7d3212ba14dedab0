"""DuckDB SQL over the offline store, and point-in-time datasets on a hand-checked case."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from rayline.errors import SchemaError, UserInputError
from rayline.featurestore import (
    FeatureGroup,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
    create_dataset,
    query,
)


def _rows(*rows):
    return pd.DataFrame(rows, columns=["id", "t", "v"])


@pytest.fixture
def prices(rayline_home):
    """id 1: v=10 @100, v=20 @200, deleted @300.  id 2: v=5 @150, then re-stated v=6 @150."""
    fg = FeatureGroup(
        "prices",
        [
            IntegralFeatureDefinition("id"),
            FractionalFeatureDefinition("t"),
            FractionalFeatureDefinition("v"),
        ],
    )
    fg.create(record_identifier_name="id", event_time_feature_name="t")
    fg.ingest(_rows((1, 100.0, 10.0), (1, 200.0, 20.0), (2, 150.0, 5.0)))
    time.sleep(0.01)
    fg.cut = time.time()  # between the two writes of id 2
    time.sleep(0.01)
    fg.ingest(_rows((2, 150.0, 6.0)))
    fg.delete_record(1, 300.0)
    return fg


ENTITIES = pd.DataFrame(
    {
        "id": [1, 1, 1, 1, 2, 3, 1],
        "t": [50.0, 100.0, 250.0, 350.0, 160.0, 500.0, 199.0],
        "label": ["a", "b", "c", "d", "e", "f", "g"],
    }
)


def _pit(prices):
    return (
        create_dataset(
            ENTITIES, record_identifier_feature_name="id", event_time_identifier_feature_name="t"
        )
        .with_feature_group(prices)
        .point_in_time_accurate_join()
    )


def _v(df):
    return [None if pd.isna(x) else x for x in df["v"]]


def test_point_in_time_join_keeps_every_entity_row_in_order(prices):
    df = _pit(prices).to_dataframe()
    assert list(df.columns) == ["id", "t", "label", "v"]
    assert list(df["label"]) == list("abcdefg")
    # before any record / at its event time / between / after the delete / re-stated / unknown
    assert _v(df) == [None, 10.0, 20.0, None, 6.0, None, 10.0]


def test_to_parquet_keeps_the_order_unless_told_not_to(prices, tmp_path):
    assert _pit(prices).to_parquet(tmp_path / "o.parquet") == len(ENTITIES)
    ordered = pd.read_parquet(tmp_path / "o.parquet")
    assert list(ordered["label"]) == list("abcdefg")
    assert _pit(prices).to_parquet(tmp_path / "u.parquet", keep_order=False) == len(ENTITIES)
    unordered = pd.read_parquet(tmp_path / "u.parquet").sort_values("label", ignore_index=True)
    pd.testing.assert_frame_equal(unordered, ordered)


def test_include_deleted_and_duplicated(prices):
    df = _pit(prices).include_deleted_records().to_dataframe()
    assert _v(df) == [None, 10.0, 20.0, 20.0, 6.0, None, 10.0]
    dup = _pit(prices).include_duplicated_records().to_arrow()
    assert dup.num_rows == len(ENTITIES)  # still one row per entity row


def test_as_of_reads_the_past(prices):
    df = _pit(prices).as_of(prices.cut).to_dataframe()
    # id 2 is still 5 (the re-statement came later) and id 1 is not yet deleted.
    assert _v(df) == [None, 10.0, 20.0, 20.0, 5.0, None, 10.0]


def test_without_point_in_time_the_latest_record_is_used(prices):
    df = (
        create_dataset(ENTITIES, record_identifier_feature_name="id")
        .with_feature_group(prices)
        .to_dataframe()
    )
    assert _v(df) == [None, None, None, None, 6.0, None, None]  # id 1's latest is a delete


def test_feature_group_base_latest_and_deleted(prices):
    rows = create_dataset(prices).to_dataframe().sort_values(["id", "t"])
    assert rows[["id", "t", "v"]].values.tolist() == [[2, 150.0, 6.0]]  # id 1 is deleted
    latest = create_dataset(prices).include_deleted_records().latest_records_only().to_dataframe()
    assert sorted(latest[["id", "v"]].values.tolist()) == [[1, 20.0], [2, 6.0]]
    ranged = create_dataset(prices).include_deleted_records().with_event_time_range(0, 120)
    assert ranged.to_dataframe()["v"].tolist() == [10.0]


def test_two_groups_and_iso_event_times(prices):
    meta = FeatureGroup(
        "meta",
        [
            IntegralFeatureDefinition("id"),
            StringFeatureDefinition("at"),
            StringFeatureDefinition("v"),
        ],
    )
    meta.create(
        record_identifier_name="id", event_time_feature_name="at", enable_online_store=False
    )
    meta.ingest(
        pd.DataFrame(
            {
                "id": [1, 2],
                "at": ["1970-01-01T00:01:40Z", "1970-01-01T00:00:00Z"],
                "v": ["one", "two"],
            }
        )
    )
    with pytest.raises(SchemaError, match="clashes"):
        _pit(prices).with_feature_group(meta).to_arrow()
    df = _pit(prices).with_feature_group(meta, prefix="meta_").to_dataframe()
    assert [None if pd.isna(x) else x for x in df["meta_v"]][:3] == [None, "one", "one"]


def test_sql_over_the_offline_store(prices):
    df = query('SELECT id, v, is_deleted, year FROM "prices" ORDER BY id, t, api_invocation_time')
    assert df["id"].tolist() == [1, 1, 1, 2, 2]
    assert df["is_deleted"].tolist() == [False, False, True, False, False]
    assert set(df["year"]) == {1970}
    with pytest.raises(UserInputError, match="quote names"):
        query("SELECT * FROM nosuchgroup")


def test_sql_on_an_empty_group_has_typed_columns(rayline_home):
    fg = FeatureGroup("empty", [StringFeatureDefinition("id"), FractionalFeatureDefinition("t")])
    fg.create(record_identifier_name="id", event_time_feature_name="t")
    df = query('SELECT * FROM "empty"')
    assert len(df) == 0
    assert "is_deleted" in df.columns
