"""``Pipeline``: a pipeline definition you can store (``upsert``) and run (``start``).

Importing this module (``from rayline import Pipeline``) loads only the definition layer: the
metadata DB, the artifact store and Ray are imported by the methods that use them, so defining
a pipeline stays cheap and pure.

Each call works through one backend (``pipeline_backend``, the ``PipelineBackend`` protocol):
the embedded one here (the metadata DB, the artifact store, Ray) or, with
``RAYLINE_SERVER_URL`` set and no explicit ``db_url``, the server's REST API
(``rayline.remote.pipelines``): the code snapshots are uploaded through it and it drives the
executions.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any, Protocol

from rayline.config import settings
from rayline.definition.parameters import resolve_parameters
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.policies import ParallelismConfiguration, check_parallelism
from rayline.definition.selective import SelectiveExecutionConfig
from rayline.engine.records import CacheEntry, PipelineRecord
from rayline.errors import NotFoundError
from rayline.executions import Execution, launch

if TYPE_CHECKING:
    from rayline.engine.repository import PipelineRepository

__all__ = [
    "CacheEntry",
    "Pipeline",
    "PipelineBackend",
    "cache_entries",
    "delete_pipeline",
    "invalidate_cache",
    "list_pipelines",
    "pipeline_backend",
    "stored_definition",
]


class PipelineBackend(Protocol):
    """What ``Pipeline`` and this module's functions need of where pipelines are stored and
    run."""

    def upsert(self, definition: PipelineDefinition) -> int: ...

    def start(
        self,
        definition: PipelineDefinition,
        parameters: dict[str, Any] | None,
        *,
        version: int | None,
        parallelism_config: ParallelismConfiguration | None,
        selective_execution_config: SelectiveExecutionConfig | None,
        detach: bool,
    ) -> str: ...

    def describe(self, name: str) -> PipelineRecord: ...

    def list_pipelines(self) -> list[PipelineRecord]: ...

    def definition(self, name: str, version: int | None = None) -> str: ...

    def delete(self, name: str) -> None: ...

    def cache_entries(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]: ...

    def invalidate_cache(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]: ...


def pipeline_backend(db_url: str | None = None) -> PipelineBackend:
    """The server's pipelines (``RAYLINE_SERVER_URL`` set, no ``db_url``), else the metadata DB
    at ``db_url`` (default: the configured one)."""
    from rayline.remote.client import server_client  # httpx only when it is asked for

    client = server_client(db_url)
    if client is not None:
        from rayline.remote.pipelines import RemotePipelines

        return RemotePipelines(client)
    return EmbeddedPipelines(db_url)


class Pipeline(PipelineDefinition):
    """A pipeline: parameters and steps, stored in the metadata DB and run on Ray.

    >>> pipeline = Pipeline("housing", parameters=[threshold], steps=[ingest, prep, check])
    >>> pipeline.upsert()
    >>> execution = pipeline.start(parameters={"RMSEThreshold": 20000.0})
    >>> execution.wait()
    """

    def upsert(self, *, db_url: str | None = None) -> int:
        """Store the code snapshots and the definition; returns the pipeline version (a new
        version only when the definition changed). With ``RAYLINE_SERVER_URL`` set, the
        snapshots the server lacks are uploaded to it and it stores the definition."""
        return pipeline_backend(db_url).upsert(self)

    def start(
        self,
        parameters: dict[str, Any] | None = None,
        *,
        version: int | None = None,
        parallelism_config: ParallelismConfiguration | None = None,
        selective_execution_config: SelectiveExecutionConfig | None = None,
        detach: bool = False,
        db_url: str | None = None,
    ) -> Execution:
        """Start an execution and return its handle at once.

        By default this definition is stored first (an implicit ``upsert``) and its version
        runs; ``version=N`` runs stored version ``N`` as it was stored instead (nothing is
        upserted, and its parameters are the ones that apply). ``parallelism_config`` overrides
        the pipeline's ``ParallelismConfiguration`` for this execution.
        ``selective_execution_config`` runs only the selected steps, taking their upstream steps
        from a source execution (see ``rayline.definition.selective``); it is checked here.

        The steps run on Ray, driven by a thread of this process, or by a detached process
        with ``detach=True`` (the execution then outlives this one). ``parameters`` override
        the defaults; unknown, missing or mistyped ones raise ``ParameterError`` here.

        With ``RAYLINE_SERVER_URL`` set, the server stores the definition (its code uploaded)
        and drives the execution (``detach`` does not apply: it outlives this process anyway).
        """
        execution_id = pipeline_backend(db_url).start(
            self,
            parameters,
            version=version,
            parallelism_config=parallelism_config,
            selective_execution_config=selective_execution_config,
            detach=detach,
        )
        return Execution(execution_id, db_url=db_url)

    def describe(self) -> PipelineRecord:
        """The stored pipeline's record: description, latest version, when created and updated.
        Raises ``NotFoundError`` when it was never upserted."""
        return pipeline_backend().describe(self.name)

    def list_executions(self, *, limit: int = 50) -> list[Execution]:
        """Handles on the pipeline's latest executions, newest first."""
        from rayline.executions import list_executions

        return [Execution(r.id) for r in list_executions(self.name, limit=limit)]

    def delete(self) -> None:
        """Delete the stored pipeline with its versions and executions (see
        ``delete_pipeline``)."""
        delete_pipeline(self.name)

    def cache_entries(
        self, step: str | None = None, *, db_url: str | None = None
    ) -> list[CacheEntry]:
        """The results the next execution may reuse, newest first: per caching step (or only
        step ``step``) and cache key, the latest run that computed it inside the step's
        ``CacheConfig.expire_after`` (as this definition says; through a server, as its latest
        stored version says) and was not invalidated. Raises ``NotFoundError`` when the
        pipeline was never stored or has no step ``step``."""
        return pipeline_backend(db_url).cache_entries(self, step)

    def invalidate_cache(
        self, step: str | None = None, *, db_url: str | None = None
    ) -> list[CacheEntry]:
        """Drop the pipeline's cache entries (only step ``step``'s, if given): the next
        execution computes those steps again. The drop is recorded on the runs, which stay in
        the history (outputs, logs, lineage). Returns the entries dropped."""
        return pipeline_backend(db_url).invalidate_cache(self, step)

    @classmethod
    def load(cls, name: str, *, version: int | None = None) -> Pipeline:
        """The stored pipeline ``name`` (its latest version unless ``version`` is given)."""
        return cls.from_definition(stored_definition(name, version), name=name)

    @classmethod
    def from_sagemaker_definition(
        cls,
        definition: str | dict[str, Any],
        *,
        name: str | None = None,
        mappings: dict[str, Any] | None = None,
    ) -> Pipeline:
        """A pipeline from a definition the SageMaker Python SDK wrote (``definition()``).

        ``mappings`` maps ``s3://bucket/prefix`` to a local directory the code (and literal
        inputs) under it are read from; otherwise they are read through the configured S3
        store. What was accepted but not applied (image, instances, role, ...) is
        ``pipeline.sagemaker_not_applied``; see ``rayline.sagemaker.importer``.
        """
        from rayline.sagemaker.importer import import_sagemaker_definition

        imported = import_sagemaker_definition(definition, name=name, mappings=mappings)
        pipeline = cls(
            imported.name,
            parameters=imported.parameters,
            steps=imported.steps,
            parallelism_config=imported.parallelism_config,
            description=imported.description,
        )
        pipeline.sagemaker_not_applied = imported.not_applied
        return pipeline


def list_pipelines() -> list[PipelineRecord]:
    """Every stored pipeline, by name."""
    return pipeline_backend().list_pipelines()


def stored_definition(name: str, version: int | None = None) -> str:
    """The stored JSON definition of pipeline ``name`` (of ``version``, default the latest)."""
    return pipeline_backend().definition(name, version)


def delete_pipeline(name: str) -> None:
    """Delete a pipeline with its versions and executions (its artifacts stay). Raises
    ``ConflictError`` while one of its executions runs."""
    pipeline_backend().delete(name)


def cache_entries(pipeline_name: str, step: str | None = None) -> list[CacheEntry]:
    """The cache entries of the stored pipeline ``pipeline_name`` (its latest version's cache
    windows), as ``Pipeline.cache_entries`` returns them."""
    return Pipeline.load(pipeline_name).cache_entries(step)


def invalidate_cache(pipeline_name: str, step: str | None = None) -> list[CacheEntry]:
    """Drop the cache entries of the stored pipeline ``pipeline_name`` (only step ``step``'s,
    if given), as ``Pipeline.invalidate_cache`` does; returns the entries dropped."""
    return Pipeline.load(pipeline_name).invalidate_cache(step)


class EmbeddedPipelines:
    """Pipelines in the metadata DB at ``db_url`` (default: the configured one), their code in
    the artifact store, their executions driven from this process on Ray."""

    def __init__(self, db_url: str | None = None) -> None:
        from rayline.engine.repository import open_repository

        self.repo = open_repository(db_url)

    def upsert(self, definition: PipelineDefinition) -> int:
        from rayline.remote.codes import snapshots
        from rayline.store.artifacts import open_artifact_store

        store = open_artifact_store()
        for snapshot in snapshots(definition):
            # Named by content (a pickle by the hash in the definition: pickling one function
            # twice can give other bytes), so the first one stored under a name stays.
            store.put_once(snapshot.content, "code", snapshot.file)
        return self.repo.upsert_pipeline(
            definition.name, definition.definition(), definition.description
        )

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
        from rayline.engine.lease import driver_id

        check_parallelism(parallelism_config)
        repo = self.repo
        name = definition.name
        if version is None:
            values = resolve_parameters(list(definition.parameters), parameters)
            version = self.upsert(definition)
        else:
            version, text = repo.get_definition(name, int(version))
            definition = PipelineDefinition.from_definition(text, name=name)
            values = resolve_parameters(list(definition.parameters), parameters)
        config = parallelism_config or definition.parallelism_config
        selective = None
        if selective_execution_config is not None:
            from rayline.engine.selection import selective_request

            selective = selective_request(repo, name, definition.graph, selective_execution_config)
        execution_id = uuid.uuid4().hex[:16]
        repo.create_execution(
            execution_id,
            name,
            version,
            values,
            max_parallel_steps=config.max_parallel_execution_steps if config else None,
            selective=selective,
            started_by=settings().user,
            driver=driver_id(),
            lease_s=settings().lease_s,
        )
        launch(execution_id, db_url=repo.db.url, detach=detach, expected_token=0)
        return execution_id

    def describe(self, name: str) -> PipelineRecord:
        return self.repo.get_pipeline(name)

    def list_pipelines(self) -> list[PipelineRecord]:
        return self.repo.list_pipelines()

    def definition(self, name: str, version: int | None = None) -> str:
        return self.repo.get_definition(name, version)[1]

    def delete(self, name: str) -> None:
        self.repo.delete_pipeline(name)

    def cache_entries(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]:
        self.repo.get_pipeline(pipeline.name)  # raises NotFoundError, naming the stored ones
        return _cache_entries(self.repo, pipeline, step, now=time.time())

    def invalidate_cache(
        self, pipeline: PipelineDefinition, step: str | None = None
    ) -> list[CacheEntry]:
        self.repo.get_pipeline(pipeline.name)  # raises NotFoundError, naming the stored ones
        # Entries and invalidation share one instant: a run ending after it is not dropped,
        # and is not counted either.
        now = time.time()
        dropped = _cache_entries(self.repo, pipeline, step, now=now)
        # Every run that computed a result is marked, expired ones too: a longer expire_after
        # in a later version must not bring them back.
        self.repo.invalidate_cache(pipeline.name, None if step is None else [step], at=now)
        return dropped


def _cache_entries(
    repo: PipelineRepository, pipeline: PipelineDefinition, step: str | None, *, now: float
) -> list[CacheEntry]:
    steps = pipeline.graph.steps
    if step is not None and step not in steps:
        raise NotFoundError(
            f"pipeline {pipeline.name!r} has no step {step!r}; its steps: {', '.join(steps)}"
        )
    windows: dict[str, float | None] = {}
    for s in [steps[step]] if step is not None else steps.values():
        if s.cache_config is not None and s.cache_config.enable_caching:
            # As the scheduler reads it: no window (or an empty one) never expires.
            windows[s.name] = s.cache_config.expire_after_seconds or None
    not_before = {name: None if w is None else now - w for name, w in windows.items()}
    hits = repo.cache_hits(pipeline.name)
    entries = []
    for run in repo.cache_sources(pipeline.name, not_before):
        window = windows[run.step_name]
        entries.append(
            CacheEntry(
                step_name=run.step_name,
                cache_key=run.cache_key,
                execution_id=run.execution_id,
                computed_at=run.ended_at,
                expires_at=None if window is None else run.ended_at + window,
                hits=hits.get((run.step_name, run.execution_id), 0),
            )
        )
    return entries
