"""Every step kind in one place, under the names SageMaker users know.

>>> from rayline.steps import (ProcessingStep, ProcessingInput, ProcessingOutput, TuningStep,
...                            ConditionStep, FailStep, ModelStep, PropertyFile)
"""

from __future__ import annotations

from rayline._lazy import lazy_exports

_EXPORTS = {
    "Step": "rayline.pipeline.steps",
    "ProcessingStep": "rayline.pipeline.steps",
    "ProcessingInput": "rayline.pipeline.steps",
    "ProcessingOutput": "rayline.pipeline.steps",
    "PropertyFile": "rayline.pipeline.steps",
    "FunctionStep": "rayline.pipeline.steps",
    "ConditionStep": "rayline.pipeline.steps",
    "FailStep": "rayline.pipeline.steps",
    "step": "rayline.pipeline.steps",
    "TrainingStep": "rayline.ml.steps",
    "TuningStep": "rayline.ml.steps",
    "ModelStep": "rayline.registry.steps",
    "RegisterModel": "rayline.registry.steps",
}

__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
