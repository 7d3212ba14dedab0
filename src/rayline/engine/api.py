"""The engine's records for the front ends: stored pipelines, their versions and definitions,
executions with their steps and event log, and the code snapshots steps run.

The REST routes and Studio read and store through these functions (each read is one indexed
query on this process's metadata DB: no Ray), never through the engine's repository or the
artifact store, which stay the engine's own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from rayline.errors import UserInputError

if TYPE_CHECKING:
    from rayline.definition.pipeline import PipelineDefinition
    from rayline.engine.records import (
        EventKind,
        EventRecord,
        ExecutionRecord,
        PipelineRecord,
        StepRunRecord,
    )
    from rayline.engine.repository import PipelineRepository
    from rayline.engine.resolution import ExecutionResolver


def _repo() -> PipelineRepository:
    # Imported on first use: a front end imports this module at start-up, and SQLAlchemy
    # should load with its first request, not with it.
    from rayline.engine.repository import open_repository as open_engine_repository

    return open_engine_repository()


# -- pipelines --------------------------------------------------------------------------------


def list_pipelines() -> list[PipelineRecord]:
    """Every stored pipeline, by name."""
    return _repo().list_pipelines()


def get_pipeline(name: str) -> PipelineRecord:
    """Stored pipeline ``name`` (``NotFoundError`` naming the stored ones)."""
    return _repo().get_pipeline(name)


def pipeline_versions(name: str) -> list[tuple[int, float]]:
    """The pipeline's versions with when each was stored, oldest first (``NotFoundError`` for an
    unknown pipeline, not an empty list)."""
    repo = _repo()
    repo.get_pipeline(name)
    return repo.list_versions(name)


def get_definition(name: str, version: int | None = None) -> tuple[int, str]:
    """``(version, JSON definition)`` of a stored version (default: the latest)."""
    return _repo().get_definition(name, version)


def store_definition(pipeline: PipelineDefinition) -> int:
    """Store a parsed definition as the pipeline's newest version (unchanged: the same one);
    refused (``UserInputError``) while a code snapshot it names is not stored."""
    missing = {
        step: file
        for step, file in snapshot_names(pipeline).items()
        if not code_snapshot_stored(file)
    }
    if missing:
        listed = ", ".join(f"{file} (step {step!r})" for step, file in sorted(missing.items()))
        raise UserInputError(
            f"pipeline {pipeline.name!r}: this server does not have the code snapshot(s) "
            f"{listed}; upload each with PUT /api/v1/code/<file> first (Pipeline.upsert() "
            "with RAYLINE_SERVER_URL set does that)"
        )
    return _repo().upsert_pipeline(pipeline.name, pipeline.definition(), pipeline.description)


def snapshot_names(pipeline: PipelineDefinition) -> dict[str, str]:
    """step name -> the code snapshot (``<sha256><suffix>`` under ``code/``) it runs, as
    ``Pipeline.upsert()`` stores them: a script ``.py``, a ``source_dir`` archive ``.tar``, a
    pickled function ``.pkl``."""
    from rayline.definition.source_dirs import SourceDirRef

    names = {}
    for step in pipeline.graph.steps.values():
        ref = step.code_ref()
        if ref is None:
            continue
        if isinstance(ref, SourceDirRef):
            suffix = ".tar"
        elif getattr(step, "code", None) is ref:
            suffix = ".py"
        else:
            suffix = ".pkl"
        names[step.name] = f"{ref.sha256}{suffix}"
    return names


# -- code snapshots ---------------------------------------------------------------------------


#: ``<sha256><suffix>``: the names ``Pipeline.upsert()`` stores snapshots under.
SNAPSHOT_NAME = re.compile(r"^(?P<sha>[0-9a-f]{64})(?P<suffix>\.(?:pkl|py|tar))$")


def parse_snapshot_name(file: str) -> tuple[str, str]:
    """``(sha256, suffix)`` of a snapshot's name (``UserInputError`` for another name)."""
    match = SNAPSHOT_NAME.match(file)
    if match is None:
        raise UserInputError(
            f"code snapshot name {file!r} is not '<sha256><suffix>': 64 lowercase hex digits "
            "and .pkl (a pickled function), .py (a script) or .tar (a source_dir archive)"
        )
    return match["sha"], match["suffix"]


def code_snapshot_stored(file: str) -> bool:
    """Whether code snapshot ``file`` (``<sha256><suffix>``) is in the artifact store."""
    from rayline.store.artifacts import open_artifact_store

    parse_snapshot_name(file)
    store = open_artifact_store()
    return store.exists(store.uri_for("code", file))


def store_code_snapshot(data: bytes, file: str) -> str:
    """Store ``data`` as code snapshot ``file``; returns its URI. A script's or archive's name
    must be the SHA-256 of its bytes (``UserInputError``); a pickled function's is the hash its
    definition records (pickling one function twice may give other bytes), so it cannot be
    checked. As ``Pipeline.upsert`` does, the first snapshot stored under a name stays."""
    import hashlib

    from rayline.store.artifacts import open_artifact_store

    sha, suffix = parse_snapshot_name(file)
    if suffix != ".pkl":
        actual = hashlib.sha256(data).hexdigest()
        if actual != sha:
            raise UserInputError(
                f"code snapshot {file}: the body's SHA-256 is {actual}, not the {sha} its name "
                "says; upload the file's exact bytes under the name of their hash"
            )
    return open_artifact_store().put_once(data, "code", file)


# -- executions -------------------------------------------------------------------------------


def page_executions(
    *,
    pipeline_name: str | None = None,
    status: str | None = None,
    offset: int = 0,
    limit: int = 50,
) -> list[ExecutionRecord]:
    """Executions, newest first (of one pipeline, in one status), ``limit`` from ``offset``."""
    return _repo().page_executions(
        pipeline_name=pipeline_name, status=status, offset=offset, limit=limit
    )


def get_execution(execution_id: str) -> ExecutionRecord:
    """Execution ``execution_id`` (``NotFoundError`` when there is none)."""
    return _repo().get_execution(execution_id)


def find_execution(execution_id: str) -> ExecutionRecord | None:
    """Execution ``execution_id``, or None (deleted, or never was)."""
    return _repo().find_execution(execution_id)


def step_runs(execution_id: str) -> list[StepRunRecord]:
    """The execution's steps that have started, in start order (none for an unknown
    execution: ``get_execution`` first tells the two apart)."""
    return _repo().list_step_runs(execution_id)


def step_run(execution_id: str, step_name: str) -> StepRunRecord:
    """One step's run in the execution (``NotFoundError`` for either unknown)."""
    repo = _repo()
    repo.get_execution(execution_id)
    return repo.get_step_run(execution_id, step_name)


def events(execution_id: str, *, after_id: int = 0) -> list[EventRecord]:
    """The execution's event log, oldest first, after event ``after_id`` (none for an unknown
    execution: ``get_execution`` first tells the two apart)."""
    return _repo().list_events(execution_id, after_id=after_id)


def last_event_id() -> int:
    """The id of the newest event of any execution (0 for none): a cursor for ``events_after``."""
    return _repo().last_event_id()


def events_after(after_id: int, *, kinds: tuple[EventKind, ...] | None = None) -> list[EventRecord]:
    """Every execution's events after event ``after_id`` (of ``kinds`` only), oldest first."""
    return _repo().events_after(after_id, kinds=kinds)


def display_resolver(
    record: ExecutionRecord, definition: PipelineDefinition, step: str, runs: list[StepRunRecord]
) -> ExecutionResolver:
    """The resolver of the expressions of ``step`` over the execution's records, for showing
    them: a property stored by reference (a pickled Python object) is named, never unpickled."""
    from rayline.engine.context import PICKLED
    from rayline.engine.records import StepStatus
    from rayline.engine.resolution import ExecutionResolver
    from rayline.store.artifacts import open_artifact_store

    class _Shown(ExecutionResolver):
        def step_property(self, step: str, path: str) -> Any:
            props = self._run(step).properties
            head = path.split(".", 1)[0].split("[", 1)[0]
            value = props.get(head)
            if isinstance(value, dict) and set(value) == {PICKLED}:
                return f"(a Python object, stored at {value[PICKLED]})"
            return super().step_property(step, path)

    return _Shown(
        pipeline=definition,
        execution_id=record.id,
        started_at=record.created_at,
        parameters=record.parameters,
        done={r.step_name: r for r in runs if r.status == StepStatus.SUCCEEDED},
        store=open_artifact_store(),
        step=step,
    )


def read_output_file(uri: str) -> bytes:
    """The bytes of a file a step wrote (``uri`` under one of its outputs): through the
    artifact store when it holds ``uri`` (``file://`` or S3), else wherever the location is."""
    from rayline.store import locations
    from rayline.store.artifacts import open_artifact_store

    store = open_artifact_store()
    if store.contains(uri):
        return store.get_bytes(uri)
    return locations.read_bytes(uri)
