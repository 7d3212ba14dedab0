"""Training XGBoost models: in one process for small data, on Ray Train for large data.

Why a naive Ray Train run was ~1,000x slower than ``xgboost.train`` on small data here (DESIGN §5):
the default ``RayTrainReportCallback`` calls ``ray.train.report`` after *every* boosting round
(~2 s each: a synchronised, persisted report through the Train controller), and the workers fed
themselves by iterating Ray Dataset shards (30-40k rows/s). rayline therefore

* trains small data in one process with all the node's cores and no Ray Train at all,
* on the distributed path reads each worker's share of the Parquet row groups straight into an
  XGBoost ``DMatrix`` (no Ray Data iteration, no CPUs needed for Ray Data operators), and
* reports exactly once, at the end, with the model as the checkpoint.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rayline.config import settings
from rayline.engine.environment import process_state
from rayline.errors import BackendError, UserInputError
from rayline.ml.sources import ray_storage
from rayline.ml.tables import data_files, read_shard, read_table, split_label
from rayline.ml.trainers import DEFAULT_EVAL_METRICS, XGBoostTrainer
from rayline.store.locations import is_remote
from rayline.store.s3 import environment_for

#: Training data below this many cells (rows x features) trains in one process when
#: ``distributed=None``. Measured on a 2-core node (benchmarks/training.py, as pipeline steps):
#: one process beat 2 Ray Train workers at every size tried - 10k rows: 0.19 s vs ~6 s; 1M rows:
#: 3.7 s vs 10.6-11.8 s - because the workers share the same cores and Ray Train adds a fixed
#: ~6 s (controller and worker start-up, collective set-up, teardown). Distribution pays off when
#: one process cannot hold or chew the data, or the cluster has more nodes than one: 50M cells
#: (~400 MB of float64 features, e.g. 6M rows x 8) is where rayline switches by default.
#: Override with ``distributed=True/False`` or ``RAYLINE_DISTRIBUTED_MIN_CELLS``.
DISTRIBUTED_MIN_CELLS = 50_000_000

MODEL_FILE = "model.ubj"
METRICS_FILE = "metrics.json"


@dataclass(frozen=True)
class TrainingResult:
    """What one training run produced."""

    model_path: Path
    metrics: dict[str, float]
    distributed: bool
    num_workers: int
    num_rows: int
    seconds: float
    history: dict[str, list[float]] = field(default_factory=dict)
    #: Why this path ran (the ``distributed`` option, or the data size against the threshold).
    reason: str = ""
    #: The Ray node ids the Ray Train workers ran on, by rank (empty on the one-process path).
    worker_nodes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The ``metrics.json`` document."""
        return {
            "metrics": self.metrics,
            "distributed": self.distributed,
            "distributed_reason": self.reason,
            "num_workers": self.num_workers,
            "num_rows": self.num_rows,
            "training_seconds": round(self.seconds, 4),
        }


def metric_key(name: str) -> str:
    """Normalise ``validation:rmse`` (SageMaker's spelling) to ``validation-rmse`` (XGBoost's)."""
    return name.replace(":", "-")


def available_cpus() -> int:
    """Cores this process may run on (not Ray's logical CPUs, which may be oversubscribed)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Distribution:
    """Which path a training run takes, and why (recorded in the step's properties and logs)."""

    distributed: bool
    num_workers: int
    reason: str


def choose_distribution(trainer: XGBoostTrainer, *, cells: int) -> Distribution:
    """The path ``trainer`` takes for data of ``cells`` rows x features, with the reason."""
    workers = int(trainer.num_workers)
    if trainer.distributed is True:
        return Distribution(True, workers, f"distributed=True: Ray Train with {workers} workers")
    if trainer.distributed is False:
        return Distribution(False, 1, "distributed=False: one process")
    if workers <= 1:
        return Distribution(False, 1, "distributed=None and num_workers=1: one process")
    threshold = settings().distributed_min_cells or DISTRIBUTED_MIN_CELLS
    if cells >= threshold:
        return Distribution(
            True,
            workers,
            f"distributed=None: {cells:,} cells >= {threshold:,} (RAYLINE_DISTRIBUTED_MIN_CELLS): "
            f"Ray Train with {workers} workers",
        )
    return Distribution(
        False,
        1,
        f"distributed=None: {cells:,} cells < {threshold:,} (RAYLINE_DISTRIBUTED_MIN_CELLS): "
        "one process",
    )


def choose_distributed(trainer: XGBoostTrainer, *, cells: int) -> bool:
    """Whether ``trainer`` runs on Ray Train for data of ``cells`` rows x features."""
    return choose_distribution(trainer, cells=cells).distributed


def estimate_cells(source: str | Path, label: str) -> int:
    """Rows x feature columns of a Parquet/CSV input, from metadata where possible."""
    import pyarrow.parquet as pq

    total = 0
    for f in data_files(source):
        if f.suffix.lower() == ".csv":
            # CSV has no metadata; a line count is cheap enough for the files we accept.
            with f.open("rb") as fh:
                rows = max(0, sum(1 for _ in fh) - 1)
            with f.open() as fh:
                cols = len(fh.readline().split(","))
        else:
            meta = pq.ParquetFile(f).metadata
            rows, cols = meta.num_rows, meta.num_columns
        total += rows * max(1, cols - 1)
    return total


def booster_params(trainer: XGBoostTrainer, *, nthread: int | None) -> dict[str, Any]:
    """XGBoost's params for ``trainer``: defaults for objective, metrics and the hist method."""
    params: dict[str, Any] = {"objective": "reg:squarederror", "tree_method": "hist"}
    params.update(trainer.params)
    params.setdefault("eval_metric", list(DEFAULT_EVAL_METRICS))
    if isinstance(params["eval_metric"], str):
        params["eval_metric"] = [params["eval_metric"]]
    if trainer.use_gpu:
        params.setdefault("device", "cuda")
    if nthread is not None:
        params.setdefault("nthread", nthread)
    return params


def train_xgboost(
    train: str | Path,
    validation: str | Path | None = None,
    *,
    trainer: XGBoostTrainer,
    output_dir: str | Path,
    work_dir: str | Path | None = None,
    storage_uri: str | None = None,
    callbacks: Sequence[Any] = (),
    nthread: int | None = None,
    resources: Mapping[str, float] | None = None,
) -> TrainingResult:
    """Train ``trainer`` on the Parquet/CSV data at ``train``; evaluate on ``validation``.

    Writes ``model.ubj`` (XGBoost UBJSON, feature names included) and ``metrics.json`` into
    ``output_dir``. ``metrics`` holds the last round's value of every eval metric, keyed
    ``validation-rmse``, ``train-mae``, ... ``callbacks`` are XGBoost training callbacks (the
    single-process path only; tuning uses them to report progress for early stopping).
    ``train`` and ``validation`` may be local or ``s3://``; ``storage_uri`` (a directory or an
    ``s3://`` prefix, default a folder under ``work_dir``) is Ray Train's ``storage_path``.
    ``resources`` (custom Ray resources, ``{"worker": 0.1}``) places each Ray Train worker; by
    default they follow the placement of the Ray task that trains (the step's ``resources=``).
    """
    output = Path(output_dir)
    output.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    choice = choose_distribution(trainer, cells=estimate_cells(train, trainer.label))
    nodes: tuple[str, ...] = ()
    if choice.distributed:
        if callbacks:
            raise UserInputError(
                "training callbacks are only supported on the single-process path; "
                "set distributed=False on the trainer to use them"
            )
        metrics, history, rows, nodes = _train_distributed(
            train,
            validation,
            trainer=trainer,
            output=output,
            work_dir=work_dir,
            storage_uri=storage_uri,
            resources=resources,
        )
    else:
        metrics, history, rows = _train_local(
            train,
            validation,
            trainer=trainer,
            output=output,
            callbacks=callbacks,
            nthread=nthread,
        )
    result = TrainingResult(
        model_path=output / MODEL_FILE,
        metrics=metrics,
        distributed=choice.distributed,
        num_workers=choice.num_workers,
        num_rows=rows,
        seconds=time.perf_counter() - started,
        history=history,
        reason=choice.reason,
        worker_nodes=nodes,
    )
    (output / METRICS_FILE).write_text(json.dumps(result.to_json(), indent=2, sort_keys=True))
    return result


def load_dmatrix(source: str | Path | list[Path], label: str, *, ref: Any = None) -> Any:
    """A ``QuantileDMatrix`` (hist-ready) straight from Parquet/CSV via Arrow."""
    import xgboost as xgb

    table = source if _is_table(source) else read_table(source)
    features, y = split_label(table, label)
    return xgb.QuantileDMatrix(features, label=y, ref=ref)


def _is_table(x: Any) -> bool:
    import pyarrow as pa

    return isinstance(x, pa.Table)


def _train_local(train, validation, *, trainer, output, callbacks, nthread):
    import xgboost as xgb

    params = booster_params(trainer, nthread=nthread or available_cpus())
    dtrain = load_dmatrix(train, trainer.label)
    evals = [(dtrain, "train")]
    if validation is not None:
        evals.append((load_dmatrix(validation, trainer.label, ref=dtrain), "validation"))
    history: dict[str, dict[str, list[float]]] = {}
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=int(trainer.num_boost_round),
        evals=evals,
        evals_result=history,
        verbose_eval=False,
        callbacks=list(callbacks) or None,
    )
    booster.save_model(output / MODEL_FILE)
    flat = _flatten(history)
    return _last(flat), flat, dtrain.num_row()


def _flatten(history: dict[str, dict[str, list[float]]]) -> dict[str, list[float]]:
    return {
        f"{data}-{metric}": [float(v) for v in values]
        for data, by_metric in history.items()
        for metric, values in by_metric.items()
    }


def _last(flat: dict[str, list[float]]) -> dict[str, float]:
    return {k: v[-1] for k, v in flat.items() if v}


def _distributed_loop(config: dict[str, Any]) -> None:
    """Ray Train worker: read this rank's row groups, train collectively, report once."""
    with process_state(env=config.get("storage_env") or {}):
        _distributed_work(config)


def _distributed_work(config: dict[str, Any]) -> None:
    import tempfile

    import ray.train
    import xgboost as xgb

    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    label = config["label"]
    dtrain = load_dmatrix(read_shard(_worker_files(config["train"]), rank, world), label)
    evals = [(dtrain, "train")]
    if config["validation"]:
        val = read_shard(_worker_files(config["validation"]), rank, world)
        evals.append((load_dmatrix(val, label, ref=dtrain), "validation"))
    history: dict[str, dict[str, list[float]]] = {}
    # Eval metrics are all-reduced across workers by XGBoost's collective, so every rank holds
    # the global values; only rank 0 persists the model.
    booster = xgb.train(
        config["params"],
        dtrain,
        num_boost_round=config["num_boost_round"],
        evals=evals,
        evals_result=history,
        verbose_eval=False,
    )
    flat = _flatten(history)
    metrics = {
        **_last(flat),
        "num_rows": dtrain.num_row(),
        "history": json.dumps(flat),
        "worker_nodes": json.dumps(_gather_node_ids(rank, world)),
    }
    if rank == 0:
        with tempfile.TemporaryDirectory() as tmp:
            booster.save_model(Path(tmp) / MODEL_FILE)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(tmp))
    else:
        ray.train.report(metrics)


def _gather_node_ids(rank: int, world: int) -> list[str]:
    """Every rank's Ray node id, by rank, through XGBoost's collective (still open here): the
    result reports only rank 0's metrics, and where the workers ran is worth recording."""
    import numpy as np
    import ray
    import xgboost as xgb

    node = ray.get_runtime_context().get_node_id().encode()
    width = 64  # Ray node ids are 56 hex characters
    buf = np.zeros((world, width), dtype=np.int32)
    buf[rank, : len(node)] = np.frombuffer(node, dtype=np.uint8)
    gathered = xgb.collective.allreduce(buf.ravel(), xgb.collective.Op.SUM).reshape(world, width)
    return [bytes(row[row > 0].astype(np.uint8)).decode() for row in gathered]


# Ray Train v2 reads these in its controller (they are propagated from the driver). The defaults
# suit long jobs; for minutes-long XGBoost runs on small nodes they cost seconds: a 2 s health-check
# poll before noticing the workers finished, and watcher/reconciliation/log threads competing for
# the two cores the workers train on; Prometheus metrics callbacks in the controller and workers.
_TRAIN_ENV = {
    "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S": "0.2",
    "RAY_TRAIN_METRICS_ENABLED": "0",
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_STATE_ACTOR_RECONCILIATION": "0",
    "RAY_TRAIN_ENABLE_CONTROLLER_STRUCTURED_LOGGING": "0",
    "RAY_TRAIN_ENABLE_WORKER_STRUCTURED_LOGGING": "0",
}


@functools.cache
def _ray_trainer_class() -> type:
    """Ray Train's ``XGBoostTrainer`` without two helper actors a rayline run does not use: the
    datasets manager (workers read their own shards, no Ray Dataset is passed) and the detached
    placement-group cleaner (it polls the State API, which needs the dashboard, and logs a
    warning every second without it; if a controller dies, its placement group still goes when
    the job that created it ends). Each is a Python process started per run: on 2 cores,
    dropping them took a 1M-row 2-worker run from 25-27 s to 22-25 s. Should a Ray release move
    these internals, the stock trainer is used."""
    from ray.train.xgboost import XGBoostTrainer as RayXGBoostTrainer

    try:
        from ray.train.v2._internal.callbacks import DatasetsCallback
        from ray.train.v2._internal.callbacks.placement_group_callback import (
            PlacementGroupCleanerCallback,
        )
    except ImportError:
        return RayXGBoostTrainer
    unused = (DatasetsCallback, PlacementGroupCleanerCallback)

    class LeanXGBoostTrainer(RayXGBoostTrainer):
        def _create_default_callbacks(self):
            callbacks = super()._create_default_callbacks()
            return [c for c in callbacks if not isinstance(c, unused)]

    return LeanXGBoostTrainer


def _data_for_workers(source: str | Path) -> str | list[str]:
    """What a Ray Train worker reads: an ``s3://`` URI as is (each worker fetches it on its own
    node), a local input as its files' absolute paths."""
    if is_remote(source):
        return str(source)
    return [str(p.resolve()) for p in data_files(source)]


def _worker_files(data: str | list[str]) -> list[Path]:
    return data_files(data) if isinstance(data, str) else [Path(p) for p in data]


def _train_distributed(
    train, validation, *, trainer, output, work_dir, storage_uri=None, resources=None
):
    import ray.train

    from rayline.ray_connection import ensure_ray, task_placement

    ensure_ray()
    placement = dict(task_placement() if resources is None else resources)
    cpus = float(trainer.cpus_per_worker)
    params = booster_params(trainer, nthread=max(1, round(cpus)))
    storage = ray_storage(
        storage_uri or work_dir or output.parent / f".ray-train-{uuid.uuid4().hex[:8]}"
    )
    config = {
        "label": trainer.label,
        "params": params,
        "num_boost_round": int(trainer.num_boost_round),
        "train": _data_for_workers(train),
        "validation": _data_for_workers(validation) if validation else [],
        # Workers start without the step's S3 settings: they are handed over explicitly.
        "storage_env": environment_for(train, validation),
    }
    ray_trainer = _ray_trainer_class()(
        _distributed_loop,
        train_loop_config=config,
        scaling_config=ray.train.ScalingConfig(
            num_workers=int(trainer.num_workers),
            use_gpu=bool(trainer.use_gpu),
            placement_strategy=str(trainer.placement_strategy),
            resources_per_worker={
                "CPU": cpus,
                **({"GPU": 1} if trainer.use_gpu else {}),
                **placement,
            },
        ),
        run_config=ray.train.RunConfig(
            name=f"train-{uuid.uuid4().hex[:8]}", **storage.run_config()
        ),
    )
    try:
        with process_state(env=_TRAIN_ENV, keep_existing=True):
            result = ray_trainer.fit()
    except Exception as exc:
        raise BackendError(f"distributed XGBoost training failed on Ray Train: {exc}") from exc
    if result.checkpoint is None:
        raise BackendError("distributed XGBoost training finished without saving a model")
    with result.checkpoint.as_directory() as ckpt:
        shutil.copyfile(Path(ckpt) / MODEL_FILE, output / MODEL_FILE)
    raw = dict(result.metrics or {})
    history = json.loads(raw.pop("history", "{}"))
    rows = int(raw.pop("num_rows", 0))
    nodes = tuple(json.loads(raw.pop("worker_nodes", "[]")))
    metrics = {k: float(v) for k, v in raw.items() if isinstance(v, int | float)}
    return metrics, history, rows, nodes
