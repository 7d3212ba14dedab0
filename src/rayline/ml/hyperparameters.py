"""Hyperparameter ranges for tuning (SageMaker's names), as plain data.

>>> ranges = {"max_depth": IntegerParameter(1, 8), "eta": ContinuousParameter(0.2, 1),
...           "booster": CategoricalParameter(["gbtree", "dart"])}

``scaling_type`` is ``"Auto"`` (= linear), ``"Linear"`` or ``"Logarithmic"`` (samples uniformly
in log space; both bounds must then be positive).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rayline.errors import UserInputError

SCALING_TYPES = ("Auto", "Linear", "Logarithmic")
STRATEGIES = ("Random", "Bayesian", "Hyperband", "Grid")
OBJECTIVE_TYPES = ("Minimize", "Maximize")


def _check_range(kind: str, lo: Any, hi: Any, scaling: str) -> None:
    if scaling not in SCALING_TYPES:
        raise UserInputError(
            f"{kind}: scaling_type {scaling!r} is not supported; use one of {SCALING_TYPES}"
        )
    if not isinstance(lo, int | float) or not isinstance(hi, int | float):
        return  # an expression, checked once resolved
    if lo > hi:
        raise UserInputError(f"{kind}: min_value {lo} is greater than max_value {hi}")
    if scaling == "Logarithmic" and lo <= 0:
        raise UserInputError(
            f"{kind}({lo}, {hi}): logarithmic scaling needs a positive min_value; use "
            "scaling_type='Linear' for ranges that include 0"
        )


@dataclass(frozen=True)
class ContinuousParameter:
    """A real-valued hyperparameter in ``[min_value, max_value]``."""

    min_value: float
    max_value: float
    scaling_type: str = "Auto"

    def __post_init__(self) -> None:
        _check_range("ContinuousParameter", self.min_value, self.max_value, self.scaling_type)

    @property
    def logarithmic(self) -> bool:
        """Whether the range is searched on a log scale."""
        return self.scaling_type == "Logarithmic"

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in this range."""
        return self.min_value <= value <= self.max_value

    def to_dict(self) -> dict[str, Any]:
        """The range as JSON-ready data (for the definition and the trials table)."""
        return {
            "Type": "Continuous",
            "MinValue": self.min_value,
            "MaxValue": self.max_value,
            "ScalingType": self.scaling_type,
        }


@dataclass(frozen=True)
class IntegerParameter:
    """An integer hyperparameter in ``[min_value, max_value]`` (both ends included)."""

    min_value: int
    max_value: int
    scaling_type: str = "Auto"

    def __post_init__(self) -> None:
        _check_range("IntegerParameter", self.min_value, self.max_value, self.scaling_type)

    @property
    def logarithmic(self) -> bool:
        """Whether the range is searched on a log scale."""
        return self.scaling_type == "Logarithmic"

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in this range."""
        return float(value).is_integer() and self.min_value <= value <= self.max_value

    def to_dict(self) -> dict[str, Any]:
        """The range as JSON-ready data (for the definition and the trials table)."""
        return {
            "Type": "Integer",
            "MinValue": self.min_value,
            "MaxValue": self.max_value,
            "ScalingType": self.scaling_type,
        }


@dataclass(frozen=True)
class CategoricalParameter:
    """A hyperparameter taking one of ``values``."""

    values: tuple[Any, ...]

    def __init__(self, values: Sequence[Any]) -> None:
        values = tuple(values)
        if not values:
            raise UserInputError("CategoricalParameter needs at least one value")
        object.__setattr__(self, "values", values)

    def contains(self, value: Any) -> bool:
        """Whether ``value`` lies in this range."""
        return value in self.values

    def to_dict(self) -> dict[str, Any]:
        """The range as JSON-ready data (for the definition and the trials table)."""
        return {"Type": "Categorical", "Values": list(self.values)}


Parameter = ContinuousParameter | IntegerParameter | CategoricalParameter


def parameter_from_dict(data: dict[str, Any]) -> Parameter:
    """The inverse of each parameter's ``to_dict``."""
    kind = data.get("Type")
    if kind == "Continuous":
        return ContinuousParameter(
            data["MinValue"], data["MaxValue"], data.get("ScalingType", "Auto")
        )
    if kind == "Integer":
        return IntegerParameter(data["MinValue"], data["MaxValue"], data.get("ScalingType", "Auto"))
    if kind == "Categorical":
        return CategoricalParameter(data["Values"])
    raise UserInputError(
        f"unknown hyperparameter range type {kind!r}; use Continuous, Integer or Categorical"
    )


def normalize_strategy(strategy: str) -> str:
    """``"bayesian"`` → ``"Bayesian"``; also accepts ``"asha"`` for Hyperband."""
    aliases = {s.lower(): s for s in STRATEGIES} | {"asha": "Hyperband", "optuna": "Bayesian"}
    try:
        return aliases[str(strategy).lower()]
    except KeyError:
        raise UserInputError(
            f"tuning strategy {strategy!r} is not supported; use one of {', '.join(STRATEGIES)}"
        ) from None


def normalize_objective_type(objective_type: str) -> str:
    for t in OBJECTIVE_TYPES:
        if str(objective_type).lower() in (t.lower(), t.lower()[:3]):
            return t
    raise UserInputError(f"objective_type {objective_type!r} must be 'Minimize' or 'Maximize'")
