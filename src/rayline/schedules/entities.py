"""A schedule as the API returns it (a frozen record; FastAPI and ``--json`` serialise it)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Schedule:
    """A pipeline started with fixed ``parameters`` at each time its ``cron`` expression names
    (read in ``timezone``), by the server."""

    name: str
    pipeline_name: str
    cron: str
    timezone: str
    parameters: dict[str, Any]
    #: the stored version it starts; None: the latest version at each fire time
    pipeline_version: int | None
    #: a MissedPolicy: ``skip`` or ``catch_up``
    missed: str
    paused: bool
    created_by: str
    created_at: float
    updated_at: float
    #: due times count from here (creation, or the last resume) or ``last_fired_at``
    anchor_at: float
    #: the scheduled time last started (taken)
    last_fired_at: float | None = None
    last_execution_id: str | None = None
    #: why the last start failed; None once a start succeeds
    last_error: str | None = None
    #: missed times that were not started, and why
    last_notice: str | None = None
    revision: int = 0
    #: the next fire times (none while paused); filled by ``describe``/``list``
    next_runs: tuple[float, ...] = field(default=())

    @property
    def after(self) -> float:
        """Due times are those after this."""
        if self.last_fired_at is None:
            return self.anchor_at
        return max(self.anchor_at, self.last_fired_at)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["next_runs"] = list(self.next_runs)
        return out
