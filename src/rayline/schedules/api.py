"""The Python API of schedules: create, read, pause, resume and delete them (what the CLI and
the server's routes call). The server's ``rayline.schedules.service`` starts their executions.

Each call works on one backend, chosen by the shared rule (``rayline.remote.client.
server_client``): the metadata DB (``EmbeddedSchedules``), or with ``RAYLINE_SERVER_URL`` the
server's ``/api/v1/schedules`` (``rayline.schedules.remote``), which calls this same API there.
What needs no state (the name, the cron expression, the time zone) is checked here, before
either backend is asked.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any, Protocol

from rayline.config import settings
from rayline.errors import UserInputError
from rayline.schedules.entities import Schedule
from rayline.schedules.repository import open_schedules
from rayline.schedules.timing import MissedPolicy, check_cron, check_timezone, next_times

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")

#: How many next fire times ``describe`` shows.
NEXT_RUNS = 5


class Schedules(Protocol):
    """Where schedules live: what the functions below need of a backend."""

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
    ) -> Schedule: ...

    def get(self, name: str) -> Schedule: ...

    def list(self, *, pipeline: str | None, offset: int, limit: int | None) -> list[Schedule]: ...

    def set_paused(self, name: str, paused: bool) -> Schedule: ...

    def delete(self, name: str) -> None: ...


def create_schedule(
    name: str,
    *,
    pipeline: str,
    cron: str,
    parameters: dict[str, Any] | None = None,
    version: int | None = None,
    timezone: str = "UTC",
    missed: str | MissedPolicy = MissedPolicy.SKIP,
    db_url: str | None = None,
) -> Schedule:
    """Schedule stored pipeline ``pipeline`` to start at the times of ``cron`` (5 fields, read
    in ``timezone``) with ``parameters``, from now on. ``version`` pins a stored version (None:
    the latest at each fire time). The parameters are checked against that version's (unknown,
    mistyped or missing required ones raise ``ParameterError``), the pipeline must exist
    (``NotFoundError``), and the cron expression and time zone must be valid
    (``UserInputError``)."""
    if not _NAME.match(str(name)):
        raise UserInputError(
            f"schedule name {name!r} is invalid: use up to 256 letters, digits, '.', '_' and "
            "'-', starting with a letter or digit"
        )
    if version is not None and (isinstance(version, bool) or not 1 <= int(version) < 2**31):
        raise UserInputError(f"version {version!r} is not a pipeline version (1, 2, ...)")
    with _backend(db_url) as backend:
        return backend.create(
            name,
            pipeline=pipeline,
            cron=check_cron(cron),
            parameters=dict(parameters or {}),
            version=None if version is None else int(version),
            timezone=check_timezone(timezone),
            missed=MissedPolicy.parse(missed),
        )


def get_schedule(name: str, *, db_url: str | None = None) -> Schedule:
    """Schedule ``name`` with its next fire times (``NotFoundError`` if there is none)."""
    with _backend(db_url) as backend:
        return backend.get(name)


def list_schedules(
    *,
    pipeline: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    db_url: str | None = None,
) -> list[Schedule]:
    """Schedules by name (only ``pipeline``'s, if given), each with its next fire time."""
    with _backend(db_url) as backend:
        return backend.list(pipeline=pipeline, offset=offset, limit=limit)


def pause_schedule(name: str, *, db_url: str | None = None) -> Schedule:
    """Stop starting ``name``'s executions until it is resumed (running ones go on)."""
    with _backend(db_url) as backend:
        return backend.set_paused(name, True)


def resume_schedule(name: str, *, db_url: str | None = None) -> Schedule:
    """Start ``name``'s executions again, from now on: the paused period is not caught up."""
    with _backend(db_url) as backend:
        return backend.set_paused(name, False)


def delete_schedule(name: str, *, db_url: str | None = None) -> None:
    """Delete schedule ``name`` (the executions it started stay)."""
    with _backend(db_url) as backend:
        backend.delete(name)


@contextlib.contextmanager
def _backend(db_url: str | None) -> Iterator[Schedules]:
    """The server's schedules when the API goes through one, else the metadata DB's."""
    from rayline.remote.client import server_client

    client = server_client(db_url)
    if client is None:
        yield EmbeddedSchedules(db_url)
        return
    from rayline.schedules.remote import RemoteSchedules

    with client:
        yield RemoteSchedules(client)


class EmbeddedSchedules:
    """Schedules in the metadata DB (what a server, or a user without one, works on)."""

    def __init__(self, db_url: str | None) -> None:
        self._db_url = db_url
        self._repo = open_schedules(db_url)

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
        from rayline.definition.parameters import resolve_parameters
        from rayline.definition.pipeline import PipelineDefinition
        from rayline.engine.repository import open_repository

        resolved, text = open_repository(self._db_url).get_definition(pipeline, version)
        definition = PipelineDefinition.from_definition(text, name=pipeline)
        values = resolve_parameters(list(definition.parameters), parameters)
        now = time.time()
        schedule = Schedule(
            name=name,
            pipeline_name=pipeline,
            cron=cron,
            timezone=timezone,
            # only what was given, as the pipeline's types have it: the defaults of the
            # version that runs apply to the rest
            parameters={key: values[key] for key in parameters if parameters[key] is not None},
            pipeline_version=None if version is None else resolved,
            missed=missed.value,
            paused=False,
            created_by=settings().user,
            created_at=now,
            updated_at=now,
            anchor_at=now,
        )
        self._repo.insert(schedule)
        return _with_next_runs(self._repo.get(name))

    def get(self, name: str) -> Schedule:
        return _with_next_runs(self._repo.get(name))

    def list(self, *, pipeline: str | None, offset: int, limit: int | None) -> list[Schedule]:
        rows = self._repo.list(pipeline=pipeline, offset=offset, limit=limit)
        return [_with_next_runs(s, count=1) for s in rows]

    def set_paused(self, name: str, paused: bool) -> Schedule:
        return _with_next_runs(self._repo.set_paused(name, paused))

    def delete(self, name: str) -> None:
        self._repo.delete(name)


def _with_next_runs(schedule: Schedule, *, count: int = NEXT_RUNS) -> Schedule:
    if schedule.paused:
        return schedule
    after = max(schedule.after, time.time())
    runs = next_times(schedule.cron, schedule.timezone, after=after, count=count)
    return replace(schedule, next_runs=tuple(runs))
