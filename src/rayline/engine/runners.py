"""Runners of the built-in step kinds (see ``rayline.step_kinds``), each ``run(step, ctx) ->
StepResult``.

Processing and function steps run inside a Ray task (``rayline.engine.worker``); condition and
fail steps are evaluated by the scheduler, whose context carries the execution's ``resolver``.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path
from typing import Any

from rayline.definition.expressions import resolve
from rayline.definition.source_dirs import SourceDirRef
from rayline.definition.steps import ConditionStep, FailStep, FunctionStep, ProcessingStep
from rayline.engine.context import ProcessingContext, StepContext, StepResult
from rayline.engine.environment import process_state
from rayline.engine.staging import materialize_source_dir
from rayline.errors import NotFoundError, StepFailedError
from rayline.store.artifacts import open_artifact_store


def run_processing(step: ProcessingStep, ctx: StepContext) -> StepResult:
    """Run the step's script (as ``__main__``) or function with its inputs and outputs."""
    # Inputs in an object store are downloaded to this node: the script sees local paths.
    inputs: dict[str, Path] = {}
    for i in step.inputs:
        try:
            inputs[i.destination] = ctx.materialize(str(i.source), name=i.destination)
        except NotFoundError:
            raise StepFailedError(
                f"input {i.destination!r} of step {step.name!r} does not exist: {i.source}"
            ) from None
    args = [_arg_text(a) for a in step.arguments]
    env = {
        **ctx.env(),
        **step.env,
        "RAYLINE_INPUTS": ",".join(inputs),
        "RAYLINE_OUTPUTS": ",".join(ctx.outputs),
    }
    env.update({f"RAYLINE_INPUT_{d.upper()}": str(p) for d, p in inputs.items()})
    env.update({f"RAYLINE_OUTPUT_{n.upper()}": str(p) for n, p in ctx.outputs.items()})
    store = open_artifact_store(ctx.artifact_uri)
    ref = step.code_ref()
    cwd, import_root = ctx.work_dir, None
    if isinstance(ref, SourceDirRef):
        # The directory is the script's working directory and import root, as SageMaker's
        # unpacked source_dir is.
        try:
            cwd = import_root = materialize_source_dir(ref, ctx.work_dir / "code", store=store)
        except NotFoundError as exc:
            raise StepFailedError(
                f"step {step.name!r}: {exc}; upsert the pipeline again to store it"
            ) from None
    with process_state(env=env, cwd=cwd, import_root=import_root):
        if step.code is not None:
            # Run the snapshot under the script's own file name so tracebacks read naturally.
            if import_root is not None:
                script = import_root / ref.entry_point
            else:
                script = ctx.work_dir / "code" / Path(ref.path).name
                script.parent.mkdir(parents=True, exist_ok=True)
                script.write_bytes(_code(store, f"{ref.sha256}.py"))
            sys.argv = [str(script), *args]
            try:
                runpy.run_path(str(script), run_name="__main__")
            except SystemExit as exc:
                if exc.code not in (None, 0):
                    raise StepFailedError(
                        f"script {Path(ref.path).name} exited with status {exc.code}"
                    ) from None
            return StepResult()
        func = step.function or _load_function(store, ref.sha256)
        value = func(
            ProcessingContext(
                inputs=inputs,
                outputs=dict(ctx.outputs),
                arguments=args,
                execution_id=ctx.execution_id,
                step_name=step.name,
                work_dir=ctx.work_dir,
            )
        )
        return StepResult(properties={"Return": value} if value is not None else {})


def run_function(step: FunctionStep, ctx: StepContext) -> StepResult:
    """Call the step's function; its return value is the ``Return`` property."""
    store = open_artifact_store(ctx.artifact_uri)
    func = step.function or _load_function(store, step.function_ref.sha256)
    with process_state(env=ctx.env(), cwd=ctx.work_dir):
        value = func(*step.args, **step.kwargs)
    return StepResult(properties={"Return": value})


def run_condition(step: ConditionStep, ctx: StepContext) -> StepResult:
    """Evaluate the conditions (ANDed): property ``Outcome``, and the branch it selects."""
    outcome = all(c.evaluate(ctx.resolver) for c in step.conditions)
    return StepResult(
        properties={"Outcome": outcome},
        branch=step.branch_for(outcome),
        summary=f"Outcome={outcome}",
    )


def run_fail(step: FailStep, ctx: StepContext) -> StepResult:
    """Fail the execution with the step's resolved message."""
    message = resolve(step.error_message, ctx.resolver)
    text = str(message) if message is not None else ""
    return StepResult(
        properties={"ErrorMessage": text},
        failure=text or f"step {step.name!r} failed the execution",
    )


# Code snapshots are named by their content hash, so their bytes never change: a Ray worker
# (reused across steps) fetches each one once, not once per step (a request each on S3).
_code_bytes: dict[str, bytes] = {}


def _code(store: Any, name: str) -> bytes:
    uri = store.uri_for("code", name)
    data = _code_bytes.get(uri)
    if data is None:
        data = _code_bytes[uri] = store.get_bytes(uri)
    return data


def _load_function(store: Any, sha256: str) -> Any:
    import cloudpickle

    return cloudpickle.loads(_code(store, f"{sha256}.pkl"))


def _arg_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
