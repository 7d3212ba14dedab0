"""Resolving expressions during an execution, and the cache key of a step."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rayline.definition.expressions import get_json_path, resolve, to_request
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.steps.base import Step
from rayline.engine.context import load_stored
from rayline.engine.records import StepRunRecord
from rayline.errors import NotFoundError, PipelineDefinitionError
from rayline.store import locations
from rayline.store.artifacts import ArtifactStore, content_hash, is_local, to_path


@dataclass
class ExecutionResolver:
    """Values of expressions from the execution's parameters and its finished steps."""

    pipeline: PipelineDefinition
    execution_id: str
    started_at: float
    parameters: dict[str, Any]
    done: dict[str, StepRunRecord]
    store: ArtifactStore

    def parameter(self, name: str) -> Any:
        return self.parameters[name]

    def execution_variable(self, name: str) -> Any:
        if name == "PipelineExecutionId":
            return self.execution_id
        if name == "PipelineName":
            return self.pipeline.name
        if name == "StartDateTime":
            return datetime.fromtimestamp(self.started_at, UTC).isoformat()
        return datetime.now(UTC).isoformat()

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


def committed_hash(run: StepRunRecord, output: str, store: ArtifactStore) -> str:
    """The content hash of a committed output: from its recorded manifest (a run committed
    before manifests were recorded is hashed where it is stored, once)."""
    manifest = run.manifests.get(output)
    if manifest is not None:
        return manifest["sha256"]
    uri = run.outputs[output]
    return content_hash(to_path(uri)) if is_local(uri) else store.content_hash(uri)


def cache_key(step: Step, resolver: CacheKeyResolver) -> str:
    """SHA-256 over the step's kind, resolved arguments, code content and input file content."""
    resolved = resolve(step, resolver)
    code = step.code_ref()
    material = {
        "kind": step.kind,
        "arguments": to_request(_without_code(resolved.to_arguments())),
        "code": code.cache_identity if code else None,
        "files": {p: content_hash(to_path(p)) for p in step.local_files()},
    }
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


def _without_code(arguments: dict[str, Any]) -> dict[str, Any]:
    # The code's identity is keyed by content above; its path and pickle hash must not matter.
    return {k: v for k, v in arguments.items() if k not in ("Code", "Function")}
