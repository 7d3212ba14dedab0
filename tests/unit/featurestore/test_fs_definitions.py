"""Feature definitions: names, types, reserved columns, whole-schema checks."""

from __future__ import annotations

import pandas as pd
import pytest

from rayline.errors import SchemaError, UserInputError
from rayline.featurestore import (
    FeatureDefinition,
    FeatureType,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
    load_feature_definitions,
)
from rayline.featurestore.definitions import validate_group_name, validate_schema


@pytest.mark.parametrize(
    "name", ["housing", "fs-ray-synthetic-housing-data", "a", "A_1-b", "x" * 64]
)
def test_valid_group_names(name):
    assert validate_group_name(name) == name


@pytest.mark.parametrize("name", ["", "-lead", "trail_", "has space", "dot.name", "x" * 65, "a--"])
def test_invalid_group_names_say_how_to_fix(name):
    with pytest.raises(UserInputError, match="letters or digits"):
        validate_group_name(name)


@pytest.mark.parametrize(
    "name", ["write_time", "api_invocation_time", "is_deleted", "year", "Hour"]
)
def test_reserved_feature_names_are_refused(name):
    with pytest.raises(SchemaError, match="reserved"):
        FeatureDefinition(name, FeatureType.STRING)


def test_unknown_type_is_refused():
    with pytest.raises(SchemaError, match="Integral, Fractional, String"):
        FeatureDefinition("x", "Boolean")


def test_type_accepts_strings_and_round_trips():
    d = FeatureDefinition("price", "Fractional")
    assert d.feature_type is FeatureType.FRACTIONAL
    assert FeatureDefinition.from_dict(d.to_dict()) == d


def _schema(*defs, rid="id", et="t"):
    validate_schema(list(defs), record_identifier_name=rid, event_time_name=et)


def test_schema_checks():
    ok = [IntegralFeatureDefinition("id"), FractionalFeatureDefinition("t")]
    _schema(*ok)
    _schema(StringFeatureDefinition("id"), StringFeatureDefinition("t"))
    with pytest.raises(SchemaError, match="record identifier 'nope' is not among"):
        _schema(*ok, rid="nope")
    with pytest.raises(SchemaError, match="event time feature 'nope'"):
        _schema(*ok, et="nope")
    with pytest.raises(SchemaError, match="Fractional; use Integral or String"):
        _schema(FractionalFeatureDefinition("id"), FractionalFeatureDefinition("t"))
    with pytest.raises(SchemaError, match="defined twice"):
        _schema(*ok, StringFeatureDefinition("ID"))
    with pytest.raises(SchemaError, match="at least one"):
        _schema()


def test_load_feature_definitions_from_dtypes():
    df = pd.DataFrame({"i": [1], "f": [1.5], "s": ["a"]})
    assert load_feature_definitions(df) == [
        IntegralFeatureDefinition("i"),
        FractionalFeatureDefinition("f"),
        StringFeatureDefinition("s"),
    ]
    with pytest.raises(SchemaError, match="timestamps"):
        load_feature_definitions(pd.DataFrame({"when": pd.to_datetime(["2024-01-01"])}))
