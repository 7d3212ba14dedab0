"""Scoped changes to the process a step runs in: environment variables, working directory,
``sys.argv`` and the import root, restored afterwards (Ray reuses worker processes, so a step must
leave none of its settings behind for the next one); and the Ray ``runtime_env`` of a step's task.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def process_state(
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    keep_existing: bool = False,
    import_root: Path | None = None,
) -> Iterator[None]:
    """Set ``env`` (and change into ``cwd``, creating it) for the duration of the block.

    ``keep_existing=True`` sets only the variables the process does not already have, so a
    user's own setting wins. ``import_root`` (a step's unpacked ``source_dir``) goes first on
    ``sys.path`` and ``PYTHONPATH`` (for the processes the script starts); the modules imported
    from it are forgotten on exit, so the next step in this worker imports its own version.
    Environment, working directory, ``sys.argv`` and ``sys.path`` are restored on exit.
    """
    if keep_existing:
        env = {k: v for k, v in env.items() if k not in os.environ}
    if import_root is not None:
        paths = [str(import_root), env.get("PYTHONPATH") or os.environ.get("PYTHONPATH", "")]
        env = {**env, "PYTHONPATH": os.pathsep.join(p for p in paths if p)}
    saved_env = {k: os.environ.get(k) for k in env}
    saved_cwd, saved_argv, saved_path = os.getcwd(), list(sys.argv), list(sys.path)
    os.environ.update(env)
    if import_root is not None:
        sys.path.insert(0, str(import_root))
    if cwd is not None:
        cwd.mkdir(parents=True, exist_ok=True)
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(saved_cwd)
        sys.argv = saved_argv
        if import_root is not None:
            sys.path[:] = saved_path
            _forget_modules(import_root)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _forget_modules(root: Path) -> None:
    prefix = str(root).rstrip(os.sep) + os.sep
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(prefix):
            del sys.modules[name]


def task_runtime_env(kind: Mapping[str, Any] | None, step: Mapping[str, Any]) -> dict[str, Any]:
    """The ``runtime_env`` of a step's Ray task: what its kind sets (``ray_options()``), with the
    step's own (``runtime_env=``) merged in: variables are combined (the step's win), the step's
    pip requirements apply. The driver's S3 settings are not in it: the task applies them itself
    (``StepContext.storage_env``), whatever runtime env its worker was started with."""
    merged = dict(kind or {})
    for key, value in step.items():
        if key == "env_vars":
            merged["env_vars"] = {**merged.get("env_vars", {}), **value}
        else:
            merged[key] = value
    return merged


def runtime_env_failure(step: str, error: BaseException) -> str:
    """A step's failure reason when Ray could not set up its ``runtime_env``: what pip (or Ray)
    said went wrong, not the whole traceback of Ray's agent."""
    text = str(getattr(error, "error_message", None) or error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    said = [line for line in lines if line.startswith("ERROR:")] or lines[-3:]
    return (
        f"the runtime_env of step {step!r} could not be set up on its node: "
        + " ".join(said)
        + " (check the requirements in its runtime_env against the cluster's package index)"
    )
