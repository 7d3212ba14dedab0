"""/api/v1/executions/{id}/runs and /api/v1/experiments: experiment tracking on MLflow.

The experiments (with their run counts), runs (of one experiment or execution, or all) and one
run, each with its parameters and metrics, come from the tracking store through
``rayline.tracking.experiments``, as ``rayline experiments`` reads them; an execution's runs
(its own, one per step, one per tuning trial) also under the execution. ``/experiments/ui``
says where to see the same store in MLflow's UI: the tracking server's address when the store
is one (``MLFLOW_TRACKING_URI=http(s)://...``), else the ``mlflow ui`` command that opens it.
All need the viewer role.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from rayline.auth.actions import Action
from rayline.server.pagination import PageRequest, page_request, paginate
from rayline.server.security import requires

router = APIRouter(tags=["experiments"])

VIEWER = [Depends(requires(Action.READ))]


@router.get("/executions/{execution_id}/runs", dependencies=VIEWER)
def execution_runs(
    execution_id: Annotated[str, Path(min_length=1, max_length=256)],
    page: Annotated[PageRequest, Depends(page_request)],
) -> dict[str, Any]:
    """The execution's MLflow runs, newest first, each with its parameters and metrics, the
    step it tracks (``step``, ``step_type``), its parent run and the execution whose result a
    cache hit reused (``cached_from``). Empty until tracking has written them."""
    from rayline.engine.api import get_execution
    from rayline.tracking import list_runs

    get_execution(execution_id)  # 404 for an unknown execution

    def fetch(offset: int, n: int) -> list[dict[str, Any]]:
        runs = list_runs(execution_id=execution_id, max_results=offset + n)
        return [dataclasses.asdict(r) for r in runs[offset:]]

    return paginate(page, fetch)


@router.get("/experiments", dependencies=VIEWER)
def experiments_list() -> list[dict[str, Any]]:
    """Every experiment (one per pipeline): ``id``, ``name`` and its number of ``runs``."""
    from rayline.tracking.experiments import list_experiments as experiments

    return [{"id": i, "name": name, "runs": n} for i, name, n in experiments()]


@router.get("/experiments/runs", dependencies=VIEWER)
def search_runs(
    page: Annotated[PageRequest, Depends(page_request)],
    experiment: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
    execution_id: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
) -> dict[str, Any]:
    """Runs, newest first, with their parameters and metrics (of one ``experiment``, of one
    execution, or all); 404 for an unknown experiment."""
    from rayline.tracking.experiments import list_runs as runs_of

    def fetch(offset: int, n: int) -> list[dict[str, Any]]:
        runs = runs_of(experiment=experiment, execution_id=execution_id, max_results=offset + n)
        return [dataclasses.asdict(r) for r in runs[offset:]]

    return paginate(page, fetch)


@router.get("/experiments/runs/{run_id}", dependencies=VIEWER)
def describe_run(run_id: Annotated[str, Path(min_length=1, max_length=256)]) -> dict[str, Any]:
    """One run: its name, status, parameters, metrics and tags."""
    from rayline.tracking.experiments import describe_run as describe

    return dataclasses.asdict(describe(run_id))


@router.get("/experiments/ui", dependencies=VIEWER)
def experiments_ui() -> dict[str, Any]:
    """``tracking_uri``, and ``url`` (a tracking server's address: its UI is there) or
    ``ui_command`` (run it where the store is reachable, then open http://127.0.0.1:5000)."""
    from rayline.tracking.runs import artifacts_root, tracking_uri

    uri = tracking_uri()
    if uri.startswith(("http://", "https://")):
        return {"tracking_uri": uri, "url": uri, "ui_command": None}
    command = (
        f"mlflow ui --backend-store-uri {shlex.quote(uri)} "
        f"--default-artifact-root {shlex.quote(artifacts_root())}"
    )
    return {"tracking_uri": uri, "url": None, "ui_command": command}
