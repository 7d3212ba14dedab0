"""Training benchmark: plain XGBoost against rayline's TrainingStep and TuningStep, same run.

* 1M rows x 8 housing features (hist, depth 6, 100 rounds; metrics mae+rmse on train and a
  100k-row validation split): plain ``xgboost.train`` on in-memory arrays, then a pipeline with
  one ``TrainingStep`` as rayline chooses (one process), then forced onto 2 Ray Train workers.
* 10,000 rows: plain vs the ``TrainingStep`` pipeline.
* A 16-trial Bayesian ``TuningStep`` on 10,000 rows (2 at a time, every trial tracked in MLflow)
  beside a plain Optuna loop over the same space (the floor); then the same 16 trials forced
  distributed (each trial a 2-worker Ray Train run; ``tuning_16_trials_distributed_s``, once).
* 10M rows (``--rows-10m``): plain ``xgboost.train`` against the ``TrainingStep`` forced onto 2
  Ray Train workers, once. ``peak_rss_mb`` is the peak resident memory (the sum of the
  processes' PSS, so shared pages count once) of the process tree that ran that 10M step: a child
  process with a Ray of its own that does only that, sampled every 0.2 s from /proc, so the
  benchmark's own data generation is not in it.

rayline's figures are the wall time of ``pipeline.start()`` + ``execution.wait()``: they include
reading Parquet, the step's Ray task, writing the model and the MLflow records. One warm-up
execution runs first (it starts Ray's workers and creates the MLflow store once). The machine
is shared, so each figure is the best of ``--repeat`` runs (plain and rayline interleaved).

    .venv/bin/python benchmarks/training.py [--rows 1000000] [--rows-10m 10000000]
        [--distributed-trials 16] [--repeat 2]

``--rows-10m 0`` and ``--distributed-trials 0`` skip those cases (~3 and ~5 minutes here);
their figures are then null.

The last line is one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PARAMS = {"objective": "reg:squarederror", "tree_method": "hist", "max_depth": 6, "eta": 0.3}
ROUNDS = 100


def housing(n: int, seed: int) -> pa.Table:
    """``n`` rows following the reference data's formula and ranges (DESIGN §1)."""
    r = np.random.default_rng(seed)
    year = r.integers(1950, 2020, n)
    sqft = r.uniform(1000, 4000, n)
    beds = r.integers(1, 6, n)
    baths = r.choice([1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0], n)
    lot = np.round(r.uniform(0.1, 2.0, n), 2)
    garage = r.integers(0, 4, n)
    porch, deck = r.integers(0, 2, n), r.integers(0, 2, n)
    price = (
        150 * sqft
        + 10000 * beds
        + 15000 * baths
        + 15000 * lot
        + 15000 * garage
        - 5000 * (2019 - year)
    ).astype(np.int64)
    return pa.table({"YEAR_BUILT": year, "SQUARE_FEET": sqft, "NUM_BEDROOMS": beds,
                     "NUM_BATHROOMS": baths, "LOT_ACRES": lot, "GARAGE_SPACES": garage,
                     "FRONT_PORCH": porch, "DECK": deck, "PRICE": price})  # fmt: skip


def write_split(root: Path, n_train: int, n_val: int) -> dict[str, Path]:
    out = {}
    for name, n, seed in (("train", n_train, 1), ("validation", n_val, 2)):
        d = root / name
        d.mkdir(parents=True)
        # Row groups of 125k rows: what Ray Train workers split between them.
        pq.write_table(housing(n, seed), d / "part-00000.parquet", row_group_size=125_000)
        out[name] = d
    return out


def plain_xgb(paths: dict[str, Path]) -> float:
    import xgboost as xgb

    train, val = (pq.read_table(paths[n]) for n in ("train", "validation"))
    x, y = train.drop_columns(["PRICE"]).to_pandas(), train["PRICE"].to_numpy()
    xv, yv = val.drop_columns(["PRICE"]).to_pandas(), val["PRICE"].to_numpy()
    start = time.perf_counter()
    dtrain = xgb.DMatrix(x, label=y)
    dval = xgb.DMatrix(xv, label=yv)
    xgb.train({**PARAMS, "eval_metric": ["mae", "rmse"]}, dtrain, ROUNDS,
              evals=[(dtrain, "train"), (dval, "validation")], verbose_eval=False)  # fmt: skip
    return time.perf_counter() - start


def run_pipeline(name: str, step) -> tuple[float, object]:
    from rayline import Pipeline

    start = time.perf_counter()
    execution = Pipeline(name, steps=[step]).start()
    execution.wait()
    return time.perf_counter() - start, execution


def training_step(paths: dict[str, Path], **trainer_options):
    from rayline.ml import TrainingStep, XGBoostTrainer

    trainer = XGBoostTrainer(
        label="PRICE",
        params={k: v for k, v in PARAMS.items() if k != "objective"},
        num_boost_round=ROUNDS,
        num_workers=2,
        **trainer_options,
    )
    return TrainingStep(
        "Train", trainer=trainer,
        inputs={"train": str(paths["train"]), "validation": str(paths["validation"])},
    )  # fmt: skip


def tuning_step(paths: dict[str, Path], trials: int, **trainer_options):
    """A Bayesian TuningStep of ``trials`` trials (2 at a time) over ``ranges()``."""
    from rayline.ml import TuningStep, XGBoostTrainer

    return TuningStep(
        "Tune",
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=ROUNDS, **trainer_options),
        hyperparameter_ranges=ranges(),
        objective_metric="validation:rmse",
        strategy="Bayesian",
        max_jobs=trials,
        max_parallel_jobs=2,
        inputs={"train": str(paths["train"]), "validation": str(paths["validation"])},
    )


def ranges():
    from rayline.ml import ContinuousParameter, IntegerParameter

    return {
        "max_depth": IntegerParameter(1, 8),
        "eta": ContinuousParameter(0.2, 1),
        "min_child_weight": ContinuousParameter(0, 120),
        "subsample": ContinuousParameter(0.2, 1),
    }


def optuna_floor(paths: dict[str, Path], trials: int) -> float:
    import optuna
    import xgboost as xgb

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train, val = (pq.read_table(paths[n]) for n in ("train", "validation"))
    start = time.perf_counter()
    dtrain = xgb.DMatrix(train.drop_columns(["PRICE"]).to_pandas(), label=train["PRICE"])
    dval = xgb.DMatrix(val.drop_columns(["PRICE"]).to_pandas(), label=val["PRICE"])

    def objective(trial):
        params = {
            "objective": "reg:squarederror",
            "tree_method": "hist",
            "eval_metric": ["mae", "rmse"],
            "max_depth": trial.suggest_int("max_depth", 1, 8),
            "eta": trial.suggest_float("eta", 0.2, 1),
            "min_child_weight": trial.suggest_float("min_child_weight", 0, 120),
            "subsample": trial.suggest_float("subsample", 0.2, 1),
        }
        history = {}
        xgb.train(params, dtrain, ROUNDS, evals=[(dval, "validation")], evals_result=history,
                  verbose_eval=False)  # fmt: skip
        return history["validation"]["rmse"][-1]

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=0))
    study.optimize(objective, n_trials=trials)
    return time.perf_counter() - start


def tree_memory_mb(root: int) -> float:
    """The resident memory of ``root`` and all its descendants now (PSS: shared pages split
    between the processes that map them, so the sum does not count Ray's object store twice)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    total_kb, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in rollup.splitlines():
            if line.startswith("Pss:"):
                total_kb += int(line.split()[1])
                break
    return total_kb / 1024


def peak_memory_of(argv: list[str], env: dict[str, str]) -> float:
    """Run ``argv`` and return the peak memory (MB) of its process tree, sampled every 0.2 s."""
    import subprocess

    child = subprocess.Popen(argv, env=env)
    peak = 0.0
    while child.poll() is None:
        peak = max(peak, tree_memory_mb(child.pid))
        time.sleep(0.2)
    if child.returncode != 0:
        raise RuntimeError(f"the memory probe {argv} failed with exit code {child.returncode}")
    return peak


def probe(paths: dict[str, Path]) -> None:
    """The memory probe's child: only the distributed 10M ``TrainingStep``, on a Ray of its own."""
    from rayline.ray_connection import ensure_ray, shutdown_ray

    ensure_ray()
    _, execution = run_pipeline("bench-train-10m-probe", training_step(paths, distributed=True))
    assert execution.step("Train").properties["Distributed"] is True
    shutdown_ray()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rows-10m", type=int, default=10_000_000, help="0 skips the case")
    parser.add_argument(
        "--distributed-trials", type=int, default=16, help="forced-distributed trials; 0 skips"
    )
    parser.add_argument("--probe", nargs=2, help=argparse.SUPPRESS)  # train, validation dirs
    args = parser.parse_args()
    if args.probe:
        probe({"train": Path(args.probe[0]), "validation": Path(args.probe[1])})
        return

    tmp = Path(tempfile.mkdtemp(prefix="rayline-bench-training-"))
    os.environ["RAYLINE_HOME"] = str(tmp / "home")
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI"):
        os.environ.pop(var, None)
    big = write_split(tmp / "big", args.rows, args.rows // 10)
    small = write_split(tmp / "small", 10_000, 2_000)

    from rayline.ray_connection import ensure_ray

    ensure_ray()
    # Warm-up: Ray workers, imports in them, the metadata DB and the MLflow store.
    warm, _ = run_pipeline("bench-warmup", training_step(small))
    print(f"warm-up execution (10k rows, creates the MLflow store): {warm:.2f} s", file=sys.stderr)

    best: dict[str, float] = {}

    def keep(name: str, seconds: float) -> None:
        best[name] = min(seconds, best.get(name, float("inf")))

    tune = tuning_step(small, args.trials)
    for _ in range(args.repeat):
        keep("plain_xgb_1m_s", plain_xgb(big))
        seconds, execution = run_pipeline("bench-train-1m", training_step(big))
        assert execution.step("Train").properties["Distributed"] is False
        keep("rayline_train_1m_s", seconds)
        seconds, execution = run_pipeline(
            "bench-train-1m-dist", training_step(big, distributed=True)
        )
        assert execution.step("Train").properties["Distributed"] is True
        keep("rayline_train_1m_distributed_s", seconds)
        keep("plain_xgb_10k_s", plain_xgb(small))
        keep("rayline_train_10k_s", run_pipeline("bench-train-10k", training_step(small))[0])
        seconds, execution = run_pipeline("bench-tune-10k", tune)
        run = execution.step("Tune")
        assert run.properties["NumTrials"] == args.trials and run.mlflow_run_id
        keep("tuning_16_trials_10k_s", seconds)
        keep("optuna_floor_16_trials_10k_s", optuna_floor(small, args.trials))
        print(
            f"tuning step itself: {run.properties['TuningSeconds']:.2f} s in Ray Tune; "
            f"best validation-rmse {run.properties['BestTrainingJob']['ObjectiveValue']:.0f}",
            file=sys.stderr,
        )
    if args.distributed_trials:
        distributed_tune = tuning_step(
            small, args.distributed_trials, num_workers=2, distributed=True
        )
        seconds, execution = run_pipeline("bench-tune-10k-dist", distributed_tune)
        run = execution.step("Tune")
        assert (
            run.properties["Distributed"] is True
            and run.properties["NumTrials"] == args.distributed_trials
        )
        keep("tuning_16_trials_distributed_s", seconds)
        print(
            f"distributed tuning: {run.properties['MaxConcurrentTrials']} trial(s) at a time",
            file=sys.stderr,
        )

    peak = None
    if args.rows_10m:
        huge = write_split(tmp / "huge", args.rows_10m, args.rows_10m // 10)
        keep("plain_xgb_10m_s", plain_xgb(huge))
        seconds, execution = run_pipeline(
            "bench-train-10m-dist", training_step(huge, distributed=True)
        )
        assert execution.step("Train").properties["Distributed"] is True
        keep("rayline_train_10m_distributed_s", seconds)
        from rayline.ray_connection import shutdown_ray

        shutdown_ray()  # the probe's own Ray gets the machine to itself
        env = {**os.environ, "RAYLINE_HOME": str(tmp / "probe-home")}
        peak = peak_memory_of(
            [sys.executable, __file__, "--probe", str(huge["train"]), str(huge["validation"])], env
        )
    figures = {
        "plain_xgb_1m_s": best["plain_xgb_1m_s"],
        "rayline_train_1m_s": best["rayline_train_1m_s"],
        "ratio_1m": best["rayline_train_1m_s"] / best["plain_xgb_1m_s"],
        "rayline_train_1m_distributed_s": best["rayline_train_1m_distributed_s"],
        "ratio_1m_distributed": best["rayline_train_1m_distributed_s"] / best["plain_xgb_1m_s"],
        "plain_xgb_10k_s": best["plain_xgb_10k_s"],
        "rayline_train_10k_s": best["rayline_train_10k_s"],
        "tuning_16_trials_10k_s": best["tuning_16_trials_10k_s"],
        "optuna_floor_16_trials_10k_s": best["optuna_floor_16_trials_10k_s"],
        "ratio_tuning": best["tuning_16_trials_10k_s"] / best["optuna_floor_16_trials_10k_s"],
        "tuning_16_trials_distributed_s": best.get("tuning_16_trials_distributed_s"),
        "plain_xgb_10m_s": best.get("plain_xgb_10m_s"),
        "rayline_train_10m_distributed_s": best.get("rayline_train_10m_distributed_s"),
        "ratio_10m_distributed": (
            best["rayline_train_10m_distributed_s"] / best["plain_xgb_10m_s"]
            if args.rows_10m
            else None
        ),
        "peak_rss_mb": peak,
    }
    # A skipped case's figures are null.
    print(json.dumps({k: None if v is None else round(v, 3) for k, v in figures.items()}))


if __name__ == "__main__":
    main()
