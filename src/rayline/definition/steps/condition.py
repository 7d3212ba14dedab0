"""``ConditionStep``: choose a branch; the branch not taken never runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rayline.definition.conditions import Condition, condition_from_request, operands
from rayline.definition.parameters import (
    Parameter,
    ParameterBoolean,
    ParameterFloat,
    ParameterInteger,
    ParameterString,
)
from rayline.definition.properties import ANY
from rayline.definition.steps.base import ParseContext, Step, no_resolve
from rayline.errors import PipelineDefinitionError

#: Labels of a condition's branches (``Step.branches``), as lineage and the progress view show them.
IF_TRUE = "if true"
IF_FALSE = "if false"


@dataclass(frozen=True, kw_only=True)
class ConditionStep(Step):
    """Evaluate ``conditions`` (ANDed); run ``if_steps`` when all hold, else ``else_steps``.

    Its property ``Outcome`` is the boolean result; its runner takes branch ``IF_TRUE`` or
    ``IF_FALSE`` (``branch_for``).
    """

    kind: ClassVar[str] = "Condition"

    conditions: tuple[Condition, ...] = ()
    if_steps: tuple[Step, ...] = no_resolve(default=())
    else_steps: tuple[Step, ...] = no_resolve(default=())

    def __post_init__(self) -> None:
        super().__post_init__()
        for attr in ("conditions", "if_steps", "else_steps"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))

    def branches(self) -> dict[str, tuple[Step, ...]]:
        """``if_steps`` under ``"if true"``, ``else_steps`` under ``"if false"``."""
        return {IF_TRUE: self.if_steps, IF_FALSE: self.else_steps}

    @staticmethod
    def branch_for(outcome: bool) -> str:
        """The label of the branch an outcome of the conditions selects."""
        return IF_TRUE if outcome else IF_FALSE

    def validate(self) -> None:
        """Both sides of each comparison must have the same type where it is known before the
        run (literals and parameters)."""
        for cond, left, right in (o for c in self.conditions for o in operands(c)):
            lt, rt = _static_type(left), _static_type(right)
            if lt and rt and lt != rt:
                raise PipelineDefinitionError(
                    f"condition step {self.name!r}: {cond.type_name} compares a {lt} "
                    f"({_describe(left)}) with a {rt} ({_describe(right)}); both sides must have "
                    "the same type"
                )

    def property_schema(self) -> dict[str, Any]:
        return {"Outcome": ANY}

    def ray_options(self) -> dict[str, Any]:
        return {}

    def to_arguments(self) -> dict[str, Any]:
        return {
            "Conditions": [c.to_request() for c in self.conditions],
            "IfSteps": [s.to_request() for s in self.if_steps],
            "ElseSteps": [s.to_request() for s in self.else_steps],
        }

    @classmethod
    def from_arguments(
        cls, name: str, arguments: dict[str, Any], ctx: ParseContext, **common: Any
    ) -> ConditionStep:
        return cls(
            name,
            conditions=tuple(
                condition_from_request(c, ctx.parameters) for c in arguments.get("Conditions", [])
            ),
            if_steps=tuple(ctx.parse_step(s) for s in arguments.get("IfSteps", [])),
            else_steps=tuple(ctx.parse_step(s) for s in arguments.get("ElseSteps", [])),
            **common,
        )


def _static_type(value: Any) -> str | None:
    if isinstance(value, (ParameterBoolean, bool)):
        return "boolean"
    if isinstance(value, (ParameterInteger, ParameterFloat, int, float)):
        return "number"
    if isinstance(value, (ParameterString, str)):
        return "string"
    return None  # known only at run time


def _describe(value: Any) -> str:
    return f"parameter {value.name!r}" if isinstance(value, Parameter) else repr(value)
