"""``ConditionStep``: choose a branch; the branch not taken never runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rayline.definition.conditions import Condition, condition_from_request
from rayline.definition.steps.base import ParseContext, Step, no_resolve


@dataclass(frozen=True, kw_only=True)
class ConditionStep(Step):
    """Evaluate ``conditions`` (ANDed); run ``if_steps`` when all hold, else ``else_steps``.

    Its property ``Outcome`` is the boolean result.
    """

    kind: ClassVar[str] = "Condition"

    conditions: tuple[Condition, ...] = ()
    if_steps: tuple[Step, ...] = no_resolve(default=())
    else_steps: tuple[Step, ...] = no_resolve(default=())

    def __post_init__(self) -> None:
        super().__post_init__()
        for attr in ("conditions", "if_steps", "else_steps"):
            object.__setattr__(self, attr, tuple(getattr(self, attr)))

    def branch_steps(self) -> tuple[Step, ...]:
        return (*self.if_steps, *self.else_steps)

    def resources(self) -> dict[str, Any]:
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
