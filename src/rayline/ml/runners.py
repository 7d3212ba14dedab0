"""Runners of the ML step kinds (``Training``, ``Tuning``), executed inside a step's Ray task.

Each runs the library function on the resolved inputs, writes the step's outputs, logs into
the step's MLflow run (opened by tracking's listener when the step started; one nested run per
tuning trial, as each ends), and returns properties later steps can read.

MLflow is imported in a background thread while the model trains (it takes 1-3 s on small
machines); the step's metrics, parameters and artifacts are logged afterwards.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rayline.engine.context import StepContext, StepResult
from rayline.ml.steps import TrainingStep, TuningStep
from rayline.store.artifacts import to_path
from rayline.store.locations import is_remote

#: ``Trials`` property rows beyond this many are left to the ``results`` output.
MAX_TRIALS_PROPERTY = 100


def _data(step: Any, ctx: StepContext | None = None) -> dict[str, Any]:
    """What training and tuning read, and the trainer: the ``train`` / ``validation`` channels
    materialised on this node (``ctx`` given: a training step reads them here), else as they
    are (local paths, or ``s3://`` URIs that each Tune trial reads on its own node)."""
    paths = {c: step.inputs.get(c) for c in ("train", "validation")}
    out: dict[str, Any] = {"trainer": step.trainer}
    for c, v in paths.items():
        if v is None:
            out[c] = None
        elif ctx is not None:
            out[c] = str(ctx.materialize(str(v), name=c))
        else:
            out[c] = str(v) if is_remote(str(v)) else str(to_path(str(v)))
    return out


def _in_object_store(ctx: StepContext) -> bool:
    return is_remote(ctx.artifact_uri)


def _ray_storage_uri(ctx: StepContext, what: str) -> str | None:
    """Ray Train's / Tune's ``storage_path`` for this attempt: under the attempt's prefix in an
    object store (every node reaches it), None on ``file://`` (the local work dir, as before)."""
    if not _in_object_store(ctx):
        return None
    from rayline.engine.context import attempt_parts
    from rayline.store.artifacts import open_artifact_store

    store = open_artifact_store(ctx.artifact_uri)
    return store.uri_for(*attempt_parts(ctx.execution_id, ctx.step_name, ctx.attempt), what)


def _output_uri(ctx: StepContext, name: str) -> str:
    """Where output ``name`` is published (the local directory's URI when none is known)."""
    return ctx.output_uris.get(name) or ctx.outputs[name].resolve().as_uri()


def _track(
    step: Any, ctx: StepContext, *, started: float, status: str, fill: Any = None
) -> str | None:
    """Record the step's MLflow run (nested under the execution's) and return its id.

    A tracking store that fails does not fail a step whose model is already trained: the
    failure is printed into the step's logs and the run id is None.
    """
    ended = time.time()
    try:
        return _record(step, ctx, started=started, ended=ended, status=status, fill=fill)
    except Exception as exc:
        print(
            f"WARNING: could not record the MLflow run in {ctx.mlflow_tracking_uri}: "
            f"{type(exc).__name__}: {exc}. The step's outputs are complete; check "
            "MLFLOW_TRACKING_URI."
        )
        return None


@contextmanager
def _tracked_work(step: Any, ctx: StepContext) -> Iterator[float]:
    """Around the library call that trains: warm MLflow up meanwhile, yield the start time, and
    record a FAILED run when the call raises."""
    from rayline.tracking.runs import prewarm

    prewarm(ctx.mlflow_tracking_uri)
    started = time.time()
    try:
        yield started
    except BaseException:
        _track(step, ctx, started=started, status="FAILED")
        raise


def _record(
    step: Any, ctx: StepContext, *, started: float, ended: float, status: str, fill: Any
) -> str:
    from rayline.tracking.runs import artifacts_root, step_tracker, track_step

    # A recorded step's one run is opened by tracking's listener: log into it (the listener
    # ends it with the step's status, so ``status`` and ``ended`` are its to record).
    existing = step_tracker(
        ctx.execution_id, ctx.step_name, db_url=ctx.db_url, uri=ctx.mlflow_tracking_uri
    )
    if existing is not None:
        if fill is not None:
            fill(existing)
        return existing.run_id
    with track_step(
        pipeline_name=ctx.pipeline_name,
        step_name=ctx.step_name,
        step_type=step.kind,
        execution_id=ctx.execution_id,
        execution_parameters=ctx.parameters,
        db_url=ctx.db_url,
        uri=ctx.mlflow_tracking_uri,
        start_time=started,
        end_time=ended,
        status=status,
        artifact_root=artifacts_root(artifact_uri=ctx.artifact_uri, home=ctx.home),
    ) as tracker:
        if fill is not None:
            fill(tracker)
    return tracker.run_id


def _trainer_params(trainer: Any) -> dict[str, Any]:
    return {
        **trainer.params,
        "label": trainer.label,
        "num_boost_round": trainer.num_boost_round,
        "num_workers": trainer.num_workers,
        "cpus_per_worker": trainer.cpus_per_worker,
    }


def run_training(step: TrainingStep, ctx: StepContext) -> StepResult:
    """Train, write ``model`` and ``metrics``, and track the run in MLflow."""
    from rayline.ml.training import METRICS_FILE, train_xgboost

    with _tracked_work(step, ctx) as started:
        result = train_xgboost(
            **_data(step, ctx),
            output_dir=ctx.outputs["model"],
            work_dir=ctx.work_dir / "ray-train",
            storage_uri=_ray_storage_uri(ctx, "ray-train"),
        )
    shutil.move(str(ctx.outputs["model"] / METRICS_FILE), ctx.outputs["metrics"] / METRICS_FILE)
    how = f"Ray Train, {result.num_workers} workers" if result.distributed else "one process"
    metrics = ", ".join(f"{k}={v:.4g}" for k, v in sorted(result.metrics.items()))
    print(f"training path: {result.reason}")
    print(f"trained {result.num_rows} rows in {result.seconds:.2f} s ({how}): {metrics}")

    def fill(tracker: Any) -> None:
        tracker.log_params(
            {
                **_trainer_params(step.trainer),
                "distributed": result.distributed,
                "distributed_reason": result.reason,
            }
        )
        tracker.log_metrics({**result.metrics, "training_seconds": result.seconds})
        tracker.log_history(result.history)
        tracker.set_tags({"rayline.model_uri": _output_uri(ctx, "model")})
        tracker.log_artifacts(ctx.outputs["model"], "model")
        tracker.log_artifacts(ctx.outputs["metrics"], "metrics")

    run_id = _track(step, ctx, started=started, status="FINISHED", fill=fill)
    return StepResult(
        properties={
            "FinalMetrics": result.metrics,
            "FinalMetricDataList": [
                {"MetricName": k.replace("-", ":", 1), "Value": v}
                for k, v in sorted(result.metrics.items())
            ],
            "Distributed": result.distributed,
            "DistributedReason": result.reason,
            "NumWorkers": result.num_workers,
            "WorkerNodes": list(result.worker_nodes),
            "NumRows": result.num_rows,
            "TrainingSeconds": round(result.seconds, 4),
            "MlflowRunId": run_id,
        }
    )


def run_tuning(step: TuningStep, ctx: StepContext) -> StepResult:
    """Tune, write ``models``, ``results`` and ``best_model``, and track every trial."""
    from rayline.ml.tuning import _plain, copy_model, tune_xgboost, write_results

    # In an object store each trial uploads its model straight into the ``models`` output
    # (trials may run on any node); on file:// they write into the local output directory.
    models_dir: str | Path = (
        ctx.output_uris["models"]
        if _in_object_store(ctx) and "models" in ctx.output_uris
        else ctx.outputs["models"]
    )
    trial_runs = _TrialRuns(step, ctx)
    with _tracked_work(step, ctx) as started:
        result = tune_xgboost(
            **_data(step),
            hyperparameter_ranges=step.hyperparameter_ranges,
            objective_metric=step.objective_metric,
            objective_type=step.objective_type,
            strategy=step.strategy,
            max_jobs=int(step.max_jobs),
            max_parallel_jobs=int(step.max_parallel_jobs),
            models_dir=models_dir,
            work_dir=ctx.work_dir / "ray-tune",
            storage_uri=_ray_storage_uri(ctx, "ray-tune"),
            seed=step.seed,
            on_trial=trial_runs.log,
        )
    write_results(result, ctx.outputs["results"])
    copy_model(result.get_top_model_uri(0), ctx.outputs["best_model"])
    best = result.best_trial
    names = list(step.hyperparameter_ranges)
    print(f"trial path: {result.reason}")
    print(f"tuning path: {result.path_reason}")
    print(
        f"{len(result.results)} trials in {result.seconds:.2f} s; best {best['trial']}: "
        f"{result.objective_metric}={best['objective']:.6g} with "
        + ", ".join(f"{n}={best[n]}" for n in names)
    )
    trials = result.results.to_dict("records")

    def fill(tracker: Any) -> None:
        tracker.log_params(
            {
                **_trainer_params(step.trainer),
                "strategy": step.strategy,
                "objective_metric": result.objective_metric,
                "objective_type": result.objective_type,
                "max_jobs": step.max_jobs,
                "max_parallel_jobs": step.max_parallel_jobs,
                "distributed": result.distributed,
                "distributed_reason": result.reason,
                "tuning_path": result.path,
                "tuning_path_reason": result.path_reason,
                **{f"range.{k}": p.to_dict() for k, p in step.hyperparameter_ranges.items()},
            }
        )
        tracker.log_metrics(
            {f"best.{result.objective_metric}": best["objective"], "tuning_seconds": result.seconds}
        )
        tracker.set_tags({"rayline.best_trial": best["trial"]})
        tracker.log_artifacts(ctx.outputs["results"], "results")
        tracker.log_artifacts(ctx.outputs["best_model"], "best_model")
        # Trials were logged as they ended; now that all are in, each gets its rank.
        for row in trials:
            trial_runs.log(row, tracker=tracker)

    run_id = _track(step, ctx, started=started, status="FINISHED", fill=fill)
    summaries = [{k: _plain(v) for k, v in row.items()} for row in trials[:MAX_TRIALS_PROPERTY]]
    return StepResult(
        properties={
            "BestTrainingJob": {
                "TrainingJobName": best["trial"],
                "FinalHyperParameters": {n: best[n] for n in names},
                "FinalHyperParameterTuningJobObjectiveMetric": {
                    "MetricName": result.objective_metric,
                    "Value": best["objective"],
                },
                "ObjectiveMetric": result.objective_metric,
                "ObjectiveValue": best["objective"],
                "ModelUri": result.get_top_model_uri(0),
            },
            "TopModelUris": list(result.top_model_uris),
            "Trials": summaries,
            "NumTrials": len(trials),
            "Distributed": result.distributed,
            "DistributedReason": result.reason,
            "NumWorkers": result.num_workers,
            "MaxConcurrentTrials": result.max_concurrent_trials,
            "TuningPath": result.path,
            "TuningPathReason": result.path_reason,
            "TuningSeconds": round(result.seconds, 4),
            "MlflowRunId": run_id,
        },
        # Already in the store (uploaded by the trials): published as it is.
        outputs={"models": str(models_dir)} if isinstance(models_dir, str) else {},
    )


class _TrialRuns:
    """Each tuning trial's nested MLflow run, logged when the trial ends (``on_trial``, while
    the others still run) under the step's run; a trial seen again (the final table, with its
    rank) only gets its rank tagged."""

    def __init__(self, step: TuningStep, ctx: StepContext) -> None:
        self.step, self.ctx = step, ctx
        self.names = list(step.hyperparameter_ranges)
        self.runs: dict[str, str] = {}
        self._tracker: Any = None
        self._unavailable = False

    def tracker(self) -> Any:
        if self._tracker is None and not self._unavailable:
            from rayline.tracking.runs import step_tracker

            try:
                self._tracker = step_tracker(
                    self.ctx.execution_id,
                    self.ctx.step_name,
                    db_url=self.ctx.db_url,
                    uri=self.ctx.mlflow_tracking_uri,
                )
            except Exception as exc:
                # Asked once: every later trial would wait as long again for nothing.
                self._unavailable = True
                print(f"WARNING: tuning trials are not tracked: {type(exc).__name__}: {exc}")
        return self._tracker

    def log(self, row: dict[str, Any], *, tracker: Any = None) -> None:
        tracker = tracker or self.tracker()
        if tracker is None:  # not a recorded step: the step's run logs them at the end
            return
        name = str(row["trial"])
        rank = {} if _missing(row.get("rank")) else {"rayline.rank": str(row["rank"])}
        if name in self.runs:
            if rank:
                from rayline.tracking.runs import client

                client(tracker.uri).set_tag(self.runs[name], "rayline.rank", rank["rayline.rank"])
            return
        metrics = {k: v for k, v in row.items() if "-" in k}
        metrics["training_seconds"] = row.get("training_seconds")
        self.runs[name] = tracker.log_trial(
            name,
            params={n: row.get(n) for n in self.names},
            metrics=metrics,
            tags={
                "rayline.trial_status": row["status"],
                "rayline.model_uri": row.get("model_uri") or "",
                **rank,
            },
            status="FINISHED" if row["status"] != "Failed" else "FAILED",
            start_time=None if _missing(row.get("started_at")) else row["started_at"],
            end_time=None if _missing(row.get("ended_at")) else row["ended_at"],
        )


def _missing(value: Any) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value))
