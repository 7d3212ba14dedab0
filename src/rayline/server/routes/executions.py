"""/api/v1/executions: read executions, their steps, logs and event log (also as a live stream
of Server-Sent Events), and stop or retry them.

Reads call the engine's records API (``rayline.engine.api``: one indexed SELECT each, no Ray,
nothing heavy imported per request); stop and retry call ``Execution.stop()`` /
``Execution.retry()``, and a retried execution is driven by this server.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import PlainTextResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from rayline.auth.actions import Action
from rayline.engine import api as engine
from rayline.engine.records import EventRecord, ExecutionRecord, ExecutionStatus, StepRunRecord
from rayline.errors import UserInputError
from rayline.server import streams
from rayline.server.pagination import PageRequest, page_request, paginate
from rayline.server.routes import MAX_INT
from rayline.server.security import requires

router = APIRouter(prefix="/executions", tags=["executions"])

VIEWER = [Depends(requires(Action.READ))]


class RetryBody(BaseModel):
    """``POST /executions/{id}/retry``: the step parallelism from now on (default: as it was
    started)."""

    model_config = ConfigDict(extra="forbid")

    max_parallel_steps: int | None = Field(default=None, ge=1, le=MAX_INT)


@router.get("", dependencies=VIEWER)
def list_executions(
    page: Annotated[PageRequest, Depends(page_request)],
    pipeline: Annotated[str | None, Query(max_length=256)] = None,
    status: ExecutionStatus | None = None,
) -> dict[str, Any]:
    """Executions, newest first (of one ``pipeline``, in one ``status``)."""
    return paginate(
        page,
        lambda offset, n: engine.page_executions(
            pipeline_name=pipeline,
            status=status.value if status else None,
            offset=offset,
            limit=n,
        ),
    )


@router.get("/{execution_id}", dependencies=VIEWER)
def describe_execution(execution_id: str) -> ExecutionRecord:
    return engine.get_execution(execution_id)


@router.get("/{execution_id}/steps", dependencies=VIEWER)
def list_steps(execution_id: str) -> list[StepRunRecord]:
    """The steps that have started, in start order."""
    engine.get_execution(execution_id)  # 404 for an unknown execution, not an empty list
    return engine.step_runs(execution_id)


@router.get("/{execution_id}/steps/{step_name}", dependencies=VIEWER)
def get_step(execution_id: str, step_name: str) -> StepRunRecord:
    return engine.step_run(execution_id, step_name)


@router.get(
    "/{execution_id}/steps/{step_name}/logs",
    dependencies=VIEWER,
    response_class=PlainTextResponse,
)
def step_logs(execution_id: str, step_name: str, follow: bool = False) -> Any:
    """What the step printed (``text/plain``). ``follow=true`` streams it as it grows until the
    step ends (a step that has not started yet: from when it starts)."""
    from rayline.executions import Execution

    execution = Execution(execution_id)
    if not follow:
        return PlainTextResponse(execution.logs(step_name))
    _check_step_exists(execution, step_name)
    return StreamingResponse(
        streams.log_stream(execution, step_name),
        media_type="text/plain; charset=utf-8",
        headers=streams.SSE_HEADERS,
    )


@router.get("/{execution_id}/events", dependencies=VIEWER)
def list_events(
    execution_id: str, after_id: Annotated[int, Query(ge=0, le=MAX_INT)] = 0
) -> list[EventRecord]:
    """The event log, oldest first (only the events after ``after_id``)."""
    engine.get_execution(execution_id)
    return engine.events(execution_id, after_id=after_id)


@router.get(
    "/{execution_id}/events/stream",
    dependencies=VIEWER,
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
def stream_events(
    execution_id: str,
    after_id: Annotated[int, Query(ge=0, le=MAX_INT)] = 0,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
) -> StreamingResponse:
    """The event log as Server-Sent Events (``id:`` the event id, ``event:`` its kind,
    ``data:`` the event as JSON), from ``Last-Event-ID`` (a reconnecting client) or
    ``after_id``; ``event: end`` with the execution's record once it has ended."""
    engine.get_execution(execution_id)  # 404 for an unknown execution
    cursor = after_id
    if last_event_id is not None and last_event_id.strip():
        if not last_event_id.strip().isdigit():
            raise UserInputError(
                f"Last-Event-ID {last_event_id!r} is not an event id this server sent (a whole "
                "number); send the id: of the last event received, or none"
            )
        cursor = int(last_event_id)
    return StreamingResponse(
        streams.event_stream(execution_id, after_id=cursor),
        media_type="text/event-stream",
        headers=streams.SSE_HEADERS,
    )


@router.post("/{execution_id}/stop", dependencies=[Depends(requires(Action.STOP_EXECUTION))])
def stop_execution(execution_id: str) -> ExecutionRecord:
    """Ask the execution to stop (409 unless it is Executing); returns its record."""
    from rayline.executions import Execution

    execution = Execution(execution_id)
    execution.stop()
    return execution.describe()


@router.post("/{execution_id}/retry", dependencies=[Depends(requires(Action.START_EXECUTION))])
def retry_execution(execution_id: str, body: RetryBody | None = None) -> ExecutionRecord:
    """Run a Failed or Stopped execution again from its unfinished steps, driven by this
    server (409 when it succeeded or is running), at most ``max_parallel_steps`` steps at once
    from now on if given; returns its record."""
    from rayline.definition.policies import ParallelismConfiguration
    from rayline.executions import Execution

    steps = body.max_parallel_steps if body else None
    config = ParallelismConfiguration(steps) if steps is not None else None
    execution = Execution(execution_id).retry(parallelism_config=config)
    return execution.describe()


def _check_step_exists(execution: Any, step_name: str) -> None:
    """A followed log of a step the pipeline does not have would wait forever: 404 instead."""
    from rayline.definition.pipeline import PipelineDefinition
    from rayline.errors import NotFoundError

    record = execution.describe()
    _, text = engine.get_definition(record.pipeline_name, record.pipeline_version)
    steps = PipelineDefinition.from_definition(text, name=record.pipeline_name).graph.steps
    if step_name not in steps:
        raise NotFoundError(
            f"pipeline {record.pipeline_name!r} (version {record.pipeline_version}) has no step "
            f"{step_name!r}; its steps: {', '.join(steps)}"
        )
