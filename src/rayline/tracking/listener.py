"""Tracking's reaction to the engine's events (subscribed in ``rayline.engine.listeners``)."""

from __future__ import annotations

from typing import Any

from rayline.config import settings
from rayline.engine.records import EventRecord
from rayline.tracking.runs import finish_execution_run


def close_execution_run(event: EventRecord, repository: Any) -> None:
    """End the execution's MLflow run with the execution's final status (no run: nothing to do,
    and MLflow is not imported)."""
    finish_execution_run(
        event.execution_id,
        event.status,
        db_url=repository.db.url,
        uri=settings().mlflow_tracking_uri,
    )
