"""Tracking's reaction to the engine's events (subscribed in ``rayline.engine.listeners``).

The engine calls listeners on the scheduler's thread, so these only queue the MLflow work on
tracking's background worker (``rayline.tracking.background``) and return; the execution's end
waits for its queued work, then ends the execution's run.
"""

from __future__ import annotations

from typing import Any

from rayline.config import settings
from rayline.engine.records import EventKind, EventRecord, StepStatus
from rayline.tracking import background
from rayline.tracking.runs import finish_execution_run

STEP_EVENTS_LISTENER = "rayline.tracking.listener:track_step_event"


def track_step_event(event: EventRecord, repository: Any) -> None:
    """Open a step's MLflow run when it starts, record and end it when it finishes (queued)."""
    if event.step_name is None or event.status is None:
        return
    status = StepStatus(event.status)
    if status == StepStatus.STARTING:
        from rayline.tracking.steps import open_step_run as work
    elif status.finished:
        from rayline.tracking.steps import close_step_run as work
    else:
        return
    uri = settings().mlflow_tracking_uri
    execution_id, step_name = event.execution_id, event.step_name

    def failed(exc: BaseException) -> None:
        # As the engine records a listener that raises: never the execution's outcome.
        repository.add_event(
            execution_id,
            EventKind.LISTENER_FAILED,
            step_name=step_name,
            detail=f"{STEP_EVENTS_LISTENER}: {type(exc).__name__}: {exc}",
        )

    background.submit(lambda: work(repository, execution_id, step_name, uri=uri), on_error=failed)


def close_execution_run(event: EventRecord, repository: Any) -> None:
    """End the execution's MLflow run with the execution's final status, after its steps' queued
    tracking work (no run: nothing to do, and MLflow is not imported)."""
    background.run_after_queued(
        lambda: finish_execution_run(
            event.execution_id,
            event.status,
            db_url=repository.db.url,
            uri=settings().mlflow_tracking_uri,
        )
    )
