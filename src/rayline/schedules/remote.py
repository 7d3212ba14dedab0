"""Schedules on a rayline server (``/api/v1/schedules``): the backend ``rayline.schedules.api``
works on when ``RAYLINE_SERVER_URL`` is set. The server checks and stores them with the same
API, embedded, and records the token's identity as their creator."""

from __future__ import annotations

import dataclasses
import itertools
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.remote.records import from_json
from rayline.schedules.entities import Schedule

if TYPE_CHECKING:
    from rayline.remote.client import Client
    from rayline.schedules.timing import MissedPolicy


class RemoteSchedules:
    """The server's schedules, through ``client``."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def create(
        self,
        name: str,
        *,
        pipeline: str,
        cron: str,
        parameters: dict[str, Any],
        version: int | None,
        timezone: str,
        missed: MissedPolicy,
    ) -> Schedule:
        body = {
            "name": name,
            "pipeline": pipeline,
            "cron": cron,
            "parameters": parameters,
            "version": version,
            "timezone": timezone,
            "missed": missed.value,
        }
        return _schedule(self._client.post("/schedules", json=body))

    def get(self, name: str) -> Schedule:
        return _schedule(self._client.get(_path(name)))

    def list(self, *, pipeline: str | None, offset: int, limit: int | None) -> list[Schedule]:
        # The pages start at the first schedule: the offset is skipped here.
        items = self._client.items(
            "/schedules",
            params={"pipeline": pipeline},
            limit=None if limit is None else offset + limit,
        )
        return [_schedule(item) for item in itertools.islice(items, offset, None)]

    def set_paused(self, name: str, paused: bool) -> Schedule:
        action = "pause" if paused else "resume"
        return _schedule(self._client.post(f"{_path(name)}/{action}"))

    def delete(self, name: str) -> None:
        self._client.delete(_path(name))


def _path(name: str) -> str:
    return f"/schedules/{quote(name, safe='')}"


def _schedule(data: Any) -> Schedule:
    schedule = from_json(Schedule, data)
    return dataclasses.replace(schedule, next_runs=tuple(schedule.next_runs))
