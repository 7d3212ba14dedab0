"""Hyperparameter tuning of an XGBoost trainer with Ray Tune.

Strategies (SageMaker's names): ``Random``, ``Bayesian`` (Optuna's TPE), ``Hyperband`` (Ray
Tune's ASHA scheduler over random search: trials report every few rounds and the worst are
stopped early) and ``Grid``.

Each trial takes the path the trainer's ``distributed`` option gives (decided once, for the
training data, as :func:`rayline.ml.training.choose_distribution` does):

* one process (the default for small data): the trial trains in its Tune actor, reads the Parquet
  splits directly and reports once (``Hyperband``: every ``num_boost_round / 10`` rounds); trial
  actors are reused and Tune's per-trial loggers are off;
* distributed: the trial is a function trainable that builds a Ray Train ``XGBoostTrainer`` with
  ``num_workers`` workers and calls ``fit()`` (Ray Train V2 no longer takes a trainer in
  ``Tuner``), then reports the result once. Train acquires all its workers at once, so the
  trial's own actor holds only a sliver of a CPU and no more trials run at once than the CPUs
  free for their workers allow: trials never wait on each other's half-started worker groups.

Small inputs skip Ray Tune (``TuningResult.path`` says which ran): with ``Random``, ``Bayesian``
or ``Grid``, one-process trials and fewer rows x features than
``RAYLINE_TUNE_IN_PROCESS_MAX_CELLS`` (default :data:`TUNE_IN_PROCESS_MAX_CELLS`; ``0`` forces
Ray Tune), the trials run in ``max_parallel_jobs`` threads of the tuning process (XGBoost releases
the GIL), proposed by Optuna's ask/tell API (TPE or random sampler, same seed and space) or the
grid. A trial there trains in a fraction of a second (10k rows, 100 rounds: about 0.3 s on 2
cores) while Ray Tune's actors cost seconds per run.
``Hyperband`` (ASHA's early stopping) and distributed trials always run on Ray Tune.

Each trial writes its model to ``<models>/<trial id>/model.ubj`` so the top-k models can be read
back by URI.
"""

from __future__ import annotations

import itertools
import logging
import math
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rayline.errors import BackendError, UserInputError
from rayline.ml.hyperparameters import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    Parameter,
    normalize_objective_type,
    normalize_strategy,
)
from rayline.ml.sources import local_copy, ray_storage
from rayline.ml.trainers import XGBoostTrainer
from rayline.ml.training import MODEL_FILE, available_cpus, metric_key
from rayline.store.artifacts import to_path
from rayline.store.locations import is_remote, join, upload
from rayline.store.s3 import environment_for

#: CPUs a distributed trial's own actor holds (it only drives its Ray Train run).
TRIAL_DRIVER_CPUS = 0.05

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

# Tune's defaults write CSV/JSON/TensorBoard logs per trial and print a progress table; for
# second-long trials that is most of the run time. rayline records trials itself.
_TUNE_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_MAX_PENDING_TRIALS_PG": "4",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100",
}


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


def _tune_space(ranges: Mapping[str, Parameter]) -> dict[str, Any]:
    from ray import tune

    space: dict[str, Any] = {}
    for name, p in ranges.items():
        if isinstance(p, CategoricalParameter):
            space[name] = tune.choice(list(p.values))
        elif isinstance(p, IntegerParameter):
            # Tune's integer ranges exclude the upper bound; SageMaker's include it.
            lo, hi = int(p.min_value), int(p.max_value) + 1
            space[name] = tune.lograndint(lo, hi) if p.logarithmic else tune.randint(lo, hi)
        else:
            lo, hi = float(p.min_value), float(p.max_value)
            space[name] = tune.loguniform(lo, hi) if p.logarithmic else tune.uniform(lo, hi)
    return space


class _ReportEvery:
    """XGBoost callback that reports the latest metrics to Tune every ``every`` rounds (ASHA)."""

    def __new__(cls, every: int, total: int):
        import xgboost as xgb
        from ray import tune

        class Callback(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):
                done = epoch + 1
                if done % every == 0 and done < total:
                    metrics = {
                        f"{data}-{m}": float(v[-1])
                        for data, by_metric in evals_log.items()
                        for m, v in by_metric.items()
                    }
                    tune.report({**metrics, "boost_round": done})
                return False

        return Callback()


def _trial(config: dict[str, Any], *, setup: dict[str, Any]) -> None:
    """One Tune trial: train with this config's hyperparameters, save the model, report once."""
    from rayline.engine.environment import process_state

    # A trial actor is a Ray worker of its own: the S3 settings come with the setup.
    with process_state(env=setup["storage_env"]):
        _run_trial(config, setup)


def _run_trial(config: dict[str, Any], setup: dict[str, Any]) -> None:
    from ray import tune

    hyper = dict(config.get("__point__") or config)
    trial_id = tune.get_context().get_trial_id()
    total = int(_trial_trainer(hyper, setup).num_boost_round)
    callbacks = []
    # A distributed trial reports once, at the end: Ray Train's per-round reports are what
    # made it ~1,000x slower (see rayline.ml.training), so ASHA decides on final results there.
    if setup["report_every"] and not setup["distributed"]:
        callbacks.append(_ReportEvery(setup["report_every"], total))
    train_storage = None
    if setup["distributed"]:
        train_storage = join(setup["train_storage"], trial_id)
    result, model_uri = _train_trial(
        hyper, setup, trial_id, callbacks=callbacks, train_storage=train_storage
    )
    tune.report(
        {
            **result.metrics,
            "boost_round": total,
            "training_seconds": result.seconds,
            "model_uri": model_uri,
            "worker_nodes": ",".join(result.worker_nodes),
        }
    )


def _train_trial(
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

    trainer = _trial_trainer(hyper, setup)
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


def _trial_trainer(hyper: dict[str, Any], setup: dict[str, Any]) -> XGBoostTrainer:
    # The path was chosen once for the whole run (and recorded); every trial takes it.
    trainer = XGBoostTrainer.from_dict(setup["trainer"]).with_params(**hyper)
    return replace(trainer, distributed=setup["distributed"])


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
        parallel = _concurrent_distributed_trials(
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
        rows = _tune_in_process(
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
        rows = _tune_on_ray_tune(
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


def _optuna_distributions(ranges: Mapping[str, Parameter]) -> dict[str, Any]:
    """Optuna's form of ``ranges``, with :func:`_tune_space`'s semantics (integer ranges
    include their upper bound, logarithmic scaling samples in log space)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out: dict[str, Any] = {}
    for name, p in ranges.items():
        if isinstance(p, CategoricalParameter):
            out[name] = CategoricalDistribution(list(p.values))
        elif isinstance(p, IntegerParameter):
            out[name] = IntDistribution(int(p.min_value), int(p.max_value), log=p.logarithmic)
        else:
            out[name] = FloatDistribution(float(p.min_value), float(p.max_value), log=p.logarithmic)
    return out


def _tune_in_process(
    setup: dict[str, Any],
    *,
    ranges: Mapping[str, Parameter],
    objective: str,
    mode: str,
    strategy: str,
    max_jobs: int,
    parallel: int,
    seed: int | None,
    on_trial: Callable[[dict[str, Any]], None] | None,
) -> list[dict[str, Any]]:
    """Run the trials in ``parallel`` threads of this process; return their rows in trial order.

    Optuna (Bayesian: TPE, Random: random sampler) proposes each trial through ask/tell from
    this thread only, so the study needs no locking; Grid takes :func:`grid_points` in order.
    """
    from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

    study = distributions = None
    points: list[dict[str, Any]] = []
    if strategy == "Grid":
        points = grid_points(ranges, max_jobs=max_jobs)
        total = len(points)
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        sampler = (
            optuna.samplers.TPESampler(seed=seed)
            if strategy == "Bayesian"
            else optuna.samplers.RandomSampler(seed=seed)
        )
        study = optuna.create_study(
            direction="minimize" if mode == "min" else "maximize", sampler=sampler
        )
        distributions = _optuna_distributions(ranges)
        total = max_jobs
    prefix = uuid.uuid4().hex[:5]
    rows: dict[int, dict[str, Any]] = {}
    running: dict[Any, tuple[int, Any, dict[str, Any]]] = {}
    launched = 0

    def launch(pool: ThreadPoolExecutor) -> None:
        nonlocal launched
        index = launched
        launched += 1
        if study is not None:
            asked = study.ask(distributions)
            hyper = dict(asked.params)
        else:
            asked, hyper = None, dict(points[index])
        trial_id = f"{prefix}_{index:05d}"
        future = pool.submit(_run_local_trial, hyper, setup, trial_id)
        running[future] = (index, asked, hyper)

    row_args = {"ranges": ranges, "objective": objective, "num_rounds": setup["num_rounds"]}
    pending: dict[int, Any] = {}  # ended trials not yet told to the study, by index
    told = 0
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="rayline-trial") as pool:
        while launched < min(parallel, total):
            launch(pool)
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: running[f][0]):
                index, asked, hyper = running.pop(future)
                trial_id = f"{prefix}_{index:05d}"
                try:
                    metrics, error = future.result(), None
                except Exception as exc:  # a failed trial is a row, as on Ray Tune
                    metrics, error = {}, f"trial {trial_id} failed: {type(exc).__name__}: {exc}"
                row = _trial_row(
                    metrics=metrics, config=hyper, error=error, fallback_id=trial_id, **row_args
                )
                rows[index] = row
                pending[index] = asked
                if on_trial is not None:
                    try:
                        on_trial(row)
                    except Exception as exc:  # tracking a trial never fails the tuning
                        print(f"WARNING: could not report trial {row['trial']}: {exc}")
            # Tell the study in trial order and ask for trial i only once trials
            # 0..i-parallel are told: what each proposal sees does not depend on which thread
            # finished first, so a seeded run proposes the same trials every time.
            while told in pending:
                _tell(study, pending.pop(told), rows[told])
                told += 1
                if launched < total:
                    launch(pool)
    return [rows[i] for i in sorted(rows)]


def _tell(study: Any, asked: Any, row: dict[str, Any]) -> None:
    """Hand a finished trial's objective (or its failure) back to the Optuna study."""
    if study is None:
        return
    import optuna

    value = row["objective"]
    if row["error"] or value is None:
        study.tell(asked, state=optuna.trial.TrialState.FAIL)
    else:
        study.tell(asked, float(value))


def _run_local_trial(hyper: dict[str, Any], setup: dict[str, Any], trial_id: str) -> dict[str, Any]:
    """One in-process trial: the same training, model layout and metrics as a Ray Tune trial
    (:func:`_train_trial`), returned as the result Tune would have recorded."""
    started = time.time()
    result, model_uri = _train_trial(hyper, setup, trial_id)
    rounds = int(_trial_trainer(hyper, setup).num_boost_round)
    ended = time.time()
    return {
        **result.metrics,
        "trial_id": trial_id,
        "boost_round": rounds,
        "training_seconds": result.seconds,
        "model_uri": model_uri,
        "worker_nodes": ",".join(result.worker_nodes),
        "timestamp": ended,
        "time_total_s": ended - started,
    }


def _tune_on_ray_tune(
    setup: dict[str, Any],
    *,
    ranges: Mapping[str, Parameter],
    objective: str,
    mode: str,
    strategy: str,
    max_jobs: int,
    parallel: int,
    seed: int | None,
    on_trial: Callable[[dict[str, Any]], None] | None,
    storage: Any,
    cpus: float,
) -> list[dict[str, Any]]:
    """Run the trials on Ray Tune (trial actors); return their rows."""
    from ray import tune

    hyperparameter_ranges = ranges
    placement = setup["placement"]
    num_rounds = setup["num_rounds"]
    report_every = setup["report_every"]
    num_samples = int(max_jobs)
    search_alg = scheduler = None
    if strategy == "Grid":
        param_space: dict[str, Any] = {
            "__point__": tune.grid_search(grid_points(hyperparameter_ranges, max_jobs=max_jobs))
        }
        num_samples = 1
    else:
        param_space = _tune_space(hyperparameter_ranges)
    if strategy == "Bayesian":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        search_alg = OptunaSearch(
            metric=objective, mode=mode, sampler=optuna.samplers.TPESampler(seed=seed)
        )
    elif strategy == "Random":
        from ray.tune.search.basic_variant import BasicVariantGenerator

        search_alg = BasicVariantGenerator(random_state=seed, max_concurrent=parallel)
    elif strategy == "Hyperband":
        from ray.tune.schedulers import ASHAScheduler
        from ray.tune.search.basic_variant import BasicVariantGenerator

        search_alg = BasicVariantGenerator(random_state=seed, max_concurrent=parallel)
        scheduler = ASHAScheduler(
            time_attr="boost_round",
            max_t=num_rounds,
            grace_period=report_every,
            reduction_factor=3,
        )

    trainable = tune.with_resources(
        tune.with_parameters(_trial, setup=setup), {"cpu": cpus, **placement}
    )
    tuner = tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            metric=objective,
            mode=mode,
            num_samples=num_samples,
            max_concurrent_trials=parallel,
            search_alg=search_alg,
            scheduler=scheduler,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"tune-{uuid.uuid4().hex[:8]}",
            **storage.run_config(),
            verbose=0,
            log_to_file=False,
            callbacks=[
                _trial_callback(
                    on_trial,
                    ranges=hyperparameter_ranges,
                    objective=objective,
                    num_rounds=num_rounds,
                )
            ]
            if on_trial is not None
            else None,
        ),
    )
    # Trial results are kept in memory; with the file loggers off, Tune's result grid warns
    # that it found no result files. That is expected here, so keep it out of the step's logs.
    analysis_log = logging.getLogger("ray.tune.analysis.experiment_analysis")
    saved_level = analysis_log.level
    analysis_log.setLevel(logging.ERROR)
    with _env(_TUNE_ENV):
        try:
            grid = tuner.fit()
        except Exception as exc:
            raise BackendError(f"Ray Tune failed: {exc}") from exc
        finally:
            analysis_log.setLevel(saved_level)

    rows = [
        _trial_row(
            metrics=dict(r.metrics or {}),
            config=dict(r.config or {}),
            error=str(r.error) if r.error else None,
            fallback_id=Path(r.path).name,
            ranges=hyperparameter_ranges,
            objective=objective,
            num_rounds=num_rounds,
        )
        for r in grid
    ]
    if not rows:
        raise BackendError("Ray Tune ran no trials")
    return rows


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


def _trial_row(
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


def _trial_callback(on_trial: Callable[[dict[str, Any]], None], **row_args: Any) -> Any:
    """A Ray Tune callback that hands each trial's row to ``on_trial`` as soon as the trial
    ends (completed, stopped early or failed), while the other trials still run."""
    from ray.tune import Callback

    class _OnTrial(Callback):
        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any):
            self._report(trial, None)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any):
            self._report(trial, f"trial {trial.trial_id} failed (see {trial.error_file})")

        def _report(self, trial: Any, error: str | None) -> None:
            row = _trial_row(
                metrics=dict(trial.last_result or {}),
                config=dict(trial.config or {}),
                error=error,
                fallback_id=str(trial.trial_id),
                **row_args,
            )
            try:
                on_trial(row)
            except Exception as exc:  # tracking a trial never fails the tuning
                print(f"WARNING: could not report trial {row['trial']}: {exc}")

    return _OnTrial()


def _concurrent_distributed_trials(
    parallel: int, *, demand: float, placement: Mapping[str, float]
) -> int:
    """How many distributed trials may run at once: ``parallel``, or fewer when the CPUs of the
    nodes that offer ``placement``'s resources cannot hold every running trial's workers.

    Ray Train starts a trial's workers all at once and gives up after
    ``RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S``: trials admitted beyond what fits would only wait
    for one another's workers and fail.
    """
    import ray

    cpus = sum(
        float((node.get("Resources") or {}).get("CPU", 0))
        for node in ray.nodes()
        if node.get("Alive") and all((node.get("Resources") or {}).get(k, 0) > 0 for k in placement)
    )
    # The CPUs the tuning step's own task holds are not the trials' to use.
    context = ray.get_runtime_context()
    if context.worker.mode == ray.WORKER_MODE:  # in a step's task, not on a driver
        cpus -= float(context.get_assigned_resources().get("CPU", 0))
    fits = int(cpus // (demand + TRIAL_DRIVER_CPUS)) if demand > 0 else parallel
    return max(1, min(parallel, fits))


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


class _env:
    """Set environment variables the user has not set, for the duration of a block."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.added = {k: v for k, v in values.items() if k not in os.environ}

    def __enter__(self) -> None:
        os.environ.update(self.added)

    def __exit__(self, *exc: Any) -> None:
        for k in self.added:
            os.environ.pop(k, None)
