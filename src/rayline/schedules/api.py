"""The Python API of schedules: create, read, pause, resume and delete them (what the CLI and
the server's routes call). The server's ``rayline.schedules.service`` starts their executions."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import Any

from rayline.config import settings
from rayline.errors import UserInputError
from rayline.schedules.entities import Schedule
from rayline.schedules.repository import open_schedules
from rayline.schedules.timing import MissedPolicy, check_cron, check_timezone, next_times

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,255}$")

#: How many next fire times ``describe`` shows.
NEXT_RUNS = 5


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
    from rayline.definition.parameters import resolve_parameters
    from rayline.definition.pipeline import PipelineDefinition
    from rayline.engine.repository import open_repository

    if not _NAME.match(str(name)):
        raise UserInputError(
            f"schedule name {name!r} is invalid: use up to 256 letters, digits, '.', '_' and "
            "'-', starting with a letter or digit"
        )
    cron = check_cron(cron)
    timezone = check_timezone(timezone)
    policy = MissedPolicy.parse(missed)
    if version is not None and (isinstance(version, bool) or not 1 <= int(version) < 2**31):
        raise UserInputError(f"version {version!r} is not a pipeline version (1, 2, ...)")
    resolved, text = open_repository(db_url).get_definition(pipeline, version)
    definition = PipelineDefinition.from_definition(text, name=pipeline)
    given = dict(parameters or {})
    values = resolve_parameters(list(definition.parameters), given)
    now = time.time()
    schedule = Schedule(
        name=name,
        pipeline_name=pipeline,
        cron=cron,
        timezone=timezone,
        # only what was given, as the pipeline's types have it: the defaults of the version
        # that runs apply to the rest
        parameters={key: values[key] for key in given if given[key] is not None},
        pipeline_version=None if version is None else resolved,
        missed=policy.value,
        paused=False,
        created_by=settings().user,
        created_at=now,
        updated_at=now,
        anchor_at=now,
    )
    repo = open_schedules(db_url)
    repo.insert(schedule)
    return _with_next_runs(repo.get(name))


def get_schedule(name: str, *, db_url: str | None = None) -> Schedule:
    """Schedule ``name`` with its next fire times (``NotFoundError`` if there is none)."""
    return _with_next_runs(open_schedules(db_url).get(name))


def list_schedules(
    *,
    pipeline: str | None = None,
    offset: int = 0,
    limit: int | None = None,
    db_url: str | None = None,
) -> list[Schedule]:
    """Schedules by name (only ``pipeline``'s, if given), each with its next fire time."""
    rows = open_schedules(db_url).list(pipeline=pipeline, offset=offset, limit=limit)
    return [_with_next_runs(s, count=1) for s in rows]


def pause_schedule(name: str, *, db_url: str | None = None) -> Schedule:
    """Stop starting ``name``'s executions until it is resumed (running ones go on)."""
    return _with_next_runs(open_schedules(db_url).set_paused(name, True))


def resume_schedule(name: str, *, db_url: str | None = None) -> Schedule:
    """Start ``name``'s executions again, from now on: the paused period is not caught up."""
    return _with_next_runs(open_schedules(db_url).set_paused(name, False))


def delete_schedule(name: str, *, db_url: str | None = None) -> None:
    """Delete schedule ``name`` (the executions it started stay)."""
    open_schedules(db_url).delete(name)


def _with_next_runs(schedule: Schedule, *, count: int = NEXT_RUNS) -> Schedule:
    if schedule.paused:
        return schedule
    after = max(schedule.after, time.time())
    runs = next_times(schedule.cron, schedule.timezone, after=after, count=count)
    return replace(schedule, next_runs=tuple(runs))
