"""Executions: the list (live: it reloads its table as executions start and change status), one
execution's DAG with live step states (its chains and parallel steps grouped into boxes that
count their steps per status), its steps' inputs, logs, properties and outputs, stop, retry and
the selective re-run of chosen steps; and two executions compared side by side (parameters,
numeric properties, step durations).

The live views read the event log through the server's own Server-Sent Events streams
(``rayline.server.streams``: ``event_stream`` for one execution, ``status_stream`` for the
list), authenticated by the session cookie (a browser's ``EventSource`` cannot send a bearer
token). Stop and retry call the Python API
(``Execution.stop``/``retry``) acting as the signed-in identity (operators only), audited; so
does a re-run (``Pipeline.start`` with a ``SelectiveExecutionConfig`` naming this execution as
the source: the chosen steps run, their upstream steps' results are taken from it).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rayline.auth.actions import Action
from rayline.engine import api as engine
from rayline.engine.records import ExecutionStatus
from rayline.errors import PermissionDeniedError, RaylineError, UserInputError
from rayline.server import streams
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded, guarded_json
from rayline.studio.pages.pipelines import Expand, graph_view, stored_graph
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
#: Executions of the same pipeline offered by "Compare with…".
COMPARE_CHOICES = 20
#: Longest value shown for a step's input before it is cut.
VALUE_CHARS = 400
#: A tuning step's kind: its panel links to its trials.
TUNING_KIND = "Tuning"
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
    # Read before the page: a change recorded meanwhile is in the page or in the live stream.
    after = engine.last_event_id()
    records = engine.page_executions(
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
        after=after,
    )


# Before /executions/{execution_id}: "events" is this stream, not an execution.
@router.get("/executions/events")
def executions_events(
    ctx: FetchCtx,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> Response:
    """Every execution's status changes as Server-Sent Events, behind the session cookie: what
    keeps the list live. A browser that reconnects resumes after the ``Last-Event-ID`` it sends."""
    if last_event_id and last_event_id.isdigit():
        after_id = max(after_id, int(last_event_id))
    return StreamingResponse(
        streams.status_stream(after_id=after_id),
        media_type="text/event-stream",
        headers=streams.SSE_HEADERS,
    )


@router.get("/executions/{execution_id}")
@studio_page
def execution(execution_id: str, ctx: PageCtx, expand: Expand = None) -> Response:
    return _execution_page(ctx, execution_id, expand=expand)


def _execution_page(
    ctx: Ctx,
    execution_id: str,
    *,
    error: str | None = None,
    status: int = 200,
    expand: str | None = None,
    chosen: frozenset[str] = frozenset(),
) -> Response:
    record = engine.get_execution(execution_id)
    _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
    state = _state(record, list(definition.graph.steps))
    others = [
        e
        for e in engine.page_executions(pipeline_name=record.pipeline_name, limit=COMPARE_CHOICES)
        if e.id != record.id
    ]
    return render(
        ctx,
        "execution.html",
        status=status,
        execution=record,
        view=graph_view(definition, expand=expand),
        state=state,
        state_json=script_json(state),
        error=error,
        steps=list(definition.graph.steps),
        chosen=chosen,
        can_rerun=record.status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED),
        selected_before=[s["StepName"] for s in (record.selective or {}).get("SelectedSteps", [])],
        others=others,
    )


def _state(record: Any, steps: list[str]) -> dict[str, Any]:
    """What the live view draws: each step's status, duration, attempts and cache hit, and
    the count of steps per status."""
    runs = {r.step_name: r for r in engine.step_runs(record.id)}
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
        record = engine.get_execution(execution_id)
        _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
        return json_response(ctx, _state(record, list(definition.graph.steps)))

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
        engine.get_execution(execution_id)  # 404 for an unknown execution
        return StreamingResponse(
            streams.event_stream(execution_id, after_id=after_id),
            media_type="text/event-stream",
            headers=streams.SSE_HEADERS,
        )

    return guarded_json(ctx, open_stream)


@dataclass(frozen=True)
class StepView:
    """One step of one execution: its record, its pipeline version's definition, the
    definition's step and its run (None: it has not started)."""

    execution: Any
    definition: Any
    step: Any
    run: Any


def step_view(execution_id: str, step_name: str) -> StepView:
    """The execution (404 if unknown), the step of its pipeline version (404 naming the steps
    there are) and its run, if it started."""
    from rayline.errors import NotFoundError
    from rayline.executions import Execution

    handle = Execution(execution_id)
    record = handle.describe()
    _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
    steps = definition.graph.steps
    if step_name not in steps:
        raise NotFoundError(
            f"pipeline {record.pipeline_name!r} has no step {step_name!r}; its steps: "
            f"{', '.join(steps)}"
        )
    try:
        run = handle.step(step_name)
    except NotFoundError:
        run = None
    return StepView(record, definition, steps[step_name], run)


@router.get("/executions/{execution_id}/steps/{step_name}")
@studio_page
def step_panel(execution_id: str, step_name: str, ctx: PageCtx) -> Response:
    """One step's logs, failure, properties and outputs (a fragment the page shows)."""
    from rayline.executions import Execution

    view = step_view(execution_id, step_name)
    record, definition, step, run = view.execution, view.definition, view.step, view.run
    logs = Execution(execution_id).logs(step_name) if run is not None else ""
    inputs = step_inputs(record, definition, step, engine.step_runs(execution_id))
    return render(
        ctx,
        "step.html",
        execution=record,
        step_name=step_name,
        kind=step.kind,
        run=run,
        logs=logs,
        inputs=inputs,
        tuning=step.kind == TUNING_KIND,
        metrics=bool(step.declared_property_files()),
    )


def step_inputs(record: Any, definition: Any, step: Any, runs: list[Any]) -> list[dict[str, str]]:
    """What ``step`` read in this execution: each reference in its arguments (a parameter,
    an execution variable, another step's output, property or property file) with the value
    it had here, and each literal data location. The run record keeps no copy of its
    resolved inputs, so they are resolved again from the same records the step read."""
    from rayline.definition.expressions import Expression, from_request

    parameters = {p.name: p for p in definition.parameters}
    resolver = engine.display_resolver(record, definition, step.name, runs)
    out: list[dict[str, str]] = []
    for where, raw in _argument_refs(step.to_request().get("Arguments", {})):
        if isinstance(raw, str):
            out.append({"name": where, "ref": "literal", "value": raw})
            continue
        try:
            parsed = from_request(raw, parameters)
            value = parsed.resolve(resolver) if isinstance(parsed, Expression) else parsed
            shown = value if isinstance(value, str) else json.dumps(value, default=str)
        except (RaylineError, KeyError, LookupError, TypeError, ValueError) as exc:
            shown = f"(not available: {exc})"
        if len(shown) > VALUE_CHARS:
            shown = shown[: VALUE_CHARS - 1] + "…"
        out.append({"name": where, "ref": _ref_text(raw), "value": shown})
    return out


_EXPRESSION_KEYS = ("Get", "Std:Join", "Std:JsonGet")
_DATA_PREFIXES = ("s3://", "file://", "gs://", "hdfs://")


def _argument_refs(args: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    """``(where, value)`` for every expression and literal data URI in a step's arguments
    (their JSON form); ``where`` is the argument's path, an input named by its InputName or
    ChannelName. Code references and branches (steps of their own) are left out."""
    if isinstance(args, dict):
        if len(args) == 1 and next(iter(args)) in _EXPRESSION_KEYS:
            yield where, args
            return
        if ("Name" in args and "Arguments" in args) or "Sha256" in args:
            return
        label = args.get("InputName") or args.get("ChannelName")
        for key, value in args.items():
            if key in ("InputName", "ChannelName"):
                continue
            inner = label or (f"{where}.{key}" if where else key)
            yield from _argument_refs(value, inner)
    elif isinstance(args, list):
        for i, value in enumerate(args):
            yield from _argument_refs(value, f"{where}[{i}]")
    elif isinstance(args, str) and args.startswith(_DATA_PREFIXES):
        yield where, args


def _ref_text(raw: Mapping[str, Any]) -> str:
    """How the definition names a reference (``Parameters.Count``, ``Steps.a.Return``)."""
    if "Get" in raw:
        return str(raw["Get"])
    if "Std:JsonGet" in raw:
        body = raw["Std:JsonGet"]
        return f"{body['PropertyFile'].get('Get', '')} {body.get('Path', '')}".strip()
    return json.dumps(raw, sort_keys=True)


@router.post("/executions/{execution_id}/{action}")
async def execution_action(execution_id: str, action: str, request: Request) -> Response:
    """Stop, retry or re-run chosen steps of an execution (operators only)."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    if action == "rerun":
        chosen = [str(v) for v in form.getlist("step")]
        csrf = str(form.get("csrf") or "")
        return await run_in_threadpool(
            guarded, ctx, lambda: _rerun(ctx, execution_id, chosen, csrf)
        )

    def run() -> Response:
        from rayline.errors import NotFoundError
        from rayline.executions import Execution

        if action not in ("stop", "retry"):
            raise NotFoundError(f"there is no action {action!r}; use stop, retry or rerun")
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
                needs=Action.STOP_EXECUTION if action == "stop" else Action.START_EXECUTION,
                doing="starting, stopping and retrying executions",
            )
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            return _execution_page(ctx, execution_id, error=str(exc), status=status_of(exc))
        return RedirectResponse(f"{PREFIX}/executions/{execution_id}", status_code=303)

    return await run_in_threadpool(guarded, ctx, run)


def _rerun(ctx: Ctx, execution_id: str, chosen: list[str], csrf: str) -> Response:
    """Start a selective execution of ``chosen`` steps taking the rest from ``execution_id``;
    a refusal (the role, the CSRF token, a selection the graph does not allow, a source that
    has not ended) is shown on the execution's page with its status."""
    record = engine.get_execution(execution_id)  # 404 for an unknown execution

    def act() -> str:
        from rayline.definition.selective import SelectiveExecutionConfig
        from rayline.pipelines import Pipeline

        if not chosen:
            raise UserInputError("choose at least one step to re-run")
        config = SelectiveExecutionConfig(
            selected_steps=chosen, source_pipeline_execution_id=execution_id
        )
        version = record.pipeline_version
        pipeline = Pipeline.load(record.pipeline_name, version=version)
        started = pipeline.start(
            dict(record.parameters), version=version, selective_execution_config=config
        )
        return started.id

    try:
        new_id = audited(
            ctx,
            target=f"execution_id={execution_id}",
            csrf=csrf,
            action=act,
            needs=Action.START_EXECUTION,
            doing="re-running steps of executions",
        )
    except RaylineError as exc:
        return _execution_page(
            ctx,
            execution_id,
            error=f"Re-run refused: {exc}",
            status=status_of(exc),
            chosen=frozenset(chosen),
        )
    return RedirectResponse(f"{PREFIX}/executions/{new_id}", status_code=303)


# -- comparing two executions ------------------------------------------------------------------


@router.get("/compare")
@studio_page
def compare(
    ctx: PageCtx,
    a: Annotated[str | None, Query(max_length=64)] = None,
    b: Annotated[str | None, Query(max_length=64)] = None,
    id: Annotated[list[str] | None, Query(max_length=64)] = None,
) -> Response:
    """Two executions side by side: ``?a=ID&b=ID`` (or ``?id=ID&id=ID``, what the executions
    list's checkboxes send)."""
    ids = [i for i in (id or []) if i]
    if (a or b) and ids:
        raise UserInputError("give either a= and b=, or two id=, not both")
    if ids:
        if len(ids) != 2:
            raise UserInputError(
                f"choose exactly two executions to compare; {len(ids)} were chosen"
            )
        a, b = ids
    if not a or not b:
        return render(ctx, "compare.html", a=a or "", b=b or "", left=None, right=None)
    left, right = engine.get_execution(a), engine.get_execution(b)
    sides = [_side(left), _side(right)]
    return render(
        ctx,
        "compare.html",
        a=a,
        b=b,
        left=left,
        right=right,
        parameters=_rows(sides[0]["parameters"], sides[1]["parameters"]),
        metrics=_rows(sides[0]["metrics"], sides[1]["metrics"]),
        durations=_rows(sides[0]["durations"], sides[1]["durations"]),
    )


def _side(record: Any) -> dict[str, dict[str, Any]]:
    """What the comparison shows of one execution: its parameters, every numeric property of
    its steps (and of their property files: an evaluation's metrics) and its steps'
    durations."""
    runs = engine.step_runs(record.id)
    try:
        _, _, definition = stored_graph(record.pipeline_name, record.pipeline_version)
    except RaylineError:
        definition = None
    metrics: dict[str, Any] = {}
    durations: dict[str, Any] = {}
    for run in runs:
        durations[run.step_name] = run.elapsed_s
        for path, value in _numbers(run.properties):
            metrics[f"{run.step_name}.{path}"] = value
    if definition is not None:
        resolver = engine.display_resolver(record, definition, "", runs)
        succeeded = {r.step_name for r in runs if r.status.value == "Succeeded"}
        for name, step in definition.graph.steps.items():
            if name not in succeeded:
                continue
            for pf in step.declared_property_files():
                try:
                    document = resolver.property_file(name, pf.name)
                except (RaylineError, LookupError, StopIteration):
                    continue
                for path, value in _numbers(document):
                    metrics[f"{name}.{pf.name}.{path}"] = value
    return {"parameters": dict(record.parameters), "metrics": metrics, "durations": durations}


def _numbers(value: Any, path: str = "") -> Iterator[tuple[str, float]]:
    """Every number in nested dicts, by its dotted path (lists are left out: trials and
    metric lists repeat what their dicts say)."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        if math.isfinite(value):
            yield path, value
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from _numbers(value[key], f"{path}.{key}" if path else str(key))


def _rows(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per key of either side: both values, whether they differ and, for two
    numbers, the difference (right minus left)."""
    rows = []
    for key in sorted(set(left) | set(right)):
        x, y = left.get(key), right.get(key)
        numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y))
        rows.append(
            {
                "key": key,
                "a": x,
                "b": y,
                "in_a": key in left,
                "in_b": key in right,
                "differs": key not in left or key not in right or x != y,
                "delta": (y - x) if numbers else None,
            }
        )
    return rows
