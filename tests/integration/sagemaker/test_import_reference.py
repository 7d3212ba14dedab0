"""The reference workflow as a SageMaker user writes it (``reference.json``, written by the SDK:
preprocess → XGBoost tuning → evaluate → condition → RegisterModel | Fail), imported and run end
to end on real Ray: the tuning step trains on the preprocessing step's Parquet splits, the
evaluation reads the best model through ``get_top_model_s3_uri``, and the registered version
holds that model and the evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rayline import Pipeline
from rayline.registry import ApprovalStatus, ModelRegistry
from rayline.store import locations

pytestmark = pytest.mark.ray

FIXTURES = Path(__file__).parents[2] / "fixtures" / "sagemaker"
MAPPINGS = {"s3://sagemaker-us-east-1-111122223333/housing": FIXTURES}
GROUP = "synthetic-housing-models"


def _failures(execution) -> list[tuple[str, str | None, str | None]]:
    return [
        (s.step_name, s.failure_reason, s.user_traceback)
        for s in execution.list_steps()
        if s.failure_reason
    ]


def _rmse(model_uri: str, split_uri: str, work: Path) -> float:
    """A model's RMSE on a Parquet split, predicted by XGBoost directly (not through rayline)."""
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    booster = xgb.Booster(model_file=str(locations.download(model_uri, work / "model.ubj")))
    table = pd.read_parquet(locations.download(split_uri, work / "split"))
    predicted = booster.inplace_predict(table[booster.feature_names])
    return float(np.sqrt(((predicted - table["PRICE"].to_numpy()) ** 2).mean()))


def test_the_imported_reference_workflow_tunes_evaluates_and_registers(
    ray_session, rayline_home, tmp_path
):
    pipeline = Pipeline.from_sagemaker_definition(
        (FIXTURES / "reference.json").read_text(), name="housing-sagemaker", mappings=MAPPINGS
    )
    pipeline.upsert()
    # 144 training rows: the RMSE is far above the reference's 15,000; the threshold lets it in.
    execution = pipeline.start(parameters={"RMSEThreshold": 1e9})
    assert execution.wait().status == "Succeeded", _failures(execution)

    tune = execution.step("HPTuning").properties
    assert tune["NumTrials"] == 2
    best_rmse = tune["BestTrainingJob"]["ObjectiveValue"]  # validation:rmse, the objective
    assert set(tune["BestTrainingJob"]["FinalHyperParameters"]) == {
        "max_depth",
        "eta",
        "min_child_weight",
        "subsample",
    }
    report_uri = execution.step("EvaluateModel").outputs["evaluation"].rstrip("/")
    report = json.loads(locations.read_bytes(report_uri + "/evaluation.json"))
    assert execution.step("CheckEvaluation").properties["Outcome"] is True

    props = execution.step("RegisterTrainedModel-RegisterModel").properties
    assert (props["ModelPackageGroupName"], props["ModelPackageVersion"]) == (GROUP, 1)
    package = ModelRegistry().describe(GROUP, 1)
    assert package.status == ApprovalStatus.PENDING
    assert package.execution_id == execution.id
    # The best trial's model, its feature columns (PRICE, the label, is not one of them), and
    # the report evaluate_housing.py wrote.
    assert package.sources["model"].startswith(execution.step("HPTuning").outputs["best_model"])
    assert "PRICE" not in package.inference_spec.input_columns
    assert package.metric("rmse") == pytest.approx(report["regression_metrics"]["rmse"]["value"])
    # The objective is the best model's RMSE on the validation split, as XGBoost computes it.
    validation = execution.step("PreprocessData").outputs["validation"]
    assert best_rmse == pytest.approx(_rmse(package.model_uri, validation, tmp_path), rel=1e-4)
    assert "RMSEFail" not in {s.step_name for s in execution.list_steps()}


def test_an_imported_training_step_trains_and_its_model_step_registers(
    ray_session, rayline_home, tmp_path
):
    # training.json's channels: Parquet splits under s3://.../housing/splits, PRICE first.
    import pandas as pd

    frame = pd.read_csv(FIXTURES / "housing-dataset.csv")
    frame = frame[["PRICE", *(c for c in frame.columns if c != "PRICE")]].astype("float64")
    for split, rows in (("train", frame.iloc[:180]), ("validation", frame.iloc[180:])):
        (tmp_path / "splits" / split).mkdir(parents=True)
        rows.to_parquet(tmp_path / "splits" / split / f"{split}.parquet", index=False)
    pipeline = Pipeline.from_sagemaker_definition(
        (FIXTURES / "training.json").read_text(),
        name="housing-sagemaker-training",
        mappings={"s3://sagemaker-us-east-1-111122223333/housing": tmp_path},
    )
    execution = pipeline.start(parameters={"MaxDepth": "3"})
    assert execution.wait().status == "Succeeded", _failures(execution)

    train = execution.step("TrainModel").properties
    assert train["NumRows"] == 180
    assert {m["MetricName"] for m in train["FinalMetricDataList"]} >= {
        "validation:mae",
        "validation:rmse",
    }
    package = ModelRegistry().describe(GROUP, 1)
    assert package.status == ApprovalStatus.APPROVED
    assert package.description == "trained by the TrainModel step"
    assert package.sources["model"].startswith(execution.step("TrainModel").outputs["model"])
