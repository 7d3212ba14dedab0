"""The step graph of a pipeline: which steps exist, who owns which branch, and the edges."""

from __future__ import annotations

import graphlib
from dataclasses import dataclass

from rayline.definition.expressions import JsonGet, StepOutput, StepProperty, walk
from rayline.definition.steps.base import Step
from rayline.errors import PipelineDefinitionError


def collect_steps(listed: tuple[Step, ...]) -> list[Step]:
    """Every step of a pipeline: the listed ones, the branches of conditions, and steps reached
    through ``depends_on`` objects or output/property references, upstream first."""
    found: dict[str, Step] = {}
    visiting: dict[str, Step] = {}  # on the current path: a name here and found again is a twin

    def visit(step: Step) -> None:
        if not isinstance(step, Step):
            raise PipelineDefinitionError(
                f"pipeline steps must be Step objects, got {step!r} ({type(step).__name__})"
            )
        seen = found.get(step.name) or visiting.get(step.name)
        if seen is not None:
            if seen is not step and seen != step:
                raise PipelineDefinitionError(
                    f"two different steps are named {step.name!r}; step names must be unique "
                    "within a pipeline"
                )
            return
        visiting[step.name] = step
        for upstream in _upstream_objects(step):
            visit(upstream)
        del visiting[step.name]
        found[step.name] = step
        for branch in step.branch_steps():
            visit(branch)

    for s in listed:
        visit(s)
    return list(found.values())


def _upstream_objects(step: Step) -> list[Step]:
    ups = [d for d in step.depends_on if isinstance(d, Step)]
    for expr in walk(step.run_fields()):
        source = getattr(expr, "source", None)
        if isinstance(expr, (StepOutput, StepProperty)) and isinstance(source, Step):
            ups.append(source)
        elif isinstance(expr, JsonGet) and isinstance(expr.step, Step):
            ups.append(expr.step)
    return [u for u in ups if u is not step]


@dataclass(frozen=True)
class StepGraph:
    """Steps by name, their upstream names, and the step owning each branch step."""

    steps: dict[str, Step]
    upstream: dict[str, frozenset[str]]
    owner: dict[str, tuple[str, str]]  # branch step -> (owning step, branch label)

    @property
    def top_level(self) -> list[Step]:
        return [s for n, s in self.steps.items() if n not in self.owner]

    def downstream(self) -> dict[str, set[str]]:
        down: dict[str, set[str]] = {n: set() for n in self.steps}
        for n, ups in self.upstream.items():
            for u in ups:
                if u in down:
                    down[u].add(n)
        return down

    def topological_order(self) -> list[str]:
        """Step names, each after all of its upstream steps; raises on a cycle.

        Among the steps whose upstream steps are all placed, the one listed first in the
        pipeline comes first, so the order is the same on every run.
        """
        position = {n: i for i, n in enumerate(self.steps)}
        sorter = graphlib.TopologicalSorter(
            {n: [u for u in ups if u in self.steps] for n, ups in self.upstream.items()}
        )
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            # graphlib lists the cycle upstream first; name it from a step to its upstream.
            cycle = list(reversed(exc.args[1]))
            raise PipelineDefinitionError(
                f"the pipeline has a cycle: {' -> '.join(cycle)}; remove one of these dependencies"
            ) from None
        order: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=position.__getitem__)
            order.extend(ready)
            sorter.done(*ready)
        return order


def build_graph(steps: list[Step]) -> StepGraph:
    """The graph of ``steps`` (all of them, as ``collect_steps`` returns them): edges from
    ``depends_on``, from the expressions in their fields, and from each branch's owning step."""
    by_name = {s.name: s for s in steps}
    owner: dict[str, tuple[str, str]] = {}
    for s in steps:
        for label, branch in s.branches().items():
            for b in branch:
                owner[b.name] = (s.name, label)
    upstream: dict[str, frozenset[str]] = {}
    for s in steps:
        names = set(s.depends_on_names())
        for expr in walk(s.run_fields()):
            names |= expr.step_names()
        if s.name in owner:
            names.add(owner[s.name][0])
        upstream[s.name] = frozenset(names)
    return StepGraph(by_name, upstream, owner)
