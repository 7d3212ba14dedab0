"""The ML library on ``s3://`` data, against the local S3 server: preprocessing reads an offline
store in the bucket through Ray Data, tuning reads its splits from the bucket and stores trial
models and Tune's state there, evaluation scores a model stored there."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rayline.ml import ContinuousParameter, IntegerParameter, XGBoostTrainer
from rayline.ml.evaluation import evaluate_model
from rayline.ml.preprocessing import preprocess
from rayline.ml.preprocessor import Preprocessor
from rayline.ml.tuning import copy_model, tune_xgboost
from rayline.store.artifacts import open_artifact_store

pytestmark = pytest.mark.ray


@pytest.fixture
def s3_offline(s3_artifacts, offline_store):
    """The housing offline store uploaded into the bucket (same hive layout)."""
    store = open_artifact_store()
    uri = store.uri_for("offline-store", "housing-1", "data")
    store.upload(offline_store, uri)
    return uri


def test_preprocess_tune_evaluate_on_s3(
    ray_session, s3_artifacts, s3_offline, tmp_path, monkeypatch
):
    # Ray Tune's path (this data is small enough to tune in process): its state goes to S3.
    monkeypatch.setenv("RAYLINE_TUNE_IN_PROCESS_MAX_CELLS", "0")
    store = open_artifact_store()
    outputs = {n: store.uri_for("prep", n) for n in ("train", "validation", "test", "preprocessor")}
    result = preprocess(s3_offline, label="PRICE", output_dirs=outputs, seed=7)
    assert sum(result.rows.values()) == 10_000
    assert result.outputs == outputs
    for split in ("train", "validation", "test"):
        assert store.list_files(outputs[split])[0] == "part-00000.parquet"
    pre = Preprocessor.load(outputs["preprocessor"])
    assert pre == result.preprocessor and "PRICE" not in pre.columns

    models = store.uri_for("tuning", "models")
    tuned = tune_xgboost(
        outputs["train"],
        outputs["validation"],
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=20),
        hyperparameter_ranges={
            "max_depth": IntegerParameter(3, 6),
            "eta": ContinuousParameter(0.2, 0.6),
        },
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
        models_dir=models,
        storage_uri=store.uri_for("tuning", "ray-tune"),
    )
    assert len(tuned.top_model_uris) == 2
    for uri in tuned.top_model_uris:
        assert uri.startswith(models + "/") and "model.ubj" in store.list_files(uri)
    # Tune's experiment state went to the bucket too (storage_filesystem), not to a local dir.
    assert tuned.path == "ray-tune"
    assert store.list_files(store.uri_for("tuning", "ray-tune"))

    best = copy_model(tuned.get_top_model_uri(0), tmp_path / "best")
    assert (best / "model.ubj").is_file()
    report_dir = store.uri_for("evaluation")
    report = evaluate_model(
        tuned.get_top_model_uri(0), outputs["test"], label="PRICE", output_dir=report_dir
    )
    assert report["regression_metrics"]["r2"]["value"] > 0.8
    stored = json.loads(store.get_bytes(store.uri_for("evaluation", "evaluation.json")))
    assert stored == json.loads(json.dumps(report))


def test_missing_s3_input_is_a_clear_error(ray_session, s3_artifacts, tmp_path):
    from rayline.errors import UserInputError

    store = open_artifact_store()
    with pytest.raises(UserInputError, match="does not exist"):
        preprocess(
            store.uri_for("nothing-here"),
            label="PRICE",
            output_dirs={n: tmp_path / n for n in ("train", "validation", "test", "preprocessor")},
        )


def _rmse(model: Path, split: Path) -> float:
    """The model's RMSE on a split, predicted by XGBoost directly (not through rayline)."""
    import numpy as np
    import pyarrow.parquet as pq
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(model))
    table = pq.read_table(split).to_pandas()
    predicted = booster.inplace_predict(table[booster.feature_names])
    return float(np.sqrt(((predicted - table["PRICE"].to_numpy()) ** 2).mean()))


@pytest.mark.slow
def test_distributed_training_reads_s3_and_persists_there(
    ray_session, s3_artifacts, splits, tmp_path
):
    from rayline.ml.training import train_xgboost

    store = open_artifact_store()
    for name in ("train", "validation"):
        store.upload(splits[name], store.uri_for("splits", name))
    storage = store.uri_for("ray-train")
    result = train_xgboost(
        store.uri_for("splits", "train"),
        store.uri_for("splits", "validation"),
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=10, num_workers=2, distributed=True),
        output_dir=tmp_path / "model",
        storage_uri=storage,
    )
    assert result.distributed and (tmp_path / "model" / "model.ubj").is_file()
    assert result.metrics["validation-rmse"] == pytest.approx(
        _rmse(tmp_path / "model" / "model.ubj", splits["validation"]), rel=1e-4
    )
    # Ray Train's run (its checkpoint with the model) lives in the bucket.
    assert any(f.endswith("model.ubj") for f in store.list_files(storage))


def test_training_step_on_s3(ray_session, s3_bucket, s3_artifacts, splits):
    """A TrainingStep whose inputs are in the bucket: they are read on the step's node, the
    model is an output in the bucket, and the MLflow run's artifacts are there too."""
    from rayline import Pipeline
    from rayline.ml import TrainingStep
    from rayline.tracking.runs import client

    store = open_artifact_store()
    for name in ("train", "validation"):
        store.upload(splits[name], store.uri_for("splits", name))
    train = TrainingStep(
        "Train",
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=20),
        inputs={n: store.uri_for("splits", n) for n in ("train", "validation")},
    )
    execution = Pipeline("s3-training", steps=[train]).start()
    assert execution.wait(tracked=True).status == "Succeeded"
    step = execution.step("Train")
    assert step.outputs["model"].startswith(s3_artifacts + "/")
    assert store.list_files(step.outputs["model"]) == ["model.ubj"]
    assert "metrics.json" in store.list_files(step.outputs["metrics"])
    run = client().get_run(step.mlflow_run_id)
    assert run.info.artifact_uri.startswith(f"{s3_artifacts}/mlflow-artifacts/s3-training/")
    assert run.data.tags["rayline.model_uri"] == step.outputs["model"]
    assert store.exists(f"{run.info.artifact_uri}/model/model.ubj")
