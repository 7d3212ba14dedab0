"""A version's files: found inside step outputs (local or ``s3://``), read, and copied into
the artifact store.

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
from rayline.store.locations import is_remote, join, kind, list_files, read_bytes

# Names a training step may give its model file, most specific first.
MODEL_NAMES = ("model.ubj", "model.json", "model.xgb", "model.bst", "xgboost-model")
PREPROCESSOR_NAMES = ("preprocessor.json", "scaler.json")
METRICS_NAMES = ("evaluation.json", "metrics.json")


@dataclass(frozen=True)
class SourceFile:
    """One file a version is registered from: where it is (a local path's ``file://`` URI or
    an ``s3://`` URI, e.g. inside a step's output) and its bytes, read once."""

    uri: str
    data: bytes

    @property
    def name(self) -> str:
        """The file's name (its last path part)."""
        return self.uri.rstrip("/").rsplit("/", 1)[-1]


def find_file(
    uri: str, *, what: str, names: tuple[str, ...], suffixes: tuple[str, ...]
) -> SourceFile:
    """The file ``uri`` points at, or the one file inside the directory it points at (local,
    ``file://`` or ``s3://``)."""
    if is_remote(uri):
        found = _find_remote(uri, what=what, names=names, suffixes=suffixes)
        return SourceFile(found, read_bytes(found))
    path = _find_local(to_path(uri), uri, what=what, names=names, suffixes=suffixes)
    return SourceFile(path.resolve().as_uri(), path.read_bytes())


def _find_local(
    path: Path, uri: str, *, what: str, names: tuple[str, ...], suffixes: tuple[str, ...]
) -> Path:
    if path.is_file():
        return path
    if not path.is_dir():
        raise UserInputError(f"{what} {uri} does not exist")
    files = sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file())
    return path / _choose(files, uri, what=what, names=names, suffixes=suffixes)


def _find_remote(uri: str, *, what: str, names: tuple[str, ...], suffixes: tuple[str, ...]) -> str:
    try:
        found = kind(uri)
    except OSError as exc:
        raise UserInputError(f"cannot read {what} {uri}: {exc}") from exc
    if found == "file":
        return uri
    if found == "missing":
        raise UserInputError(f"{what} {uri} does not exist")
    files = [e.path for e in list_files(uri)]
    return join(uri, _choose(files, uri, what=what, names=names, suffixes=suffixes))


def _choose(
    files: list[str], uri: str, *, what: str, names: tuple[str, ...], suffixes: tuple[str, ...]
) -> str:
    """The one file (a relative path among ``files``) a directory's ``what`` is."""
    for name in names:
        if name in files:
            return name
    for name in names:  # one level down or deeper (a checkpoint directory), if unambiguous
        nested = [f for f in files if f.rsplit("/", 1)[-1] == name]
        if len(nested) == 1:
            return nested[0]
    candidates = [
        f
        for f in files
        if Path(f).suffix in suffixes and not any(p.startswith(".") for p in f.split("/"))
    ]
    if len(candidates) == 1:
        return candidates[0]
    listing = ", ".join(candidates[:10]) or "nothing"
    raise UserInputError(
        f"{what} directory {uri} holds {listing}; expected one of {', '.join(names)}. "
        "Point at the file itself."
    )


def find_model(uri: str) -> SourceFile:
    return find_file(uri, what="model", names=MODEL_NAMES, suffixes=(".ubj", ".json", ".xgb"))


def find_preprocessor(uri: str) -> SourceFile:
    return find_file(uri, what="preprocessor", names=PREPROCESSOR_NAMES, suffixes=(".json",))


def find_metrics(uri: str) -> SourceFile:
    return find_file(uri, what="metrics report", names=METRICS_NAMES, suffixes=(".json",))


def read_json(source: SourceFile, *, what: str) -> Any:
    try:
        return json.loads(source.data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{what} {source.uri} is not valid JSON: {exc}") from exc


@dataclass(frozen=True)
class VersionFiles:
    """The files one version copies into the artifact store (model, preprocessor, metrics)."""

    model: SourceFile
    preprocessor: SourceFile | None = None
    metrics: SourceFile | None = None

    def _stored_names(self) -> dict[str, tuple[SourceFile, str]]:
        files = {"model": (self.model, self.model.name)}
        if self.preprocessor:
            files["preprocessor"] = (self.preprocessor, "preprocessor.json")
        if self.metrics:
            files["metrics"] = (self.metrics, "evaluation.json")
        return files

    def sources(self) -> dict[str, str]:
        """Where each file was registered from (for lineage)."""
        return {role: source.uri for role, (source, _) in self._stored_names().items()}

    def uris(self, artifacts: ArtifactStore, group: str, version: int) -> dict[str, str | None]:
        """The ``model_uri``, ``preprocessor_uri`` and ``metrics_uri`` of the stored copies."""
        stored = {
            role: artifacts.uri_for(*version_location(group, version), name)
            for role, (_, name) in self._stored_names().items()
        }
        return {f"{role}_uri": stored.get(role) for role in ("model", "preprocessor", "metrics")}

    def copy(self, artifacts: ArtifactStore, group: str, version: int) -> None:
        """Copy the files to where :meth:`uris` says they are (bytes read once, at
        registration: the store may be an object store, the sources too)."""
        for source, name in self._stored_names().values():
            artifacts.put_bytes(source.data, *version_location(group, version), name)


def version_location(group: str, version: int | None = None) -> tuple[str, ...]:
    """The artifact-store path parts of a version's files (``version=None``: the group's)."""
    return ("registry", group) if version is None else ("registry", group, str(version))
