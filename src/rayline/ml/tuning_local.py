"""The in-process tuning backend: small inputs' trials in threads of the tuning process.

With ``Random``, ``Bayesian`` or ``Grid``, one-process trials and fewer rows x features than
``RAYLINE_TUNE_IN_PROCESS_MAX_CELLS`` (:func:`rayline.ml.tuning.tune_xgboost` chooses), the trials
run in ``max_parallel_jobs`` threads (XGBoost releases the GIL), proposed by Optuna's ask/tell API
(TPE or random sampler, same seed and space as on Ray Tune) or the grid. A trial there trains in a
fraction of a second (10k rows, 100 rounds: about 0.3 s on 2 cores) while Ray Tune's actors cost
seconds per run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from rayline.ml.hyperparameters import CategoricalParameter, IntegerParameter, Parameter
from rayline.ml.tuning_trials import grid_points, train_trial, trial_row, trial_trainer


def _optuna_distributions(ranges: Mapping[str, Parameter]) -> dict[str, Any]:
    """Optuna's form of ``ranges``, with the semantics of Ray Tune's space
    (``rayline.ml.tuning_ray._tune_space``: integer ranges include their upper bound,
    logarithmic scaling samples in log space)."""
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


def tune_in_process(
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
                row = trial_row(
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
    (:func:`train_trial`), returned as the result Tune would have recorded."""
    started = time.time()
    result, model_uri = train_trial(hyper, setup, trial_id)
    rounds = int(trial_trainer(hyper, setup).num_boost_round)
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
