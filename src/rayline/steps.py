"""Every step kind in one place, under the names SageMaker users know.

>>> from rayline.steps import (ProcessingStep, ProcessingInput, ProcessingOutput, TuningStep,
...                            ConditionStep, FailStep, ModelStep, PropertyFile)
"""

from __future__ import annotations

from rayline._lazy import lazy_exports

_EXPORTS = {
    "Step": "rayline.definition.steps",
    "ProcessingStep": "rayline.definition.steps",
    "ProcessingInput": "rayline.definition.steps",
    "ProcessingOutput": "rayline.definition.steps",
    "PropertyFile": "rayline.definition.steps",
    "FunctionStep": "rayline.definition.steps",
    "ConditionStep": "rayline.definition.steps",
    "FailStep": "rayline.definition.steps",
    "step": "rayline.definition.steps",
    "TrainingStep": "rayline.ml.steps",
    "TuningStep": "rayline.ml.steps",
    "ModelStep": "rayline.registry.steps",
    "RegisterModel": "rayline.registry.steps",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
