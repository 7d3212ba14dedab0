"""Statuses and the records the engine keeps in the metadata DB (read back by the API and CLI)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# The statuses after which nothing changes, for executions and step runs alike.
_FINAL = frozenset({"Stopped", "Failed", "Succeeded"})


class _FinalStatus:
    @property
    def finished(self) -> bool:
        """Whether the status is final: Stopped, Failed or Succeeded."""
        return self in _FINAL


class ExecutionStatus(_FinalStatus, StrEnum):
    """Status of an execution: Executing → (Stopping →) Stopped | Failed | Succeeded."""

    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class StepStatus(_FinalStatus, StrEnum):
    """Status of a step run: Starting → Executing → (Stopping →) Stopped | Failed | Succeeded."""

    STARTING = "Starting"
    EXECUTING = "Executing"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    SUCCEEDED = "Succeeded"


class EventKind(StrEnum):
    """What an entry of an execution's event log records (its ``kind``).

    A status change carries the new ``ExecutionStatus`` / ``StepStatus`` in the event's
    ``status``; the other kinds have no status. The final status change of an execution is
    ``EXECUTION_ENDED`` (written in the same transaction as the status), which is what event
    listeners (``rayline.engine.listeners``) react to when an execution ends.
    """

    EXECUTION_STATUS = "ExecutionStatusChanged"
    EXECUTION_ENDED = "ExecutionEnded"
    STEP_STATUS = "StepStatusChanged"
    ATTEMPT_FAILED = "AttemptFailed"
    LISTENER_FAILED = "ListenerFailed"


@dataclass(frozen=True)
class PipelineRecord:
    """A pipeline: its name, description and newest version number (times: epoch seconds)."""

    name: str
    description: str
    latest_version: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class ExecutionRecord:
    """One execution of a pipeline version: its status, the parameters it ran with, when it
    started and ended (epoch seconds), why it failed, who started it, the driver process that
    owns it (its last heartbeat, its lease and fencing token), and the MLflow run of its ML
    steps (if any ran)."""

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
    # The driver's lease (epoch seconds) and the fencing token of its claim.
    lease_expires_at: float | None = None
    fencing_token: int = 0
    # Who started it (the authenticated identity on a server, else the user).
    started_by: str | None = None
    mlflow_run_id: str | None = None
    # A selective execution's steps and source (SelectiveExecutionConfig.to_request), or None.
    selective: dict[str, Any] | None = None

    @property
    def elapsed_s(self) -> float | None:
        """Seconds from start to end (or to now, while it runs)."""
        return _elapsed(self.created_at, self.ended_at)


@dataclass(frozen=True)
class StepRunRecord:
    """The run of one step in one execution: status, attempts, times, failure (reason and the
    user's traceback), logs, output URIs, properties, cache key (and the execution whose run it
    reused), the branch it took (a step with branches), its MLflow run, the manifests of
    its committed outputs and the Ray node it ran on."""

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
    branch: str | None = None
    #: output name -> the committed manifest (``Manifest.to_dict()``: URI, tree hash, files),
    #: recorded with the Succeeded status; cache keys use its hash.
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: the Ray node that ran the step (its id, as ``ray.nodes()`` names it): its task's node, or
    #: the driver's for a step the scheduler runs itself (a condition); None for a cache hit
    #: or a run not yet started.
    node: str | None = None

    @property
    def elapsed_s(self) -> float | None:
        """Seconds the step ran (so far, while it runs); None before it started."""
        return _elapsed(self.started_at, self.ended_at)


@dataclass(frozen=True)
class EventRecord:
    """One entry of an execution's event log: what happened (``kind``), to which step (None:
    the execution), the new status for a status change, when, and a detail line."""

    id: int
    execution_id: str
    step_name: str | None
    kind: EventKind
    status: str | None
    at: float
    detail: str | None = None


@dataclass(frozen=True)
class CacheEntry:
    """A step's result the next execution may reuse instead of running the step: the run that
    computed it (its execution, when it ended), the cache key it matches, when it expires (None:
    never) and how many later runs reused it."""

    step_name: str
    cache_key: str
    execution_id: str
    computed_at: float
    expires_at: float | None
    hits: int


def _elapsed(started: float | None, ended: float | None) -> float | None:
    return None if started is None else (ended or time.time()) - started
