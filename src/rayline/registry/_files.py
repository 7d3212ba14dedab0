"""Finding the model, preprocessor and evaluation files inside step outputs, and reading them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rayline.errors import SchemaError, UserInputError
from rayline.store.artifacts import to_path

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
