"""Due times of cron schedules at a given clock value: skip vs catch-up, the catch-up cap,
time zones, and what pause/resume leave due. No DB and no thread: the rules alone."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from rayline.errors import UserInputError
from rayline.schedules.entities import Schedule
from rayline.schedules.timing import (
    COUNTED,
    MAX_CATCH_UP,
    MissedPolicy,
    check_cron,
    check_timezone,
    due,
    next_times,
)

SKIP, CATCH_UP = MissedPolicy.SKIP, MissedPolicy.CATCH_UP


def at(hour: int, minute: int, second: float = 0.0, *, day: int = 1) -> float:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC).timestamp() + second


def test_on_time_tick_fires_once_and_not_again():
    # 10:00:00.4, the service's tick just after the time; after it, nothing is due until 10:05.
    first = due("*/5 * * * *", "UTC", after=at(9, 57), now=at(10, 0, 0.4), missed=SKIP)
    assert first.fire == (at(10, 0),) and first.newest == at(10, 0) and first.dropped == 0
    again = due("*/5 * * * *", "UTC", after=first.newest, now=at(10, 4, 59), missed=SKIP)
    assert again.fire == () and again.newest is None
    # A clock exactly on the time counts it due; one just before does not.
    assert due("*/5 * * * *", "UTC", after=at(9, 57), now=at(10, 0), missed=SKIP).fire == (
        at(10, 0),
    )
    assert due("*/5 * * * *", "UTC", after=at(9, 57), now=at(9, 59, 59.9), missed=SKIP).fire == ()


def test_skip_fires_only_an_on_time_run_after_downtime():
    # Down from 09:57 to 10:30:20: 10:30 is on time (20 s late); 10:00 .. 10:25 are skipped.
    result = due("*/5 * * * *", "UTC", after=at(9, 57), now=at(10, 30, 20), missed=SKIP)
    assert result.fire == (at(10, 30),)
    assert result.newest == at(10, 30) and result.dropped == 6
    assert "skipped 6" in result.notice(SKIP)
    # Back at 10:33: 10:30 was missed too; nothing starts until 10:35, and it is not due again.
    late = due("*/5 * * * *", "UTC", after=at(9, 57), now=at(10, 33), missed=SKIP)
    assert late.fire == () and late.newest == at(10, 30) and late.dropped == 7


def test_catch_up_fires_each_missed_time_oldest_first():
    result = due("*/5 * * * *", "UTC", after=at(9, 57), now=at(10, 33), missed=CATCH_UP)
    assert result.fire == tuple(at(10, m) for m in range(0, 31, 5))
    assert result.newest == at(10, 30) and result.dropped == 0 and result.notice(CATCH_UP) is None


def test_catch_up_is_capped_and_says_so():
    # A day of minutes missed: the latest MAX_CATCH_UP start, the rest are dropped (counted
    # as "more than"), and looking them up costs the cap, not the day.
    result = due("* * * * *", "UTC", after=at(0, 0), now=at(0, 0, day=2), missed=CATCH_UP)
    assert len(result.fire) == MAX_CATCH_UP
    assert result.fire[-1] == at(0, 0, day=2) and result.fire[0] == at(23, 51)
    assert result.more and result.dropped == COUNTED
    assert f"dropped more than {COUNTED} older" in result.notice(CATCH_UP)
    assert f"at most {MAX_CATCH_UP}" in result.notice(CATCH_UP)
    small = due("* * * * *", "UTC", after=at(0, 0), now=at(0, 5), missed=CATCH_UP, cap=3)
    assert small.fire == (at(0, 3), at(0, 4), at(0, 5))
    assert small.dropped == 2 and not small.more
    assert "dropped 2 older" in small.notice(CATCH_UP)


def test_time_zone_of_the_expression():
    # 02:00 in Berlin is 01:00 UTC in winter (CET) and 00:00 UTC in summer (CEST).
    assert next_times("0 2 * * *", "Europe/Berlin", after=at(12, 0), count=1) == [at(1, 0, day=2)]
    summer = datetime(2026, 7, 1, 12, tzinfo=UTC).timestamp()
    assert next_times("0 2 * * *", "Europe/Berlin", after=summer, count=1) == [
        datetime(2026, 7, 2, 0, tzinfo=UTC).timestamp()
    ]
    assert next_times("0 2 * * *", "UTC", after=at(12, 0), count=2) == [
        at(2, 0, day=2),
        at(2, 0, day=3),
    ]


def test_pause_and_resume_do_not_catch_up_the_paused_period():
    schedule = Schedule(
        name="nightly",
        pipeline_name="p",
        cron="*/5 * * * *",
        timezone="UTC",
        parameters={},
        pipeline_version=None,
        missed="catch_up",
        paused=False,
        created_by="me",
        created_at=at(9, 0),
        updated_at=at(9, 0),
        anchor_at=at(9, 0),
        last_fired_at=at(10, 0),
    )
    # Paused at 10:02, resumed at 10:31 (anchor moves to the resume): even catch-up starts
    # nothing for 10:05 .. 10:30, and 10:35 is the next.
    resumed = replace(schedule, anchor_at=at(10, 31))
    assert resumed.after == at(10, 31)
    assert due(resumed.cron, "UTC", after=resumed.after, now=at(10, 34), missed=CATCH_UP).fire == ()
    assert due(
        resumed.cron, "UTC", after=resumed.after, now=at(10, 35, 1), missed=CATCH_UP
    ).fire == (at(10, 35),)
    # Without the resume's anchor the same clock would catch up seven times.
    assert (
        len(due(schedule.cron, "UTC", after=schedule.after, now=at(10, 34), missed=CATCH_UP).fire)
        == 6
    )


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("* * * *", "has 4 field(s); write 5"),
        ("0 0 * * * *", "has 6 field(s)"),
        ("61 * * * *", "is invalid"),
        ("0 25 * * *", "is invalid"),
        ("every day", "field(s)"),
        ("0 0 31 2 *", "never comes due"),
    ],
)
def test_invalid_cron_expressions_say_why(expression, says):
    with pytest.raises(UserInputError, match=r"cron expression .*") as caught:
        check_cron(expression)
    assert says in str(caught.value)


def test_cron_and_zone_are_normalised_or_refused():
    assert check_cron("  */15   *  * * 1-5 ") == "*/15 * * * 1-5"
    assert check_timezone("Europe/Berlin") == "Europe/Berlin"
    with pytest.raises(UserInputError, match="time zone 'Mars/Olympus' is unknown"):
        check_timezone("Mars/Olympus")
    assert MissedPolicy.parse("catch-up") is CATCH_UP
    with pytest.raises(UserInputError, match="'skip'"):
        MissedPolicy.parse("always")
