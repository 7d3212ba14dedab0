"""The housing workflow's ML half, run as a pipeline on real Ray: preprocessing script →
tuning → evaluation script with a property file → quality gate; tracked in MLflow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rayline import ParameterFloat, Pipeline
from rayline.definition.conditions import ConditionLessThanOrEqualTo
from rayline.definition.expressions import JsonGet
from rayline.definition.steps import (
    ConditionStep,
    FailStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
)
from rayline.ml import ContinuousParameter, IntegerParameter, TuningStep, XGBoostTrainer

pytestmark = pytest.mark.ray

SCRIPTS = Path(__file__).resolve().parents[3] / "examples" / "housing" / "scripts"


def test_housing_pipeline_tunes_evaluates_and_tracks(ray_session, rayline_home, offline_store):
    threshold = ParameterFloat("RMSEThreshold", default_value=15000.0)
    prep = ProcessingStep(
        "PreprocessData",
        code=str(SCRIPTS / "preprocess.py"),
        arguments=["--train_size", "0.6", "--validation_size", "0.2", "--test_size", "0.2"],
        inputs=[ProcessingInput(source=str(offline_store), destination="raw")],
        outputs=[ProcessingOutput(n) for n in ("train", "validation", "test", "preprocessor")],
    )
    tune = TuningStep(
        "HPTuning",
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=50, num_workers=2),
        hyperparameter_ranges={
            "max_depth": IntegerParameter(3, 8),
            "eta": ContinuousParameter(0.2, 1),
        },
        objective_metric="validation:rmse",
        max_jobs=4,
        max_parallel_jobs=2,
        inputs={"train": prep.outputs["train"], "validation": prep.outputs["validation"]},
    )
    report = PropertyFile("EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "EvaluateModel",
        code=str(SCRIPTS / "evaluate.py"),
        inputs=[
            ProcessingInput(source=tune.get_top_model_uri(top_k=0), destination="model"),
            ProcessingInput(source=prep.outputs["test"], destination="test"),
        ],
        outputs=[ProcessingOutput("evaluation")],
        property_files=[report],
    )
    fail = FailStep("RMSEFail", error_message="RMSE too high")
    check = ConditionStep(
        "CheckEvaluation",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step=evaluate,
                    property_file=report,
                    json_path="regression_metrics.rmse.value",
                ),
                right=threshold,
            )
        ],
        if_steps=[],
        else_steps=[fail],
    )
    pipeline = Pipeline("ml-housing", parameters=[threshold], steps=[prep, tune, evaluate, check])
    # The definition round-trips through JSON (what upsert stores and the driver reads).
    assert Pipeline.from_definition(pipeline.definition()).definition() == pipeline.definition()

    execution = pipeline.start()
    execution.wait(tracked=True)  # the MLflow runs are checked below

    # Tuning: 4 trials inside the declared space; the best model went to the evaluation.
    best = execution.step("HPTuning").properties["BestTrainingJob"]
    trials = execution.step("HPTuning").properties["Trials"]
    assert len(trials) == 4
    for t in trials:
        assert 3 <= t["max_depth"] <= 8 and 0.2 <= t["eta"] <= 1
    objectives = [t["objective"] for t in trials if t["model_uri"]]
    assert best["ObjectiveValue"] == min(objectives)
    outputs = execution.step("HPTuning").outputs
    assert (Path(outputs["best_model"].removeprefix("file://")) / "model.ubj").is_file()

    evaluation = json.loads(
        (
            Path(execution.step("EvaluateModel").outputs["evaluation"].removeprefix("file://"))
            / "evaluation.json"
        ).read_text()
    )
    metrics = evaluation["regression_metrics"]
    assert set(metrics) == {"mae", "rmse", "r2"}
    assert metrics["rmse"]["value"] < 15000 and metrics["r2"]["value"] > 0.9
    assert execution.step("CheckEvaluation").properties["Outcome"] is True

    # Tracking: one run for the execution, the tuning step nested in it, trials nested below.
    from rayline.tracking.runs import list_runs

    record = execution.describe()
    assert record.mlflow_run_id
    step_run_id = execution.step("HPTuning").mlflow_run_id
    assert step_run_id and step_run_id == execution.step("HPTuning").properties["MlflowRunId"]
    runs = {r.run_id: r for r in list_runs(execution_id=execution.id)}
    assert runs[step_run_id].parent_run_id == record.mlflow_run_id
    assert runs[step_run_id].metrics["best.validation-rmse"] == pytest.approx(
        best["ObjectiveValue"]
    )
    trial_runs = [r for r in runs.values() if r.parent_run_id == step_run_id]
    assert len(trial_runs) == 4
    assert {r.params["max_depth"] for r in trial_runs} == {str(t["max_depth"]) for t in trials}

    # The CLI shows the execution's runs as a tree.
    from rayline.cli.main import main

    assert main(["experiments", "--execution", execution.id, "--json"]) == 0
