"""Step and pipeline policies: ``CacheConfig``, ``RetryPolicy``, ``ParallelismConfiguration``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from rayline.errors import PipelineDefinitionError

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> timedelta:
    """An ISO-8601 duration (``PT12H``, ``P30D``, ``PT1H30M``, ``P1W``) as a ``timedelta``."""
    m = _DURATION.match(text or "")
    if not m or text in ("P", "PT") or text.endswith("T"):
        raise PipelineDefinitionError(
            f"{text!r} is not an ISO-8601 duration; write e.g. 'PT12H' (12 hours), 'P30D' (30 days)"
            " or 'PT45M' (45 minutes)"
        )
    parts = {k: float(v) for k, v in m.groupdict().items() if v}
    return timedelta(**parts)


@dataclass(frozen=True)
class CacheConfig:
    """Reuse a step's latest successful run with the same cache key inside ``expire_after``.

    The cache key covers the step's resolved arguments, the content of its inputs and the
    content of its code. ``expire_after=None`` means a cached run never expires.
    """

    enable_caching: bool = False
    expire_after: str | None = None

    def __post_init__(self) -> None:
        if self.expire_after is not None:
            parse_duration(self.expire_after)

    @property
    def expire_after_seconds(self) -> float | None:
        """The cache window in seconds (None: reuse without expiry)."""
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
        return {
            "ExceptionType": list(self.exception_types),
            "IntervalSeconds": self.interval_seconds,
            "BackoffRate": self.backoff_rate,
            "MaxAttempts": self.max_attempts,
            "ExpireAfterMin": self.expire_after_mins,
        }

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
        if self.max_parallel_execution_steps < 1:
            raise PipelineDefinitionError("max_parallel_execution_steps must be at least 1")
