"""A version's files: found inside step outputs, read, and copied into the artifact store.

Registering copies them under ``registry/GROUP/VERSION/`` so a version stays servable after the
pipeline run that produced it is cleaned up.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayline.errors import SchemaError, UserInputError
from rayline.store.artifacts import ArtifactStore, to_path

# Names a training step may give its model file, most specific first.
MODEL_NAMES = ("model.ubj", "model.json", "model.xgb", "model.bst", "xgboost-model")
PREPROCESSOR_NAMES = ("preprocessor.json", "scaler.json")
METRICS_NAMES = ("evaluation.json", "metrics.json")


def find_file(uri: str, *, what: str, names: tuple[str, ...], suffixes: tuple[str, ...]) -> Path:
    """The file ``uri`` points at, or the one file inside the directory it points at."""
    try:
        path = to_path(uri)
    except UserInputError:
        raise
    if path.is_file():
        return path
    if not path.is_dir():
        raise UserInputError(f"{what} {uri} does not exist")
    for name in names:
        if (path / name).is_file():
            return path / name
    for name in names:  # one level down or deeper (a checkpoint directory), if unambiguous
        nested = sorted(path.rglob(name))
        if len(nested) == 1:
            return nested[0]
    candidates = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.suffix in suffixes and not p.name.startswith(".")
    )
    if len(candidates) == 1:
        return candidates[0]
    listing = ", ".join(p.relative_to(path).as_posix() for p in candidates[:10]) or "nothing"
    raise UserInputError(
        f"{what} directory {uri} holds {listing}; expected one of {', '.join(names)}. "
        "Point at the file itself."
    )


def find_model(uri: str) -> Path:
    return find_file(uri, what="model", names=MODEL_NAMES, suffixes=(".ubj", ".json", ".xgb"))


def find_preprocessor(uri: str) -> Path:
    return find_file(uri, what="preprocessor", names=PREPROCESSOR_NAMES, suffixes=(".json",))


def find_metrics(uri: str) -> Path:
    return find_file(uri, what="metrics report", names=METRICS_NAMES, suffixes=(".json",))


def read_json(path: Path, *, what: str) -> Any:
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise SchemaError(f"{what} {path} is not valid JSON: {exc}") from exc


@dataclass(frozen=True)
class VersionFiles:
    """The files one version copies into the artifact store (model, preprocessor, metrics)."""

    model: Path
    preprocessor: Path | None = None
    metrics: Path | None = None

    def _stored_names(self) -> dict[str, tuple[Path, str]]:
        files = {"model": (self.model, self.model.name)}
        if self.preprocessor:
            files["preprocessor"] = (self.preprocessor, "preprocessor.json")
        if self.metrics:
            files["metrics"] = (self.metrics, "evaluation.json")
        return files

    def sources(self) -> dict[str, str]:
        """Where each file was registered from (for lineage)."""
        return {role: path.as_uri() for role, (path, _) in self._stored_names().items()}

    def uris(self, artifacts: ArtifactStore, group: str, version: int) -> dict[str, str | None]:
        """The ``model_uri``, ``preprocessor_uri`` and ``metrics_uri`` of the stored copies."""
        stored = {
            role: artifacts.uri_for(*version_location(group, version), name)
            for role, (_, name) in self._stored_names().items()
        }
        return {f"{role}_uri": stored.get(role) for role in ("model", "preprocessor", "metrics")}

    def copy(self, artifacts: ArtifactStore, group: str, version: int) -> None:
        """Copy the files to where :meth:`uris` says they are."""
        for source, name in self._stored_names().values():
            artifacts.put_bytes(source.read_bytes(), *version_location(group, version), name)


def version_location(group: str, version: int | None = None) -> tuple[str, ...]:
    """The artifact-store path parts of a version's files (``version=None``: the group's)."""
    return ("registry", group) if version is None else ("registry", group, str(version))
