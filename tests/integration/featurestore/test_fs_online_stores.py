"""The one online-store suite every backend passes (SQLite file, the machine's Redis)."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from tests.conftest import REDIS_URL

from rayline.featurestore.online import OnlineRecords


@pytest.fixture(params=["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def store(request, tmp_path):
    if request.param == "sqlite":
        from rayline.featurestore.online.sqlite import SQLiteOnlineStore

        s = SQLiteOnlineStore(f"sqlite:///{tmp_path / 'online.db'}")
        yield s
        s.close()
    else:
        from rayline.featurestore.online.redis import RedisOnlineStore

        prefix = f"test-{uuid.uuid4().hex[:8]}:"
        s = RedisOnlineStore(f"{REDIS_URL}?prefix={prefix}")
        yield s
        leftover = list(s._client.scan_iter(match=f"{prefix}*"))
        if leftover:
            s._client.delete(*leftover)
        s.close()


def _p(**values) -> str:
    return json.dumps(values)


def _put(store, group, rows):
    """rows: (id, event time, payload dict or None, expires or None)."""
    return store.put(
        group,
        OnlineRecords(
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[3] if len(r) > 3 else None for r in rows],
            [None if r[2] is None else json.dumps(r[2]) for r in rows],
        ),
    )


def test_put_then_get_and_missing(store):
    assert _put(store, "g", [("a", 10.0, {"x": 1}), ("b", 10.0, {"x": 2})]) == 2
    assert json.loads(store.get("g", "a")) == {"x": 1}
    assert store.get("g", "zzz") is None
    assert store.get("other", "a") is None


def test_latest_event_time_wins(store):
    _put(store, "g", [("a", 10.0, {"v": "first"})])
    assert _put(store, "g", [("a", 5.0, {"v": "older"})]) == 0
    assert _put(store, "g", [("a", 10.0, {"v": "equal"})]) == 0
    assert json.loads(store.get("g", "a")) == {"v": "first"}
    assert _put(store, "g", [("a", 11.5, {"v": "newer"})]) == 1
    assert json.loads(store.get("g", "a")) == {"v": "newer"}


def test_latest_wins_within_one_batch_whatever_the_order(store):
    applied = _put(store, "g", [("a", 3.0, {"v": 3}), ("a", 7.0, {"v": 7}), ("a", 5.0, {"v": 5})])
    assert applied == 2  # 3 inserted, 7 replaced it, 5 is older
    assert json.loads(store.get("g", "a")) == {"v": 7}


def test_batch_get_returns_live_records_only(store):
    _put(store, "g", [(str(i), 1.0, {"i": i}) for i in range(10)])
    _put(store, "g", [("3", 2.0, None)])  # soft-deleted
    got = store.batch_get("g", ["1", "3", "9", "missing", "1"])
    assert set(got) == {"1", "9"}
    assert json.loads(got["9"]) == {"i": 9}
    assert store.batch_get("g", []) == {}


def test_soft_delete_tombstone_blocks_older_writes(store):
    _put(store, "g", [("a", 10.0, {"v": 1})])
    assert _put(store, "g", [("a", 20.0, None)]) == 1
    assert store.get("g", "a") is None
    assert _put(store, "g", [("a", 15.0, {"v": "stale"})]) == 0
    assert store.get("g", "a") is None
    assert _put(store, "g", [("a", 25.0, {"v": 2})]) == 1
    assert json.loads(store.get("g", "a")) == {"v": 2}


def test_hard_delete(store):
    _put(store, "g", [("a", 10.0, {"v": 1})])
    assert store.hard_delete("g", "a", 10.0) is False  # not newer: nothing removed
    assert store.get("g", "a") is not None
    assert store.hard_delete("g", "a", 11.0) is True
    assert store.get("g", "a") is None
    assert store.hard_delete("g", "a", 12.0) is None
    # After a hard delete nothing remembers the record: an older write comes back.
    assert _put(store, "g", [("a", 5.0, {"v": 0})]) == 1


def test_ttl_expired_records_are_not_returned(store):
    now = time.time()
    _put(store, "g", [("old", 1.0, {"v": 1}, now - 1), ("live", 1.0, {"v": 2}, now + 3600)])
    assert store.get("g", "old") is None
    assert json.loads(store.get("g", "live")) == {"v": 2}
    assert set(store.batch_get("g", ["old", "live"])) == {"live"}
    assert store.count("g") == 1


def test_count_and_drop_group_are_per_group(store):
    _put(store, "g1", [(str(i), 1.0, {"i": i}) for i in range(5)])
    _put(store, "g2", [(str(i), 1.0, {"i": i}) for i in range(3)])
    _put(store, "g1", [("4", 2.0, None)])
    assert store.count("g1") == 4
    assert store.count("g2") == 3
    store.drop_group("g1")
    assert store.count("g1") == 0
    assert store.get("g1", "0") is None
    assert json.loads(store.get("g2", "0")) == {"i": 0}


def test_identifiers_with_separators_and_unicode(store):
    ids = ["a:b", "x*y", "naïve", "with space", "a" * 300]
    _put(store, "g", [(rid, 1.0, {"id": rid}) for rid in ids])
    for rid in ids:
        assert json.loads(store.get("g", rid)) == {"id": rid}
    assert store.count("g") == len(ids)


def test_large_batch(store):
    n = 5000
    assert _put(store, "g", [(str(i), float(i), {"i": i}) for i in range(n)]) == n
    assert store.count("g") == n
    assert json.loads(store.get("g", "4321")) == {"i": 4321}
