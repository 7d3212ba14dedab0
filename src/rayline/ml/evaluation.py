"""Scoring a model on the test split: the ``evaluation.json`` a ConditionStep gates on.

Shape (the reference workflow's, plus r2)::

    {"regression_metrics": {"mae":  {"value": ..., "standard_deviation": ...},
                            "rmse": {"value": ..., "standard_deviation": ...},
                            "r2":   {"value": ..., "standard_deviation": ...}}}

``standard_deviation`` follows the reference: for mae the spread of the absolute errors, for rmse
the spread of the residuals; r2 has no per-row spread, so its value is a bootstrap estimate
(200 resamples, seed 0).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rayline.errors import NotFoundError
from rayline.ml.sources import local_copy
from rayline.ml.tables import read_table, split_label
from rayline.store.locations import is_remote, join, write_bytes

EVALUATION_FILE = "evaluation.json"
_MODEL_NAMES = ("model.ubj", "model.json", "xgboost-model", "model.bst")


def find_model_file(source: str | Path) -> Path:
    """The XGBoost model file at ``source``: the file itself, or the one inside a directory
    (a local path, ``file://`` or ``s3://`` URI; an ``s3://`` model is downloaded once)."""
    path = local_copy(source, cached=True)
    if path.is_file():
        return path
    if path.is_dir():
        for name in _MODEL_NAMES:
            if (path / name).is_file():
                return path / name
        found = sorted(path.rglob("model.ubj")) or sorted(path.rglob("model.json"))
        if found:
            return found[0]
    raise NotFoundError(
        f"no XGBoost model at {source} (looked for {', '.join(_MODEL_NAMES)}); pass a training "
        "step's 'model' output or a tuning step's best model"
    )


def load_booster(source: str | Path) -> Any:
    """An ``xgboost.Booster`` loaded from a model file or directory."""
    import xgboost as xgb

    booster = xgb.Booster()
    booster.load_model(find_model_file(source))
    return booster


def regression_metrics(y_true: Any, y_pred: Any, *, bootstrap: int = 200) -> dict[str, Any]:
    """mae, rmse and r2 with their standard deviations, as in ``evaluation.json``."""
    import numpy as np

    y = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    residuals = y - p
    abs_err = np.abs(residuals)
    mae = float(abs_err.mean())
    rmse = float(np.sqrt(np.mean(residuals**2)))
    r2 = _r2(y, p)
    rng = np.random.default_rng(0)
    r2s = []
    for _ in range(bootstrap if len(y) > 1 else 0):
        idx = rng.integers(0, len(y), len(y))
        r2s.append(_r2(y[idx], p[idx]))
    return {
        "mae": {"value": mae, "standard_deviation": float(abs_err.std())},
        "rmse": {"value": rmse, "standard_deviation": float(residuals.std())},
        "r2": {"value": r2, "standard_deviation": float(np.std(r2s)) if r2s else 0.0},
    }


def _r2(y: Any, p: Any) -> float:
    import numpy as np

    total = float(np.sum((y - y.mean()) ** 2))
    return 1.0 - float(np.sum((y - p) ** 2)) / total if total > 0 else 0.0


def evaluate_model(
    model: str | Path,
    test: str | Path,
    *,
    label: str,
    output_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Score ``model`` on the Parquet/CSV data at ``test``; write ``evaluation.json`` if asked.

    The test data's feature columns are ordered as the model was trained (its feature names).
    """
    import xgboost as xgb

    booster = load_booster(model)
    features, y = split_label(read_table(test), label)
    if booster.feature_names:
        features = features.select(list(booster.feature_names))
    predictions = booster.predict(xgb.DMatrix(features))
    report = {"regression_metrics": regression_metrics(y, predictions)}
    if output_dir is not None:
        data = json.dumps(report, indent=2).encode()
        if is_remote(output_dir):
            write_bytes(join(str(output_dir), EVALUATION_FILE), data)
        else:
            out = Path(output_dir)
            out.mkdir(parents=True, exist_ok=True)
            (out / EVALUATION_FILE).write_bytes(data)
    return report
