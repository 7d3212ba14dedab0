"""Step kinds of the pipeline DSL (definitions only; runners live in ``rayline.execution``)."""

from rayline.pipeline.steps.base import CodeRef, ParseContext, Step, no_resolve
from rayline.pipeline.steps.condition import ConditionStep
from rayline.pipeline.steps.fail import FailStep
from rayline.pipeline.steps.function import FunctionStep, step
from rayline.pipeline.steps.processing import (
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
