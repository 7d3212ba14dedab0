"""When a schedule is due: cron expressions in a time zone, and the missed-run policies.

Pure functions of the clock value they are given (no DB, no thread), so the rules can be
tested with any ``now``. Times are Unix epoch seconds, like every time rayline stores; the cron
expression is read in the schedule's time zone (``0 2 * * *`` in ``Europe/Berlin`` is 02:00
Berlin time, whatever the server's zone or daylight saving).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

from rayline.errors import UserInputError

#: The most missed times ``catch_up`` starts at once; older ones are dropped (and said so).
MAX_CATCH_UP = 10

#: How late a due time may be taken and still count as on time under ``skip``: the service
#: ticks every second, so a time found later than this was missed (no server was running).
ON_TIME_S = 60.0

#: How many missed times beyond those started are counted (for the notice) before counting
#: stops at "more than": a schedule off for a year costs no more than one off for a day.
COUNTED = 1000


class MissedPolicy(StrEnum):
    """What a schedule does with times that passed while no server ran it."""

    #: start nothing for them; the next on-time one runs
    SKIP = "skip"
    #: start one execution per missed time (at most ``MAX_CATCH_UP``, the latest ones)
    CATCH_UP = "catch_up"

    @classmethod
    def parse(cls, value: str) -> MissedPolicy:
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            raise UserInputError(
                f"missed-run policy {value!r} is not one of 'skip' (start nothing for times "
                "missed while no server ran) or 'catch_up' (start each missed time)"
            ) from None


def check_cron(expression: str) -> str:
    """``expression`` with its spaces normalised, if it is a valid 5-field cron expression
    (minute hour day-of-month month day-of-week); ``UserInputError`` saying why not."""
    fields = str(expression).split()
    if len(fields) != 5:
        raise UserInputError(
            f"cron expression {expression!r} has {len(fields)} field(s); write 5: minute hour "
            "day-of-month month day-of-week, e.g. '0 2 * * *' (02:00 daily) or '*/15 * * * *'"
        )
    text = " ".join(fields)
    try:
        it = croniter(text, 0.0)
    except (ValueError, KeyError, IndexError, TypeError, OverflowError) as exc:
        raise UserInputError(
            f"cron expression {text!r} is invalid ({exc}); fields are minute (0-59), hour "
            "(0-23), day-of-month (1-31), month (1-12) and day-of-week (0-6, 0 is Sunday)"
        ) from None
    try:
        # Both directions once: the service walks back from now, ``describe`` forward.
        it.get_next(float)
        croniter(text, 4e9).get_prev(float)
    except (CroniterBadDateError, ValueError, KeyError, IndexError, TypeError, OverflowError):
        raise UserInputError(
            f"cron expression {text!r} never comes due (a day that no month has, such as "
            "'0 0 31 2 *'); check its day-of-month and month fields"
        ) from None
    return text


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone (``UTC``, ``Europe/Berlin``); ``UserInputError``."""
    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(
            f"time zone {name!r} is unknown; give an IANA name such as 'UTC', "
            "'Europe/Berlin' or 'America/New_York'"
        ) from None
    return str(name)


def next_times(expression: str, timezone: str, *, after: float, count: int = 5) -> list[float]:
    """The ``count`` fire times strictly after ``after``."""
    it = croniter(expression, _local(after, timezone))
    return [float(it.get_next(float)) for _ in range(count)]


@dataclass(frozen=True)
class Due:
    """What a schedule should start at one tick."""

    #: the scheduled times to start now, oldest first
    fire: tuple[float, ...] = ()
    #: the latest time that came due (what the schedule's ``last_fired_at`` becomes); None
    #: when nothing came due
    newest: float | None = None
    #: due times that are not started (late under ``skip``; beyond the cap under ``catch_up``)
    dropped: int = 0
    #: more times were missed than ``dropped`` counts (only the latest were looked at)
    more: bool = False

    def notice(self, policy: MissedPolicy) -> str | None:
        """What was not started and why, for the schedule's record (None: nothing dropped)."""
        if not self.dropped:
            return None
        count = f"{'more than ' if self.more else ''}{self.dropped}"
        if policy is MissedPolicy.SKIP:
            return f"skipped {count} time(s) missed while no server ran the schedule (missed=skip)"
        return (
            f"catch-up started the latest {len(self.fire)} missed time(s); dropped {count} "
            f"older one(s) (at most {MAX_CATCH_UP} are caught up at once)"
        )


def due(
    expression: str,
    timezone: str,
    *,
    after: float,
    now: float,
    missed: MissedPolicy,
    cap: int = MAX_CATCH_UP,
    on_time_s: float = ON_TIME_S,
) -> Due:
    """The fire times in ``(after, now]`` and which of them to start under ``missed``.

    Only the latest ``cap + COUNTED`` due times are looked at (walking back from ``now``).
    """
    limit = cap + COUNTED
    times = _latest(expression, timezone, after=after, now=now, limit=limit)
    if not times:
        return Due()
    newest = times[0]
    more = len(times) == limit
    if missed is MissedPolicy.SKIP:
        fire = (newest,) if now - newest <= on_time_s else ()
    else:
        fire = tuple(reversed(times[:cap]))
    return Due(fire=fire, newest=newest, dropped=len(times) - len(fire), more=more)


def _latest(expression: str, timezone: str, *, after: float, now: float, limit: int) -> list[float]:
    """Up to ``limit`` fire times in ``(after, now]``, newest first."""
    start = _local(now, timezone)
    found: list[float] = []
    # croniter's get_prev is strictly before its start: a ``now`` exactly on a fire time (a
    # test's clock) is due too.
    on_the_minute = start.second == 0 and start.microsecond == 0
    if on_the_minute and now > after and croniter.match(expression, start):
        found.append(float(now))
    it = croniter(expression, start)
    while len(found) < limit:
        try:
            t = float(it.get_prev(float))
        except CroniterBadDateError:  # no earlier time at all
            break
        if t <= after:
            break
        found.append(t)
    return found


def _local(at: float, timezone: str) -> datetime:
    return datetime.fromtimestamp(at, ZoneInfo(timezone))
