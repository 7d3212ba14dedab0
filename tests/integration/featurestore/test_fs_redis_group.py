"""A feature group whose online store is the machine's Redis, chosen by URI."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from tests.conftest import REDIS_URL

from rayline.featurestore import FeatureGroup, load_feature_definitions

pytestmark = pytest.mark.redis


def test_feature_group_on_redis(rayline_home):
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    df = pd.DataFrame({"id": ["a", "b", "c"], "t": [1.0, 2.0, 3.0], "v": [1, 2, 3]})
    fg = FeatureGroup("redis-group", load_feature_definitions(df))
    desc = fg.create(
        record_identifier_name="id",
        event_time_feature_name="t",
        online_store_uri=f"{REDIS_URL}?prefix={prefix}",
    )
    assert desc.online_store_uri.startswith("redis://")
    try:
        assert fg.ingest(df).online_rows_written == 3
        assert fg.ingest(df.assign(t=0.5, v=0)).online_rows_written == 0  # older: offline only
        assert fg.get_record("b") == {"id": "b", "t": 2.0, "v": 2}
        assert fg.batch_get_record(["c", "x"], feature_names=["v"]) == [{"v": 3}, None]
        fg.delete_record("a", 10.0)
        assert fg.get_record("a") is None
        assert fg.describe().online_record_count == 2
    finally:
        fg.delete()
    from rayline.featurestore.online import open_online_store

    store = open_online_store(desc.online_store_uri)
    assert not list(store._client.scan_iter(match=f"{prefix}*"))
