"""The Redis online store: one hash per record, latest-wins applied atomically by a Lua script.

Keys are ``<prefix>fs:<group>:<record id>`` with fields ``t`` (event time), ``p`` (JSON payload;
absent after a soft delete) and ``x`` (expiry, also set as the key's Redis expiry so expired
records free their memory). ``?prefix=`` in the URI namespaces the keys (tests, shared servers).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from urllib.parse import parse_qs, urlencode, urlparse, urlunparse

from rayline.errors import BackendError
from rayline.featurestore.online import OnlineRecords, is_live

_PUT = """
local applied = 0
for i, k in ipairs(KEYS) do
  local t = ARGV[3 * i - 2]
  local x = ARGV[3 * i - 1]
  local p = ARGV[3 * i]
  local cur = redis.call('HGET', k, 't')
  if (not cur) or tonumber(t) > tonumber(cur) then
    redis.call('DEL', k)
    if p == '\\0' then
      redis.call('HSET', k, 't', t)
    else
      redis.call('HSET', k, 't', t, 'p', p)
    end
    if x ~= '' then
      redis.call('HSET', k, 'x', x)
      redis.call('PEXPIREAT', k, math.floor(tonumber(x) * 1000))
    end
    applied = applied + 1
  end
end
return applied
"""

_HARD_DELETE = """
local cur = redis.call('HGET', KEYS[1], 't')
if not cur then return -1 end
if tonumber(ARGV[1]) > tonumber(cur) then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

_BATCH = 2000


class RedisOnlineStore:
    """Online store in Redis (``redis://host:6379/0?prefix=myapp:``)."""

    def __init__(self, uri: str) -> None:
        import redis

        parsed = urlparse(uri)
        query = parse_qs(parsed.query)
        self.prefix = (query.pop("prefix", [""])[0]) + "fs:"
        clean = urlunparse(parsed._replace(query=urlencode(query, doseq=True)))
        self.uri = uri
        try:
            self._client = redis.Redis.from_url(clean, decode_responses=True)
            self._client.ping()
        except redis.RedisError as exc:
            raise BackendError(
                f"cannot reach the Redis online store at {parsed.hostname}:{parsed.port}: {exc}"
            ) from exc
        self._put = self._client.register_script(_PUT)
        self._hard_delete = self._client.register_script(_HARD_DELETE)

    def _key(self, group: str, record_id: str) -> str:
        return f"{self.prefix}{group}:{record_id}"

    def put(self, group: str, records: OnlineRecords) -> int:
        """Apply the records newer than the stored ones, atomically per batch (a Lua script)."""
        applied = 0
        prefix = f"{self.prefix}{group}:"
        for part in records.chunks(_BATCH):
            keys = [prefix + r for r in part.record_ids]
            args: list[str] = []
            for _rid, t, x, p in part.rows():
                args.append(repr(float(t)))
                args.append("" if x is None else repr(float(x)))
                args.append("\0" if p is None else p)
            applied += int(self._put(keys=keys, args=args))
        return applied

    def get(self, group: str, record_id: str) -> str | None:
        """The payload of a live record, else None."""
        payload, expires = self._client.hmget(self._key(group, record_id), "p", "x")
        return payload if is_live(payload, expires, time.time()) else None

    def batch_get(self, group: str, record_ids: Sequence[str]) -> dict[str, str]:
        """Payloads of the live records among ``record_ids`` (one pipelined round trip)."""
        ids = list(dict.fromkeys(record_ids))
        if not ids:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for rid in ids:
            pipe.hmget(self._key(group, rid), "p", "x")
        now = time.time()
        out = {}
        for rid, (payload, expires) in zip(ids, pipe.execute(), strict=True):
            if is_live(payload, expires, now):
                out[rid] = payload
        return out

    def hard_delete(self, group: str, record_id: str, event_time: float) -> bool | None:
        """Remove a record older than ``event_time`` (see ``OnlineStore.hard_delete``)."""
        result = int(
            self._hard_delete(keys=[self._key(group, record_id)], args=[repr(float(event_time))])
        )
        return None if result < 0 else bool(result)

    def _keys(self, group: str):
        return self._client.scan_iter(match=f"{_glob_escape(self.prefix + group)}:*", count=1000)

    def count(self, group: str) -> int:
        """Live records of a group (scans the group's keys)."""
        keys = list(self._keys(group))
        if not keys:
            return 0
        pipe = self._client.pipeline(transaction=False)
        for k in keys:
            pipe.hmget(k, "p", "x")
        now = time.time()
        return sum(1 for p, x in pipe.execute() if is_live(p, x, now))

    def drop_group(self, group: str) -> None:
        """Remove every record of a group."""
        batch = []
        for key in self._keys(group):
            batch.append(key)
            if len(batch) >= 1000:
                self._client.unlink(*batch)
                batch = []
        if batch:
            self._client.unlink(*batch)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


def _glob_escape(text: str) -> str:
    return "".join("\\" + c if c in "*?[]\\" else c for c in text)
