"""The fitted preprocessor that travels with a model: feature order plus standard-scaling stats.

Saved as ``preprocessor.json`` next to the training data, registered with the model, and applied
by endpoints, so a served model takes raw features (the reference workflow's endpoint needed
pre-scaled input because its scaler was never saved).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayline.errors import NotFoundError, SchemaError, UserInputError

PREPROCESSOR_FILE = "preprocessor.json"
_FORMAT = "rayline.standard_scaler/v1"


@dataclass(frozen=True)
class Preprocessor:
    """Standard scaling of ``columns`` (in this order: the model's input schema).

    ``transform`` maps each column ``x`` to ``(x - mean) / std`` (``std`` 0 leaves it centred);
    the label is never scaled.
    """

    columns: tuple[str, ...]
    means: tuple[float, ...]
    stds: tuple[float, ...]
    label: str | None = None

    def __post_init__(self) -> None:
        if not (len(self.columns) == len(self.means) == len(self.stds)):
            raise UserInputError("Preprocessor: columns, means and stds must have equal lengths")

    def scale_of(self, column: str) -> tuple[float, float]:
        """``(mean, std)`` of one column."""
        i = self.columns.index(column)
        return self.means[i], self.stds[i]

    def transform_arrow(self, table: Any) -> Any:
        """Scale an Arrow table's feature columns; other columns (the label) pass through.

        Returns the features in :attr:`columns` order followed by the label, if present.
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        missing = [c for c in self.columns if c not in table.column_names]
        if missing:
            raise SchemaError(
                f"the data lacks feature column(s) {missing} that the preprocessor was fitted on "
                f"(has: {table.column_names})"
            )
        arrays, names = [], []
        for col, mean, std in zip(self.columns, self.means, self.stds, strict=True):
            values = pc.cast(table.column(col), pa.float64())
            arrays.append(pc.divide(pc.subtract(values, mean), std or 1.0))
            names.append(col)
        if self.label and self.label in table.column_names:
            arrays.append(table.column(self.label))
            names.append(self.label)
        return pa.table(arrays, names=names)

    def transform_rows(self, rows: Sequence[Sequence[float]] | Sequence[Mapping[str, Any]]) -> Any:
        """Scale raw rows (lists in :attr:`columns` order, or dicts by name) to a 2-D array."""
        import numpy as np

        if rows and isinstance(rows[0], Mapping):
            try:
                matrix = np.array([[r[c] for c in self.columns] for r in rows], dtype=np.float64)
            except KeyError as exc:
                raise SchemaError(
                    f"a row lacks feature {exc.args[0]!r}; expected {list(self.columns)}"
                ) from None
        else:
            matrix = np.asarray(rows, dtype=np.float64)
            if matrix.ndim == 1:
                matrix = matrix.reshape(1, -1)
            if matrix.shape[1] != len(self.columns):
                raise SchemaError(
                    f"rows have {matrix.shape[1]} values; the model expects {len(self.columns)} "
                    f"features in this order: {', '.join(self.columns)}"
                )
        stds = np.array([s or 1.0 for s in self.stds])
        return (matrix - np.array(self.means)) / stds

    def to_dict(self) -> dict[str, Any]:
        """The JSON form :meth:`save` writes and :meth:`from_dict` reads."""
        return {
            "format": _FORMAT,
            "columns": list(self.columns),
            "means": list(self.means),
            "stds": list(self.stds),
            "label": self.label,
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "preprocessor") -> Preprocessor:
        """Read the JSON form (``{"columns", "means", "stds", "label"}``; ``format`` optional,
        so a scaler written by other tools registers too). ``source`` names it in errors."""
        if isinstance(data, Mapping) and data.get("format", _FORMAT) != _FORMAT:
            raise SchemaError(f"{source}: not a rayline preprocessor (format {data['format']!r})")
        try:
            columns = tuple(str(c) for c in data["columns"])
            means = tuple(float(v) for v in data["means"])
            stds = tuple(float(v) for v in data["stds"])
        except (KeyError, TypeError, ValueError) as exc:
            raise SchemaError(
                f"{source}: expected a JSON object with 'columns', 'means' and 'stds' lists "
                f"(standard scaling), got keys {sorted(data) if isinstance(data, dict) else data!r}"
            ) from exc
        if not (len(columns) == len(means) == len(stds)) or not columns:
            raise SchemaError(
                f"{source}: 'columns', 'means' and 'stds' must be non-empty lists of the same "
                f"length (got {len(columns)}, {len(means)}, {len(stds)})"
            )
        return cls(columns=columns, means=means, stds=stds, label=data.get("label"))

    def save(self, directory: str | Path) -> Path:
        """Write ``preprocessor.json`` into ``directory``; returns its path."""
        path = Path(directory) / PREPROCESSOR_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=2))
        return path

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        """Read a preprocessor from its JSON file or the directory holding it (a path, a
        ``file://`` or an ``s3://`` URI)."""
        from rayline.store.artifacts import to_path
        from rayline.store.locations import is_remote, join, kind, read_bytes

        if is_remote(path):
            uri = str(path)
            if kind(uri) == "dir":
                uri = join(uri, PREPROCESSOR_FILE)
            where: str | Path = uri
            try:
                text = read_bytes(uri).decode()
            except NotFoundError:
                raise SchemaError(f"preprocessor file {uri} does not exist") from None
        else:
            p = to_path(str(path))
            if p.is_dir():
                p = p / PREPROCESSOR_FILE
            where = p
            try:
                text = p.read_text()
            except FileNotFoundError:
                raise SchemaError(f"preprocessor file {p} does not exist") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SchemaError(f"preprocessor file {where} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, source=str(path))


def fit_standard_scaler(
    stats: Mapping[str, float], columns: Sequence[str], *, label: str | None
) -> Preprocessor:
    """A :class:`Preprocessor` from Ray Data's ``StandardScaler.stats_`` (``mean(c)``...)."""
    means, stds = [], []
    for c in columns:
        mean, std = stats[f"mean({c})"], stats[f"std({c})"]
        means.append(float(mean))
        stds.append(0.0 if std is None or math.isnan(std) else float(std))
    return Preprocessor(columns=tuple(columns), means=tuple(means), stds=tuple(stds), label=label)
