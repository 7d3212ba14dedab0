"""What a step kind reports as properties, so references are checked when a pipeline is defined.

A kind describes its properties as a nested dict (its ``property_schema()``): a key is a
property name, its value the shape below it. :data:`ANY` accepts any path below (free-form
values: a function's return, hyperparameters), :class:`NamedList` a list indexed by position or
by an item's name (SageMaker's ``FinalMetricDataList['validation:rmse']``). A kind without a
schema (``None``) is not checked. Paths are SageMaker's (``BestTrainingJob.TrainingJobName``),
written with dots and ``[index]`` / ``['name']``.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from rayline.errors import PipelineDefinitionError

#: Any path below this point is accepted (its value is free-form).
ANY: Any = ...


@dataclass(frozen=True)
class NamedList:
    """A list of objects, read by index (``[0]``) or by name (``['validation:rmse']``: the item
    whose ``key`` field has that value)."""

    item: Any
    key: str = "Name"


def check_property_path(step: str, schema: dict[str, Any] | None, path: str) -> None:
    """Raise ``PipelineDefinitionError`` unless ``path`` names a property ``schema`` offers."""
    from rayline.definition.expressions import parse_json_path

    if schema is None:
        return
    node: Any = schema
    seen = ""
    for token in parse_json_path(path):
        if node is ANY:
            return
        if isinstance(node, NamedList):
            node, seen = node.item, f"{seen}[{token!r}]"
            continue
        if not isinstance(node, dict) or token not in node:
            offered = sorted(node) if isinstance(node, dict) else []
            close = difflib.get_close_matches(str(token), offered, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            where = f"{seen!r} has" if seen else "its properties are"
            listing = ", ".join(repr(k) for k in offered) or "nothing below it"
            raise PipelineDefinitionError(
                f"step {step!r} reports no property {path!r} ({token!r} is unknown; {where} "
                f"{listing}){hint}"
            )
        node = node[token]
        seen = f"{seen}.{token}" if seen else str(token)


#: SageMaker's property paths that name a step's output URI, and the rayline output each names
#: (``None``: the name inside the path). A kind's ``output_property_paths()`` uses these, so a
#: definition read back names the same output.
OUTPUT_PATHS: tuple[tuple[re.Pattern[str], str | None], ...] = (
    (re.compile(r"^ProcessingOutputConfig\.Outputs\['([^']+)'\]\.S3Output\.S3Uri$"), None),
    (re.compile(r"^ModelArtifacts\.S3ModelArtifacts$"), "model"),
)


def processing_output_path(output: str) -> str:
    """Where SageMaker's ProcessingStep reports output ``output``'s URI."""
    return f"ProcessingOutputConfig.Outputs['{output}'].S3Output.S3Uri"


def output_named_by(path: str) -> str | None:
    """The output a SageMaker property path names, or ``None`` for an ordinary property."""
    for pattern, output in OUTPUT_PATHS:
        m = pattern.match(path)
        if m:
            return output if output is not None else m.group(1)
    return None
