"""Hyperparameter tuning of an XGBoost trainer: :func:`tune_xgboost`, its result, and which
backend runs the trials.

Strategies (SageMaker's names): ``Random``, ``Bayesian`` (Optuna's TPE), ``Hyperband`` (Ray
Tune's ASHA scheduler over random search: trials report every few rounds and the worst are
stopped early) and ``Grid``.

Each trial takes the path the trainer's ``distributed`` option gives (decided once, for the
training data, as :func:`rayline.ml.training.choose_distribution` does): one process, or a Ray
Train run of ``num_workers`` workers.

Two backends run the trials (``TuningResult.path`` says which ran):

* in-process (:mod:`rayline.ml.tuning_local`): with ``Random``, ``Bayesian`` or ``Grid``,
  one-process trials and fewer rows x features than ``RAYLINE_TUNE_IN_PROCESS_MAX_CELLS``
  (default :data:`TUNE_IN_PROCESS_MAX_CELLS`; ``0`` forces Ray Tune), the trials run in
  ``max_parallel_jobs`` threads of the tuning process;
* Ray Tune (:mod:`rayline.ml.tuning_ray`): everything else; ``Hyperband`` (ASHA's early stopping)
  and distributed trials always run there.

Both train a trial the same way (:mod:`rayline.ml.tuning_trials`): each writes its model to
``<models>/<trial id>/model.ubj`` so the top-k models can be read back by URI.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rayline.errors import BackendError, UserInputError
from rayline.ml.hyperparameters import (
    Parameter,
    normalize_objective_type,
    normalize_strategy,
)
from rayline.ml.sources import local_copy, ray_storage
from rayline.ml.trainers import XGBoostTrainer
from rayline.ml.training import MODEL_FILE, available_cpus, metric_key
from rayline.ml.tuning_local import tune_in_process
from rayline.ml.tuning_ray import TRIAL_DRIVER_CPUS, concurrent_distributed_trials, tune_on_ray_tune
from rayline.ml.tuning_trials import grid_points as grid_points  # the Grid strategy's points
from rayline.store.artifacts import to_path
from rayline.store.locations import is_remote, join
from rayline.store.s3 import environment_for

#: Rows x features below which Random/Bayesian/Grid tuning with one-process trials runs in the
#: tuning process (threads) rather than on Ray Tune; ``RAYLINE_TUNE_IN_PROCESS_MAX_CELLS``
#: overrides it. Below this a trial trains in well under a second, so Ray Tune's actor start-up
#: and bookkeeping (seconds per run) dominate.
TUNE_IN_PROCESS_MAX_CELLS = 2_000_000

#: ``TuningResult.path`` values.
PATH_IN_PROCESS = "in-process"
PATH_RAY_TUNE = "ray-tune"

RESULTS_PARQUET = "results.parquet"
RESULTS_CSV = "results.csv"


@dataclass(frozen=True)
class TuningResult:
    """All trials of one tuning run, best first.

    ``results`` is a pandas DataFrame with one row per trial: ``trial``, ``status``, each
    hyperparameter, the objective (``objective``), every final metric, ``training_seconds`` and
    ``model_uri``; ``rank`` orders trials by objective (0 = best).
    """

    results: Any
    objective_metric: str
    objective_type: str
    best_trial: dict[str, Any]
    top_model_uris: tuple[str, ...]
    seconds: float
    #: Whether each trial ran on Ray Train, with how many workers, and why.
    distributed: bool = False
    num_workers: int = 1
    reason: str = ""
    max_concurrent_trials: int = 1
    #: Which runner ran the trials (``in-process`` or ``ray-tune``), and why.
    path: str = PATH_RAY_TUNE
    path_reason: str = ""

    def get_top_model_uri(self, top_k: int = 0) -> str:
        """The model URI of the ``top_k``-th best trial (0 = the best)."""
        if not 0 <= top_k < len(self.top_model_uris):
            raise UserInputError(
                f"top_k={top_k} is out of range: {len(self.top_model_uris)} trial(s) have a model"
            )
        return self.top_model_uris[top_k]


def tune_xgboost(
    train: str | Path,
    validation: str | Path,
    *,
    trainer: XGBoostTrainer,
    hyperparameter_ranges: Mapping[str, Parameter],
    objective_metric: str = "validation-rmse",
    objective_type: str = "Minimize",
    strategy: str = "Bayesian",
    max_jobs: int = 4,
    max_parallel_jobs: int = 2,
    models_dir: str | Path,
    work_dir: str | Path | None = None,
    storage_uri: str | None = None,
    seed: int | None = 0,
    cpus_per_trial: float | None = None,
    resources: Mapping[str, float] | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> TuningResult:
    """Run up to ``max_jobs`` trials of ``trainer`` (``max_parallel_jobs`` at a time) on Ray Tune,
    or in threads of this process for small inputs (see the module docstring; ``path`` and
    ``path_reason`` of the result say which ran).

    Returns every trial, the best one and the models' URIs ranked by ``objective_metric``
    (``validation:rmse`` and ``validation-rmse`` both work).

    ``train``, ``validation`` and ``models_dir`` may be local or ``s3://`` (each trial then
    uploads its model to ``models_dir/<trial id>``); ``storage_uri`` (a directory or an
    ``s3://`` prefix; default ``work_dir``) is Ray Tune's ``storage_path``. ``resources``
    (custom Ray resources, ``{"worker": 0.1}``) places each trial; by default trials follow the
    placement of the Ray task that tunes (the step's ``resources=``). ``on_trial`` is called
    with each trial's row (as in ``results``, without ``rank``) as soon as the trial ends, in
    the process that tunes.
    """

    from rayline.ray_connection import ensure_ray, task_placement

    strategy = normalize_strategy(strategy)
    objective_type = normalize_objective_type(objective_type)
    objective = metric_key(objective_metric)
    if not hyperparameter_ranges:
        raise UserInputError("tuning needs at least one hyperparameter range")
    if int(max_jobs) < 1 or int(max_parallel_jobs) < 1:
        raise UserInputError(
            f"max_jobs ({max_jobs}) and max_parallel_jobs ({max_parallel_jobs}) must be >= 1"
        )
    clash = set(hyperparameter_ranges) & {"nthread"}
    if clash:
        raise UserInputError(f"cannot tune {sorted(clash)}: rayline sets it per trial")
    from rayline.ml.training import choose_distribution, estimate_cells

    ensure_ray()
    started = time.perf_counter()
    mode = "min" if objective_type == "Minimize" else "max"
    parallel = min(int(max_parallel_jobs), int(max_jobs))
    cells = estimate_cells(train, trainer.label)
    choice = choose_distribution(trainer, cells=cells)
    placement = dict(task_placement() if resources is None else resources)
    if choice.distributed:
        parallel = concurrent_distributed_trials(
            parallel,
            demand=choice.num_workers * float(trainer.cpus_per_worker),
            placement=placement,
        )
    if is_remote(models_dir):
        models = str(models_dir).rstrip("/")
        default_storage: str | Path = f"{models}/.tune"
    else:
        local_models = Path(to_path(str(models_dir))).resolve()
        local_models.mkdir(parents=True, exist_ok=True)
        models, default_storage = str(local_models), local_models.parent / ".tune"
    storage_root = str(storage_uri or work_dir or default_storage)
    storage = ray_storage(storage_root)
    num_rounds = int(trainer.num_boost_round)
    report_every = max(1, num_rounds // 10) if strategy == "Hyperband" else 0
    setup = {
        "trainer": trainer.to_dict(),
        "models_dir": models,
        # Absolute: Tune runs each trial in its own working directory.
        "train": _trial_input(train),
        "validation": _trial_input(validation),
        "storage_env": environment_for(train, validation, models_dir, storage_uri),
        "report_every": report_every,
        "nthread": max(1, available_cpus() // parallel),
        "distributed": choice.distributed,
        "num_rounds": num_rounds,
        "placement": placement,
        # Each distributed trial's Ray Train run keeps its state beside Tune's (S3 when Tune's is).
        "train_storage": join(storage_root, "ray-train")
        if is_remote(storage_root)
        else str(Path(to_path(storage_root)).resolve() / "ray-train"),
    }

    in_process, path_reason = _choose_tuning_path(
        strategy=strategy, distributed=choice.distributed, cells=cells
    )
    if in_process:
        rows = tune_in_process(
            setup,
            ranges=hyperparameter_ranges,
            objective=objective,
            mode=mode,
            strategy=strategy,
            max_jobs=int(max_jobs),
            parallel=parallel,
            seed=seed,
            on_trial=on_trial,
        )
    else:
        rows = tune_on_ray_tune(
            setup,
            ranges=hyperparameter_ranges,
            objective=objective,
            mode=mode,
            strategy=strategy,
            max_jobs=int(max_jobs),
            parallel=parallel,
            seed=seed,
            on_trial=on_trial,
            storage=storage,
            # A distributed trial's actor only drives Ray Train (its workers hold the CPUs); a
            # whole CPU for it would leave a 2-core node's workers waiting on one another's trials.
            cpus=cpus_per_trial or (TRIAL_DRIVER_CPUS if choice.distributed else 1),
        )
    return _result(
        rows,
        objective=objective,
        objective_type=objective_type,
        mode=mode,
        started=started,
        choice=choice,
        parallel=parallel,
        path=PATH_IN_PROCESS if in_process else PATH_RAY_TUNE,
        path_reason=path_reason,
    )


def _choose_tuning_path(*, strategy: str, distributed: bool, cells: int) -> tuple[bool, str]:
    """Whether the trials run in this process (``True``) or on Ray Tune, with the reason."""
    from rayline.config import settings

    configured = settings().tune_in_process_max_cells
    limit = TUNE_IN_PROCESS_MAX_CELLS if configured is None else configured
    if strategy == "Hyperband":
        return False, "ray-tune: Hyperband stops trials early with Ray Tune's ASHA scheduler"
    if distributed:
        return False, "ray-tune: each trial trains on Ray Train"
    if cells >= limit:
        return False, (
            f"ray-tune: {cells:,} cells >= {limit:,} (RAYLINE_TUNE_IN_PROCESS_MAX_CELLS)"
        )
    return True, f"in-process: {cells:,} cells < {limit:,} (RAYLINE_TUNE_IN_PROCESS_MAX_CELLS)"


def _result(
    rows: list[dict[str, Any]],
    *,
    objective: str,
    objective_type: str,
    mode: str,
    started: float,
    choice: Any,
    parallel: int,
    path: str,
    path_reason: str,
) -> TuningResult:
    """Rank the trials' rows into a :class:`TuningResult` (either path)."""
    import pandas as pd

    df = pd.DataFrame(rows)
    ranked = df[df["model_uri"].notna() & df["objective"].notna()].sort_values(
        "objective", ascending=(mode == "min"), kind="stable"
    )
    df["rank"] = pd.Series(range(len(ranked)), index=ranked.index, dtype="Int64")
    df = df.sort_values(["rank", "trial"], na_position="last").reset_index(drop=True)
    if ranked.empty:
        errors = "; ".join(e for e in df["error"].dropna().unique()[:3])
        raise BackendError(
            f"no tuning trial finished with a model ({len(df)} tried). {errors}".strip()
        )
    best = {k: _plain(v) for k, v in df.iloc[0].to_dict().items()}
    return TuningResult(
        results=df,
        objective_metric=objective,
        objective_type=objective_type,
        best_trial=best,
        top_model_uris=tuple(ranked["model_uri"]),
        seconds=time.perf_counter() - started,
        distributed=choice.distributed,
        num_workers=choice.num_workers,
        reason=choice.reason,
        max_concurrent_trials=parallel,
        path=path,
        path_reason=path_reason,
    )


def write_results(result: TuningResult, directory: str | Path) -> Path:
    """Write the trials table as ``results.parquet`` and ``results.csv`` into ``directory``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    result.results.to_parquet(out / RESULTS_PARQUET, index=False)
    result.results.to_csv(out / RESULTS_CSV, index=False)
    return out


def copy_model(model_uri: str, directory: str | Path) -> Path:
    """Copy a trial's model directory (``model.ubj``, ``metrics.json``; local or ``s3://``)
    into the local ``directory``."""
    with tempfile.TemporaryDirectory(prefix="rayline-model-") as scratch:
        src = local_copy(model_uri, scratch=Path(scratch))
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for f in src.iterdir():
            if f.is_file():
                shutil.copyfile(f, out / f.name)
    if not (out / MODEL_FILE).is_file():
        raise BackendError(f"trial model at {model_uri} has no {MODEL_FILE}")
    return out


def _trial_input(source: str | Path) -> str:
    """A split as every trial reads it: an ``s3://`` URI as is, a local one as an absolute path
    (Tune runs each trial in its own working directory)."""
    if is_remote(source):
        return str(source)
    return str(to_path(str(source)).resolve())


def _plain(value: Any) -> Any:
    """numpy/pandas scalars → JSON-able Python values (NaN/NA → None)."""
    import pandas as pd

    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if hasattr(value, "item"):
        return value.item()
    return value
