"""Importing the SageMaker SDK's ML steps (tests/fixtures/sagemaker/reference.json and
training.json, written by sagemaker==2.257.7 with generate_reference.py): tuning, training and
RegisterModel become rayline's kinds, get_top_model_s3_uri the tuning step's best model, and
what cannot map (the label, training scripts, other algorithms, libsvm, CreateModel,
Transform, Lambda) is refused with what to do."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rayline.definition.expressions import Join, StepOutput, StepProperty
from rayline.definition.parameters import ParameterString
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.steps import ConditionStep, FailStep, ProcessingStep
from rayline.errors import PipelineDefinitionError
from rayline.ml.hyperparameters import ContinuousParameter, IntegerParameter
from rayline.ml.steps import TrainingStep, TuningStep
from rayline.registry.steps import ModelStep
from rayline.sagemaker.importer import import_sagemaker_definition
from rayline.sagemaker.ml_steps import top_model_reference

FIXTURES = Path(__file__).parents[2] / "fixtures" / "sagemaker"
MAPPINGS = {"s3://sagemaker-us-east-1-111122223333/housing": FIXTURES}


def _load(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _import(definition: dict):
    return import_sagemaker_definition(definition, mappings=MAPPINGS)


def _steps(imported) -> dict:
    pipeline = PipelineDefinition(
        imported.name, parameters=imported.parameters, steps=imported.steps
    )
    return dict(pipeline.graph.steps)


def _refused(definition: dict) -> str:
    with pytest.raises(PipelineDefinitionError) as err:
        _import(definition)
    return str(err.value)


def _tuning_job(definition: dict) -> dict:
    return definition["Steps"][1]["Arguments"]["TrainingJobDefinition"]


def test_the_reference_workflow_imports_step_for_step():
    steps = _steps(_import(_load("reference")))
    kinds = {name: type(step) for name, step in steps.items()}
    assert kinds == {
        "PreprocessData": ProcessingStep,
        "HPTuning": TuningStep,
        "EvaluateModel": ProcessingStep,
        "CheckEvaluation": ConditionStep,
        "RegisterTrainedModel-RegisterModel": ModelStep,
        "RMSEFail": FailStep,
    }


def test_a_tuning_step_maps_its_ranges_objective_limits_and_trainer():
    tune = _steps(_import(_load("reference")))["HPTuning"]
    assert tune.hyperparameter_ranges == {
        "max_depth": IntegerParameter(1, 8),
        "eta": ContinuousParameter(0.2, 1.0),
        "min_child_weight": ContinuousParameter(0.0, 120.0),
        "subsample": ContinuousParameter(0.2, 1.0),
    }
    assert (tune.strategy, tune.objective_metric, tune.objective_type) == (
        "Bayesian",
        "validation:rmse",
        "Minimize",
    )
    assert (tune.max_jobs, tune.max_parallel_jobs) == (2, 2)
    # The SDK's string hyperparameters: num_round is the trainer's rounds, the rest XGBoost's.
    trainer = tune.trainer
    assert (trainer.label, trainer.num_boost_round, trainer.num_workers) == ("PRICE", 20, 1)
    assert trainer.params == {"objective": "reg:squarederror", "eval_metric": ["rmse"]}
    assert tune.inputs == {
        "train": StepOutput("PreprocessData", "train"),
        "validation": StepOutput("PreprocessData", "validation"),
    }
    assert tune.cache_config.expire_after == "PT12H"


def test_the_top_model_uri_is_the_tuning_steps_best_model():
    steps = _steps(_import(_load("reference")))
    evaluate = steps["EvaluateModel"]
    assert evaluate.inputs[0].source == StepOutput("HPTuning", "best_model")
    later = {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3:/",
                "bucket",
                "prefix",
                {"Get": "Steps.HPTuning.TrainingJobSummaries[2].TrainingJobName"},
                "output/model.tar.gz",
            ],
        }
    }
    assert top_model_reference(later) == StepProperty("HPTuning", "TopModelUris[2]")
    assert top_model_reference({"Std:Join": {"On": "/", "Values": ["a", "b"]}}) is None


def test_register_model_maps_the_model_group_metrics_and_content_types():
    register = _steps(_import(_load("reference")))["RegisterTrainedModel-RegisterModel"]
    assert register.model == StepOutput("HPTuning", "best_model")
    assert register.model_package_group == "synthetic-housing-models"
    assert register.approval_status == "PendingManualApproval"
    assert register.metrics == Join(
        on="/",
        values=(StepOutput("EvaluateModel", "evaluation"), "evaluation.json"),
    )
    assert (register.content_types, register.response_types) == (("text/csv",), ("text/csv",))


def test_a_training_step_and_its_registered_model_import():
    definition = _load("training")
    # A CSV channel imports, with what rayline reads differently recorded.
    channel = definition["Steps"][0]["Arguments"]["InputDataConfig"][0]
    channel["ContentType"] = "text/csv"
    imported = _import(definition)
    steps = _steps(imported)
    train = steps["TrainModel"]
    assert isinstance(train, TrainingStep)
    trainer = train.trainer
    # ResourceConfig.InstanceCount 2 is the trainer's workers (rayline still picks the path).
    assert (trainer.label, trainer.num_boost_round, trainer.num_workers) == ("PRICE", 50, 2)
    assert trainer.params["eta"] == 0.3
    assert trainer.params["eval_metric"] == ["mae", "rmse"]
    assert trainer.params["max_depth"] == ParameterString("MaxDepth", default_value="4")
    assert train.inputs["validation"] == str(FIXTURES / "splits" / "validation")
    register = steps["RegisterTrainedModel-RegisterModel"]
    assert register.model == StepOutput("TrainModel", "model")
    assert register.approval_status == "Approved"
    assert register.model_description == "trained by the TrainModel step"
    assert register.response_types == ("text/csv", "application/json")
    notes = "\n".join(imported.not_applied)
    assert "step 'TrainModel': AlgorithmSpecification.TrainingImage" in notes
    assert "InputDataConfig['train'].ContentType 'text/csv'" in notes
    assert "InputDataConfig['validation']" not in notes  # Parquet, read as SageMaker reads it
    assert "first row as its header" in notes
    assert "step 'TrainModel': DebugHookConfig" in notes
    assert "Containers[0].Image" in notes


def test_the_imported_ml_steps_round_trip_as_a_rayline_definition():
    imported = _import(_load("reference"))
    pipeline = PipelineDefinition("p", parameters=imported.parameters, steps=imported.steps)
    again = PipelineDefinition.from_definition(pipeline.definition())
    tune = again.graph.steps["HPTuning"]
    assert tune.hyperparameter_ranges == _steps(imported)["HPTuning"].hyperparameter_ranges
    assert tune.trainer == _steps(imported)["HPTuning"].trainer


def test_a_training_job_without_the_label_says_how_to_name_it():
    definition = _load("reference")
    del _tuning_job(definition)["Environment"]
    message = _refused(definition)
    assert "step 'HPTuning': TrainingJobDefinition.Environment.RAYLINE_LABEL" in message
    assert "environment={'RAYLINE_LABEL': '<label column>'}" in message


def test_a_training_script_another_algorithm_and_libsvm_are_refused():
    definition = _load("training")
    args = definition["Steps"][0]["Arguments"]
    args["HyperParameters"]["sagemaker_program"] = '"train.py"'
    args["InputDataConfig"][0]["ContentType"] = "text/libsvm"
    message = _refused(definition)
    assert "sagemaker_program (a training script" in message
    assert "InputDataConfig['train'].ContentType 'text/libsvm'" in message

    definition = _load("training")
    image = "123.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    definition["Steps"][0]["Arguments"]["AlgorithmSpecification"]["TrainingImage"] = image
    assert "rayline trains XGBoost only" in _refused(definition)


def test_unsupported_ranges_and_tuning_fields_are_listed():
    definition = _load("reference")
    config = definition["Steps"][1]["Arguments"]["HyperParameterTuningJobConfig"]
    ranges = config["ParameterRanges"]
    ranges["IntegerParameterRanges"].append(
        {"Name": "num_round", "MinValue": "10", "MaxValue": "50", "ScalingType": "Auto"}
    )
    ranges["ContinuousParameterRanges"][0]["ScalingType"] = "ReverseLogarithmic"
    config["Autotune"] = {"Mode": "Enabled"}
    message = _refused(definition)
    assert "ParameterRanges 'num_round'" in message
    assert "'eta'" in message and "ReverseLogarithmic" in message
    assert "HyperParameterTuningJobConfig.Autotune" in message


@pytest.mark.parametrize(
    ("kind", "hint"),
    [("Model", "register the model"), ("Transform", "ProcessingStep"), ("Lambda", "Lambda")],
)
def test_create_model_transform_and_lambda_stay_unsupported(kind, hint):
    definition = _load("training")
    definition["Steps"].append({"Name": "Other", "Type": kind, "Arguments": {}})
    message = _refused(definition)
    assert f"step 'Other': Type {kind!r}" in message
    assert hint in message
