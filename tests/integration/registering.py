"""The smallest real pipeline that registers a model version: ``Train`` (a ProcessingStep that
copies an already trained model directory, like ``tiny_model``'s: model, preprocessor and
evaluation report) then a ModelStep into group ``housing``. Shared by the registry, API and
Studio tests."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

SCRIPT = """
import shutil
from rayline.engine.context import processing_context

ctx = processing_context()
src = ctx.inputs["trained"]
shutil.copy(src / "model.ubj", ctx.outputs["model"] / "model.ubj")
shutil.copy(src / "preprocessor.json", ctx.outputs["preprocessor"] / "preprocessor.json")
shutil.copy(src / "evaluation" / "evaluation.json", ctx.outputs["evaluation"])
print("trained")
"""


def registering_pipeline(
    trained: Path,
    tmp_path: Path,
    *,
    name: str,
    register_step: str = "RegisterTrainedModel",
    parameters: Sequence[Any] = (),
    arguments: Sequence[Any] = (),
    check: str = "",
) -> Any:
    """Train → ``register_step`` (group ``housing``) as pipeline ``name``; ``arguments`` go to
    Train's script, whose first lines are ``check`` (an assertion of the test's)."""
    from rayline import Pipeline
    from rayline.definition.steps import ProcessingInput, ProcessingOutput, ProcessingStep
    from rayline.registry.steps import ModelStep

    script = tmp_path / "train.py"
    script.write_text(check + "\n" + SCRIPT)
    train = ProcessingStep(
        "Train",
        code=str(script),
        arguments=list(arguments),
        inputs=[ProcessingInput(source=str(trained), destination="trained")],
        outputs=[ProcessingOutput(n) for n in ("model", "preprocessor", "evaluation")],
    )
    register = ModelStep(
        register_step,
        model=train.outputs["model"],
        model_package_group="housing",
        preprocessor=train.outputs["preprocessor"],
        metrics=train.outputs["evaluation"],
    )
    return Pipeline(name, parameters=list(parameters), steps=[train, register])
