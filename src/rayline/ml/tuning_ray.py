"""The Ray Tune tuning backend: every strategy, one-process or distributed trials, on Tune's
trial actors.

* one process: the trial trains in its Tune actor, reads the Parquet splits directly and reports
  once (``Hyperband``: every ``num_boost_round / 10`` rounds, for ASHA's early stopping); trial
  actors are reused and Tune's per-trial loggers are off;
* distributed: the trial is a function trainable that builds a Ray Train ``XGBoostTrainer`` with
  ``num_workers`` workers and calls ``fit()`` (Ray Train V2 no longer takes a trainer in
  ``Tuner``), then reports the result once. Train acquires all its workers at once, so the
  trial's own actor holds only a sliver of a CPU and no more trials run at once than the CPUs
  free for their workers allow (:func:`concurrent_distributed_trials`).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rayline.errors import BackendError
from rayline.ml.hyperparameters import CategoricalParameter, IntegerParameter, Parameter
from rayline.ml.tuning_trials import grid_points, train_trial, trial_row, trial_trainer
from rayline.store.locations import join

#: CPUs a distributed trial's own actor holds (it only drives its Ray Train run).
TRIAL_DRIVER_CPUS = 0.05

# Tune's defaults write CSV/JSON/TensorBoard logs per trial and print a progress table; for
# second-long trials that is most of the run time. rayline records trials itself.
_TUNE_ENV = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "TUNE_MAX_PENDING_TRIALS_PG": "4",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "100",
}


def tune_on_ray_tune(
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
        trial_row(
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
    total = int(trial_trainer(hyper, setup).num_boost_round)
    callbacks = []
    # A distributed trial reports once, at the end: Ray Train's per-round reports are what
    # made it ~1,000x slower (see rayline.ml.training), so ASHA decides on final results there.
    if setup["report_every"] and not setup["distributed"]:
        callbacks.append(_ReportEvery(setup["report_every"], total))
    train_storage = None
    if setup["distributed"]:
        train_storage = join(setup["train_storage"], trial_id)
    result, model_uri = train_trial(
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
            row = trial_row(
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


def concurrent_distributed_trials(
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


class _env:
    """Set environment variables the user has not set, for the duration of a block."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self.added = {k: v for k, v in values.items() if k not in os.environ}

    def __enter__(self) -> None:
        os.environ.update(self.added)

    def __exit__(self, *exc: Any) -> None:
        for k in self.added:
            os.environ.pop(k, None)
