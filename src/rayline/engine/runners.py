"""Runners of the built-in step kinds (see ``rayline.step_kinds``).

Processing and function steps run inside a Ray task (``rayline.engine.worker``); condition and
fail steps are evaluated by the scheduler, which hands them a ``Resolver``.
"""

from __future__ import annotations

import os
import runpy
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rayline.definition.expressions import Resolver, resolve
from rayline.definition.steps import ConditionStep, FailStep, FunctionStep, ProcessingStep
from rayline.engine.context import ProcessingContext, StepContext, StepResult
from rayline.errors import StepFailedError
from rayline.store.artifacts import open_artifact_store, to_path


def run_processing(step: ProcessingStep, ctx: StepContext) -> StepResult:
    inputs = {i.destination: to_path(str(i.source)) for i in step.inputs}
    for dest, path in inputs.items():
        if not path.exists():
            raise StepFailedError(f"input {dest!r} of step {step.name!r} does not exist: {path}")
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
    with _process_state(env=env, cwd=ctx.work_dir):
        if step.code is not None:
            # Run the snapshot under the script's own file name so tracebacks read naturally.
            script = ctx.work_dir / "code" / Path(ref.path).name
            script.parent.mkdir(parents=True, exist_ok=True)
            script.write_bytes(store.get_bytes(store.uri_for("code", f"{ref.sha256}.py")))
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
    store = open_artifact_store(ctx.artifact_uri)
    func = step.function or _load_function(store, step.function_ref.sha256)
    with _process_state(env=ctx.env(), cwd=ctx.work_dir):
        value = func(*step.args, **step.kwargs)
    return StepResult(properties={"Return": value})


def run_condition(step: ConditionStep, resolver: Resolver) -> dict[str, Any]:
    outcome = all(c.evaluate(resolver) for c in step.conditions)
    return {"Outcome": outcome}


def run_fail(step: FailStep, resolver: Resolver) -> dict[str, Any]:
    message = resolve(step.error_message, resolver)
    return {"ErrorMessage": str(message) if message is not None else ""}


def _load_function(store: Any, sha256: str) -> Any:
    import cloudpickle

    return cloudpickle.loads(store.get_bytes(store.uri_for("code", f"{sha256}.pkl")))


def _arg_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@contextmanager
def _process_state(*, env: dict[str, str], cwd: Path):
    """Set environment, working directory and argv for the step; restore them afterwards
    (Ray reuses worker processes)."""
    saved_env = {k: os.environ.get(k) for k in env}
    saved_cwd, saved_argv = os.getcwd(), list(sys.argv)
    os.environ.update(env)
    cwd.mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
