"""Online stores: the latest record per identifier, for low-latency reads.

One narrow interface (``OnlineStore``), backends chosen by URI and imported lazily:

==============================  =====================================================
URI                             backend
==============================  =====================================================
``sqlite:///path/online.db``    SQLite file (default: ``$RAYLINE_HOME/online-store.db``)
``redis://host:port/db``        Redis; ``?prefix=...`` namespaces the keys
==============================  =====================================================

Every backend keeps, per (feature group, record identifier), the event time, an optional
expiry and the record's JSON payload (``None`` after a soft delete), and applies a write only
when its event time is newer than the stored one (latest event time wins).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlparse

from rayline.config import settings
from rayline.errors import ConfigError


@dataclass(frozen=True)
class OnlineRecords:
    """A batch of records to write to an online store, column by column: each record's
    identifier, event time (Unix seconds), expiry (Unix seconds or None) and JSON payload
    (``None`` is a soft-delete tombstone)."""

    record_ids: Sequence[str]
    event_times: Sequence[float]
    expires_at: Sequence[float | None]
    payloads: Sequence[str | None]

    @classmethod
    def tombstone(cls, record_id: str, event_time: float) -> OnlineRecords:
        """The soft delete of one record as of ``event_time``."""
        return cls([record_id], [event_time], [None], [None])

    def __len__(self) -> int:
        return len(self.record_ids)

    def chunks(self, size: int) -> Iterator[OnlineRecords]:
        """The batch in consecutive parts of at most ``size`` records."""
        for start in range(0, len(self), size):
            end = start + size
            yield OnlineRecords(
                self.record_ids[start:end],
                self.event_times[start:end],
                self.expires_at[start:end],
                self.payloads[start:end],
            )

    def rows(self) -> Iterator[tuple[str, float, float | None, str | None]]:
        """``(record id, event time, expires at, payload)`` per record."""
        return zip(self.record_ids, self.event_times, self.expires_at, self.payloads, strict=True)


def is_live(payload: str | None, expires_at: float | str | None, now: float) -> bool:
    """Whether a stored record is readable at ``now``: present, not soft-deleted, not expired."""
    return payload is not None and (expires_at is None or float(expires_at) > now)


class OnlineStore(Protocol):
    """The interface every online store backend implements."""

    uri: str

    def put(self, group: str, records: OnlineRecords) -> int:
        """Write the records that are newer than the stored ones (latest event time wins);
        returns how many were applied."""

    def get(self, group: str, record_id: str) -> str | None:
        """The JSON payload of a live (present, not deleted, not expired) record, else None."""

    def batch_get(self, group: str, record_ids: Sequence[str]) -> dict[str, str]:
        """Payloads of the live records among ``record_ids`` (missing ones are absent)."""

    def hard_delete(self, group: str, record_id: str, event_time: float) -> bool | None:
        """Remove a record whose event time is older than ``event_time``: True when removed,
        None when absent, False when the stored record is not older (nothing removed)."""

    def count(self, group: str) -> int:
        """Live records of a group."""

    def drop_group(self, group: str) -> None:
        """Remove every record of a group."""


ONLINE_STORE_ENV = "RAYLINE_ONLINE_STORE_URI"

_lock = threading.Lock()
_open: dict[tuple[int, str], OnlineStore] = {}


def default_online_store_uri() -> str:
    """``RAYLINE_ONLINE_STORE_URI``, else a SQLite file in ``RAYLINE_HOME``."""
    return settings().online_store_uri


def open_online_store(uri: str | None = None) -> OnlineStore:
    """The online store at ``uri`` (cached per process, so connections are reused)."""
    uri = uri or default_online_store_uri()
    key = (os.getpid(), uri)
    store = _open.get(key)
    if store is not None:
        return store
    with _lock:
        store = _open.get(key)
        if store is None:
            store = _make(uri)
            _open[key] = store
    return store


def _make(uri: str) -> OnlineStore:
    scheme = urlparse(uri).scheme
    if scheme == "sqlite":
        from rayline.featurestore.online.sqlite import SQLiteOnlineStore

        return SQLiteOnlineStore(uri)
    if scheme in ("redis", "rediss"):
        from rayline.featurestore.online.redis import RedisOnlineStore

        return RedisOnlineStore(uri)
    raise ConfigError(
        f"online store URI {uri!r}: use 'sqlite:////path/online-store.db' or "
        "'redis://host:6379/0' (set RAYLINE_ONLINE_STORE_URI or pass online_store_uri=)"
    )
