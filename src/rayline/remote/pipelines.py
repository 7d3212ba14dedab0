"""The pipeline routes of a server (``/api/v1/pipelines``): store a definition with its code,
read stored pipelines and definitions, start a stored version, delete."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.definition.parameters import resolve_parameters
from rayline.definition.policies import ParallelismConfiguration, check_parallelism
from rayline.engine.records import ExecutionRecord, PipelineRecord
from rayline.errors import UserInputError
from rayline.remote import codes, records

if TYPE_CHECKING:
    from rayline.definition.pipeline import PipelineDefinition
    from rayline.definition.selective import SelectiveExecutionConfig
    from rayline.remote.client import Client


def _path(name: str, *rest: str) -> str:
    return "/".join([f"/pipelines/{quote(name, safe='')}", *rest])


def upsert(client: Client, definition: PipelineDefinition) -> int:
    """Upload the code snapshots the server lacks, then store the definition; returns the
    pipeline version (a new one only when the definition changed)."""
    codes.upload(client, definition)
    body = {
        "definition": json.loads(definition.definition()),
        "description": definition.description,
    }
    return int(client.put(_path(definition.name), json=body)["version"])


def start_definition(
    client: Client,
    definition: PipelineDefinition,
    parameters: dict[str, Any] | None,
    *,
    version: int | None = None,
    parallelism_config: ParallelismConfiguration | None = None,
    selective_execution_config: SelectiveExecutionConfig | None = None,
) -> ExecutionRecord:
    """``Pipeline.start()`` through the server: store this definition (``version`` None) or
    pick stored version ``version``, then start it there."""
    check_parallelism(parallelism_config)
    if selective_execution_config is not None:
        raise UserInputError(
            f"pipeline {definition.name!r}: a selective execution cannot be started through "
            "the server yet (POST /pipelines/{name}/executions takes no selection); start it on "
            "the server's machine, without RAYLINE_SERVER_URL"
        )
    if version is None:
        # As embedded: a wrong parameter is refused before anything is stored.
        resolve_parameters(list(definition.parameters), parameters)
        version = upsert(client, definition)
    # Without an override the server applies the stored version's own parallelism.
    config = parallelism_config
    return start(
        client,
        definition.name,
        parameters,
        version=version,
        max_parallel_steps=config.max_parallel_execution_steps if config else None,
    )


def start(
    client: Client,
    name: str,
    parameters: dict[str, Any] | None,
    *,
    version: int,
    max_parallel_steps: int | None = None,
) -> ExecutionRecord:
    """Start stored version ``version`` of pipeline ``name`` (the server drives it); its
    record at once. Unknown, missing or mistyped parameters: ``ParameterError``."""
    body: dict[str, Any] = {"parameters": parameters or {}, "version": version}
    if max_parallel_steps is not None:
        body["max_parallel_steps"] = max_parallel_steps
    return records.execution(client.post(_path(name, "executions"), json=body))


def get(client: Client, name: str) -> PipelineRecord:
    return records.pipeline(client.get(_path(name)))


def definition(client: Client, name: str, version: int | None = None) -> str:
    """The stored JSON definition (of ``version``, default the latest), as text."""
    params = {} if version is None else {"version": version}
    return json.dumps(client.get(_path(name, "definition"), params=params))


def list_all(client: Client) -> list[PipelineRecord]:
    return [records.pipeline(item) for item in client.items("/pipelines")]


def delete(client: Client, name: str) -> None:
    client.delete(_path(name))
