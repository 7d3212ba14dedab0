"""The pipeline backend over a server's REST API (``/api/v1/pipelines``): store a definition
with its code, read stored pipelines and definitions, start a stored version (selective, with
its own parallelism), read and drop cache entries, delete. ``rayline.pipelines`` picks it when
``RAYLINE_SERVER_URL`` is set; the embedded backend beside it works on the metadata DB."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.definition.parameters import resolve_parameters
from rayline.definition.policies import ParallelismConfiguration, check_parallelism
from rayline.engine.records import CacheEntry, ExecutionRecord, PipelineRecord
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
        selective=selective_execution_config,
    )


def start(
    client: Client,
    name: str,
    parameters: dict[str, Any] | None,
    *,
    version: int,
    max_parallel_steps: int | None = None,
    selective: SelectiveExecutionConfig | None = None,
) -> ExecutionRecord:
    """Start stored version ``version`` of pipeline ``name`` (the server drives it); its
    record at once. Unknown, missing or mistyped parameters: ``ParameterError``; a selection
    the graph or the source execution cannot serve: the server's error for it."""
    body: dict[str, Any] = {"parameters": parameters or {}, "version": version}
    if max_parallel_steps is not None:
        body["max_parallel_steps"] = max_parallel_steps
    if selective is not None:
        body["selective_execution_config"] = {
            "selected_steps": list(selective.selected_steps),
            "source_pipeline_execution_id": selective.source_pipeline_execution_id,
            "reference_latest_execution": selective.reference_latest_execution,
        }
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


def cache_entries(client: Client, name: str, step: str | None = None) -> list[CacheEntry]:
    """The stored pipeline's cache entries (its latest version's cache windows)."""
    found = client.get(_path(name, "cache"), params={} if step is None else {"step": step})
    return [records.cache_entry(item) for item in found]


def invalidate_cache(client: Client, name: str, step: str | None = None) -> list[CacheEntry]:
    """Drop the stored pipeline's cache entries (only step ``step``'s); the entries dropped."""
    params = {} if step is None else {"step": step}
    found = client.call("DELETE", _path(name, "cache"), params=params)
    return [records.cache_entry(item) for item in found]


class RemotePipelines:
    """Pipelines as the server at ``client.url`` stores and runs them."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def upsert(self, definition: PipelineDefinition) -> int:
        return upsert(self.client, definition)

    def start(
        self,
        definition: PipelineDefinition,
        parameters: dict[str, Any] | None,
        *,
        version: int | None,
        parallelism_config: ParallelismConfiguration | None,
        selective_execution_config: SelectiveExecutionConfig | None,
        detach: bool,
    ) -> str:
        """The server drives the execution (``detach`` does not apply: it outlives this
        process anyway); its id."""
        return start_definition(
            self.client,
            definition,
            parameters,
            version=version,
            parallelism_config=parallelism_config,
            selective_execution_config=selective_execution_config,
        ).id

    def describe(self, name: str) -> PipelineRecord:
        return get(self.client, name)

    def list_pipelines(self) -> list[PipelineRecord]:
        return list_all(self.client)

    def definition(self, name: str, version: int | None = None) -> str:
        return definition(self.client, name, version)

    def delete(self, name: str) -> None:
        delete(self.client, name)

    def cache_entries(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]:
        """The server reads the windows of the pipeline's latest stored version."""
        return cache_entries(self.client, pipeline.name, step)

    def invalidate_cache(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]:
        return invalidate_cache(self.client, pipeline.name, step)
