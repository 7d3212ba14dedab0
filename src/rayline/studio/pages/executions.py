"""Executions: the list, and one execution's DAG with live step states, its steps' logs and
properties, stop and retry.

The live view reads the event log through the server's own Server-Sent Events stream
(``rayline.server.streams.event_stream``), authenticated by the session cookie (a browser's
``EventSource`` cannot send a bearer token). Stop and retry call the Python API
(``Execution.stop``/``retry``) acting as the signed-in identity (operators only), audited.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rayline.engine.records import ExecutionStatus
from rayline.errors import PermissionDeniedError, RaylineError, UserInputError
from rayline.server import streams
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded, guarded_json
from rayline.studio.pages.pipelines import graph_layout, repository, stored_graph
from rayline.studio.web import (
    PREFIX,
    Ctx,
    error_page,
    fetch,
    json_response,
    page,
    render,
    script_json,
    studio_page,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = 50
PageCtx = Annotated[Ctx, Depends(page)]
FetchCtx = Annotated[Ctx, Depends(fetch)]


@router.get("/executions")
@studio_page
def executions(
    ctx: PageCtx,
    status: Annotated[str | None, Query(max_length=32)] = None,
    pipeline: Annotated[str | None, Query(max_length=256)] = None,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    chosen = None
    if status:
        try:
            chosen = ExecutionStatus(status)
        except ValueError:
            raise UserInputError(
                f"status {status!r} is not an execution status; use one of "
                f"{', '.join(s.value for s in ExecutionStatus)}"
            ) from None
    records = repository().page_executions(
        pipeline_name=pipeline or None,
        status=chosen.value if chosen else None,
        offset=offset,
        limit=PAGE + 1,
    )
    return render(
        ctx,
        "executions.html",
        executions=records[:PAGE],
        more=len(records) > PAGE,
        offset=offset,
        page_size=PAGE,
        chosen=chosen.value if chosen else "",
        pipeline=pipeline or "",
        statuses=[s.value for s in ExecutionStatus],
    )


@router.get("/executions/{execution_id}")
@studio_page
def execution(execution_id: str, ctx: PageCtx) -> Response:
    return _execution_page(ctx, execution_id)


def _execution_page(
    ctx: Ctx, execution_id: str, *, error: str | None = None, status: int = 200
) -> Response:
    repo = repository()
    record = repo.get_execution(execution_id)
    _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
    state = _state(repo, record, list(definition.graph.steps))
    return render(
        ctx,
        "execution.html",
        status=status,
        execution=record,
        graph=graph_layout(definition),
        state=state,
        state_json=script_json(state),
        error=error,
    )


def _state(repo: Any, record: Any, steps: list[str]) -> dict[str, Any]:
    """What the live view draws: each step's status, duration, attempts and cache hit, and
    the count of steps per status."""
    runs = {r.step_name: r for r in repo.list_step_runs(record.id)}
    by_step = {}
    for name in steps:
        run = runs.get(name)
        by_step[name] = {
            "status": run.status.value if run else "Pending",
            "attempts": run.attempts if run else 0,
            "elapsed_s": run.elapsed_s if run else None,
            "cached_from": run.cached_from if run else None,
        }
    summary: dict[str, int] = {}
    for entry in by_step.values():
        summary[entry["status"]] = summary.get(entry["status"], 0) + 1
    return {
        "execution": {
            "id": record.id,
            "status": record.status.value,
            "finished": record.status.finished,
            "elapsed_s": record.elapsed_s,
            "failure_reason": record.failure_reason,
            "now": time.time(),
        },
        "steps": by_step,
        "summary": summary,
    }


@router.get("/executions/{execution_id}/state")
def execution_state(execution_id: str, ctx: FetchCtx) -> Response:
    def read() -> Response:
        repo = repository()
        record = repo.get_execution(execution_id)
        _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
        return json_response(ctx, _state(repo, record, list(definition.graph.steps)))

    return guarded_json(ctx, read)


@router.get("/executions/{execution_id}/events")
def execution_events(
    execution_id: str,
    ctx: FetchCtx,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """The execution's event log as Server-Sent Events: the REST API's stream, behind the
    session cookie."""

    def open_stream() -> Response:
        repo = repository()
        repo.get_execution(execution_id)
        return StreamingResponse(
            streams.event_stream(repo, execution_id, after_id=after_id),
            media_type="text/event-stream",
            headers=streams.SSE_HEADERS,
        )

    return guarded_json(ctx, open_stream)


@router.get("/executions/{execution_id}/steps/{step_name}")
@studio_page
def step_panel(execution_id: str, step_name: str, ctx: PageCtx) -> Response:
    """One step's logs, failure, properties and outputs (a fragment the page shows)."""
    from rayline.errors import NotFoundError
    from rayline.executions import Execution

    handle = Execution(execution_id)
    record = handle.describe()
    _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
    if step_name not in definition.graph.steps:
        raise NotFoundError(
            f"pipeline {record.pipeline_name!r} has no step {step_name!r}; its steps: "
            f"{', '.join(definition.graph.steps)}"
        )
    try:
        run = handle.step(step_name)
    except NotFoundError:
        run, logs = None, ""
    else:
        logs = handle.logs(step_name)
    return render(
        ctx,
        "step.html",
        execution=record,
        step_name=step_name,
        kind=definition.graph.steps[step_name].kind,
        run=run,
        logs=logs,
    )


@router.post("/executions/{execution_id}/{action}")
async def execution_action(execution_id: str, action: str, request: Request) -> Response:
    """Stop or retry an execution (operators only)."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)

    def run() -> Response:
        from rayline.errors import NotFoundError
        from rayline.executions import Execution

        if action not in ("stop", "retry"):
            raise NotFoundError(f"there is no action {action!r}; use stop or retry")
        try:

            def act() -> None:
                handle = Execution(execution_id)  # 404 for an unknown execution
                if action == "stop":
                    handle.stop()
                else:
                    handle.retry()

            audited(
                ctx,
                target=f"execution_id={execution_id}",
                csrf=str(form.get("csrf") or ""),
                action=act,
            )
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            return _execution_page(ctx, execution_id, error=str(exc), status=status_of(exc))
        return RedirectResponse(f"{PREFIX}/executions/{execution_id}", status_code=303)

    return await run_in_threadpool(guarded, ctx, run)
