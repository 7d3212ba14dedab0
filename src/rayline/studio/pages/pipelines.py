"""Pipelines: the list, one pipeline's versions, definition and DAG, and the typed start form.

Reads call the engine's records API (``rayline.engine.api``), as the REST API's do; a start
calls ``Pipeline.start`` acting as the signed-in identity (operators only) and is audited like
an API request.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rayline.auth.actions import Action
from rayline.engine import api as engine
from rayline.errors import RaylineError
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded
from rayline.studio.grouping import DagView, dag_view
from rayline.studio.web import PREFIX, Ctx, page, render, studio_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PageCtx = Annotated[Ctx, Depends(page)]


def stored_graph(pipeline_name: str, version: int | None) -> tuple[int, str, Any]:
    """The stored definition's version, text and parsed pipeline."""
    from rayline.definition.pipeline import PipelineDefinition

    number, text = engine.get_definition(pipeline_name, version)
    return number, text, PipelineDefinition.from_definition(text, name=pipeline_name)


def graph_view(definition: Any, *, expand: str | None = None) -> DagView:
    """The DAG of a parsed pipeline with chains and parallel steps grouped, the groups open as
    ``expand`` says (the page's ``?expand=``; None: as many as stay readable)."""
    graph = definition.graph
    return dag_view(graph.upstream, {n: s.kind for n, s in graph.steps.items()}, expand=expand)


#: ``?expand=``: which groups of the DAG are open ("all", "none" or group ids).
Expand = Annotated[str | None, Query(max_length=8000)]


@router.get("/pipelines")
@studio_page
def pipelines(ctx: PageCtx) -> Response:
    return render(ctx, "pipelines.html", pipelines=engine.list_pipelines())


@router.get("/pipelines/{name}")
@studio_page
def pipeline(
    name: str,
    ctx: PageCtx,
    version: Annotated[int | None, Query(ge=1)] = None,
    expand: Expand = None,
) -> Response:
    return _pipeline_page(ctx, name, version, expand=expand)


def _pipeline_page(
    ctx: Ctx,
    name: str,
    version: int | None,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
    expand: str | None = None,
) -> Response:
    record = engine.get_pipeline(name)
    number, text, definition = stored_graph(name, version)
    return render(
        ctx,
        "pipeline.html",
        status=status,
        pipeline=record,
        version=number,
        versions=engine.pipeline_versions(name),
        definition=json.dumps(json.loads(text), indent=2),
        view=graph_view(definition, expand=expand),
        parameters=[_field(p, (values or {}).get(p.name)) for p in definition.parameters],
        executions=engine.page_executions(pipeline_name=name, limit=10),
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
            execution_id = audited(
                ctx,
                target=f"pipeline={name}",
                csrf=str(form.get("csrf") or ""),
                action=lambda: _start(name, version, values),
                needs=Action.START_EXECUTION,
                doing="starting, stopping and retrying executions",
            )
        except RaylineError as exc:
            return _pipeline_page(
                ctx, name, version, values=values, error=str(exc), status=status_of(exc)
            )
        return RedirectResponse(f"{PREFIX}/executions/{execution_id}", status_code=303)

    return await run_in_threadpool(guarded, ctx, run)


def _start(name: str, version: int | None, values: dict[str, str]) -> str:
    from rayline.pipelines import Pipeline

    version = version or engine.get_pipeline(name).latest_version
    # An empty field means "its default": only what was typed is passed on, as text the
    # engine's parameters parse (ParameterError says what is wrong).
    given = {k: v for k, v in values.items() if v.strip() != ""}
    execution = Pipeline.load(name, version=version).start(given, version=version)
    return execution.id
