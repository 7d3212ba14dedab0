"""Conditions for ``ConditionStep``: comparisons, ``ConditionIn``, ``ConditionNot`` and
``ConditionOr``.

A ``ConditionStep``'s list of conditions is ANDed. Operands may be literals or expressions
(parameters, ``JsonGet``, step properties); they are compared when the step runs.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, ClassVar

from rayline.definition.expressions import Resolver, from_request, resolve, to_request
from rayline.errors import PipelineDefinitionError


class Condition:
    """Base of all conditions."""

    __resolvable__ = True
    type_name: ClassVar[str] = ""

    def to_request(self) -> dict[str, Any]:
        raise NotImplementedError

    def evaluate(self, resolver: Resolver) -> bool:
        raise NotImplementedError


@dataclass(frozen=True)
class _Comparison(Condition):
    left: Any
    right: Any

    op: ClassVar[Any] = None

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": self.type_name,
            "LeftValue": to_request(self.left),
            "RightValue": to_request(self.right),
        }

    def evaluate(self, resolver: Resolver) -> bool:
        left, right = resolve(self.left, resolver), resolve(self.right, resolver)
        try:
            return bool(self.op(left, right))
        except TypeError:
            raise PipelineDefinitionError(
                f"condition {self.type_name} cannot compare {left!r} ({type(left).__name__}) "
                f"with {right!r} ({type(right).__name__}); make both sides numbers or both strings"
            ) from None


@dataclass(frozen=True)
class ConditionEquals(_Comparison):
    """``left == right``."""

    type_name: ClassVar[str] = "Equals"
    op: ClassVar[Any] = staticmethod(operator.eq)


@dataclass(frozen=True)
class ConditionGreaterThan(_Comparison):
    """``left > right``."""

    type_name: ClassVar[str] = "GreaterThan"
    op: ClassVar[Any] = staticmethod(operator.gt)


@dataclass(frozen=True)
class ConditionGreaterThanOrEqualTo(_Comparison):
    """``left >= right``."""

    type_name: ClassVar[str] = "GreaterThanOrEqualTo"
    op: ClassVar[Any] = staticmethod(operator.ge)


@dataclass(frozen=True)
class ConditionLessThan(_Comparison):
    """``left < right``."""

    type_name: ClassVar[str] = "LessThan"
    op: ClassVar[Any] = staticmethod(operator.lt)


@dataclass(frozen=True)
class ConditionLessThanOrEqualTo(_Comparison):
    """``left <= right``: the reference workflow's RMSE gate."""

    type_name: ClassVar[str] = "LessThanOrEqualTo"
    op: ClassVar[Any] = staticmethod(operator.le)


@dataclass(frozen=True)
class ConditionIn(Condition):
    """``value in in_values``."""

    value: Any
    in_values: tuple[Any, ...]

    type_name: ClassVar[str] = "In"

    def __post_init__(self) -> None:
        object.__setattr__(self, "in_values", tuple(self.in_values))

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": "In",
            "QueryValue": to_request(self.value),
            "Values": to_request(list(self.in_values)),
        }

    def evaluate(self, resolver: Resolver) -> bool:
        return resolve(self.value, resolver) in resolve(list(self.in_values), resolver)


@dataclass(frozen=True)
class ConditionNot(Condition):
    """Negates one condition."""

    expression: Condition

    type_name: ClassVar[str] = "Not"

    def to_request(self) -> dict[str, Any]:
        # The SDK (2.257) writes the negated condition under "Condition".
        return {"Type": "Not", "Condition": self.expression.to_request()}

    def evaluate(self, resolver: Resolver) -> bool:
        return not self.expression.evaluate(resolver)


@dataclass(frozen=True)
class ConditionOr(Condition):
    """True when any of ``conditions`` is."""

    conditions: tuple[Condition, ...]

    type_name: ClassVar[str] = "Or"

    def __post_init__(self) -> None:
        object.__setattr__(self, "conditions", tuple(self.conditions))

    def to_request(self) -> dict[str, Any]:
        return {
            "Type": "Or",
            "Conditions": [c.to_request() for c in self.conditions],
        }

    def evaluate(self, resolver: Resolver) -> bool:
        return any(c.evaluate(resolver) for c in self.conditions)


CONDITION_TYPES: dict[str, type[Condition]] = {
    cls.type_name: cls
    for cls in (
        ConditionEquals,
        ConditionGreaterThan,
        ConditionGreaterThanOrEqualTo,
        ConditionLessThan,
        ConditionLessThanOrEqualTo,
        ConditionIn,
        ConditionNot,
        ConditionOr,
    )
}


def condition_from_request(request: dict[str, Any], parameters: dict[str, Any]) -> Condition:
    """The condition a definition's condition object describes.

    Reads the SageMaker SDK's flat shape (``{"Type", "LeftValue", "RightValue"}``, ``In`` with
    ``QueryValue``/``Values``, ``Not`` with ``Condition``) and the shape rayline wrote before,
    which nested the operands under ``"Arguments"``, named ``In``'s list ``InValues`` and ``Not``'s
    operand ``Expression``: stored pipeline versions keep working.
    """
    kind = request.get("Type")
    args = dict(request.get("Arguments") or request)
    if "InValues" in args and "Values" not in args:
        args["Values"] = args["InValues"]
    cls = CONDITION_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise PipelineDefinitionError(
            f"unknown condition type {kind!r}; use one of {sorted(CONDITION_TYPES)}"
        )
    if issubclass(cls, _Comparison):
        return cls(
            from_request(args["LeftValue"], parameters),
            from_request(args["RightValue"], parameters),
        )
    if cls is ConditionIn:
        return ConditionIn(
            from_request(args["QueryValue"], parameters),
            tuple(from_request(args["Values"], parameters)),
        )
    if cls is ConditionNot:
        inner = args["Condition"] if "Condition" in args else args["Expression"]
        return ConditionNot(condition_from_request(inner, parameters))
    return ConditionOr(tuple(condition_from_request(c, parameters) for c in args["Conditions"]))


def operands(condition: Condition) -> list[tuple[Condition, Any, Any]]:
    """Every comparison inside ``condition`` as ``(comparison, left, right)`` (for validation)."""
    if isinstance(condition, _Comparison):
        return [(condition, condition.left, condition.right)]
    if isinstance(condition, ConditionNot):
        return operands(condition.expression)
    if isinstance(condition, ConditionOr):
        return [o for c in condition.conditions for o in operands(c)]
    return []
