"""XGBoost training: one process beats a constant predictor by a wide margin; Ray Train with two
workers trains the same model shape; TrainingStep runs in a pipeline and is tracked."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from rayline import Pipeline
from rayline.ml import TrainingStep, XGBoostTrainer, evaluate_model, train_xgboost
from rayline.store.artifacts import to_path

pytestmark = pytest.mark.ray

TRAINER = XGBoostTrainer(
    label="PRICE", params={"max_depth": 6, "eta": 0.3}, num_boost_round=100, num_workers=2
)


def _constant_rmse(splits):
    train = pq.read_table(splits["train"])["PRICE"].to_numpy()
    test = pq.read_table(splits["test"])["PRICE"].to_numpy()
    return float(np.sqrt(np.mean((test - train.mean()) ** 2)))


def test_model_beats_constant_predictor_by_far(splits, tmp_path):
    result = train_xgboost(
        splits["train"], splits["validation"], trainer=TRAINER, output_dir=tmp_path / "model"
    )
    assert not result.distributed  # 10k rows: rayline picks one process
    assert set(result.metrics) == {"train-mae", "train-rmse", "validation-mae", "validation-rmse"}
    assert len(result.history["validation-rmse"]) == 100
    report = evaluate_model(tmp_path / "model", splits["test"], label="PRICE")
    rmse = report["regression_metrics"]["rmse"]["value"]
    assert rmse < 15000  # the reference workflow's gate
    assert rmse < _constant_rmse(splits) / 5
    saved = json.loads((tmp_path / "model" / "metrics.json").read_text())
    assert saved["metrics"]["validation-rmse"] == result.metrics["validation-rmse"]


def test_distributed_path_on_ray_train(splits, tmp_path):
    trainer = dataclasses.replace(TRAINER, distributed=True, num_boost_round=30)
    result = train_xgboost(
        splits["train"],
        splits["validation"],
        trainer=trainer,
        output_dir=tmp_path / "model",
        work_dir=tmp_path / "work",
    )
    assert result.distributed and result.num_workers == 2
    assert result.reason == "distributed=True: Ray Train with 2 workers"
    # One local node: both workers ran on it, and each says so.
    assert len(result.worker_nodes) == 2 and len(set(result.worker_nodes)) == 1
    # Each worker read half of the rows; the metrics are global (all-reduced).
    assert result.num_rows in (3000, 6000)
    report = evaluate_model(tmp_path / "model", splits["test"], label="PRICE")
    assert report["regression_metrics"]["rmse"]["value"] < _constant_rmse(splits) / 5
    assert result.metrics["validation-rmse"] == pytest.approx(result.history["validation-rmse"][-1])


def test_none_chooses_by_size(splits, tmp_path, monkeypatch):
    # 6,000 rows x 8 features = 48,000 cells: over a threshold of 40,000, Ray Train runs.
    monkeypatch.setenv("RAYLINE_DISTRIBUTED_MIN_CELLS", "40000")
    trainer = dataclasses.replace(TRAINER, num_boost_round=10)
    result = train_xgboost(
        splits["train"], None, trainer=trainer, output_dir=tmp_path / "m", work_dir=tmp_path / "w"
    )
    assert result.distributed and result.num_workers == 2 and len(result.worker_nodes) == 2
    assert result.reason.startswith("distributed=None: 48,000 cells >= 40,000")
    saved = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert saved["distributed"] is True and saved["distributed_reason"] == result.reason


def test_false_trains_in_one_process_at_any_size(splits, tmp_path, monkeypatch):
    monkeypatch.setenv("RAYLINE_DISTRIBUTED_MIN_CELLS", "1")
    trainer = dataclasses.replace(TRAINER, num_boost_round=10, distributed=False, num_workers=4)
    result = train_xgboost(splits["train"], None, trainer=trainer, output_dir=tmp_path / "m")
    assert not result.distributed and result.num_workers == 1 and result.worker_nodes == ()
    assert result.reason == "distributed=False: one process"


def test_training_step_in_a_pipeline(splits, rayline_home, ray_session):
    step = TrainingStep(
        "Train",
        trainer=TRAINER,
        inputs={"train": str(splits["train"]), "validation": str(splits["validation"])},
    )
    execution = Pipeline("ml-train", steps=[step]).start()
    execution.wait()
    run = execution.step("Train")
    assert run.properties["FinalMetrics"]["validation-rmse"] < 15000
    # The path that ran, and why, is on the step's record.
    assert run.properties["Distributed"] is False and run.properties["NumWorkers"] == 1
    assert run.properties["DistributedReason"].startswith("distributed=None: ")
    assert run.properties["DistributedReason"].endswith("one process")
    assert {m["MetricName"] for m in run.properties["FinalMetricDataList"]} >= {
        "validation:rmse",
        "validation:mae",
    }
    assert (to_path(run.outputs["model"]) / "model.ubj").is_file()
    assert (to_path(run.outputs["metrics"]) / "metrics.json").is_file()
    assert run.mlflow_run_id and execution.describe().mlflow_run_id

    from rayline.tracking.runs import client, finish_execution_run

    mlflow_run = client().get_run(run.mlflow_run_id)
    assert mlflow_run.data.params["max_depth"] == "6"
    assert mlflow_run.data.metrics["validation-rmse"] == pytest.approx(
        run.properties["FinalMetrics"]["validation-rmse"]
    )
    assert mlflow_run.data.tags["mlflow.parentRunId"] == execution.describe().mlflow_run_id
    # The engine ends the execution's run when the execution ends.
    assert finish_execution_run(execution.id, "Succeeded") == execution.describe().mlflow_run_id
    assert client().get_run(execution.describe().mlflow_run_id).info.status == "FINISHED"
