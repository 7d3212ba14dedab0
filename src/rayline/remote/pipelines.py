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
from rayline.engine.records import CacheEntry, PipelineRecord
from rayline.remote import codes, records

if TYPE_CHECKING:
    from rayline.definition.pipeline import PipelineDefinition
    from rayline.definition.selective import SelectiveExecutionConfig
    from rayline.remote.client import Client


def _path(name: str, *rest: str) -> str:
    return "/".join([f"/pipelines/{quote(name, safe='')}", *rest])


class RemotePipelines:
    """Pipelines as the server at ``client.url`` stores and runs them."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def upsert(self, definition: PipelineDefinition) -> int:
        """Upload the code snapshots the server lacks, then store the definition; returns the
        pipeline version (a new one only when the definition changed)."""
        codes.upload(self.client, definition)
        body = {
            "definition": json.loads(definition.definition()),
            "description": definition.description,
        }
        return int(self.client.put(_path(definition.name), json=body)["version"])

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
        """Store this definition (``version`` None) or pick stored version ``version``, then
        start it on the server, which drives it (``detach`` does not apply: it outlives this
        process anyway); the execution's id. Unknown, missing or mistyped parameters:
        ``ParameterError``; a selection the graph or the source execution cannot serve: the
        server's error for it."""
        check_parallelism(parallelism_config)
        if version is None:
            # As embedded: a wrong parameter is refused before anything is stored.
            resolve_parameters(list(definition.parameters), parameters)
            version = self.upsert(definition)
        body: dict[str, Any] = {"parameters": parameters or {}, "version": version}
        # Without an override the server applies the stored version's own parallelism.
        if parallelism_config is not None:
            body["max_parallel_steps"] = parallelism_config.max_parallel_execution_steps
        selective = selective_execution_config
        if selective is not None:
            body["selective_execution_config"] = {
                "selected_steps": list(selective.selected_steps),
                "source_pipeline_execution_id": selective.source_pipeline_execution_id,
                "reference_latest_execution": selective.reference_latest_execution,
            }
        answer = self.client.post(_path(definition.name, "executions"), json=body)
        return records.execution(answer).id

    def describe(self, name: str) -> PipelineRecord:
        return records.pipeline(self.client.get(_path(name)))

    def list_pipelines(self) -> list[PipelineRecord]:
        return [records.pipeline(item) for item in self.client.items("/pipelines")]

    def definition(self, name: str, version: int | None = None) -> str:
        """The stored JSON definition (of ``version``, default the latest), as text."""
        params = {} if version is None else {"version": version}
        return json.dumps(self.client.get(_path(name, "definition"), params=params))

    def delete(self, name: str) -> None:
        self.client.delete(_path(name))

    def cache_entries(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]:
        """The server reads the windows of the pipeline's latest stored version."""
        params = {} if step is None else {"step": step}
        found = self.client.get(_path(pipeline.name, "cache"), params=params)
        return [records.cache_entry(item) for item in found]

    def invalidate_cache(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]:
        params = {} if step is None else {"step": step}
        found = self.client.call("DELETE", _path(pipeline.name, "cache"), params=params)
        return [records.cache_entry(item) for item in found]
