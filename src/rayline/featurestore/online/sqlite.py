"""The SQLite online store: one file, one table, latest-wins upserts in SQL.

Reads use the ``sqlite3`` module directly with one cached connection per thread (its statement
cache keeps the SELECT prepared), because an ORM round trip would cost more than the read.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

from rayline.errors import BackendError, ConfigError
from rayline.featurestore.online import OnlineRecords, is_live

_SCHEMA = """
CREATE TABLE IF NOT EXISTS online_records (
    feature_group TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event_time REAL NOT NULL,
    expires_at REAL,
    payload TEXT,
    PRIMARY KEY (feature_group, record_id)
) WITHOUT ROWID
"""

# Latest event time wins: an older or equal event leaves the stored record alone.
_UPSERT = """
INSERT INTO online_records (feature_group, record_id, event_time, expires_at, payload)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (feature_group, record_id) DO UPDATE SET
    event_time = excluded.event_time, expires_at = excluded.expires_at, payload = excluded.payload
WHERE excluded.event_time > online_records.event_time
"""

_GET = "SELECT payload, expires_at FROM online_records WHERE feature_group = ? AND record_id = ?"

_CHUNK = 200_000


class SQLiteOnlineStore:
    """Online store in a SQLite file (``sqlite:////abs/path.db``)."""

    def __init__(self, uri: str) -> None:
        parsed = urlparse(uri)
        raw = unquote(parsed.path)
        # sqlite:///rel.db → "/rel.db"; sqlite:////abs.db → "//abs.db" (SQLAlchemy's convention)
        path = raw[1:] if raw.startswith("/") else raw
        if not path:
            raise ConfigError(f"online store URI {uri!r} names no file")
        self.uri = uri
        self.path = Path(path).expanduser().resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._conn() as conn:
            conn.execute(_SCHEMA)

    def _conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            import sqlite3

            try:
                conn = sqlite3.connect(
                    self.path,
                    timeout=60,
                    isolation_level=None,
                    cached_statements=256,
                    check_same_thread=False,
                )
            except sqlite3.Error as exc:
                raise BackendError(f"cannot open the online store {self.path}: {exc}") from exc
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return _Txn(conn)

    def _read_conn(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            self._conn()
            conn = self._local.conn
        return conn

    def put(self, group: str, records: OnlineRecords) -> int:
        """Upsert the records newer than the stored ones, in one transaction per chunk."""
        applied = 0
        for part in records.chunks(_CHUNK):
            rows = ((group, *row) for row in part.rows())
            with self._conn() as conn:
                applied += conn.executemany(_UPSERT, rows).rowcount
        return applied

    def get(self, group: str, record_id: str) -> str | None:
        """The payload of a live record, else None."""
        row = self._read_conn().execute(_GET, (group, record_id)).fetchone()
        if row is None or not is_live(*row, time.time()):
            return None
        return row[0]

    def batch_get(self, group: str, record_ids: Sequence[str]) -> dict[str, str]:
        """Payloads of the live records among ``record_ids``."""
        if not record_ids:
            return {}
        now = time.time()
        out: dict[str, str] = {}
        conn = self._read_conn()
        ids = list(dict.fromkeys(record_ids))
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            sql = (
                "SELECT record_id, payload, expires_at FROM online_records WHERE feature_group = ?"
                f" AND record_id IN ({','.join('?' * len(part))})"
            )
            for rid, payload, expires in conn.execute(sql, (group, *part)):
                if is_live(payload, expires, now):
                    out[rid] = payload
        return out

    def hard_delete(self, group: str, record_id: str, event_time: float) -> bool | None:
        """Remove a record older than ``event_time`` (see ``OnlineStore.hard_delete``)."""
        with self._conn() as conn:
            row = conn.execute(
                "SELECT event_time FROM online_records WHERE feature_group = ? AND record_id = ?",
                (group, record_id),
            ).fetchone()
            if row is None:
                return None
            if row[0] >= event_time:
                return False
            conn.execute(
                "DELETE FROM online_records WHERE feature_group = ? AND record_id = ?",
                (group, record_id),
            )
            return True

    def count(self, group: str) -> int:
        """Live records of a group."""
        (n,) = (
            self._read_conn()
            .execute(
                "SELECT count(*) FROM online_records WHERE feature_group = ?"
                " AND payload IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)",
                (group, time.time()),
            )
            .fetchone()
        )
        return int(n)

    def drop_group(self, group: str) -> None:
        """Remove every record of a group."""
        with self._conn() as conn:
            conn.execute("DELETE FROM online_records WHERE feature_group = ?", (group,))

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


class _Txn:
    """``with`` = one IMMEDIATE transaction (writers queue on the lock instead of failing)."""

    def __init__(self, conn) -> None:
        self.conn = conn

    def __enter__(self):
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
        return False
