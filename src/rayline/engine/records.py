"""Statuses and the records the engine keeps in the metadata DB (read back by the API and CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class ExecutionStatus(StrEnum):
    """Status of an execution: Executing → (Stopping →) Stopped | Failed | Succeeded."""

    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    @property
    def finished(self) -> bool:
        return self in (ExecutionStatus.STOPPED, ExecutionStatus.FAILED, ExecutionStatus.SUCCEEDED)


class StepStatus(StrEnum):
    """Status of a step run: Starting → Executing → (Stopping →) Stopped | Failed | Succeeded."""

    STARTING = "Starting"
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"

    @property
    def finished(self) -> bool:
        return self in (StepStatus.STOPPED, StepStatus.FAILED, StepStatus.SUCCEEDED)


@dataclass(frozen=True)
class PipelineRecord:
    name: str
    description: str
    latest_version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    pipeline_name: str
    pipeline_version: int
    status: ExecutionStatus
    parameters: dict[str, Any]
    created_at: float
    ended_at: float | None = None
    failure_reason: str | None = None
    max_parallel_steps: int | None = None
    driver: str | None = None
    heartbeat_at: float | None = None
    mlflow_run_id: str | None = None

    @property
    def elapsed_s(self) -> float | None:
        import time

        return (self.ended_at or time.time()) - self.created_at


@dataclass(frozen=True)
class StepRunRecord:
    execution_id: str
    pipeline_name: str
    step_name: str
    step_type: str
    status: StepStatus
    attempts: int = 0
    started_at: float | None = None
    ended_at: float | None = None
    failure_reason: str | None = None
    user_traceback: str | None = None
    logs: str | None = None
    outputs: dict[str, str] = field(default_factory=dict)
    properties: dict[str, Any] = field(default_factory=dict)
    cache_key: str | None = None
    cached_from: str | None = None
    mlflow_run_id: str | None = None

    @property
    def elapsed_s(self) -> float | None:
        if self.started_at is None:
            return None
        import time

        return (self.ended_at or time.time()) - self.started_at


@dataclass(frozen=True)
class EventRecord:
    id: int
    execution_id: str
    step_name: str | None
    status: str
    at: float
    detail: str | None = None
