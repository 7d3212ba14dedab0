"""What graph and validation ask a step (``branches()``, ``validate()``), and the topological
order (stdlib ``graphlib``): deterministic, with the cycle named."""

from __future__ import annotations

import itertools

import pytest

from rayline import ParameterString, PipelineDefinitionError
from rayline.definition import ConditionEquals, PipelineDefinition
from rayline.definition.steps import ConditionStep, FailStep, ProcessingStep
from rayline.definition.steps.condition import IF_FALSE, IF_TRUE


@pytest.fixture
def script(tmp_path):
    path = tmp_path / "script.py"
    path.write_text("print('hello')\n")
    return str(path)


def test_a_condition_names_its_branches_and_the_result_that_selects_each(script):
    yes, no = ProcessingStep("Yes", code=script), FailStep("No", error_message="no")
    check = ConditionStep(
        "Check", conditions=[ConditionEquals(1, 1)], if_steps=[yes], else_steps=[no]
    )
    assert check.branches() == {"if true": (yes,), "if false": (no,)}
    assert check.branch_steps() == (yes, no)
    assert (check.branch_for(True), check.branch_for(False)) == (IF_TRUE, IF_FALSE)
    graph = PipelineDefinition("p", steps=[check]).graph
    assert graph.owner == {"Yes": ("Check", "if true"), "No": ("Check", "if false")}
    assert graph.upstream["Yes"] == {"Check"} and graph.upstream["No"] == {"Check"}


def test_steps_without_branches_have_none(script):
    assert ProcessingStep("A", code=script).branches() == {}
    assert FailStep("F").branch_steps() == ()


def test_validation_asks_each_step_to_validate_itself(script):
    kind = ParameterString("Kind", default_value="a")
    check = ConditionStep("Check", conditions=[ConditionEquals(kind, 3)])
    with pytest.raises(PipelineDefinitionError, match=r"condition step 'Check'.*string.*number"):
        check.validate()
    with pytest.raises(PipelineDefinitionError, match=r"condition step 'Check'"):
        PipelineDefinition("p", parameters=[kind], steps=[check])


def test_topological_order_puts_the_first_listed_ready_step_first(script):
    # C is listed last but A depends on it by name: C must come before A; B is ready at once.
    a = ProcessingStep("A", code=script, depends_on=["C"])
    b = ProcessingStep("B", code=script)
    c = ProcessingStep("C", code=script)
    d = ProcessingStep("D", code=script, depends_on=["A", "B"])
    graph = PipelineDefinition("p", steps=[a, b, c, d]).graph
    assert graph.topological_order() == ["B", "C", "A", "D"]
    assert graph.topological_order() == graph.topological_order()


def test_a_longer_cycle_is_named_from_a_step_to_its_upstream(script):
    a = ProcessingStep("A", code=script, depends_on=["B"])
    b = ProcessingStep("B", code=script, depends_on=["C"])
    c = ProcessingStep("C", code=script, depends_on=["A"])
    with pytest.raises(PipelineDefinitionError) as err:
        PipelineDefinition("p", steps=[a, b, c])
    message = str(err.value)
    assert "remove one of these dependencies" in message
    cycle = message.split("cycle: ")[1].split(";")[0].split(" -> ")
    assert cycle[0] == cycle[-1] and set(cycle) == {"A", "B", "C"}
    for step, upstream in itertools.pairwise(cycle):
        assert {"A": "B", "B": "C", "C": "A"}[step] == upstream
