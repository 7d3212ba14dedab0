"""``FailStep``: end the execution as Failed with a message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rayline.definition.expressions import to_request
from rayline.definition.steps.base import ParseContext, Step


@dataclass(frozen=True, kw_only=True)
class FailStep(Step):
    """Stop the execution and mark it Failed with ``error_message`` (a string or ``Join``)."""

    kind: ClassVar[str] = "Fail"

    error_message: Any = ""

    def property_schema(self) -> dict[str, Any]:
        return {}  # a FailStep reports nothing: it ends the execution

    def ray_options(self) -> dict[str, Any]:
        return {}

    def to_arguments(self) -> dict[str, Any]:
        return {"ErrorMessage": to_request(self.error_message)}

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> FailStep:
        return cls(name, error_message=ctx.value(arguments.get("ErrorMessage", "")), **common)
