"""Pipeline parameters: ``ParameterString``, ``ParameterInteger``, ``ParameterFloat``,
``ParameterBoolean``.

A parameter without a default is required when the pipeline starts. ``enum_values`` restricts the
allowed values. Values given as strings (from the CLI: ``-p RMSEThreshold=20000``) are parsed.

Each is written as the SageMaker SDK writes it: ``Name``, ``Type``, ``DefaultValue`` unless there
is none, ``EnumValues`` unless there are none (an empty list restricts nothing, as in the SDK,
where it is simply not written). The SDK takes ``enum_values`` on ``ParameterString`` only;
rayline takes it on every type and writes it the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rayline.definition.expressions import Expression, Resolver
from rayline.errors import ParameterError, PipelineDefinitionError

_UNSET: Any = None


@dataclass(frozen=True)
class Parameter(Expression):
    """Base class; use one of the typed subclasses."""

    name: str
    default_value: Any = _UNSET
    enum_values: tuple[Any, ...] | None = None

    type_name: ClassVar[str] = ""
    python_type: ClassVar[type | tuple[type, ...]] = object

    def __post_init__(self) -> None:
        if not self.name or not self.name.replace("_", "").replace("-", "").isalnum():
            raise PipelineDefinitionError(
                f"parameter name {self.name!r} is invalid: use letters, digits, '_' and '-'"
            )
        if self.enum_values is not None:
            values = tuple(self.coerce(v, where="enum_values") for v in self.enum_values)
            # The SDK writes no EnumValues for an empty list: no restriction, not "no value".
            object.__setattr__(self, "enum_values", values or None)
        if self.default_value is not None:
            object.__setattr__(
                self, "default_value", self.coerce(self.default_value, where="default_value")
            )
            self.check_allowed(self.default_value)

    @property
    def required(self) -> bool:
        return self.default_value is None

    def coerce(self, value: Any, *, where: str = "value") -> Any:
        """Check ``value``'s type (parsing strings); ``ParameterError`` names the parameter."""
        if isinstance(value, str) and self.python_type is not str:
            try:
                return self.parse(value)
            except ValueError:
                pass
        elif self._accepts(value):
            return self._normalise(value)
        raise ParameterError(
            f"parameter {self.name!r} ({self.type_name}) got {value!r} ({type(value).__name__}) "
            f"as its {where}; give a {self.type_name.lower()} value"
        )

    def check_allowed(self, value: Any) -> None:
        if self.enum_values is not None and value not in self.enum_values:
            raise ParameterError(
                f"parameter {self.name!r} got {value!r}, which is not one of its allowed values "
                f"{list(self.enum_values)!r}"
            )

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, self.python_type) and not isinstance(value, bool)

    def _normalise(self, value: Any) -> Any:
        return value

    def parse(self, text: str) -> Any:
        """The value written as ``text`` (a CLI ``-p NAME=VALUE``); ValueError if it is none."""
        raise ValueError(text)

    # Expression protocol
    def to_request(self) -> Any:
        """The parameter as a reference in a definition: ``{"Get": "Parameters.NAME"}``."""
        return {"Get": f"Parameters.{self.name}"}

    def resolve(self, resolver: Resolver) -> Any:
        return resolver.parameter(self.name)

    def definition(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Name": self.name, "Type": self.type_name}
        if self.default_value is not None:
            out["DefaultValue"] = self.default_value
        if self.enum_values is not None:
            out["EnumValues"] = list(self.enum_values)
        return out


@dataclass(frozen=True)
class ParameterString(Parameter):
    """A string parameter: ``ParameterString("FeatureGroupName", default_value="fs-...")``."""

    type_name: ClassVar[str] = "String"
    python_type: ClassVar[type] = str


@dataclass(frozen=True)
class ParameterInteger(Parameter):
    """An integer parameter: ``ParameterInteger("ProcessingInstanceCount", default_value=1)``."""

    type_name: ClassVar[str] = "Integer"
    python_type: ClassVar[type] = int

    def parse(self, text: str) -> int:
        """``text`` as an integer (ValueError if it is none; the caller names the parameter)."""
        return int(text.strip())


@dataclass(frozen=True)
class ParameterFloat(Parameter):
    """A float parameter: ``ParameterFloat("RMSEThreshold", default_value=15000.0)``."""

    type_name: ClassVar[str] = "Float"
    python_type: ClassVar[tuple[type, ...]] = (int, float)

    def parse(self, text: str) -> float:
        """``text`` as a float (ValueError if it is none; the caller names the parameter)."""
        return float(text.strip())

    def _normalise(self, value: Any) -> float:
        return float(value)


@dataclass(frozen=True)
class ParameterBoolean(Parameter):
    """A boolean parameter; from text, accepts true/false, yes/no, 1/0."""

    type_name: ClassVar[str] = "Boolean"
    python_type: ClassVar[type] = bool

    def _accepts(self, value: Any) -> bool:
        return isinstance(value, bool)

    def parse(self, text: str) -> bool:
        """``text`` as a boolean: true/false, yes/no, 1/0 (ValueError otherwise)."""
        lowered = text.strip().lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        raise ValueError(text)


PARAMETER_TYPES: dict[str, type[Parameter]] = {
    cls.type_name: cls
    for cls in (ParameterString, ParameterInteger, ParameterFloat, ParameterBoolean)
}


def parameter_from_definition(entry: dict[str, Any]) -> Parameter:
    try:
        cls = PARAMETER_TYPES[entry["Type"]]
    except KeyError:
        raise PipelineDefinitionError(
            f"parameter {entry.get('Name')!r} has unknown type {entry.get('Type')!r}; "
            f"use one of {sorted(PARAMETER_TYPES)}"
        ) from None
    enum = entry.get("EnumValues")
    return cls(
        entry["Name"],
        default_value=entry.get("DefaultValue"),
        enum_values=tuple(enum) if enum is not None else None,
    )


def resolve_parameters(declared: list[Parameter], given: dict[str, Any] | None) -> dict[str, Any]:
    """The values an execution runs with: defaults overridden by ``given``, all checked."""
    given = dict(given or {})
    by_name = {p.name: p for p in declared}
    unknown = sorted(set(given) - set(by_name))
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) {', '.join(map(repr, unknown))}; this pipeline declares "
            f"{', '.join(map(repr, by_name)) or 'no parameters'}"
        )
    values: dict[str, Any] = {}
    for p in declared:
        if p.name in given and given[p.name] is not None:
            value = p.coerce(given[p.name])
        elif p.default_value is not None:
            value = p.default_value
        else:
            raise ParameterError(
                f"parameter {p.name!r} is required (it has no default); pass it at start, "
                f"e.g. parameters={{'{p.name}': ...}} or `-p {p.name}=VALUE`"
            )
        p.check_allowed(value)
        values[p.name] = value
    return values
