"""rayline's own definition of the reference workflow against one the SageMaker SDK wrote.

``tests/fixtures/sagemaker/abalone.json`` was written by the SDK 2.257.7
(``tests/fixtures/sagemaker/generate.py``). The reference workflow
(``examples/housing/pipeline.py``) is defined in rayline and its definition compared step for
step: the envelope, the Processing, Condition and Fail steps have the SDK's keys at every level
and values of the same shapes, less what rayline documents it leaves out and plus its one
extension key. The ML kinds (Tuning, RegisterModel) are compared elsewhere.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from rayline.definition.parameters import ParameterString
from rayline.definition.pipeline import PIPELINE_EXPERIMENT_CONFIG, PipelineDefinition
from rayline.definition.steps import ProcessingStep
from rayline.definition.steps.base import CodeRef
from rayline.definition.steps.processing import ProcessingInput, ProcessingOutput
from rayline.errors import PipelineDefinitionError

REPO = Path(__file__).resolve().parents[3]
SDK = json.loads((REPO / "tests" / "fixtures" / "sagemaker" / "abalone.json").read_text())

#: What the SDK writes and rayline leaves out, by the key that holds it (each is documented in
#: ``ProcessingStep.to_arguments``): no image, instances or role apply to a Ray task, and an
#: output's URI is chosen by the engine when the step runs.
SDK_ONLY = {
    "Arguments": {"ProcessingResources", "RoleArn"},
    "AppSpecification": {"ImageUri"},
    "S3Output": {"S3Uri"},
}
#: What rayline adds: its one extension key (``rayline.definition.pipeline.EXTENSION_KEY``).
RAYLINE_ONLY = {"Arguments": {"Rayline"}, "": {"Rayline"}}
_EXPRESSIONS = ("Get", "Std:Join", "Std:JsonGet")


def _is_value(v: Any) -> bool:
    """A literal or an expression: what a definition may hold where the SDK has a value."""
    if isinstance(v, dict):
        return len(v) == 1 and next(iter(v)) in _EXPRESSIONS
    return isinstance(v, (str, int, float, bool))


def assert_same_shape(ours: Any, sdk: Any, where: str) -> None:
    """``ours`` has ``sdk``'s keys at every level (less ``SDK_ONLY``, plus ``RAYLINE_ONLY``),
    and values of the same shapes: objects, lists of like items, literals or expressions."""
    if _is_value(sdk):
        assert _is_value(ours), f"{where}: {ours!r} is not a value like the SDK's {sdk!r}"
        if isinstance(sdk, bool):
            assert isinstance(ours, bool), f"{where}: {ours!r} is not a boolean"
        both_expressions = isinstance(sdk, dict) and isinstance(ours, dict)
        if both_expressions and next(iter(sdk)) == next(iter(ours)):
            (op,) = sdk
            if isinstance(sdk[op], dict):  # Std:Join and Std:JsonGet: their bodies too
                assert_same_shape(ours[op], sdk[op], f"{where}.{op}")
        return
    if isinstance(sdk, list):
        assert isinstance(ours, list), f"{where}: {ours!r} is not a list"
        for n, item in enumerate(ours):
            assert_same_shape(item, sdk[0], f"{where}[{n}]")
        return
    assert isinstance(ours, dict), f"{where}: {ours!r} is not an object"
    leaf = where.rsplit(".", 1)[-1] if "." in where else ""
    expected = set(sdk) - SDK_ONLY.get(leaf, set())
    got = set(ours) - RAYLINE_ONLY.get(leaf, set())
    assert got == expected, f"{where}: keys {sorted(got)}, the SDK's {sorted(expected)}"
    for key in got:
        assert_same_shape(ours[key], sdk[key], f"{where}.{key}")


def _reference() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location(
        "housing_pipeline", REPO / "examples" / "housing" / "pipeline.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return json.loads(module.get_pipeline().definition())


def _steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every step by name, the branches' steps too."""
    out = {}
    for step in definition["Steps"]:
        out[step["Name"]] = step
        args = step["Arguments"]
        out.update(_steps({"Steps": [*args.get("IfSteps", []), *args.get("ElseSteps", [])]}))
    return out


OURS = _reference()
THEIRS = _steps(SDK)


def test_the_envelope_has_the_sdks_keys_and_values():
    assert set(OURS) - {"Rayline"} == set(SDK)
    assert OURS["Version"] == SDK["Version"]
    assert OURS["Metadata"] == SDK["Metadata"] == {}
    assert OURS["PipelineExperimentConfig"] == SDK["PipelineExperimentConfig"]
    assert OURS["Rayline"] == {
        "PipelineName": "synthetic-housing-training-ray",
        "PipelineDescription": "",
    }
    sdk_parameters = {p["Type"]: p for p in SDK["Parameters"]}
    for parameter in OURS["Parameters"]:
        assert_same_shape(
            parameter, sdk_parameters[parameter["Type"]], f"Parameters.{parameter['Name']}"
        )


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ("FeatureStoreIngestion", "PreprocessAbaloneData"),
        ("PreprocessData", "PreprocessAbaloneData"),
        ("EvaluateModel", "EvaluateAbaloneModel"),
    ],
)
def test_processing_steps_have_the_sdks_shape(ours, theirs):
    step = dict(_steps(OURS)[ours])
    # Caching is the reference's and not the fixture's (its shape: test_sdk_shape.py).
    assert step.pop("CacheConfig") == {"Enabled": True, "ExpireAfter": "PT12H"}
    assert_same_shape(step, THEIRS[theirs], ours)
    arguments = step["Arguments"]
    assert arguments["AppSpecification"]["ContainerEntrypoint"][0] == "python3"
    script = arguments["AppSpecification"]["ContainerEntrypoint"][1]
    assert script.startswith("/opt/ml/processing/input/code/") and script.endswith(".py")
    for i in arguments["ProcessingInputs"]:
        assert i["S3Input"]["LocalPath"] == f"/opt/ml/processing/{i['InputName']}"
        # The SDK's defaults, written out as it writes them.
        sdk_input = THEIRS[theirs]["Arguments"]["ProcessingInputs"][0]["S3Input"]
        for key in ("S3DataType", "S3InputMode", "S3DataDistributionType", "S3CompressionType"):
            assert i["S3Input"][key] == sdk_input[key]
    assert set(arguments["Rayline"]) == {"Code", "Resources"}


def test_the_evaluation_reads_outputs_where_the_sdk_reports_them():
    inputs = _steps(OURS)["EvaluateModel"]["Arguments"]["ProcessingInputs"]
    test = next(i for i in inputs if i["InputName"] == "test")
    assert test["S3Input"]["S3Uri"] == {
        "Get": "Steps.PreprocessData.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"
    }
    assert _steps(OURS)["EvaluateModel"]["PropertyFiles"] == [
        {
            "PropertyFileName": "EvaluationReport",
            "OutputName": "evaluation",
            "FilePath": "evaluation.json",
        }
    ]


def test_the_condition_and_fail_steps_have_the_sdks_shape():
    check = _steps(OURS)["CheckEvaluation"]
    sdk_check = THEIRS["CheckMSEAbaloneEvaluation"]
    assert set(check) == set(sdk_check)
    assert set(check["Arguments"]) == set(sdk_check["Arguments"])
    assert_same_shape(
        check["Arguments"]["Conditions"], sdk_check["Arguments"]["Conditions"], "Conditions"
    )
    left = check["Arguments"]["Conditions"][0]["LeftValue"]
    assert left == {
        "Std:JsonGet": {
            "PropertyFile": {"Get": "Steps.EvaluateModel.PropertyFiles.EvaluationReport"},
            "Path": "regression_metrics.rmse.value",
        }
    }
    assert_same_shape(_steps(OURS)["RMSEFail"], THEIRS["AbaloneMSEFail"], "RMSEFail")


def test_the_reference_definition_round_trips():
    again = PipelineDefinition.from_definition(OURS)
    assert again.to_request() == OURS
    assert again.name == "synthetic-housing-training-ray"


def _old_shape(code: dict[str, Any]) -> dict[str, Any]:
    """A definition as rayline wrote it before it wrote the SDK's shape."""
    return {
        "Version": "2020-12-01",
        "Metadata": {"Name": "old", "Description": "stored before"},
        "Parameters": [{"Name": "Rows", "Type": "String", "DefaultValue": "10"}],
        "Steps": [
            {
                "Name": "Prep",
                "Type": "Processing",
                "Arguments": {
                    "Code": code,
                    "ContainerArguments": ["--rows", {"Get": "Parameters.Rows"}],
                    "ProcessingInputs": [{"Source": "/data/raw.csv", "Destination": "raw"}],
                    "ProcessingOutputs": [{"OutputName": "train"}],
                    "Resources": {"NumCpus": 2, "NumGpus": 0},
                    "Environment": {"MODE": "fast"},
                },
                "PropertyFiles": [
                    {"PropertyFileName": "Stats", "OutputName": "train", "FilePath": "s.json"}
                ],
            }
        ],
    }


def test_a_processing_step_rayline_stored_before_still_reads():
    code = {"Kind": "Script", "Path": "/code/prep.py", "Sha256": "ab" * 32}
    pipeline = PipelineDefinition.from_definition(_old_shape(code))
    assert (pipeline.name, pipeline.description) == ("old", "stored before")
    prep = pipeline.step("Prep")
    assert prep.code_ref() == CodeRef("/code/prep.py", "ab" * 32)
    assert prep.arguments[0] == "--rows" and prep.arguments[1].name == "Rows"
    assert prep.inputs == (ProcessingInput("/data/raw.csv", "raw"),)
    assert tuple(prep.outputs) == (ProcessingOutput("train"),)
    assert (prep.num_cpus, prep.env) == (2, {"MODE": "fast"})
    assert [pf.name for pf in prep.property_files] == ["Stats"]
    # Written back in the SDK's shape, which then reads to the same step.
    written = pipeline.to_request()
    arguments = written["Steps"][0]["Arguments"]
    assert arguments["AppSpecification"] == {
        "ContainerArguments": ["--rows", {"Get": "Parameters.Rows"}],
        "ContainerEntrypoint": ["python3", "/opt/ml/processing/input/code/prep.py"],
    }
    assert arguments["Rayline"] == {"Code": code, "Resources": {"NumCpus": 2, "NumGpus": 0}}
    assert written["Metadata"] == {}
    assert written["Rayline"] == {"PipelineName": "old", "PipelineDescription": "stored before"}
    again = PipelineDefinition.from_definition(written)
    assert again.to_request() == written
    assert again.step("Prep") == prep


def test_a_function_step_writes_no_entrypoint_and_names_the_function():
    def work(ctx):
        return None

    step = ProcessingStep("Work", function=work, outputs=[ProcessingOutput("out")])
    arguments = PipelineDefinition("f", steps=[step]).to_request()["Steps"][0]["Arguments"]
    assert arguments["AppSpecification"] == {}
    assert arguments["Rayline"]["Code"]["Kind"] == "Function"
    assert arguments["ProcessingOutputConfig"] == {
        "Outputs": [
            {
                "OutputName": "out",
                "AppManaged": False,
                "S3Output": {"LocalPath": "/opt/ml/processing/out", "S3UploadMode": "EndOfJob"},
            }
        ]
    }
    # What the cache key reads: the code is keyed by its content, not written there.
    assert "Code" not in step.to_arguments()["Rayline"]


def test_a_local_path_rayline_cannot_honour_is_refused():
    definition = PipelineDefinition.from_definition(
        _old_shape({"Kind": "Script", "Path": "/code/prep.py", "Sha256": "ab" * 32})
    ).to_request()
    s3 = definition["Steps"][0]["Arguments"]["ProcessingInputs"][0]["S3Input"]
    s3["LocalPath"] = "/opt/ml/processing/input"
    with pytest.raises(PipelineDefinitionError, match="LocalPath '/opt/ml/processing/input'"):
        PipelineDefinition.from_definition(definition)


def test_a_definition_the_sdk_wrote_is_pointed_to_the_importer():
    with pytest.raises(PipelineDefinitionError, match="from_sagemaker_definition"):
        PipelineDefinition.from_definition(SDK)


def test_only_the_sdks_default_experiment_config_is_accepted():
    definition = dict(OURS)
    assert definition["PipelineExperimentConfig"] == PIPELINE_EXPERIMENT_CONFIG
    definition["PipelineExperimentConfig"] = {"ExperimentName": "x", "TrialName": "y"}
    with pytest.raises(PipelineDefinitionError, match="PipelineExperimentConfig"):
        PipelineDefinition.from_definition(definition)


def test_enum_values_are_written_as_the_sdk_writes_them():
    assert ParameterString("Region", default_value="eu", enum_values=()).definition() == {
        "Name": "Region",
        "Type": "String",
        "DefaultValue": "eu",
    }
    assert ParameterString("Region", enum_values=["eu", "us"]).definition() == {
        "Name": "Region",
        "Type": "String",
        "EnumValues": ["eu", "us"],
    }
