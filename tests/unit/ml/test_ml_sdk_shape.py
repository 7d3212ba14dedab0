"""rayline's ML step kinds against the ones the SageMaker SDK wrote, step for step.

``tests/fixtures/sagemaker/reference.json`` (the reference workflow) and ``training.json`` were
written by the SDK 2.257.7 (``tests/fixtures/sagemaker/generate_reference.py``). rayline's
reference workflow (``examples/housing/pipeline.py``) and a training step are defined in rayline
and their arguments compared: the SDK's keys at every level with values of the same shapes (the
SDK's string hyperparameters and range bounds included), less what rayline documents it leaves
out (each kind's ``to_arguments``) and plus its one extension key, ``Rayline``.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from rayline.definition.pipeline import PipelineDefinition
from rayline.ml.steps import TrainingStep
from rayline.ml.trainers import XGBoostTrainer

REPO = Path(__file__).resolve().parents[3]
FIXTURES = REPO / "tests" / "fixtures" / "sagemaker"

#: What the SDK writes and rayline leaves out, by the key that holds it: no image, role,
#: instance types, output location or time limit applies to a Ray task; the label is in the
#: trainer (``Rayline.Trainer``), not the container's environment; channels are read by their
#: files' suffix (``.parquet``, ``.csv``), so no ``ContentType``; rayline validates no package.
SDK_ONLY = {
    "Arguments": {
        "RoleArn",
        "OutputDataConfig",
        "StoppingCondition",
        "Environment",
        "DebugHookConfig",
        "ProfilerConfig",
        "SkipModelValidation",
    },
    "TrainingJobDefinition": {"RoleArn", "OutputDataConfig", "StoppingCondition", "Environment"},
    "AlgorithmSpecification": {"TrainingImage"},
    "InputDataConfig": {"ContentType"},
    "ResourceConfig": {"InstanceType", "VolumeSizeInGB"},
    "HyperParameterTuningResourceConfig": {"InstanceType", "VolumeSizeInGB"},
    "InferenceSpecification": {
        "SupportedRealtimeInferenceInstanceTypes",
        "SupportedTransformInstanceTypes",
    },
    "Containers": {"Image", "Environment"},
    "ModelMetrics": {"Bias", "Explainability"},
}
#: What rayline adds: its extension key, and the tuning job's seed (a CreateHyperParameter-
#: TuningJob field the fixture's tuner leaves unset).
RAYLINE_ONLY = {"Arguments": {"Rayline"}, "HyperParameterTuningJobConfig": {"RandomSeed"}}
_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")


def _is_value(v: Any) -> bool:
    if isinstance(v, dict):
        return len(v) == 1 and next(iter(v)) in _EXPRESSIONS
    return isinstance(v, str | int | float | bool)


def assert_same_shape(ours: Any, sdk: Any, where: str) -> None:
    """``ours`` has ``sdk``'s keys at every level (less ``SDK_ONLY``, plus ``RAYLINE_ONLY``),
    and values of the same shapes; where the SDK writes a string, so does rayline (or an
    expression in its place)."""
    if _is_value(sdk):
        assert _is_value(ours), f"{where}: {ours!r} is not a value like the SDK's {sdk!r}"
        if isinstance(sdk, str) and not isinstance(ours, dict):
            assert isinstance(ours, str), f"{where}: {ours!r} is not a string like {sdk!r}"
        return
    if isinstance(sdk, list):
        assert isinstance(ours, list), f"{where}: {ours!r} is not a list"
        for n, item in enumerate(ours):
            if sdk:
                assert_same_shape(item, sdk[0], f"{where}[{n}]")
        return
    assert isinstance(ours, dict), f"{where}: {ours!r} is not an object"
    leaf = where.rsplit(".", 1)[-1].split("[")[0]
    if leaf in {"HyperParameters", "StaticHyperParameters"}:  # the user's names; strings
        for key, value in ours.items():
            assert _is_value(value) and not isinstance(value, int | float | bool), (
                f"{where}.{key}: {value!r} is not a string (the SDK writes strings)"
            )
        return
    expected = set(sdk) - SDK_ONLY.get(leaf, set())
    got = set(ours) - RAYLINE_ONLY.get(leaf, set())
    assert got == expected, f"{where}: keys {sorted(got)}, the SDK's {sorted(expected)}"
    for key in got:
        assert_same_shape(ours[key], sdk[key], f"{where}.{key}")


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for step in definition["Steps"]:
        out[step["Name"]] = step
        args = step["Arguments"]
        out.update(_steps({"Steps": [*args.get("IfSteps", []), *args.get("ElseSteps", [])]}))
    return out


def _reference() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "housing_pipeline", REPO / "examples" / "housing" / "pipeline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return json.loads(module.get_pipeline().definition())


OURS = _steps(_reference())
THEIRS = _steps(json.loads((FIXTURES / "reference.json").read_text()))
TRAINING = _steps(json.loads((FIXTURES / "training.json").read_text()))


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("HPTuning", "HPTuning"), ("RegisterTrainedModel", "RegisterTrainedModel-RegisterModel")],
)
def test_the_reference_workflows_ml_steps_have_the_sdks_shape(ours, theirs):
    step, sdk = OURS[ours], THEIRS[theirs]
    assert step["Type"] == sdk["Type"]
    assert_same_shape(step["Arguments"], sdk["Arguments"], "Arguments")


def test_the_tuning_step_writes_what_the_sdk_writes_for_the_same_tuner():
    ours = OURS["HPTuning"]["Arguments"]
    sdk = THEIRS["HPTuning"]["Arguments"]
    config, sdk_config = ours["HyperParameterTuningJobConfig"], sdk["HyperParameterTuningJobConfig"]
    # The same four ranges, objective and strategy as the fixture's tuner.
    assert config["ParameterRanges"] == sdk_config["ParameterRanges"]
    for key in ("Strategy", "HyperParameterTuningJobObjective", "TrainingJobEarlyStoppingType"):
        assert config[key] == sdk_config[key]
    assert ours["TrainingJobDefinition"]["AlgorithmSpecification"] == {"TrainingInputMode": "File"}
    assert ours["TrainingJobDefinition"]["StaticHyperParameters"]["num_round"] == "100"
    assert ours["Rayline"]["Trainer"]["Label"] == "PRICE"


def test_a_training_step_has_the_sdks_shape():
    step = TrainingStep(
        "TrainModel",
        trainer=XGBoostTrainer(
            label="PRICE",
            num_boost_round=50,
            num_workers=2,
            params={"objective": "reg:squarederror", "eta": 0.3, "eval_metric": ["mae", "rmse"]},
        ),
        inputs={"train": "s3://bucket/train", "validation": "s3://bucket/validation"},
    )
    args = step.to_request()["Arguments"]
    sdk = TRAINING["TrainModel"]["Arguments"]
    assert_same_shape(args, sdk, "Arguments")
    assert args["HyperParameters"] == {
        "objective": "reg:squarederror",
        "eta": "0.3",
        "eval_metric": "mae,rmse",
        "num_round": "50",
    }
    assert args["ResourceConfig"] == {"InstanceCount": 2}
    again = PipelineDefinition.from_definition(
        PipelineDefinition("p", steps=[step]).definition()
    ).graph.steps["TrainModel"]
    assert again.trainer == step.trainer and again.inputs == step.inputs
