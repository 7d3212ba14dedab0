"""The experiments as the Python API and ``rayline experiments`` read them: MLflow runs,
experiments, one run, and where the store is. One backend per call (``experiments_backend``):
the tracking store itself (``rayline.tracking.runs``) or, with ``RAYLINE_SERVER_URL`` set, the
server's (``rayline.tracking.remote``), whose store a client does not open."""

from __future__ import annotations

from typing import Protocol

from rayline.tracking import runs
from rayline.tracking.runs import RunDetail, RunSummary


class ExperimentsBackend(Protocol):
    """What the experiments' front ends need of a tracking store."""

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        execution_id: str | None = None,
        max_results: int = 100,
    ) -> list[RunSummary]: ...

    def list_experiments(self) -> list[tuple[str, str, int]]: ...

    def describe_run(self, run_id: str) -> RunDetail: ...

    def tracking_uri(self) -> str: ...


class EmbeddedExperiments:
    """The tracking store at ``MLFLOW_TRACKING_URI`` (default: SQLite in ``RAYLINE_HOME``)."""

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        execution_id: str | None = None,
        max_results: int = 100,
    ) -> list[RunSummary]:
        return runs.list_runs(
            experiment=experiment, execution_id=execution_id, max_results=max_results
        )

    def list_experiments(self) -> list[tuple[str, str, int]]:
        return runs.list_experiments()

    def describe_run(self, run_id: str) -> RunDetail:
        return runs.describe_run(run_id)

    def tracking_uri(self) -> str:
        return runs.tracking_uri()


def experiments_backend() -> ExperimentsBackend:
    """The server's tracking store (``RAYLINE_SERVER_URL`` set), else this machine's."""
    from rayline.remote.client import server_client  # httpx only when it is asked for

    client = server_client()
    if client is not None:
        from rayline.tracking.remote import RemoteExperiments

        return RemoteExperiments(client)
    return EmbeddedExperiments()


def list_runs(
    *, experiment: str | None = None, execution_id: str | None = None, max_results: int = 100
) -> list[RunSummary]:
    """Runs, newest first (one experiment's, one execution's, or all)."""
    return experiments_backend().list_runs(
        experiment=experiment, execution_id=execution_id, max_results=max_results
    )


def list_experiments() -> list[tuple[str, str, int]]:
    """``(experiment id, name, number of runs)`` for every experiment."""
    return experiments_backend().list_experiments()


def describe_run(run_id: str) -> RunDetail:
    """One run with its parameters, metrics and tags; ``NotFoundError`` for an unknown id."""
    return experiments_backend().describe_run(run_id)


def tracking_uri() -> str:
    """The tracking store's URI (through a server: the server's)."""
    return experiments_backend().tracking_uri()
