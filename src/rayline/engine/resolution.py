"""Resolving expressions during an execution, and the cache key of a step."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from rayline.definition.expressions import (
    get_json_path,
    resolve,
    to_request,
    unknown_execution_variable,
)
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.steps.base import Step
from rayline.engine.context import load_stored
from rayline.engine.records import StepRunRecord
from rayline.errors import NotFoundError, PipelineDefinitionError
from rayline.store import locations
from rayline.store.artifacts import ArtifactStore, content_hash, is_local, to_path


@dataclass
class ExecutionResolver:
    """Values of expressions from the execution's parameters and its finished steps.

    ``step`` is the step whose fields are being resolved, which the job-name execution
    variables name; ``resolve`` binds it for each step through ``for_step``. An unbound
    resolver (the one a condition or fail step evaluates with) has no job name to give.
    """

    pipeline: PipelineDefinition
    execution_id: str
    started_at: float
    parameters: dict[str, Any]
    done: dict[str, StepRunRecord]
    store: ArtifactStore
    step: str | None = None

    def for_step(self, name: str) -> Self:
        """This resolver, reading as step ``name`` (it shares the execution's live state)."""
        return dataclasses.replace(self, step=name)

    def parameter(self, name: str) -> Any:
        return self.parameters[name]

    def execution_variable(self, name: str) -> Any:
        """SageMaker's execution variables, as ``ExecutionVariable`` documents them."""
        pipeline_arn = f"arn:rayline:pipeline/{self.pipeline.name}"
        if name == "PipelineExecutionId":
            return self.execution_id
        if name == "PipelineExecutionArn":
            return f"{pipeline_arn}/execution/{self.execution_id}"
        if name == "PipelineName":
            return self.pipeline.name
        if name == "PipelineArn":
            return pipeline_arn
        if name == "StartDateTime":
            return datetime.fromtimestamp(self.started_at, UTC).isoformat()
        if name == "CurrentDateTime":
            return datetime.now(UTC).isoformat()
        if name in ("TrainingJobName", "ProcessingJobName"):
            if self.step is None:
                raise PipelineDefinitionError(
                    f"execution variable {name!r} names the run of the step that reads it, and "
                    "only a step that runs a job (processing, training, a function, ...) has "
                    "one; a condition or fail step cannot read it: use "
                    "ExecutionVariables.PIPELINE_EXECUTION_ID there"
                )
            return step_run_name(self.pipeline.name, self.step, self.execution_id)
        raise unknown_execution_variable(name, f"execution {self.execution_id}")

    def _run(self, step: str) -> StepRunRecord:
        run = self.done.get(step)
        if run is None:
            raise PipelineDefinitionError(f"step {step!r} has not succeeded in this execution")
        return run

    def step_output(self, step: str, output: str) -> Any:
        return self._run(step).outputs[output]

    def step_property(self, step: str, path: str) -> Any:
        props = self._run(step).properties
        head = path.split(".", 1)[0].split("[", 1)[0]
        if head in props:
            props = {**props, head: load_stored(props[head], self.store)}
        return get_json_path(props, path, where=f"the properties of step {step!r}")

    def property_file(self, step: str, property_file: str) -> Any:
        decl = next(
            pf
            for pf in self.pipeline.step(step).declared_property_files()
            if pf.name == property_file
        )
        # Read the committed output through the store: it may be on no disk of this machine.
        uri = self.step_output(step, decl.output_name).rstrip("/") + "/" + decl.path.lstrip("/")
        try:
            data = locations.read_bytes(uri)
        except NotFoundError:
            raise PipelineDefinitionError(
                f"property file {property_file!r} of step {step!r} was not written: "
                f"{decl.path!r} is missing from its output {decl.output_name!r} ({uri})"
            ) from None
        try:
            return json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise PipelineDefinitionError(
                f"property file {property_file!r} of step {step!r} ({uri}) is not JSON: {exc}"
            ) from None


class CacheKeyResolver(ExecutionResolver):
    """Like ``ExecutionResolver``, but an upstream output stands for its content hash, so a
    re-run upstream step that wrote the same bytes does not invalidate its consumers.

    The hash is the one recorded when the upstream step committed (its output's manifest),
    never a second download or hashing of the stored bytes.
    """

    def step_output(self, step: str, output: str) -> Any:
        return "sha256:" + committed_hash(self._run(step), output, self.store)


def step_run_name(pipeline: str, step: str, execution_id: str) -> str:
    """The run name of a step in an execution (``TrainingJobName``/``ProcessingJobName``):
    ``<pipeline>-<step>-<execution id>``, unique per step run."""
    return f"{pipeline}-{step}-{execution_id}"


def committed_hash(run: StepRunRecord, output: str, store: ArtifactStore) -> str:
    """The content hash of a committed output: from its recorded manifest (a run committed
    before manifests were recorded is hashed where it is stored, once)."""
    manifest = run.manifests.get(output)
    if manifest is not None:
        return manifest["sha256"]
    uri = run.outputs[output]
    return content_hash(to_path(uri)) if is_local(uri) else store.content_hash(uri)


def cache_key(step: Step, resolver: CacheKeyResolver) -> str:
    """SHA-256 over the step's kind, resolved arguments, code content (a ``source_dir``'s every
    file), input file content and Ray ``runtime_env``."""
    resolved = resolve(step, resolver)
    code = step.code_ref()
    material = {
        "kind": step.kind,
        "arguments": to_request(_without_code(resolved.to_arguments())),
        "code": code.cache_identity if code else None,
        "files": {p: content_hash(to_path(p)) for p in step.local_files()},
    }
    if step.runtime_env:  # only when set, so the keys of steps without one stay as they were
        material["runtime_env"] = step.runtime_env
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _without_code(arguments: dict[str, Any]) -> dict[str, Any]:
    # The code's identity is keyed by content above; its path and pickle hash must not matter.
    return {k: v for k, v in arguments.items() if k not in ("Code", "Function")}
