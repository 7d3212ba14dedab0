"""Tracking's reaction to the engine's events (subscribed in ``rayline.engine.listeners``).

The engine calls listeners on the scheduler's thread, so these only queue the MLflow work for
tracking's worker process (``rayline.tracking.background``) and return: the jobs are the
functions of ``rayline.tracking.steps`` and ``rayline.tracking.runs`` named below, run in the
order the events happened, the execution's run ended after its steps'.
"""

from __future__ import annotations

import functools
from typing import Any

from rayline.engine.records import EventKind, EventRecord, ExecutionStatus, StepStatus
from rayline.tracking import background

STEP_EVENTS_LISTENER = "rayline.tracking.listener:track_step_event"
EXECUTION_END_LISTENER = "rayline.tracking.listener:close_execution_run"
REOPEN_LISTENER = "rayline.tracking.listener:reopen_execution_run"


def track_step_event(event: EventRecord, repository: Any) -> None:
    """Queue the opening of a step's MLflow run when it starts, and its record and end when it
    finishes."""
    if event.step_name is None or event.status is None:
        return
    status = StepStatus(event.status)
    if status == StepStatus.STARTING:
        job = "rayline.tracking.steps:step_started"
    elif status.finished:
        job = "rayline.tracking.steps:step_ended"
    else:
        return
    _queue(job, STEP_EVENTS_LISTENER, event, repository, step_name=event.step_name)


def reopen_execution_run(event: EventRecord, repository: Any) -> None:
    """Queue marking the execution's MLflow run running again when it is retried."""
    if event.status == ExecutionStatus.EXECUTING.value:
        _queue("rayline.tracking.runs:reopen_execution_run", REOPEN_LISTENER, event, repository)


def close_execution_run(event: EventRecord, repository: Any) -> None:
    """Queue the end of the execution's MLflow run with its final status, after its steps'
    work (an execution without a run: nothing to do, and MLflow is not imported)."""
    _queue(
        "rayline.tracking.runs:finish_execution_run",
        EXECUTION_END_LISTENER,
        event,
        repository,
        status=str(event.status),
    )


@functools.lru_cache(maxsize=64)
def _settings_of(execution_id: str) -> dict[str, str]:
    # Every job of an execution runs with the settings its first event saw (reading the
    # environment on each of a step's events would cost the scheduler more than queueing).
    return background.settings_now()


def _queue(job: str, listener: str, event: EventRecord, repository: Any, **kwargs: Any) -> None:
    execution_id = event.execution_id

    def failed(error: str) -> None:
        # As the engine records a listener that raises: never the execution's outcome.
        repository.add_event(
            execution_id,
            EventKind.LISTENER_FAILED,
            step_name=event.step_name,
            detail=f"{listener}: {error}",
        )

    background.submit(
        job,
        on_error=failed,
        env=_settings_of(execution_id),
        execution_id=execution_id,
        db_url=repository.db.url,
        **kwargs,
    )
