"""Event listeners: code outside the engine that reacts to an execution's recorded events.

The engine never imports the domains above it (tracking, and later the server and webhooks).
Instead, each listener subscribes here to the event kinds it cares about (``EventKind``), named
as a ``module:attribute`` string (as in ``rayline.step_kinds``) and imported only when such an
event is recorded. The scheduler hands every event it records to ``notify`` once the event's
transaction has committed; a listener is called as ``listener(event, repository)`` with the
``EventRecord`` and the engine's ``PipelineRepository`` (to read the execution). Listeners run
in the driver, on the scheduler's thread, for every event: one with slow work (tracking's MLflow
calls) queues it on a thread of its own and returns.

A listener that raises never changes the execution's outcome: the failure is recorded as a
``ListenerFailed`` event naming the listener.

Adding a listener is one line in ``LISTENERS``.
"""

from __future__ import annotations

from typing import Any

from rayline.engine.records import EventKind, EventRecord
from rayline.step_kinds import load

LISTENERS: dict[EventKind, tuple[str, ...]] = {
    # Every step's MLflow run: opened when it starts, recorded and ended when it finishes
    # (tracking queues the work on a thread of its own: the scheduler does not wait for MLflow).
    EventKind.STEP_STATUS: ("rayline.tracking.listener:track_step_event",),
    # A retried execution's MLflow run is running again.
    EventKind.EXECUTION_STATUS: ("rayline.tracking.listener:reopen_execution_run",),
    # Close the execution's MLflow run, once the steps' queued tracking work is done.
    EventKind.EXECUTION_ENDED: ("rayline.tracking.listener:close_execution_run",),
}


def notify(event: EventRecord, repository: Any) -> None:
    """Call every listener subscribed to ``event.kind``; record a ``ListenerFailed`` event for
    each that raises."""
    for target in LISTENERS.get(event.kind, ()):
        try:
            load(target)(event, repository)
        except Exception as exc:  # a listener must never change the execution's outcome
            repository.add_event(
                event.execution_id,
                EventKind.LISTENER_FAILED,
                step_name=event.step_name,
                detail=f"{target}: {type(exc).__name__}: {exc}",
            )
