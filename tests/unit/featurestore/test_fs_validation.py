"""Vectorised schema checks: casts, and every rejected row with its reason."""

from __future__ import annotations

import pyarrow as pa
import pytest

from rayline.errors import SchemaError
from rayline.featurestore import (
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
    StringFeatureDefinition,
)
from rayline.featurestore.description import FeatureGroupDescription
from rayline.featurestore.validation import parse_event_time, validate


def _desc(et_type="Fractional") -> FeatureGroupDescription:
    et = {"Fractional": FractionalFeatureDefinition, "String": StringFeatureDefinition}[et_type]
    return FeatureGroupDescription(
        name="g",
        status="Created",
        record_identifier_name="id",
        event_time_feature_name="t",
        feature_definitions=(
            IntegralFeatureDefinition("id"),
            et("t"),
            IntegralFeatureDefinition("n"),
            FractionalFeatureDefinition("x"),
            StringFeatureDefinition("s"),
        ),
        online_store_enabled=True,
        offline_store_enabled=True,
        online_store_uri=None,
        offline_store_uri=None,
        ttl_seconds=None,
        description="",
    )


def test_clean_input_passes_and_is_cast():
    table = pa.table({"id": [1, 2], "t": [10, 20], "n": [1.0, 2.0], "x": [1, 2], "s": [1, 2]})
    out = validate(table, _desc())
    assert out.rejected == ()
    assert out.table.schema.types == [
        pa.int64(),
        pa.float64(),
        pa.int64(),
        pa.float64(),
        pa.string(),
    ]
    assert out.table.column("s").to_pylist() == ["1", "2"]
    assert out.event_seconds.to_pylist() == [10.0, 20.0]
    assert out.record_ids.to_pylist() == ["1", "2"]


def test_every_bad_row_is_reported_with_its_reason():
    table = pa.table(
        {
            "id": [1, None, 3, 4, 5, 6],
            "t": [1.0, 2.0, None, -5.0, float("inf"), 6.0],
            "n": [1.0, 2.0, 3.0, 4.0, 5.0, 6.5],
            "x": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6],
            "s": ["a", "b", "c", "d", "e", "f"],
        }
    )
    out = validate(table, _desc(), row_offset=100)
    assert out.table.num_rows == 1
    assert out.table.column("id").to_pylist() == [1]
    by_row = {r.row: r for r in out.rejected}
    assert set(by_row) == {101, 102, 103, 104, 105}
    assert "missing record identifier 'id'" in by_row[101].reason
    assert by_row[101].record_identifier is None
    assert "missing event time 't'" in by_row[102].reason
    assert "not Unix seconds" in by_row[103].reason
    assert "not Unix seconds" in by_row[104].reason
    assert by_row[105].reason == "value 6.5 of feature 'n' is not Integral"
    assert by_row[105].record_identifier == "6"


def test_strings_in_numeric_columns_are_checked_per_value():
    table = pa.table(
        {
            "id": ["1", "2", "3"],
            "t": ["1", "2", "3"],
            "n": ["7", "x", "9.0"],
            "x": ["1.5", "2", "nan?"],
            "s": ["a", "b", "c"],
        }
    )
    out = validate(table, _desc())
    assert [r.row for r in out.rejected] == [1, 2]
    assert "value 'x' of feature 'n' is not Integral" in out.rejected[0].reason
    assert "value 'nan?' of feature 'x' is not Fractional" in out.rejected[1].reason
    assert out.table.column("n").to_pylist() == [7]


def test_iso_event_times():
    table = pa.table(
        {
            "id": [1, 2, 3, 4],
            "t": [
                "2024-01-01T00:00:00Z",
                "2024-01-01T01:00:00.500+01:00",
                "2024-01-01 02:00:00",
                "yesterday",
            ],
            "n": [1, 2, 3, 4],
            "x": [1.0, 2.0, 3.0, 4.0],
            "s": ["a", "b", "c", "d"],
        }
    )
    out = validate(table, _desc("String"))
    assert [r.row for r in out.rejected] == [3]
    assert "is not ISO-8601" in out.rejected[0].reason
    base = 1704067200.0
    assert out.event_seconds.to_pylist() == [base, base + 0.5, base + 7200]
    assert out.table.column("t").to_pylist()[0] == "2024-01-01T00:00:00Z"  # kept as given


def test_unknown_and_missing_columns_fail_the_whole_call():
    good = {"id": [1], "t": [1.0], "n": [1], "x": [1.0], "s": ["a"]}
    with pytest.raises(SchemaError, match=r"columns \['extra'\] are not features"):
        validate(pa.table({**good, "extra": [1]}), _desc())
    del good["x"]
    with pytest.raises(SchemaError, match=r"lacks columns \['x'\]"):
        validate(pa.table(good), _desc())


def test_parse_event_time():
    assert parse_event_time(5) == 5.0
    assert parse_event_time("1970-01-01T00:01:00Z") == 60.0
    assert parse_event_time("nope") is None
    assert parse_event_time(-1) is None
    assert parse_event_time(True) is None
