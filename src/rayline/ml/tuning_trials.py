"""What both tuning backends share (:mod:`rayline.ml.tuning_local`, :mod:`rayline.ml.tuning_ray`):
the grid of the ``Grid`` strategy, one trial's training and model layout
(``<models>/<trial id>/model.ubj``), and a trial as a row of the results table."""

from __future__ import annotations

import itertools
import math
import tempfile
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from rayline.ml.hyperparameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
)
from rayline.ml.trainers import XGBoostTrainer
from rayline.store.locations import is_remote, join, upload


def grid_points(ranges: Mapping[str, Parameter], *, max_jobs: int) -> list[dict[str, Any]]:
    """The grid: categorical values as given; numeric ranges at evenly spaced points (in their
    scale) so the product stays within ``max_jobs``; integer ranges at distinct integers."""
    numeric = [n for n, p in ranges.items() if not isinstance(p, CategoricalParameter)]
    n_cat = math.prod(len(p.values) for p in ranges.values() if isinstance(p, CategoricalParameter))
    per_axis = max(1, int((max_jobs / max(1, n_cat)) ** (1 / len(numeric)))) if numeric else 1
    axes: list[list[Any]] = []
    for name, p in ranges.items():
        if isinstance(p, CategoricalParameter):
            axes.append(list(p.values))
            continue
        k = per_axis
        if isinstance(p, IntegerParameter):
            k = min(k, p.max_value - p.min_value + 1)
        axes.append(_spaced(p, k))
        del name
    names = list(ranges)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*axes)][:max_jobs]


def _spaced(p: ContinuousParameter | IntegerParameter, k: int) -> list[Any]:
    lo, hi = float(p.min_value), float(p.max_value)
    if k == 1:
        values = [(lo + hi) / 2 if not p.logarithmic else math.sqrt(lo * hi)]
    elif p.logarithmic:
        step = (math.log(hi) - math.log(lo)) / (k - 1)
        values = [math.exp(math.log(lo) + i * step) for i in range(k)]
    else:
        values = [lo + i * (hi - lo) / (k - 1) for i in range(k)]
    if isinstance(p, IntegerParameter):
        return sorted({round(v) for v in values})
    return values


def train_trial(
    hyper: dict[str, Any],
    setup: dict[str, Any],
    trial_id: str,
    *,
    callbacks: list[Any] | None = None,
    train_storage: str | None = None,
) -> tuple[Any, str]:
    """Train one trial with ``hyper`` over the setup's trainer and save its model under
    ``<models>/<trial id>``; returns the training result and the model's URI. Both paths' trials
    (Ray Tune's and the in-process one) train here."""
    from rayline.ml.training import train_xgboost

    trainer = trial_trainer(hyper, setup)
    models = setup["models_dir"]
    with tempfile.TemporaryDirectory(prefix="rayline-trial-") as scratch:
        # In an object store the model is written on the trial's node, then uploaded: the
        # trial may run on any node of the cluster.
        out = Path(scratch) / trial_id if is_remote(models) else Path(models) / trial_id
        result = train_xgboost(
            setup["train"],
            setup["validation"],
            trainer=trainer,
            output_dir=out,
            callbacks=callbacks or [],
            nthread=setup["nthread"],
            storage_uri=train_storage,
            resources=setup["placement"],
        )
        if is_remote(models):
            model_uri = join(models, trial_id)
            upload(out, model_uri)
        else:
            model_uri = out.resolve().as_uri()
    return result, model_uri


def trial_trainer(hyper: dict[str, Any], setup: dict[str, Any]) -> XGBoostTrainer:
    # The path was chosen once for the whole run (and recorded); every trial takes it.
    trainer = XGBoostTrainer.from_dict(setup["trainer"]).with_params(**hyper)
    return replace(trainer, distributed=setup["distributed"])


def trial_row(
    *,
    metrics: dict[str, Any],
    config: dict[str, Any],
    error: str | None,
    fallback_id: str,
    ranges: Mapping[str, Parameter],
    objective: str,
    num_rounds: int,
) -> dict[str, Any]:
    """One trial as a row of the results table (and as ``on_trial`` receives it)."""
    hyper = dict(config.get("__point__") or config)
    finished = metrics.get("boost_round") == num_rounds and "model_uri" in metrics
    status = "Failed" if error else ("Completed" if finished else "Stopped")
    row: dict[str, Any] = {
        "trial": metrics.get("trial_id") or fallback_id,
        "status": status,
        **{name: hyper.get(name) for name in ranges},
        "objective": metrics.get(objective),
    }
    for k, v in metrics.items():
        if "-" in k and isinstance(v, int | float):
            row[k] = float(v)
    row["boost_rounds"] = metrics.get("boost_round")
    row["training_seconds"] = metrics.get("training_seconds")
    # Tune stamps each result (Unix seconds) and counts the trial's running time.
    ended = metrics.get("timestamp")
    row["ended_at"] = float(ended) if ended is not None else None
    row["started_at"] = (
        float(ended) - float(metrics.get("time_total_s") or 0.0) if ended is not None else None
    )
    row["model_uri"] = metrics.get("model_uri") if finished else None
    # Distributed trials: the Ray nodes their Train workers ran on, by rank.
    row["worker_nodes"] = metrics.get("worker_nodes") or None
    row["error"] = error.splitlines()[0] if error else None
    return row
