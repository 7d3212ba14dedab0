"""``CacheConfig.expire_after``: ISO-8601 durations as SageMaker accepts them, the rest refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rayline import CacheConfig, PipelineDefinitionError
from rayline.definition.policies import parse_duration

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # The SageMaker SDK's CacheConfig docstring and the developer guide's examples.
        ("p30d", 30 * DAY),
        ("P30d", 30 * DAY),
        ("P4DT12H", 4 * DAY + 12 * HOUR),
        ("T12H", 12 * HOUR),
        ("PT1H", HOUR),
        ("30d", 30 * DAY),
        ("T16m", timedelta(minutes=16)),
        ("30dT5h", 30 * DAY + 5 * HOUR),
        # Plain ISO-8601, any case.
        ("P1W", 7 * DAY),
        ("p1w", 7 * DAY),
        ("pt1h30m", HOUR + timedelta(minutes=30)),
        ("PT45S", timedelta(seconds=45)),
        ("PT1.5H", 1.5 * HOUR),
        ("P1DT30M", DAY + timedelta(minutes=30)),
    ],
)
def test_the_forms_sagemaker_documents_are_read(text, expected):
    assert parse_duration(text) == expected
    assert CacheConfig(enable_caching=True, expire_after=text).expire_after_seconds == (
        expected.total_seconds()
    )


def test_years_and_months_are_the_calendar_span_ending_now():
    # SageMaker's guide lists year and month values ("5y"); their length depends on when.
    assert parse_duration("P1M", now=datetime(2024, 5, 15, tzinfo=UTC)) == 30 * DAY
    assert parse_duration("P1M", now=datetime(2024, 3, 15, tzinfo=UTC)) == 29 * DAY  # leap Feb
    assert parse_duration("P1Y", now=datetime(2025, 1, 1, tzinfo=UTC)) == 366 * DAY
    assert parse_duration("5y", now=datetime(2030, 6, 1, tzinfo=UTC)) == (
        datetime(2030, 6, 1) - datetime(2025, 6, 1)
    )
    assert parse_duration("P1Y2M", now=datetime(2025, 3, 1, tzinfo=UTC)) == (
        datetime(2025, 3, 1) - datetime(2024, 1, 1)
    )
    # Months before T, minutes after it.
    assert parse_duration("PT30M") == timedelta(minutes=30)
    assert parse_duration("P30M") > 800 * DAY


@pytest.mark.parametrize(
    "text",
    ["12h", "P1H", "P", "PT", "P1DT", "", "12 hours", "1 day", "PT-1H", "P1D2H", "PT1HP", "X1D"],
)
def test_what_is_not_an_iso_duration_is_refused_with_examples(text):
    with pytest.raises(PipelineDefinitionError, match="is not an ISO-8601 duration") as info:
        parse_duration(text)
    message = str(info.value)
    assert repr(text) in message
    assert "'PT12H'" in message and "'P30D'" in message


@pytest.mark.parametrize("text", ["PT0S", "P0D", "T0H", "-P1D", "-PT1H"])
def test_durations_that_are_not_positive_are_refused(text):
    # A zero window would silently reuse nothing (and the scheduler reads 0 as "no expiry").
    with pytest.raises(PipelineDefinitionError, match="not longer than zero"):
        parse_duration(text)


def test_fractional_years_and_months_are_refused():
    for text in ("P1.5Y", "P0,5M"):
        with pytest.raises(PipelineDefinitionError, match="fractional year or month"):
            parse_duration(text)


def test_a_non_string_is_refused():
    with pytest.raises(PipelineDefinitionError, match=r"ISO-8601 string.*got 3600 \(int\)"):
        parse_duration(3600)


def test_cache_config_names_the_field_and_keeps_the_text_as_written():
    with pytest.raises(PipelineDefinitionError, match="CacheConfig expire_after: '12 hours' is"):
        CacheConfig(enable_caching=True, expire_after="12 hours")
    with pytest.raises(PipelineDefinitionError, match="CacheConfig expire_after: 'P1H' is"):
        CacheConfig.from_request({"Enabled": True, "ExpireAfter": "P1H"})
    config = CacheConfig(enable_caching=True, expire_after="T12H")
    assert config.to_request() == {"Enabled": True, "ExpireAfter": "T12H"}
    assert CacheConfig.from_request(config.to_request()) == config
    assert CacheConfig(enable_caching=True).expire_after_seconds is None
