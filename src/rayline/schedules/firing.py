"""One tick of the schedules: find the due times, take them, start their executions.

``tick`` is what the server's service thread calls every second; it takes ``now`` and the
function that starts an execution as arguments, so its rules can be checked at any clock value.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from rayline.config import acting_as
from rayline.schedules.entities import Schedule
from rayline.schedules.repository import ScheduleRepository
from rayline.schedules.timing import MissedPolicy, due

log = logging.getLogger("rayline.schedules")

#: Starts ``schedule``'s pipeline for the scheduled time; returns the execution's id.
Starter = Callable[[Schedule, float], str]


@dataclass(frozen=True)
class Fired:
    """One scheduled time this tick took: the execution it started, or why none started."""

    schedule: str
    scheduled_at: float
    execution_id: str | None = None
    error: str | None = None


def tick(repo: ScheduleRepository, *, now: float, start: Starter | None = None) -> list[Fired]:
    """Start every active schedule's times due at ``now``. A schedule that fails (its pipeline
    deleted, a parameter the latest version no longer takes) has the error recorded on it and
    does not stop the others."""
    starter = start or functools.partial(start_execution, db_url=repo.db.url)
    fired: list[Fired] = []
    for schedule in repo.active():
        try:
            fired.extend(_fire(repo, schedule, now=now, start=starter))
        except Exception:
            log.exception("schedule %r: its tick failed; trying again at the next", schedule.name)
    return fired


def _fire(
    repo: ScheduleRepository, schedule: Schedule, *, now: float, start: Starter
) -> list[Fired]:
    policy = MissedPolicy(schedule.missed)
    found = due(schedule.cron, schedule.timezone, after=schedule.after, now=now, missed=policy)
    if found.newest is None:
        return []
    notice = found.notice(policy)
    if notice is not None:
        notice = f"{_iso(now)}: {notice}"
        log.warning("schedule %r: %s", schedule.name, notice)
    # The compare-and-set: of several servers (or a pause in between), one takes these times.
    if not repo.take(schedule, found.newest, notice=notice):
        return []
    fired = []
    for scheduled_at in found.fire:
        try:
            execution_id = start(schedule, scheduled_at)
        except Exception as exc:
            error = (
                f"starting {schedule.pipeline_name!r} for {_iso(scheduled_at)} failed: "
                f"{type(exc).__name__}: {exc}"
            )
            log.warning("schedule %r: %s", schedule.name, error)
            repo.record_start(schedule.name, error=error)
            fired.append(Fired(schedule.name, scheduled_at, error=error))
            continue
        repo.record_start(schedule.name, execution_id=execution_id)
        fired.append(Fired(schedule.name, scheduled_at, execution_id=execution_id))
    return fired


def start_execution(schedule: Schedule, scheduled_at: float, *, db_url: str | None = None) -> str:
    """Start ``schedule``'s pipeline (its pinned version, or the latest now) with its
    parameters, driven by this process; the execution records ``schedule:<name>`` as who
    started it."""
    from rayline.engine.repository import open_repository
    from rayline.pipelines import Pipeline
    from rayline.store.db import open_database

    db_url = open_database(db_url).url
    with acting_as(f"schedule:{schedule.name}"):
        version, text = open_repository(db_url).get_definition(
            schedule.pipeline_name, schedule.pipeline_version
        )
        pipeline = Pipeline.from_definition(text, name=schedule.pipeline_name)
        execution = pipeline.start(dict(schedule.parameters), version=version, db_url=db_url)
    log.info(
        "schedule %r started execution %s of %s v%d for %s",
        schedule.name,
        execution.id,
        schedule.pipeline_name,
        version,
        _iso(scheduled_at),
    )
    return execution.id


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")
