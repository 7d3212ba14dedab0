"""Adding a step kind is its module plus one line in ``rayline.step_kinds``.

The two kinds here are registered only for these tests and nothing else in rayline knows them:
``Transform`` runs on Ray and reports a property; ``Switch`` runs in the scheduler and picks one
of three branches by label. Graph, validation, scheduler and result handling ask the steps
(``branches()``, ``validate()``, the runner's ``StepResult``), never their kind.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from rayline import Pipeline, step
from rayline.definition.expressions import to_request
from rayline.definition.steps.base import ParseContext, Step, no_resolve
from rayline.engine.context import StepContext, StepResult
from rayline.errors import PipelineDefinitionError
from rayline.step_kinds import STEP_KINDS, StepKind

pytestmark = pytest.mark.ray


# --- a kind that runs on Ray --------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class TransformStep(Step):
    """Multiply ``value`` by ``factor``: property ``Product``."""

    kind: ClassVar[str] = "Transform"

    value: Any = 0
    factor: int = 2

    def ray_options(self) -> dict[str, Any]:
        # Ray workers must import this module (the step and its runner are named by module);
        # rayline's own kinds are installed, a test module needs its folder on the path.
        path = os.pathsep.join(
            p for p in (str(Path(__file__).parent), os.environ.get("PYTHONPATH")) if p
        )
        return {"num_cpus": 1, "runtime_env": {"env_vars": {"PYTHONPATH": path}}}

    def to_arguments(self) -> dict[str, Any]:
        return {"Value": to_request(self.value), "Factor": to_request(self.factor)}

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> TransformStep:
        return cls(
            name,
            value=ctx.value(arguments["Value"]),
            factor=ctx.value(arguments["Factor"]),
            **common,
        )


def run_transform(step: TransformStep, ctx: StepContext) -> StepResult:
    return StepResult(properties={"Product": step.value * step.factor})


# --- a kind that branches, evaluated by the scheduler -----------------------------------------
@dataclass(frozen=True, kw_only=True)
class SwitchStep(Step):
    """Run the branch named by ``choice`` (one of ``cases``); the others are skipped."""

    kind: ClassVar[str] = "Switch"

    choice: Any = ""
    cases: dict[str, tuple[Step, ...]] = no_resolve(default_factory=dict)

    def branches(self) -> dict[str, tuple[Step, ...]]:
        return self.cases

    def validate(self) -> None:
        if isinstance(self.choice, str) and self.choice not in self.cases:
            raise PipelineDefinitionError(f"switch {self.name!r}: no case {self.choice!r}")

    def ray_options(self) -> dict[str, Any]:
        return {}

    def to_arguments(self) -> dict[str, Any]:
        return {
            "Choice": to_request(self.choice),
            "Cases": {k: [s.to_request() for s in v] for k, v in self.cases.items()},
        }

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> SwitchStep:
        cases = {k: tuple(ctx.parse_step(s) for s in v) for k, v in arguments["Cases"].items()}
        return cls(name, choice=ctx.value(arguments["Choice"]), cases=cases, **common)


def run_switch(step: SwitchStep, ctx: StepContext) -> StepResult:
    from rayline.definition.expressions import resolve

    return StepResult(branch=str(resolve(step.choice, ctx.resolver)))


@pytest.fixture(autouse=True)
def _kinds(ray_session, rayline_home, monkeypatch):
    # The one line per kind that rayline.step_kinds would get.
    monkeypatch.setitem(
        STEP_KINDS, "Transform", StepKind(f"{__name__}:TransformStep", f"{__name__}:run_transform")
    )
    monkeypatch.setitem(
        STEP_KINDS,
        "Switch",
        StepKind(f"{__name__}:SwitchStep", f"{__name__}:run_switch", on_ray=False),
    )


@step
def source():
    return 21


@step
def label(product):
    return f"product {product}"


def test_a_new_kind_runs_on_ray_and_later_steps_read_its_properties():
    transform = TransformStep("Transform", value=source().result)
    execution = Pipeline("new-kind", steps=[label(transform.properties["Product"])]).start()
    assert execution.wait().status == "Succeeded"
    assert execution.step("Transform").properties == {"Product": 42}
    assert execution.result("label") == "product 42"


def test_a_new_kind_with_branches_runs_only_the_branch_it_chose():
    @step
    def small():
        return "small"

    @step
    def large():
        return "large"

    @step
    def other():
        return "other"

    switch = SwitchStep(
        "Switch",
        choice=label(source()).result,
        cases={"product 21": (small(),), "product 42": (large(),), "else": (other(),)},
    )
    pipeline = Pipeline("new-branching-kind", steps=[switch])
    assert pipeline.graph.owner["small"] == ("Switch", "product 21")
    again = Pipeline.from_definition(pipeline.definition())
    assert again.graph.owner == pipeline.graph.owner
    execution = pipeline.start()
    assert execution.wait().status == "Succeeded"
    runs = {r.step_name: r for r in execution.list_steps()}
    assert "small" in runs and not {"large", "other"} & set(runs)  # the others never ran
    assert runs["Switch"].branch == "product 21"


def test_a_new_kind_validates_itself_and_a_branch_it_does_not_have_fails_the_step():
    with pytest.raises(PipelineDefinitionError, match="switch 'Bad': no case 'nope'"):
        Pipeline("bad-switch", steps=[SwitchStep("Bad", choice="nope", cases={})]).definition()

    chosen = SwitchStep("Switch", choice=label(source()).result, cases={"a": ()})
    execution = Pipeline("unknown-branch", steps=[chosen]).start()
    assert execution.wait(raise_on_failure=False).status == "Failed"
    reason = execution.step("Switch").failure_reason
    assert "chose branch 'product 21'" in reason and "'a'" in reason
