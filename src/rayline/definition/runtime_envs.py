"""A step's Ray ``runtime_env``: its own Python requirements and environment variables.

Ray's names, since Ray users know them: ``runtime_env={"pip": ["tabulate==0.9.0"],
"env_vars": {"MODE": "fast"}}``. The step's Ray task gets it (merged with what the engine and the
step's kind set), it is recorded in the definition (``RayRuntimeEnv``) and it is part of the
cache key. Only what a pipeline can reproduce on any node is accepted: requirements from the
package index (nodes share no disk, so no local paths or requirements files) and string
variables; code directories are ``source_dir=``'s job.
"""

from __future__ import annotations

import re
from typing import Any

from rayline.errors import PipelineDefinitionError

SUPPORTED = ("pip", "env_vars")

# Ray keys rayline refuses, with what to do instead.
_REFUSED = {
    "working_dir": "ship a code directory with source_dir= (ProcessingStep): it is snapshotted "
    "by content and part of the cache key",
    "py_modules": "ship your modules with source_dir= (ProcessingStep); a function step's own "
    "modules travel with its pickle",
    "excludes": "source_dir= leaves out __pycache__, .git and *.pyc",
    "conda": "give pip requirements instead: runtime_env={'pip': [...]}",
    "uv": "give the same requirements as runtime_env={'pip': [...]}",
    "container": "a step runs in the cluster's Python; give pip requirements instead",
    "image_uri": "a step runs in the cluster's Python; give pip requirements instead",
}
_PIP_OPTIONS = {"packages", "pip_check", "pip_version"}
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def checked_runtime_env(step: str, runtime_env: Any) -> dict[str, Any]:
    """``runtime_env`` validated for step ``step`` (a copy; empty when None)."""
    if runtime_env is None:
        return {}
    if not isinstance(runtime_env, dict):
        raise PipelineDefinitionError(
            f"step {step!r}: runtime_env must be a dict like {{'pip': ['tabulate'], "
            f"'env_vars': {{'MODE': 'fast'}}}}, not {type(runtime_env).__name__}"
        )
    out: dict[str, Any] = {}
    for key, value in runtime_env.items():
        if key in _REFUSED:
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env key {key!r} is not supported: {_REFUSED[key]}"
            )
        if key == "pip":
            out["pip"] = _pip(step, value)
        elif key == "env_vars":
            out["env_vars"] = _env_vars(step, value)
        else:
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env key {key!r} is not supported; a step's runtime_env "
                f"takes {' and '.join(map(repr, SUPPORTED))}"
            )
    return {k: v for k, v in out.items() if v}


def _pip(step: str, value: Any) -> Any:
    if isinstance(value, dict):
        unknown = set(value) - _PIP_OPTIONS
        if unknown or "packages" not in value:
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env 'pip' as a dict takes 'packages' (a list of "
                f"requirements) and optionally 'pip_check' and 'pip_version'; got "
                f"{sorted(map(str, value))}"
            )
        if "pip_check" in value and not isinstance(value["pip_check"], bool):
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env pip 'pip_check' must be True or False"
            )
        if "pip_version" in value and not isinstance(value["pip_version"], str):
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env pip 'pip_version' must be a version specifier "
                "string like '==24.0'"
            )
        return {**value, "packages": _requirements(step, value["packages"])}
    return _requirements(step, value)


def _requirements(step: str, value: Any) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise PipelineDefinitionError(
            f"step {step!r}: runtime_env 'pip' must be a list of requirements like "
            f"['tabulate==0.9.0'], not {value!r} (a requirements file is on this machine only: "
            "list its lines instead)"
        )
    for req in value:
        if not isinstance(req, str) or not req.strip():
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env pip requirement {req!r} must be a non-empty string "
                "like 'tabulate==0.9.0'"
            )
        if _is_local(req.strip()):
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env pip requirement {req!r} names a local file, which "
                "the other nodes of a cluster do not have; publish it to your package index "
                "and name it by its project name"
            )
    return [req.strip() for req in value]


def _is_local(requirement: str) -> bool:
    """Whether a requirement names a file or directory of this machine (other nodes lack it)."""
    if requirement.startswith(("./", "../", "/", "~", "file:")):
        return True
    return "://" not in requirement and requirement.endswith((".whl", ".tar.gz", ".zip"))


def _env_vars(step: str, value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PipelineDefinitionError(
            f"step {step!r}: runtime_env 'env_vars' must be a dict of names to strings, not "
            f"{type(value).__name__}"
        )
    for name, text in value.items():
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env env_vars name {name!r} is invalid: use letters, "
                "digits and '_', not starting with a digit"
            )
        if name.startswith("RAYLINE_"):
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env env_vars {name!r}: the RAYLINE_* variables are set "
                "by the engine for every step (its stores, inputs and outputs); use another name"
            )
        if not isinstance(text, str):
            raise PipelineDefinitionError(
                f"step {step!r}: runtime_env env_vars {name!r} must be a string (environment "
                f"variables are text): give {str(text)!r}, not {text!r}"
            )
    return dict(value)
