"""/api/v1/pipelines: store pipeline definitions (upsert), read them, delete them, start
executions of a stored version (selective ones too), and read or drop their cache entries.

Each route calls what an embedded user calls: ``PipelineDefinition.from_definition`` parses, the
engine's records API (``rayline.engine.api``) stores and reads, ``Pipeline.start(version=N)``
starts (driven by a thread of this server, as ``launch(detach=False)`` does). The code snapshots
a definition names are not part of it: a remote client uploads them first
(``PUT /api/v1/code/<sha256><suffix>``), and the upsert refuses a definition whose snapshots this
server does not have.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from rayline.auth.actions import Action
from rayline.engine import api as engine
from rayline.engine.records import CacheEntry, ExecutionRecord, PipelineRecord
from rayline.errors import PipelineDefinitionError, RaylineError
from rayline.server.compat import check_client
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes import MAX_INT
from rayline.server.security import requires

router = APIRouter(prefix="/pipelines", tags=["pipelines"])

VIEWER = [Depends(requires(Action.READ))]
#: Routes that store or run code: an incompatible client is refused (server/compat.py).
MANAGE = [Depends(requires(Action.MANAGE_PIPELINES)), Depends(check_client)]
START = [Depends(requires(Action.START_EXECUTION)), Depends(check_client)]


class UpsertBody(BaseModel):
    """``PUT /pipelines/{name}``: the JSON definition (an object, or a string of JSON) as
    ``Pipeline.definition()`` writes it, and a description (default: the definition's)."""

    model_config = ConfigDict(extra="forbid")

    definition: dict[str, Any] | str
    description: str = Field(default="", max_length=10_000)


class SelectiveBody(BaseModel):
    """A selective execution (``SelectiveExecutionConfig``): the steps to run, and the
    execution their upstream steps are taken from (default: the pipeline's latest)."""

    model_config = ConfigDict(extra="forbid")

    selected_steps: list[Annotated[str, Field(min_length=1, max_length=256)]] = Field(
        min_length=1, max_length=1000
    )
    source_pipeline_execution_id: str | None = Field(default=None, max_length=256)
    reference_latest_execution: bool = True


class StartBody(BaseModel):
    """``POST /pipelines/{name}/executions``: parameter values (the others take their
    defaults), the stored version to run (default: the latest), the step parallelism of
    this execution (default: the pipeline's) and, for a selective execution, its selection."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1, le=MAX_INT)
    max_parallel_steps: int | None = Field(default=None, ge=1, le=MAX_INT)
    selective_execution_config: SelectiveBody | None = None


@router.get("", dependencies=VIEWER)
def list_pipelines(
    page: Annotated[PageRequest, Depends(page_request)],
    name_contains: Annotated[str | None, Query(max_length=256)] = None,
) -> dict[str, Any]:
    """Stored pipelines by name (``name_contains``: only names holding that text)."""
    records = engine.list_pipelines()
    if name_contains:
        needle = name_contains.lower()
        records = [r for r in records if needle in r.name.lower()]
    return paginate_list(page, records)


@router.get("/{name}", dependencies=VIEWER)
def get_pipeline(name: str) -> PipelineRecord:
    return engine.get_pipeline(name)


@router.get("/{name}/versions", dependencies=VIEWER)
def list_versions(name: str, page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    """The pipeline's versions, oldest first: ``{"version", "created_at"}`` each."""
    # 404 naming the stored pipelines for an unknown one
    versions = [{"version": v, "created_at": at} for v, at in engine.pipeline_versions(name)]
    return paginate_list(page, versions)


@router.get("/{name}/definition", dependencies=VIEWER)
def get_definition(
    name: str, version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None
) -> dict[str, Any]:
    """The stored JSON definition (of ``version``, default the latest), as an object."""
    _, text = engine.get_definition(name, version)
    return json.loads(text)


@router.put("/{name}", dependencies=MANAGE)
def upsert_pipeline(name: str, body: UpsertBody) -> dict[str, Any]:
    """Store the definition as the pipeline's newest version (unchanged: the same version)."""
    pipeline = parse_definition(body.definition, name=name)
    if body.description:
        pipeline.description = body.description
    version = engine.store_definition(pipeline)  # 400 while a code snapshot is missing
    return {"name": name, "version": version}


@router.delete(
    "/{name}", status_code=204, dependencies=[Depends(requires(Action.MANAGE_PIPELINES))]
)
def delete_pipeline(name: str) -> Response:
    """Delete the pipeline, its versions and executions (409 while one of them runs)."""
    from rayline.pipelines import delete_pipeline as delete

    delete(name)
    return Response(status_code=204)


@router.post("/{name}/executions", status_code=201, dependencies=START)
def start_execution(name: str, body: StartBody | None = None) -> ExecutionRecord:
    """Start an execution of a stored version and return its record at once; this server
    drives it. Mistyped, unknown or missing parameters: 422."""
    from rayline.definition.policies import ParallelismConfiguration
    from rayline.definition.selective import SelectiveExecutionConfig
    from rayline.pipelines import Pipeline

    body = body or StartBody()
    version = body.version or engine.get_pipeline(name).latest_version
    pipeline = Pipeline.load(name, version=version)
    config = (
        ParallelismConfiguration(body.max_parallel_steps)
        if body.max_parallel_steps is not None
        else None
    )
    selective = body.selective_execution_config
    execution = pipeline.start(
        body.parameters,
        version=version,
        parallelism_config=config,
        selective_execution_config=(
            SelectiveExecutionConfig(**selective.model_dump()) if selective else None
        ),
    )
    return execution.describe()


@router.get("/{name}/cache", dependencies=VIEWER)
def list_cache_entries(
    name: str, step: Annotated[str | None, Query(min_length=1, max_length=256)] = None
) -> list[CacheEntry]:
    """The results the next execution may reuse (only step ``step``'s), newest first, by the
    cache windows of the pipeline's latest version."""
    from rayline.pipelines import cache_entries

    return cache_entries(name, step)


@router.delete("/{name}/cache", dependencies=[Depends(requires(Action.MANAGE_PIPELINES))])
def invalidate_cache(
    name: str, step: Annotated[str | None, Query(min_length=1, max_length=256)] = None
) -> list[CacheEntry]:
    """Drop the pipeline's cache entries (only step ``step``'s): the next execution computes
    those steps again (the runs stay in the history). The entries dropped."""
    from rayline.pipelines import invalidate_cache as invalidate

    return invalidate(name, step)


def parse_definition(definition: dict[str, Any] | str, *, name: str) -> Any:
    """The ``Pipeline`` a JSON definition describes (``PipelineDefinitionError``, 400, saying
    what is wrong with it)."""
    from rayline.pipelines import Pipeline

    try:
        return Pipeline.from_definition(definition, name=name)
    except RaylineError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        # A field missing or of the wrong type deep in a step: the parser's own error.
        what = f"field {exc} is missing" if isinstance(exc, KeyError) else str(exc)
        raise PipelineDefinitionError(
            f"pipeline {name!r}: the definition is malformed ({type(exc).__name__}: {what}); "
            "send what Pipeline.definition() writes"
        ) from None
