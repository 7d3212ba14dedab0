"""``ModelStep`` in a real pipeline on Ray: the runner registers a version with its lineage ids."""

from __future__ import annotations

import json

import pytest
from tests.integration.registering import registering_pipeline

from rayline.registry import ApprovalStatus, ModelRegistry
from rayline.registry.steps import RegisterModel

pytestmark = pytest.mark.ray


def housing_pipeline(tiny_model, tmp_path, *, name="registry-step-test"):
    return registering_pipeline(tiny_model, tmp_path, name=name)


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


def test_lineage_from_data_to_model(ray_session, rayline_home, tiny_model, tmp_path):
    from rayline.lineage import lineage

    execution = housing_pipeline(tiny_model, tmp_path).start()
    execution.wait()
    result = lineage("housing/1")
    up = {(e.node.kind, e.node.label, e.relation) for e in result.upstream}
    assert ("step", "RegisterTrainedModel", "registered") in up
    assert ("artifact", "Train.model", "model") in up
    assert ("step", "Train") in {(k, lbl) for k, lbl, _ in up}
    assert ("artifact", "tiny-model0", "trained") in {
        (k, lbl.split("/")[-1], r) for k, lbl, r in up
    }
    assert ("code", "train.py", "code") in up
    assert result.downstream == ()
    # The execution: its steps are members; the model is downstream.
    by_exec = lineage(f"execution:{execution.id}")
    assert {n.label for n in by_exec.members} >= {"Train", "RegisterTrainedModel"}
    assert ("model", "housing/1") in {(e.node.kind, e.node.label) for e in by_exec.downstream}
    assert lineage(execution.id[:8]).focus.kind == "execution"
