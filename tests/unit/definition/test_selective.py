"""Selective execution plans (``definition.selective``): which steps run, which are taken from the
source execution, which are left out, and the rules SageMaker enforces."""

from __future__ import annotations

import pytest

from rayline import Pipeline, SelectiveExecutionConfig, step
from rayline.definition.selective import plan_selection
from rayline.errors import PipelineDefinitionError


@step
def s(*upstream):
    return len(upstream)


def diamond():
    """load -> (prep, features) -> train -> evaluate, and report off prep."""
    load = s()
    load_name = load.name
    prep, features = s(load), s(load)
    train = s(prep, features)
    evaluate = s(train)
    report = s(prep)
    pipeline = Pipeline("diamond", steps=[evaluate, report])
    names = {
        "load": load_name,
        "prep": prep.name,
        "features": features.name,
        "train": train.name,
        "evaluate": evaluate.name,
        "report": report.name,
    }
    return pipeline.graph, names


def test_selected_run_upstream_reused_the_rest_left_out():
    graph, n = diamond()
    plan = plan_selection(graph, [n["train"]])
    assert plan.selected == {n["train"]}
    assert plan.reused == {n["load"], n["prep"], n["features"]}
    assert plan.skipped == {n["evaluate"], n["report"]}


def test_a_step_between_two_selected_steps_must_be_selected():
    graph, n = diamond()
    with pytest.raises(PipelineDefinitionError, match="lie on a path between selected steps"):
        plan_selection(graph, [n["load"], n["train"]])  # prep and features are between
    plan = plan_selection(graph, [n["load"], n["prep"], n["features"], n["train"]])
    assert plan.reused == set() and plan.skipped == {n["evaluate"], n["report"]}


def test_unknown_steps_and_bad_configs_are_clear_errors():
    graph, _ = diamond()
    with pytest.raises(PipelineDefinitionError, match=r"\['Nope'\] are not in the pipeline"):
        plan_selection(graph, ["Nope"])
    with pytest.raises(PipelineDefinitionError, match="list of step names"):
        SelectiveExecutionConfig(selected_steps="Train")
    with pytest.raises(PipelineDefinitionError, match="1 to 50 steps"):
        SelectiveExecutionConfig(selected_steps=[])
    config = SelectiveExecutionConfig(selected_steps=["A", "A", "B"])
    assert config.selected_steps == ("A", "B")
    assert config.to_request("e1") == {
        "SourcePipelineExecutionId": "e1",
        "SelectedSteps": [{"StepName": "A"}, {"StepName": "B"}],
    }
