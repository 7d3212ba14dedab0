"""Property paths in SageMaker's shape, checked when the pipeline is defined (no Ray)."""

from __future__ import annotations

import pytest

from rayline import Pipeline
from rayline.conditions import ConditionLessThanOrEqualTo
from rayline.definition.expressions import StepOutput, StepProperty, from_request, get_json_path
from rayline.errors import PipelineDefinitionError
from rayline.ml import TrainingStep, TuningStep, XGBoostTrainer
from rayline.ml.hyperparameters import IntegerParameter
from rayline.steps import ConditionStep, FailStep, ProcessingOutput, ProcessingStep


def _prep() -> ProcessingStep:
    return ProcessingStep(
        "Prep",
        function=lambda: None,
        outputs=[ProcessingOutput("train"), ProcessingOutput("validation")],
    )


def _train(prep: ProcessingStep) -> TrainingStep:
    out = prep.properties.ProcessingOutputConfig.Outputs
    return TrainingStep(
        "Train",
        trainer=XGBoostTrainer(label="y"),
        inputs={
            "train": out["train"].S3Output.S3Uri,
            "validation": out["validation"].S3Output.S3Uri,
        },
    )


def test_a_processing_output_read_the_sagemaker_way_is_the_output():
    prep = _prep()
    uri = prep.properties.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri
    assert uri == prep.outputs["train"] == StepOutput("Prep", "train")
    assert uri.to_request() == {
        "Get": "Steps.Prep.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"
    }
    # Read back from a definition, it is the output again.
    assert from_request(uri.to_request(), {}) == StepOutput("Prep", "train")


def test_training_properties_in_sagemaker_shape():
    train = _train(_prep())
    assert train.properties.ModelArtifacts.S3ModelArtifacts == train.outputs["model"]
    assert train.properties.ModelArtifacts.S3ModelArtifacts.to_request() == {
        "Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"
    }
    rmse = train.properties.FinalMetricDataList["validation:rmse"].Value
    assert rmse.to_request() == {"Get": "Steps.Train.FinalMetricDataList['validation:rmse'].Value"}
    assert from_request(rmse.to_request(), {}) == StepProperty(
        "Train", "FinalMetricDataList['validation:rmse'].Value"
    )
    # At run time the list is read by metric name, as SageMaker's PropertiesList is.
    reported = {"FinalMetricDataList": [{"MetricName": "validation:rmse", "Value": 3.5}]}
    assert get_json_path(reported, rmse.path, where="the properties") == 3.5


def test_a_gate_on_training_metrics_defines_and_round_trips():
    prep = _prep()
    train = _train(prep)
    rmse = train.properties.FinalMetricDataList["validation:rmse"].Value
    gate = ConditionStep(
        "Gate",
        conditions=[ConditionLessThanOrEqualTo(rmse, 10.0)],
        else_steps=[FailStep("TooHigh", error_message="rmse too high")],
    )
    pipeline = Pipeline("paths", steps=[prep, train, gate])
    again = Pipeline.from_definition(pipeline.definition())
    assert again.definition() == pipeline.definition()
    assert again.step("Train").inputs["train"] == StepOutput("Prep", "train")


def test_tuning_best_training_job_paths():
    prep = _prep()
    tune = TuningStep(
        "Tune",
        trainer=XGBoostTrainer(label="y"),
        hyperparameter_ranges={"max_depth": IntegerParameter(1, 4)},
        inputs={"train": prep.outputs["train"], "validation": prep.outputs["validation"]},
    )
    best = tune.properties.BestTrainingJob
    gate = ConditionStep(
        "Gate",
        conditions=[
            ConditionLessThanOrEqualTo(best.FinalHyperParameterTuningJobObjectiveMetric.Value, 1.0)
        ],
    )
    Pipeline("tune-paths", steps=[prep, tune, gate])  # defines: the path exists
    bad = ConditionStep("Gate", conditions=[ConditionLessThanOrEqualTo(best.BestObjective, 1.0)])
    with pytest.raises(PipelineDefinitionError, match=r"step 'Tune' reports no property") as err:
        Pipeline("tune-paths", steps=[prep, tune, bad])
    assert "'BestTrainingJob' has" in str(err.value) and "'ObjectiveValue'" in str(err.value)


def test_unknown_property_paths_are_refused_when_the_pipeline_is_defined():
    prep = _prep()
    train = _train(prep)
    typo = ConditionStep(
        "Gate", conditions=[ConditionLessThanOrEqualTo(train.properties.FinalMetricDataLst, 1)]
    )
    with pytest.raises(PipelineDefinitionError, match="did you mean 'FinalMetricDataList'"):
        Pipeline("typo", steps=[prep, train, typo])
    # A processing output the step does not declare.
    missing = prep.properties.ProcessingOutputConfig.Outputs["test"].S3Output.S3Uri
    reader = ProcessingStep("Read", function=lambda path: None, arguments=[missing])
    with pytest.raises(PipelineDefinitionError, match="'test'"):
        Pipeline("missing", steps=[prep, reader])


def test_the_shape_rayline_stored_before_still_reads():
    assert from_request({"Get": "Steps.Fn.Properties.Return"}, {}) == StepProperty("Fn", "Return")
    assert from_request({"Get": "Steps.Prep.Outputs['train']"}, {}) == StepOutput("Prep", "train")
