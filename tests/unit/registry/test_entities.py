"""Registry entities and the ModelStep definition (pure data, no DB)."""

from __future__ import annotations

import pytest

from rayline.errors import PipelineDefinitionError, UserInputError
from rayline.registry import ApprovalStatus, InferenceSpec, parse_version_ref
from rayline.registry.steps import ModelStep


def test_approval_status_parsing():
    assert ApprovalStatus.parse("approved") == "Approved"
    assert ApprovalStatus.parse("pending") == "PendingManualApproval"
    assert ApprovalStatus.parse(" Rejected ") == "Rejected"
    with pytest.raises(UserInputError, match="not one of"):
        ApprovalStatus.parse("ok")


def test_version_refs():
    assert parse_version_ref("housing/3") == ("housing", 3)
    assert parse_version_ref("team/housing/12") == ("team/housing", 12)
    for bad in ("housing", "housing/", "housing/x", "/3"):
        with pytest.raises(UserInputError, match="GROUP/VERSION"):
            parse_version_ref(bad)


def test_inference_spec_round_trip():
    spec = InferenceSpec(input_columns=("a", "b"), label="y")
    assert InferenceSpec.from_dict(spec.to_dict()) == spec


def test_model_step_needs_model_and_group_and_valid_types():
    with pytest.raises(PipelineDefinitionError, match="needs model="):
        ModelStep("Register", model_package_group="g")
    with pytest.raises(PipelineDefinitionError, match="not one of"):
        ModelStep("Register", model="m.ubj", model_package_group="g", approval_status="Maybe")
    with pytest.raises(PipelineDefinitionError, match="content type 'text/plain'"):
        ModelStep("Register", model="m.ubj", model_package_group="g", content_types=["text/plain"])


def test_model_step_arguments_round_trip():
    from rayline.definition.steps.base import ParseContext, common_from_request

    step = ModelStep(
        "Register",
        model="file:///m/model.ubj",
        model_package_group="housing",
        preprocessor="file:///m/pre.json",
        metrics="file:///m/eval",
        input_columns=["a", "b"],
        model_description="first",
    )
    request = step.to_request()
    args = request["Arguments"]
    assert args["ModelPackageGroupName"] == "housing"
    assert args["ModelApprovalStatus"] == "PendingManualApproval"
    # SageMaker's CreateModelPackage shape; what it has no key for in the Rayline extension.
    spec = args["InferenceSpecification"]
    assert spec["Containers"] == [{"ModelDataUrl": "file:///m/model.ubj"}]
    assert args["ModelMetrics"]["ModelQuality"]["Statistics"]["S3Uri"] == "file:///m/eval"
    assert args["Rayline"] == {"PreprocessorUri": "file:///m/pre.json", "InputColumns": ["a", "b"]}
    again = ModelStep.from_arguments(
        "Register", args, ParseContext({}, None), **common_from_request(request)
    )
    assert again == step
    # The shape rayline wrote before still reads (stored pipeline versions).
    before = {
        "ModelUri": "file:///m/model.ubj",
        "ModelPackageGroupName": "housing",
        "ModelApprovalStatus": "PendingManualApproval",
        "InferenceSpecification": {"InputColumns": ["a", "b"]},
        "PreprocessorUri": "file:///m/pre.json",
        "ModelMetricsUri": "file:///m/eval",
        "ModelPackageDescription": "first",
    }
    old = ModelStep.from_arguments(
        "Register", before, ParseContext({}, None), **common_from_request(request)
    )
    assert old == step


def test_one_name_validator_for_groups_and_endpoints():
    from rayline.registry.entities import check_name
    from rayline.serving.entities import check_endpoint_name

    assert check_name("housing_v2.1", what="model package group") == "housing_v2.1"
    assert check_endpoint_name("housing-prod") == "housing-prod"
    with pytest.raises(UserInputError, match=r"use 1-200 letters, digits, '-', '_' or '\.'"):
        check_name("-housing", what="model package group")
    with pytest.raises(UserInputError, match=r"use 1-63 letters, digits and '-'.*part of the URL"):
        check_endpoint_name("housing_prod")
    with pytest.raises(UserInputError, match="endpoint name"):
        check_endpoint_name("x" * 64)
