"""Ingestion on a real local Ray: actors, global row numbers in the report, idempotency,
latest-wins across actors, and the offline store read back by ``ray.data.read_parquet``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rayline.featurestore import FeatureGroup, load_feature_definitions

pytestmark = pytest.mark.ray

T0 = 1_700_000_000.0


def _frame(n: int, *, value: float = 0.0, t0: float = T0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "record_id": np.arange(n, dtype=np.int64),
            "event_time": t0 + np.arange(n) * 60.0,
            "x": np.arange(n) + value,
            "label": [f"l{i % 7}" for i in range(n)],
        }
    )


@pytest.fixture
def group(rayline_home, ray_session):
    fg = FeatureGroup("ray-ingest", load_feature_definitions(_frame(1)))
    fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
    return fg


def test_actor_ingestion_reports_rejections_with_global_rows(group):
    df = _frame(300)
    df["x"] = df["x"].astype(object)
    df.loc[[5, 150, 299], "x"] = "oops"
    report = group.ingest(df, max_workers=3)
    assert report.mode == "ray" and report.workers == 3
    assert [r.row for r in report.rejected] == [5, 150, 299]
    assert [r.record_identifier for r in report.rejected] == ["5", "150", "299"]
    assert all(r.reason == "value 'oops' of feature 'x' is not Fractional" for r in report.rejected)
    assert report.online_rows_written == report.offline_rows_written == 297
    assert group.get_record(150) is None and group.get_record(151)["x"] == 151.0

    again = group.ingest(df, max_workers=3)
    assert again.online_rows_written == 0 and again.offline_rows_written == 0
    assert again.offline_duplicates_skipped == 297
    assert group.describe().offline_record_count == 297


def test_latest_wins_across_actors(group):
    old, new = _frame(100, value=0.0), _frame(100, value=1000.0, t0=T0 + 10)
    # New versions first, old ones last: each lands on a different actor.
    report = group.ingest(pd.concat([new, old], ignore_index=True), max_workers=2)
    # Actors run concurrently: an old row may be applied before its newer version arrives.
    assert 100 <= report.online_rows_written <= 200
    assert report.online_rows_written + report.online_rows_superseded == 200
    assert report.offline_rows_written == 200
    records = group.batch_get_record(range(100), feature_names=["x"])
    assert [r["x"] for r in records] == [1000.0 + i for i in range(100)]


def test_offline_store_reads_back_with_ray_data(group, ray_session):
    group.ingest(_frame(240), max_workers=2)
    ds = ray_session.data.read_parquet(group.offline_store_uri)
    df = ds.to_pandas()
    assert len(df) == 240
    assert {
        "record_id",
        "event_time",
        "x",
        "label",
        "write_time",
        "api_invocation_time",
        "is_deleted",
        "year",
        "month",
        "day",
        "hour",
    } <= set(df.columns)
    assert not df["is_deleted"].any()
    assert sorted(df["record_id"]) == list(range(240))
    # 240 minutes from 22:13 UTC span five hour partitions.
    assert df["hour"].astype(int).nunique() == 5


def test_ray_dataset_input(group, ray_session):
    ds = ray_session.data.from_pandas(_frame(50))
    report = group.ingest(ds)
    assert report.mode == "ray"
    assert report.online_rows_written == 50 and report.ok
    assert group.get_record(49)["label"] == "l0"
