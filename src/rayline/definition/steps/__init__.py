"""Step kinds of the pipeline DSL (definitions only; runners live in ``rayline.engine``)."""

from rayline.definition.steps.base import CodeRef, ParseContext, Step, no_resolve
from rayline.definition.steps.condition import ConditionStep
from rayline.definition.steps.fail import FailStep
from rayline.definition.steps.function import FunctionStep, step
from rayline.definition.steps.processing import (
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
)

__all__ = [
    "CodeRef",
    "ConditionStep",
    "FailStep",
    "FunctionStep",
    "ParseContext",
    "ProcessingInput",
    "ProcessingOutput",
    "ProcessingStep",
    "PropertyFile",
    "Step",
    "no_resolve",
    "step",
]
