"""Step and pipeline policies: ``CacheConfig``, ``RetryPolicy``, ``ParallelismConfiguration``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import isodate

from rayline.errors import PipelineDefinitionError

_EXAMPLES = "'PT12H' (12 hours), 'P30D' (30 days), 'P4DT12H' (4 days 12 hours) or 'P1W' (1 week)"


def parse_duration(text: str, *, now: datetime | None = None) -> timedelta:
    """An ISO-8601 duration (``PT12H``, ``P30D``, ``P4DT12H``, ``P1W``) as a ``timedelta``.

    Read as SageMaker reads ``CacheConfig.expire_after``, with ``isodate``'s ISO-8601 parser:

    - designators in any case: ``p30d`` is ``P30D``;
    - the leading ``P`` may be left out, as SageMaker's documentation writes durations
      (``T12H``, ``30d``, ``30dT5h``): a text that does not start with ``P`` gets one, so
      ``T12H`` is read as ``PT12H``;
    - years and months (``P1Y``, ``P6M``), which SageMaker's documentation lists, are calendar
      lengths: the result is the span that ends at ``now`` (default: the current time, the moment
      a cache lookup asks), so ``P1M`` reaches back to the same day of the previous month.
      ``M`` before ``T`` is months, after it minutes: ``P30M`` is 30 months, ``PT30M`` 30 minutes.

    Anything else is refused with ``PipelineDefinitionError``: text that is not an ISO-8601
    duration (``12h``, ``P1H``, ``PT``), fractional years or months, and durations that are not
    longer than zero (a zero window would reuse nothing).
    """
    if not isinstance(text, str):
        raise PipelineDefinitionError(
            f"a duration is an ISO-8601 string, e.g. {_EXAMPLES}; got {text!r} "
            f"({type(text).__name__})"
        )
    iso = text.upper()
    if iso and iso[0] not in "P+-":
        iso = "P" + iso  # SageMaker's documented 'T12H' and '30d' omit the leading P
    try:
        if iso.endswith("T"):  # ISO-8601 needs a time element after T; isodate lets 'PT' pass
            raise ValueError(iso)
        value = isodate.parse_duration(iso)
    except (ValueError, OverflowError):  # isodate.ISO8601Error is a ValueError
        raise PipelineDefinitionError(
            f"{text!r} is not an ISO-8601 duration; write e.g. {_EXAMPLES} (designators in any "
            "case; the leading P may be left out, as in SageMaker's 'T12H')"
        ) from None
    if isinstance(value, isodate.Duration):
        value = _calendar_span(text, value, now or datetime.now(UTC))
    if value <= timedelta(0):
        raise PipelineDefinitionError(
            f"duration {text!r} is not longer than zero; give a positive one, e.g. {_EXAMPLES}"
        )
    return value


def _calendar_span(text: str, value: isodate.Duration, now: datetime) -> timedelta:
    # Years and months have no fixed length: measure the one that ends now.
    if value.years % 1 or value.months % 1:
        raise PipelineDefinitionError(
            f"duration {text!r} has a fractional year or month, which has no fixed length; "
            "use whole months or smaller units (e.g. 'P18M' rather than 'P1.5Y')"
        )
    try:
        return now - (now - value)
    except (ValueError, OverflowError):
        raise PipelineDefinitionError(
            f"duration {text!r} reaches back before year 1; give a shorter one"
        ) from None


@dataclass(frozen=True)
class CacheConfig:
    """Reuse a step's latest successful run with the same cache key inside ``expire_after``.

    ``expire_after`` is an ISO-8601 duration as SageMaker accepts it (``PT12H``, ``P30d``,
    ``P4DT12H``, ``T12H``, ``P1W``; see ``parse_duration``); the definition keeps it as written.
    The cache key covers the step's resolved arguments, the content of its inputs and the
    content of its code. ``expire_after=None`` means a cached run never expires.
    """

    enable_caching: bool = False
    expire_after: str | None = None

    def __post_init__(self) -> None:
        if self.expire_after is not None:
            try:
                parse_duration(self.expire_after)
            except PipelineDefinitionError as exc:
                raise PipelineDefinitionError(f"CacheConfig expire_after: {exc}") from None

    @property
    def expire_after_seconds(self) -> float | None:
        """The cache window in seconds (None: reuse without expiry); a window in years or
        months is measured back from now (see ``parse_duration``)."""
        if self.expire_after is None:
            return None
        return parse_duration(self.expire_after).total_seconds()

    def to_request(self) -> dict[str, Any]:
        """The config as it appears in a step of the JSON definition."""
        out: dict[str, Any] = {"Enabled": self.enable_caching}
        if self.expire_after is not None:
            out["ExpireAfter"] = self.expire_after
        return out

    @classmethod
    def from_request(cls, request: dict[str, Any]) -> CacheConfig:
        """The config a definition's ``CacheConfig`` object describes."""
        return cls(
            enable_caching=bool(request.get("Enabled")), expire_after=request.get("ExpireAfter")
        )


@dataclass(frozen=True)
class RetryPolicy:
    """Retry a failed step.

    ``exception_types`` names the failures that retry: Python exception class names matched
    against the raised exception and its bases (``"ConnectionError"``), or ``"WorkerDied"`` for a
    Ray worker that crashed. The default, ``("Exception", "WorkerDied")``, retries any failure.
    The n-th retry waits ``interval_seconds * backoff_rate ** (n - 1)``. Stop after
    ``max_attempts`` attempts in all, or once ``expire_after_mins`` have passed since the first.
    """

    exception_types: tuple[str, ...] = ("Exception", "WorkerDied")
    interval_seconds: float = 1.0
    backoff_rate: float = 2.0
    max_attempts: int | None = 3
    expire_after_mins: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "exception_types", tuple(self.exception_types))
        if self.max_attempts is None and self.expire_after_mins is None:
            raise PipelineDefinitionError(
                "RetryPolicy needs max_attempts or expire_after_mins, or it would retry forever"
            )
        if self.max_attempts is not None and self.max_attempts < 1:
            raise PipelineDefinitionError("RetryPolicy.max_attempts must be at least 1")
        if self.interval_seconds < 0 or self.backoff_rate < 1:
            raise PipelineDefinitionError(
                "RetryPolicy needs interval_seconds >= 0 and backoff_rate >= 1"
            )

    def matches(self, exception_chain: tuple[str, ...]) -> bool:
        """Whether this policy covers a failure whose exception chain has these type names."""
        return any(name in self.exception_types for name in exception_chain)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        return self.interval_seconds * self.backoff_rate ** (attempt - 1)

    def allows(self, attempt: int, elapsed_s: float) -> bool:
        """Whether another attempt may follow attempt number ``attempt``."""
        if self.max_attempts is not None and attempt >= self.max_attempts:
            return False
        return self.expire_after_mins is None or elapsed_s < self.expire_after_mins * 60

    def to_request(self) -> dict[str, Any]:
        """The policy as it appears in a step of the JSON definition."""
        out: dict[str, Any] = {
            "ExceptionType": list(self.exception_types),
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
        }
        # The SDK omits an unset limit rather than writing null (retry.py to_request).
        if self.max_attempts is not None:
            out["MaxAttempts"] = self.max_attempts
        if self.expire_after_mins is not None:
            out["ExpireAfterMin"] = self.expire_after_mins
        return out

    @classmethod
    def from_request(cls, r: dict[str, Any]) -> RetryPolicy:
        """The policy a definition's retry-policy object describes."""
        return cls(
            exception_types=tuple(r.get("ExceptionType", ("Exception", "WorkerDied"))),
            interval_seconds=r.get("IntervalSeconds", 1.0),
            backoff_rate=r.get("BackoffRate", 2.0),
            max_attempts=r.get("MaxAttempts"),
            expire_after_mins=r.get("ExpireAfterMin"),
        )


@dataclass(frozen=True)
class ParallelismConfiguration:
    """At most ``max_parallel_execution_steps`` steps of one execution run at the same time."""

    max_parallel_execution_steps: int = 50

    def __post_init__(self) -> None:
        value = self.max_parallel_execution_steps
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise PipelineDefinitionError(
                f"max_parallel_execution_steps must be a whole number of at least 1; got {value!r}"
            )


def check_parallelism(config: Any) -> None:
    """Refuse anything but a ``ParallelismConfiguration`` (or None) where one is expected."""
    if config is not None and not isinstance(config, ParallelismConfiguration):
        raise PipelineDefinitionError(
            f"parallelism_config must be a ParallelismConfiguration (e.g. "
            f"ParallelismConfiguration(max_parallel_execution_steps=4)); got {config!r}"
        )
