"""Every step kind in one place, under the names SageMaker users know.

>>> from rayline.steps import (ProcessingStep, ProcessingInput, ProcessingOutput, TuningStep,
...                            ConditionStep, FailStep, ModelStep, PropertyFile)
"""

from __future__ import annotations

import importlib
from typing import Any

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'rayline.steps' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
