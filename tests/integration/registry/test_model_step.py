"""``ModelStep`` in a real pipeline on Ray: the runner registers a version with its lineage ids."""

from __future__ import annotations

import json

import pytest

from rayline import Pipeline
from rayline.pipeline.steps import ProcessingInput, ProcessingOutput, ProcessingStep
from rayline.registry import ApprovalStatus, ModelRegistry
from rayline.registry.steps import ModelStep, RegisterModel

pytestmark = pytest.mark.ray

SCRIPT = """
import shutil
from rayline.execution.context import processing_context

ctx = processing_context()
src = ctx.inputs["trained"]
shutil.copy(src / "model.ubj", ctx.outputs["model"] / "model.ubj")
shutil.copy(src / "preprocessor.json", ctx.outputs["preprocessor"] / "preprocessor.json")
shutil.copy(src / "evaluation" / "evaluation.json", ctx.outputs["evaluation"])
print("trained")
"""


def housing_pipeline(tiny_model, tmp_path, *, name="registry-step-test"):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    train = ProcessingStep(
        "Train",
        code=str(script),
        inputs=[ProcessingInput(source=str(tiny_model), destination="trained")],
        outputs=[ProcessingOutput(n) for n in ("model", "preprocessor", "evaluation")],
    )
    register = ModelStep(
        "RegisterTrainedModel",
        model=train.outputs["model"],
        model_package_group="housing",
        preprocessor=train.outputs["preprocessor"],
        metrics=train.outputs["evaluation"],
    )
    return Pipeline(name, steps=[train, register])


def test_definition_round_trips():
    step = RegisterModel(
        "Register",
        model="file:///m/model.ubj",
        model_package_group="g",
        approval_status="Approved",
        content_types=["text/csv"],
    )
    request = step.to_request()
    assert request["Type"] == "RegisterModel"
    assert request["Arguments"]["InferenceSpecification"]["SupportedContentTypes"] == ["text/csv"]
    assert json.loads(json.dumps(request)) == request


def test_model_step_registers_a_version(ray_session, rayline_home, tiny_model, tmp_path):
    execution = housing_pipeline(tiny_model, tmp_path).start()
    assert execution.wait().status == "Succeeded"
    props = execution.step("RegisterTrainedModel").properties
    assert props["ModelPackageGroupName"] == "housing"
    assert props["ModelPackageVersion"] == 1
    assert props["ModelPackageStatus"] == ApprovalStatus.PENDING
    package = ModelRegistry().describe("housing", 1)
    assert package.execution_id == execution.id
    assert package.step_name == "RegisterTrainedModel"
    assert package.metric("rmse") == pytest.approx(
        json.loads((tiny_model / "evaluation" / "evaluation.json").read_text())[
            "regression_metrics"
        ]["rmse"]["value"]
    )
    train_outputs = execution.step("Train").outputs
    assert package.sources["model"].startswith(train_outputs["model"])
    assert package.history[0].reason.startswith("registered by pipeline registry-step-test")
