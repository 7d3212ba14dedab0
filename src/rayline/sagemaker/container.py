"""Run a SageMaker processing script unchanged inside a rayline processing step.

A SageMaker processing job downloads each input to its ``LocalPath`` under
``/opt/ml/processing`` and uploads each output's ``LocalPath`` when the script ends. Here the
step builds that tree under its own work directory (inputs copied in, as SageMaker downloads
them; each output directory a link to the step's declared output) and runs the script with
every occurrence of the container root in its text and its arguments pointing there, so
``base_dir = "/opt/ml/processing"`` and ``/opt/ml/processing/train/train.csv`` both land in
the step's own directories. A path the script builds from pieces (``os.path.join("/opt",
"ml", ...)``) is not seen; that is the mapping's limit.
"""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from rayline.definition.steps.processing import CONTAINER_ROOT
from rayline.errors import StepFailedError

__all__ = ["CONTAINER_ROOT", "ContainerScript", "in_container_root", "map_container_paths"]


def in_container_root(path: str) -> bool:
    """Whether ``path`` is ``CONTAINER_ROOT`` or lies under it."""
    return path == CONTAINER_ROOT or path.startswith(CONTAINER_ROOT + "/")


def map_container_paths(text: str, root: Path) -> str:
    """``text`` with the container root replaced by the step's local ``root``."""
    return text.replace(CONTAINER_ROOT, str(root))


@dataclass(frozen=True)
class ContainerScript:
    """A processing step's function: the user's script (its bytes, read at import) and where
    SageMaker would have put its inputs, outputs and code (``LocalPath`` by slot name)."""

    script_name: str
    source: bytes
    code_dir: str
    input_paths: dict[str, str] = field(default_factory=dict)
    output_paths: dict[str, str] = field(default_factory=dict)
    #: Steps imported before the engine kept a downloaded file's own name end their arguments
    #: with one per input (in ``input_paths``' order), its resolved source, to name the file
    #: (``s3://b/data.csv`` -> ``LocalPath/data.csv``, as SageMaker downloads it); the script
    #: does not see them. Their stored pickles say ``True``; steps imported now need none.
    source_arguments: bool = False

    def identity(self) -> str:
        """What the cache key hashes: the script's bytes and the path mapping."""
        mapping = json.dumps(
            [self.script_name, self.code_dir, self.input_paths, self.output_paths], sort_keys=True
        )
        return hashlib.sha256(self.source + mapping.encode()).hexdigest()

    def __call__(self, ctx: Any) -> None:
        root = Path(ctx.work_dir) / "container"
        if root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True)
        arguments = list(ctx.arguments)
        sources: list[str] = []
        if self.source_arguments and self.input_paths:
            arguments, sources = (
                arguments[: -len(self.input_paths)],
                arguments[-len(self.input_paths) :],
            )
        for n, (slot, local_path) in enumerate(self.input_paths.items()):
            name = PurePosixPath(sources[n].rstrip("/")).name if sources else None
            _place_input(Path(ctx.inputs[slot]), _under(root, local_path), name=name)
        for name, local_path in self.output_paths.items():
            target = _under(root, local_path)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                raise StepFailedError(
                    f"output {name!r} at {local_path} lies inside an input or another output; "
                    "give it a LocalPath of its own"
                )
            target.symlink_to(Path(ctx.outputs[name]), target_is_directory=True)
        script = _under(root, self.code_dir) / self.script_name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(map_container_paths(self.source.decode(), root))
        argv = [map_container_paths(str(a), root) for a in arguments]
        saved_argv, saved_path = sys.argv, list(sys.path)
        sys.argv = [str(script), *argv]
        sys.path.insert(0, str(script.parent))  # as `python3 script.py` puts its folder first
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exc:
            if exc.code not in (None, 0):
                raise StepFailedError(
                    f"script {self.script_name} exited with status {exc.code}"
                ) from None
        finally:
            sys.argv, sys.path[:] = saved_argv, saved_path


def _under(root: Path, container_path: str) -> Path:
    return root / PurePosixPath(container_path).relative_to(CONTAINER_ROOT)


def _place_input(source: Path, target: Path, *, name: str | None) -> None:
    # A copy, as SageMaker downloads: the script may write beside its inputs, and an input
    # read from a file:// store is another step's committed output.
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=False)
    else:
        shutil.copy2(source, target / (name or source.name))
    os.chmod(target, 0o755)
