"""The table of step kinds: each kind's definition class and the runner that executes it.

Adding a step kind is one line here plus its two halves, usually in one module of its own: a
definition (a ``Step`` subclass, pure data; see ``rayline.definition.steps.base.Step`` for what
graph, validation, scheduler and lineage ask it) and a runner ``run(step, ctx) -> StepResult``
(``rayline.engine.context``). Both are named as ``module:attribute`` strings and imported only
when needed, so reading a definition never imports Ray. The scheduler treats every kind alike.

``logs_while_running=True`` kinds (training, tuning, registration) log into their step's MLflow
run as they run, so tracking opens it when the step starts; the other kinds' runs are written
once they end, in one go.

``on_ray=False`` kinds are evaluated by the scheduler itself: they are instant, read only the
execution's own state, and get ``ctx.resolver`` to resolve their fields. The others run in a Ray
task with their fields already resolved.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class StepKind:
    """A kind's definition class and runner (``module:attribute``), where the runner runs, and
    whether it logs into its MLflow run while it runs."""

    definition: str
    runner: str
    on_ray: bool = True
    logs_while_running: bool = False


STEP_KINDS: dict[str, StepKind] = {
    "Processing": StepKind(
        "rayline.definition.steps:ProcessingStep", "rayline.engine.runners:run_processing"
    ),
    "Function": StepKind(
        "rayline.definition.steps:FunctionStep", "rayline.engine.runners:run_function"
    ),
    "Condition": StepKind(
        "rayline.definition.steps:ConditionStep",
        "rayline.engine.runners:run_condition",
        on_ray=False,
    ),
    "Fail": StepKind(
        "rayline.definition.steps:FailStep", "rayline.engine.runners:run_fail", on_ray=False
    ),
    "Training": StepKind(
        "rayline.ml.steps:TrainingStep", "rayline.ml.runners:run_training", logs_while_running=True
    ),
    "Tuning": StepKind(
        "rayline.ml.steps:TuningStep", "rayline.ml.runners:run_tuning", logs_while_running=True
    ),
    "RegisterModel": StepKind(
        "rayline.registry.steps:ModelStep",
        "rayline.registry.runner:run_register",
        logs_while_running=True,  # the version it registers names its step's run
    ),
}


def load(target: str) -> Any:
    """Import ``module:attribute`` and return the attribute."""
    import importlib

    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)
