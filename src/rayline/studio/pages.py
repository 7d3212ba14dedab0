"""Studio's pages: sign-in, pipelines (versions, definition, DAG, the start form) and
executions (the list, and one execution's DAG with live step states, its steps' logs, stop and
retry).

Reads go to the engine's repository, as the REST API's do; writes call the Python API
(``Pipeline.start``, ``Execution.stop``/``retry``) acting as the signed-in identity, and each is
written to the audit log like an API request. The live view reads the event log through the
server's own Server-Sent Events stream (``rayline.server.streams.event_stream``), authenticated
by the session cookie (a browser's ``EventSource`` cannot send a bearer token).
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rayline.auth.roles import Role
from rayline.config import acting_as
from rayline.engine.records import ExecutionStatus
from rayline.errors import (
    AuthenticationError,
    PermissionDeniedError,
    RaylineError,
    UserInputError,
)
from rayline.server import streams
from rayline.server.problems import status_of
from rayline.studio import session as sessions
from rayline.studio.layout import layout
from rayline.studio.web import (
    PREFIX,
    Ctx,
    context,
    error_page,
    fetch,
    json_response,
    page,
    render,
    safe_next,
    script_json,
    studio_page,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PAGE = 50
PageCtx = Annotated[Ctx, Depends(page)]
FetchCtx = Annotated[Ctx, Depends(fetch)]


def _repo() -> Any:
    from rayline.engine.repository import open_repository

    return open_repository()


def _graph(pipeline_name: str, version: int | None) -> tuple[int, str, Any]:
    """The stored definition's version, text and parsed pipeline."""
    from rayline.definition.pipeline import PipelineDefinition

    number, text = _repo().get_definition(pipeline_name, version)
    return number, text, PipelineDefinition.from_definition(text, name=pipeline_name)


def _layout(definition: Any) -> Any:
    graph = definition.graph
    return layout(graph.upstream, {n: s.kind for n, s in graph.steps.items()})


# --- sign-in ---------------------------------------------------------------------------------


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/pipelines", status_code=303)


@router.get("/signin")
def signin_form(request: Request, next: str | None = None) -> Response:
    ctx = context(request)
    return render(ctx, "signin.html", next=safe_next(next), error=None)


@router.post("/signin")
async def signin(request: Request) -> Response:
    form = await request.form()
    ctx = await run_in_threadpool(context, request)
    target = safe_next(str(form.get("next") or ""))
    try:
        sessions.check_csrf(None if ctx.fresh else ctx.session, str(form.get("csrf") or ""))
        identity = await run_in_threadpool(sessions.sign_in, str(form.get("token") or ""))
    except (AuthenticationError, PermissionDeniedError) as exc:
        return render(ctx, "signin.html", status=status_of(exc), next=target, error=str(exc))
    response = RedirectResponse(target, status_code=303)
    sessions.set_cookie(response, sessions.new_session(identity.token_id), request)
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await request.form()
    ctx = await run_in_threadpool(context, request)
    try:
        sessions.check_csrf(ctx.session, str(form.get("csrf") or ""))
    except PermissionDeniedError as exc:
        return error_page(ctx, exc)
    response = RedirectResponse(f"{PREFIX}/signin", status_code=303)
    sessions.set_cookie(response, sessions.new_session(None), request)
    return response


# --- pipelines -------------------------------------------------------------------------------


@router.get("/pipelines")
@studio_page
def pipelines(ctx: PageCtx) -> Response:
    return render(ctx, "pipelines.html", pipelines=_repo().list_pipelines())


@router.get("/pipelines/{name}")
@studio_page
def pipeline(
    name: str, ctx: PageCtx, version: Annotated[int | None, Query(ge=1)] = None
) -> Response:
    return _pipeline_page(ctx, name, version)


def _pipeline_page(
    ctx: Ctx,
    name: str,
    version: int | None,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    repo = _repo()
    record = repo.get_pipeline(name)
    number, text, definition = _graph(name, version)
    return render(
        ctx,
        "pipeline.html",
        status=status,
        pipeline=record,
        version=number,
        versions=repo.list_versions(name),
        definition=json.dumps(json.loads(text), indent=2),
        graph=_layout(definition),
        parameters=[_field(p, (values or {}).get(p.name)) for p in definition.parameters],
        executions=repo.page_executions(pipeline_name=name, limit=10),
        error=error,
    )


def _field(parameter: Any, entered: str | None) -> dict[str, Any]:
    """A parameter as a form field: its input kind, its value (what was entered, else its
    default) and whether it must be given."""
    default = parameter.default_value
    if isinstance(default, bool):
        default = "true" if default else "false"
    value = entered if entered is not None else ("" if default is None else str(default))
    options = [
        str(v).lower() if isinstance(v, bool) else str(v) for v in parameter.enum_values or ()
    ]
    if parameter.type_name == "Boolean" and not options:
        options = ["true", "false"]
    inputmode = {"Integer": "numeric", "Float": "decimal"}.get(parameter.type_name, "text")
    return {
        "name": parameter.name,
        "type": parameter.type_name,
        "value": value,
        "required": parameter.required,
        "options": options,
        "inputmode": inputmode,
    }


@router.post("/pipelines/{name}/start")
async def start(name: str, request: Request) -> Response:
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    values = {k[2:]: str(v) for k, v in form.items() if k.startswith("p.")}
    raw_version = str(form.get("version") or "")

    def run() -> Response:
        version = int(raw_version) if raw_version.isdigit() else None
        try:
            execution_id = _audited(
                ctx,
                f"pipeline={name}",
                str(form.get("csrf") or ""),
                lambda: _start(name, version, values),
            )
        except RaylineError as exc:
            return _pipeline_page(
                ctx, name, version, values=values, error=str(exc), status=status_of(exc)
            )
        return RedirectResponse(f"{PREFIX}/executions/{execution_id}", status_code=303)

    return await run_in_threadpool(_guarded, ctx, run)


def _start(name: str, version: int | None, values: dict[str, str]) -> str:
    from rayline.pipelines import Pipeline

    version = version or _repo().get_pipeline(name).latest_version
    # An empty field means "its default": only what was typed is passed on, as text the
    # engine's parameters parse (ParameterError says what is wrong).
    given = {k: v for k, v in values.items() if v.strip() != ""}
    execution = Pipeline.load(name, version=version).start(given, version=version)
    return execution.id


# --- executions ------------------------------------------------------------------------------


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
    records = _repo().page_executions(
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
    repo = _repo()
    record = repo.get_execution(execution_id)
    _, _, definition = _graph(record.pipeline_name, record.pipeline_version)
    state = _state(repo, record, list(definition.graph.steps))
    return render(
        ctx,
        "execution.html",
        status=status,
        execution=record,
        graph=_layout(definition),
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
        repo = _repo()
        record = repo.get_execution(execution_id)
        _, _, definition = _graph(record.pipeline_name, record.pipeline_version)
        return json_response(ctx, _state(repo, record, list(definition.graph.steps)))

    return _guarded_json(ctx, read)


@router.get("/executions/{execution_id}/events")
def execution_events(
    execution_id: str,
    ctx: FetchCtx,
    after_id: Annotated[int, Query(ge=0, le=2**62)] = 0,
) -> Response:
    """The execution's event log as Server-Sent Events: the REST API's stream, behind the
    session cookie."""

    def open_stream() -> Response:
        repo = _repo()
        repo.get_execution(execution_id)
        return StreamingResponse(
            streams.event_stream(repo, execution_id, after_id=after_id),
            media_type="text/event-stream",
            headers=streams.SSE_HEADERS,
        )

    return _guarded_json(ctx, open_stream)


@router.get("/executions/{execution_id}/steps/{step_name}")
@studio_page
def step_panel(execution_id: str, step_name: str, ctx: PageCtx) -> Response:
    """One step's logs, failure, properties and outputs (a fragment the page shows)."""
    from rayline.errors import NotFoundError
    from rayline.executions import Execution

    handle = Execution(execution_id)
    record = handle.describe()
    _, _, definition = _graph(record.pipeline_name, record.pipeline_version)
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

            _audited(ctx, f"execution_id={execution_id}", str(form.get("csrf") or ""), act)
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            return _execution_page(ctx, execution_id, error=str(exc), status=status_of(exc))
        return RedirectResponse(f"{PREFIX}/executions/{execution_id}", status_code=303)

    return await run_in_threadpool(_guarded, ctx, run)


# --- helpers ---------------------------------------------------------------------------------


def _write(ctx: Ctx, csrf: str) -> None:
    """A state change needs the session's CSRF token and the operator role."""
    sessions.check_csrf(None if ctx.fresh else ctx.session, csrf)
    identity = ctx.identity
    assert identity is not None  # page() let it through
    if identity.role < Role.OPERATOR:
        raise PermissionDeniedError(
            f"{identity.name!r} has the {identity.role.label} role; starting, stopping and "
            "retrying executions needs operator or above (an admin can create a token with it: "
            "rayline token create --name NAME --role operator)"
        )


def _audited(ctx: Ctx, target: str, csrf: str, action: Any) -> Any:
    """Check the CSRF token and the role (``_write``), run ``action`` as the signed-in
    identity, and write the audit row the API would (a refusal too)."""
    from rayline.auth.audit import record_request

    identity = ctx.identity
    assert identity is not None
    status = 500
    try:
        _write(ctx, csrf)
        with acting_as(identity.name):
            result = action()
        status = 200
        return result
    except RaylineError as exc:
        status = status_of(exc)
        raise
    finally:
        record_request(
            identity=identity.name,
            role=identity.role.label,
            token_id=identity.token_id,
            method="POST",
            path=ctx.request.url.path,
            status=status,
            client=sessions.client_host(ctx.request),
            target=target,
        )


def _guarded(ctx: Ctx, fn: Any) -> Response:
    try:
        return fn()
    except Exception as exc:  # an error page, never a traceback
        return error_page(ctx, exc)


def _guarded_json(ctx: Ctx, fn: Any) -> Response:
    try:
        return fn()
    except RaylineError as exc:
        return json_response(ctx, {"detail": str(exc)}, status=status_of(exc))
