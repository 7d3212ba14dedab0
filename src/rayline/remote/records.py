"""The engine's records from the JSON a server answers with.

Tolerant on purpose: a key this client's record class does not have (a newer server's field)
is ignored, and one it lacks takes the field's default, so a client and a server one field
apart still understand each other. Status and kind strings become their enums.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import typing
from typing import Any, TypeVar

from rayline.engine.records import (
    CacheEntry,
    EventRecord,
    ExecutionRecord,
    PipelineRecord,
    StepRunRecord,
)
from rayline.errors import BackendError

R = TypeVar("R")


def from_json(cls: type[R], data: Any) -> R:
    """An instance of the dataclass ``cls`` from a JSON object (unknown keys ignored)."""
    if not isinstance(data, dict):
        raise BackendError(
            f"the rayline server answered {type(data).__name__} where a {cls.__name__} was "
            "expected; is RAYLINE_SERVER_URL a rayline server of a compatible version?"
        )
    hints = _hints(cls)
    values = {}
    try:
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            value = data[f.name]
            kind = hints.get(f.name)
            if isinstance(kind, type) and issubclass(kind, enum.Enum) and value is not None:
                value = kind(value)
            values[f.name] = value
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise BackendError(
            f"the rayline server's {cls.__name__} could not be read ({exc}); is it a rayline "
            "server of a compatible version?"
        ) from None


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def execution(data: Any) -> ExecutionRecord:
    return from_json(ExecutionRecord, data)


def step_run(data: Any) -> StepRunRecord:
    return from_json(StepRunRecord, data)


def event(data: Any) -> EventRecord:
    return from_json(EventRecord, data)


def pipeline(data: Any) -> PipelineRecord:
    return from_json(PipelineRecord, data)


def cache_entry(data: Any) -> CacheEntry:
    return from_json(CacheEntry, data)
