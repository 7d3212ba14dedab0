"""Selective execution, as SageMaker Pipelines has it: run some steps of a pipeline again and take
what they need from an earlier execution.

>>> pipeline.start(selective_execution_config=SelectiveExecutionConfig(
...     selected_steps=["Train", "Evaluate"], source_pipeline_execution_id="3f2c..."))

The selected steps run; their unselected upstream steps are not run but taken from the source
execution (their outputs and properties, as they were there); unselected downstream steps do not
run. Every step on a path between two selected steps must be selected too, and the source
execution must have ended (Succeeded or Failed) with each of those upstream steps succeeded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rayline.definition.graph import StepGraph
from rayline.errors import PipelineDefinitionError

#: SageMaker's limit on ``SelectedSteps``.
MAX_SELECTED_STEPS = 50


@dataclass(frozen=True)
class SelectiveExecutionConfig:
    """Which steps to run (``selected_steps``) and which execution to take the rest from:
    ``source_pipeline_execution_id``, or with ``reference_latest_execution`` (the default, as in
    SageMaker's SDK) the pipeline's latest ended execution when no id is given."""

    selected_steps: Sequence[str]
    source_pipeline_execution_id: str | None = None
    reference_latest_execution: bool = True

    def __post_init__(self) -> None:
        steps = self.selected_steps
        if isinstance(steps, str) or not isinstance(steps, Sequence):
            raise PipelineDefinitionError(
                f"selected_steps must be a list of step names, e.g. ['Train']; got {steps!r}"
            )
        if not steps or len(steps) > MAX_SELECTED_STEPS:
            raise PipelineDefinitionError(
                f"selected_steps names 1 to {MAX_SELECTED_STEPS} steps; got {len(steps)}"
            )
        bad = [s for s in steps if not isinstance(s, str) or not s]
        if bad:
            raise PipelineDefinitionError(f"selected_steps must be step names; got {bad!r}")
        object.__setattr__(self, "selected_steps", tuple(dict.fromkeys(steps)))

    def to_request(self, source_execution_id: str | None) -> dict[str, Any]:
        """What an execution records of it (SageMaker's request shape, with rayline's id)."""
        return {
            "SourcePipelineExecutionId": source_execution_id,
            "SelectedSteps": [{"StepName": s} for s in self.selected_steps],
        }


@dataclass(frozen=True)
class Selection:
    """How a selective execution treats each step: ``selected`` run, ``reused`` (upstream of a
    selected step) are taken from the source execution, ``skipped`` do not run."""

    selected: frozenset[str]
    reused: frozenset[str]
    skipped: frozenset[str] = field(default=frozenset())

    @classmethod
    def from_request(cls, request: dict[str, Any], graph: StepGraph) -> Selection:
        return plan_selection(graph, [s["StepName"] for s in request["SelectedSteps"]])


def plan_selection(graph: StepGraph, selected_steps: Sequence[str]) -> Selection:
    """Check ``selected_steps`` against the pipeline's graph and split its steps three ways;
    raises ``PipelineDefinitionError`` naming the steps that break a rule."""
    unknown = [s for s in selected_steps if s not in graph.steps]
    if unknown:
        raise PipelineDefinitionError(
            f"selected step(s) {unknown} are not in the pipeline; its steps: "
            f"{', '.join(graph.steps)}"
        )
    selected = frozenset(selected_steps)
    ancestors = _closure(selected, lambda n: graph.upstream.get(n, ()))
    down = graph.downstream()
    descendants = _closure(selected, lambda n: down.get(n, ()))
    between = sorted((ancestors & descendants) - selected)
    if between:
        raise PipelineDefinitionError(
            f"step(s) {between} lie on a path between selected steps and must be selected too "
            "(a selective execution runs a connected part of the pipeline)"
        )
    reused = frozenset(ancestors - selected)
    skipped = frozenset(graph.steps) - selected - reused
    return Selection(selected=selected, reused=reused, skipped=skipped)


def _closure(start: frozenset[str], neighbours) -> set[str]:
    """Every step reachable from ``start`` (not counting ``start`` unless reached again)."""
    found: set[str] = set()
    todo = [n for s in start for n in neighbours(s)]
    while todo:
        n = todo.pop()
        if n not in found:
            found.add(n)
            todo.extend(neighbours(n))
    return found
