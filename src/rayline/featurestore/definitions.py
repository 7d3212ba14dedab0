"""Feature definitions and the validation of names and schemas.

SageMaker's three scalar types: ``Integral`` (int64), ``Fractional`` (float64) and ``String``.
The event time feature is Unix seconds (Integral or Fractional) or an ISO-8601 String.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rayline.errors import SchemaError, UserInputError

#: Columns the offline store adds to every row; no feature may use these names.
OFFLINE_COLUMNS = ("write_time", "api_invocation_time", "is_deleted")
#: Hive partition columns that readers of the offline store see; also reserved.
PARTITION_COLUMNS = ("year", "month", "day", "hour")
RESERVED_NAMES = frozenset(OFFLINE_COLUMNS + PARTITION_COLUMNS)

MAX_FEATURES = 2500
# Group and feature names alike (SageMaker's rule).
_NAME = re.compile(r"^[a-zA-Z0-9]([-_]*[a-zA-Z0-9])*$")


class FeatureType(enum.StrEnum):
    """The type of a feature's values."""

    INTEGRAL = "Integral"
    FRACTIONAL = "Fractional"
    STRING = "String"

    @property
    def arrow_type(self):
        """The pyarrow type values of this feature type are stored as."""
        import pyarrow as pa

        return {"Integral": pa.int64(), "Fractional": pa.float64(), "String": pa.string()}[
            self.value
        ]


@dataclass(frozen=True)
class FeatureDefinition:
    """One feature: its name and type. ``FeatureDefinition("price", FeatureType.FRACTIONAL)``."""

    feature_name: str
    feature_type: FeatureType

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "feature_type", FeatureType(self.feature_type))
        except ValueError:
            raise SchemaError(
                f"feature {self.feature_name!r} has type {self.feature_type!r}; use one of "
                f"{', '.join(t.value for t in FeatureType)}"
            ) from None
        validate_feature_name(self.feature_name)

    def to_dict(self) -> dict[str, str]:
        """SageMaker's form: ``{"FeatureName": ..., "FeatureType": ...}``."""
        return {"FeatureName": self.feature_name, "FeatureType": self.feature_type.value}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> FeatureDefinition:
        """The definition ``to_dict`` wrote."""
        return cls(data["FeatureName"], FeatureType(data["FeatureType"]))


def IntegralFeatureDefinition(feature_name: str) -> FeatureDefinition:
    """An Integral (int64) feature."""
    return FeatureDefinition(feature_name, FeatureType.INTEGRAL)


def FractionalFeatureDefinition(feature_name: str) -> FeatureDefinition:
    """A Fractional (float64) feature."""
    return FeatureDefinition(feature_name, FeatureType.FRACTIONAL)


def StringFeatureDefinition(feature_name: str) -> FeatureDefinition:
    """A String feature."""
    return FeatureDefinition(feature_name, FeatureType.STRING)


def validate_group_name(name: str) -> str:
    """Check a feature group name (1-64 characters, ``[a-zA-Z0-9]([-_]*[a-zA-Z0-9])*``)."""
    if not _is_name(name):
        raise UserInputError(
            f"feature group name {name!r} is invalid: use 1-64 letters or digits, optionally "
            "separated by '-' or '_' (e.g. 'housing-features'), starting and ending with a "
            "letter or digit"
        )
    return name


def _is_name(name: object) -> bool:
    return isinstance(name, str) and 1 <= len(name) <= 64 and _NAME.match(name) is not None


def validate_feature_name(name: str) -> str:
    """Check a feature name: the group-name pattern, 1-64 characters, not reserved."""
    if not _is_name(name):
        raise SchemaError(
            f"feature name {name!r} is invalid: use 1-64 letters, digits, '-' or '_', "
            "starting and ending with a letter or digit"
        )
    if name.lower() in RESERVED_NAMES:
        raise SchemaError(
            f"feature name {name!r} is reserved by the offline store (reserved: "
            f"{', '.join(sorted(RESERVED_NAMES))}); rename the column"
        )
    return name


def validate_schema(
    features: Sequence[FeatureDefinition], *, record_identifier_name: str, event_time_name: str
) -> None:
    """Check a whole schema: unique names, the identifier and event time present and typed."""
    if not features:
        raise SchemaError("a feature group needs at least one feature definition")
    if len(features) > MAX_FEATURES:
        raise SchemaError(f"{len(features)} features given; a feature group holds at most 2500")
    seen: set[str] = set()
    for f in features:
        if not isinstance(f, FeatureDefinition):
            raise SchemaError(f"{f!r} is not a FeatureDefinition")
        key = f.feature_name.lower()
        if key in seen:
            raise SchemaError(f"feature {f.feature_name!r} is defined twice (names ignore case)")
        seen.add(key)
    by_name = {f.feature_name: f for f in features}
    names = ", ".join(by_name)
    rid = by_name.get(record_identifier_name)
    if rid is None:
        raise SchemaError(
            f"record identifier {record_identifier_name!r} is not among the features ({names})"
        )
    if rid.feature_type is FeatureType.FRACTIONAL:
        raise SchemaError(
            f"record identifier {record_identifier_name!r} is Fractional; use Integral or String"
        )
    et = by_name.get(event_time_name)
    if et is None:
        raise SchemaError(
            f"event time feature {event_time_name!r} is not among the features ({names})"
        )
    if event_time_name == record_identifier_name:
        raise SchemaError("the record identifier and the event time must be different features")


def load_feature_definitions(data) -> list[FeatureDefinition]:
    """Infer definitions from a pandas DataFrame or Arrow table's column types.

    int → Integral, float → Fractional, string → String; any other type is an error (convert
    timestamps to Unix seconds or ISO-8601 strings first, as SageMaker requires).
    """
    import pyarrow as pa

    schema = _arrow_schema(data)
    out: list[FeatureDefinition] = []
    for field in schema:
        t = field.type
        if pa.types.is_integer(t):
            out.append(IntegralFeatureDefinition(field.name))
        elif pa.types.is_floating(t):
            out.append(FractionalFeatureDefinition(field.name))
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            out.append(StringFeatureDefinition(field.name))
        else:
            raise SchemaError(
                f"column {field.name!r} has type {t}, which has no feature type; convert it to a "
                "number or a string (timestamps: Unix seconds or ISO-8601 strings)"
            )
    return out


def _arrow_schema(data):
    import pyarrow as pa

    if isinstance(data, pa.Table):
        return data.schema
    try:
        return pa.Schema.from_pandas(data, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise _mixed_column_error(data, exc) from None


def _mixed_column_error(frame, exc: Exception) -> SchemaError:
    """Which column of ``frame`` Arrow could not type, and its first value of another type
    than the column's first value."""
    import pyarrow as pa

    for name in frame.columns:
        column = frame[name]
        try:
            pa.array(column, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
        else:
            continue
        values = column[column.notna()]
        first = values.iloc[0]
        for position, value in values.items():
            if type(value) is not type(first):
                return SchemaError(
                    f"column {name!r} mixes values of type {type(first).__name__} (first: "
                    f"{first!r}) and {type(value).__name__} ({value!r} at row {position!r}); a "
                    "feature has one type: fix the value, or convert the column (e.g. "
                    f"df[{name!r}].astype(str) for a String feature)"
                )
        return SchemaError(
            f"column {name!r} holds values that have no feature type (first: {first!r}); "
            "convert it to numbers or strings"
        )
    return SchemaError(f"the data's columns have no feature types ({exc})")


def coerce_definitions(items: Iterable) -> list[FeatureDefinition]:
    """Accept FeatureDefinitions or ``{"FeatureName", "FeatureType"}`` dicts."""
    out = []
    for item in items:
        if isinstance(item, dict):
            item = FeatureDefinition.from_dict(item)
        out.append(item)
    return out
