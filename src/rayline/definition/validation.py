"""Checks run before anything executes. Each failure names the step or parameter and the fix."""

from __future__ import annotations

from typing import Any

from rayline.definition.expressions import (
    ExecutionVariable,
    ExecutionVariables,
    JsonGet,
    StepOutput,
    StepProperty,
    unknown_execution_variable,
    walk,
)
from rayline.definition.graph import StepGraph
from rayline.definition.parameters import Parameter
from rayline.definition.properties import check_property_path
from rayline.errors import PipelineDefinitionError


def validate(parameters: tuple[Parameter, ...], graph: StepGraph) -> None:
    """Raise ``PipelineDefinitionError`` for the first problem found."""
    declared = _check_parameters(parameters)
    for step in graph.steps.values():
        for dep in step.depends_on_names():
            if dep not in graph.steps:
                raise PipelineDefinitionError(
                    f"step {step.name!r} depends on {dep!r}, which is not a step of this "
                    f"pipeline (steps: {_names(graph.steps)})"
                )
            if dep == step.name:
                raise PipelineDefinitionError(f"step {step.name!r} depends on itself")
        for expr in walk(step.run_fields()):
            _check_expression(step.name, expr, declared, graph)
        step.validate()
    graph.topological_order()  # raises on cycles


def _check_parameters(parameters: tuple[Parameter, ...]) -> dict[str, Parameter]:
    declared: dict[str, Parameter] = {}
    for p in parameters:
        if not isinstance(p, Parameter):
            raise PipelineDefinitionError(
                f"pipeline parameters must be Parameter objects (ParameterString, ...), got {p!r}"
            )
        if p.name in declared:
            raise PipelineDefinitionError(f"parameter {p.name!r} is declared twice")
        declared[p.name] = p
    return declared


def _check_expression(
    step: str, expr: Any, declared: dict[str, Parameter], graph: StepGraph
) -> None:
    if isinstance(expr, Parameter):
        if expr.name not in declared:
            raise PipelineDefinitionError(
                f"step {step!r} uses parameter {expr.name!r}, which the pipeline does not "
                f"declare; add it to Pipeline(parameters=[...]) (declared: {_names(declared)})"
            )
        if declared[expr.name] != expr:
            raise PipelineDefinitionError(
                f"step {step!r} uses a parameter {expr.name!r} that differs from the one the "
                "pipeline declares (type or default); use the same Parameter object"
            )
        return
    if isinstance(expr, ExecutionVariable):
        # ExecutionVariable refuses unknown names; this catches one renamed after creation.
        if expr.name not in ExecutionVariables.NAMES:
            raise unknown_execution_variable(expr.name, f"step {step!r}")
        return
    for ref in expr.step_names():
        if ref not in graph.steps:
            raise PipelineDefinitionError(
                f"step {step!r} reads from step {ref!r}, which is not part of this pipeline "
                f"(steps: {_names(graph.steps)}); add it to the pipeline's steps"
            )
        if ref == step:
            raise PipelineDefinitionError(f"step {step!r} reads its own result")
    if isinstance(expr, StepOutput):
        outputs = graph.steps[expr.step].declared_outputs()
        if expr.output not in outputs:
            raise PipelineDefinitionError(
                f"step {step!r} reads output {expr.output!r} of step {expr.step!r}, which "
                f"declares no such output (declared: {_names(outputs)})"
            )
    if isinstance(expr, StepProperty):
        check_property_path(expr.step, graph.steps[expr.step].property_schema(), expr.path)
    if isinstance(expr, JsonGet):
        files = [pf.name for pf in graph.steps[expr.step_name].declared_property_files()]
        if expr.property_file not in files:
            outs = graph.steps[expr.step_name].declared_outputs()
            raise PipelineDefinitionError(
                f"step {step!r} reads property file {expr.property_file!r} that step "
                f"{expr.step_name!r} does not declare (declared property files: {_names(files)}; "
                f"outputs: {_names(outs)}); add PropertyFile({expr.property_file!r}, "
                "output_name=..., path=...) to its property_files"
            )


def _names(items: Any) -> str:
    names = list(items)
    return ", ".join(repr(n) for n in names) if names else "none"
