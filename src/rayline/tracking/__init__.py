"""Experiment tracking on MLflow: one run per pipeline execution, a nested run for each of its
steps (every kind, kept from the engine's events) and tuning trials, with parameters and
metrics.

The store is ``MLFLOW_TRACKING_URI`` (default: a SQLite file in ``RAYLINE_HOME``), so
``mlflow ui --backend-store-uri sqlite:///$RAYLINE_HOME/mlflow.db`` shows everything. MLflow is
imported by tracking's background worker, the ML steps and the ``rayline experiments`` command,
never on the scheduler's thread.
"""

from rayline.tracking.experiments import list_runs
from rayline.tracking.runs import (
    StepTracker,
    ensure_execution_run,
    finish_execution_run,
    track_step,
)

__all__ = [
    "StepTracker",
    "ensure_execution_run",
    "finish_execution_run",
    "list_runs",
    "track_step",
]
