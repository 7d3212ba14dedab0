"""MLflow runs for rayline executions, steps and tuning trials.

Layout in the tracking store: one experiment per pipeline (named after it); one run per
execution (tag ``rayline.execution_id``); a nested run per step of every kind
(``mlflow.parentRunId`` = the execution's run; tag ``rayline.step``); a nested run per tuning
trial under its step's run, logged as the trial ends.

Step runs come from the engine's events (``rayline.tracking.listener``, subscribed in
``rayline.engine.listeners``): tracking's worker process (``rayline.tracking.background``)
writes them (``rayline.tracking.steps``) right behind the steps, so the scheduler never waits
for MLflow. The execution's run is created by the first step's run and its id stored on
``executions.mlflow_run_id`` with a compare-and-set; each step's run id goes on
``step_runs.mlflow_run_id``; both through the engine's ``PipelineRepository``, which owns those
tables. The ML runners log into their step's run (:func:`step_tracker`); outside a pipeline,
:func:`track_step` makes a run of its own. When the execution ends, its run is ended after its
steps' (:func:`finish_execution_run`, queued behind them); :func:`wait_until_tracked` waits for
that.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rayline.config import settings
from rayline.engine.records import ExecutionStatus
from rayline.errors import BackendError, NotFoundError

_clients: dict[str, Any] = {}
# Experiment ids by (tracking URI, name): every step run looks its pipeline's up.
_experiments: dict[tuple[str, str], str] = {}
_lock = threading.Lock()

# MLflow's own terminal statuses, from rayline's execution statuses.
_STATUS = {
    ExecutionStatus.SUCCEEDED: "FINISHED",
    ExecutionStatus.FAILED: "FAILED",
    ExecutionStatus.STOPPED: "KILLED",
    ExecutionStatus.STOPPING: "KILLED",
}
_MAX_PARAM = 6000  # MLflow's parameter value limit


def tracking_uri() -> str:
    """The MLflow tracking URI in effect (``MLFLOW_TRACKING_URI`` or the SQLite default)."""
    return settings().mlflow_tracking_uri


def client(uri: str | None = None) -> Any:
    """An ``MlflowClient`` for ``uri`` (default: :func:`tracking_uri`), one per URI per process."""
    uri = uri or tracking_uri()
    with _lock:
        found = _clients.get(uri)
        if found is not None:
            return found
        from mlflow.tracking import MlflowClient

        sqlite = Path(uri.removeprefix("sqlite:///")) if uri.startswith("sqlite:///") else None
        try:
            with _sqlite_setup(sqlite):
                made = MlflowClient(tracking_uri=uri)
        except Exception as exc:
            raise BackendError(f"cannot open the MLflow tracking store {uri}: {exc}") from exc
        _clients[uri] = made
        return made


@contextmanager
def _sqlite_setup(path: Path | None) -> Iterator[None]:
    """For an SQLite tracking store: one process at a time opens it (opening a new store runs
    MLflow's migrations, and two processes migrating one file at once break it: a step's Ray
    worker and tracking's worker both open it), and the file is put in WAL mode, a setting it
    keeps: each MLflow store call commits, and WAL halves what a commit costs (measured: a
    step run's three calls took 54 ms, 26 ms in WAL); it also lets the MLflow UI read while a
    driver writes."""
    if path is None:
        yield
        return
    import fcntl
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                conn.execute("PRAGMA journal_mode=WAL")
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def prewarm(uri: str | None = None) -> threading.Thread:
    """Import MLflow and open the store in a background thread (it takes seconds); steps start
    this first and join it when they have something to log."""
    thread = threading.Thread(target=client, args=(uri,), daemon=True, name="mlflow-prewarm")
    thread.start()
    return thread


def experiment_id(name: str, *, uri: str | None = None, artifact_root: str | None = None) -> str:
    """The id of experiment ``name``, created when missing (its artifacts under
    ``artifact_root``, default :func:`artifact_location`'s)."""
    key = (uri or tracking_uri(), name)
    found = _experiments.get(key)
    if found is not None:
        return found
    c = client(uri)
    exp = c.get_experiment_by_name(name)
    if exp is None:
        location = artifact_location(name, root=artifact_root)
        # Another step may create it between our read and our write: read it back either way.
        with contextlib.suppress(Exception):
            c.create_experiment(name, artifact_location=location)
        exp = c.get_experiment_by_name(name)
        if exp is None:
            raise BackendError(f"cannot create the MLflow experiment {name!r} in {key[0]}")
    if exp.lifecycle_stage != "active":
        return exp.experiment_id  # deleted: MLflow says so on use; not remembered
    _experiments[key] = exp.experiment_id
    return exp.experiment_id


def artifacts_root(*, artifact_uri: str | None = None, home: str | Path | None = None) -> str:
    """Where MLflow artifacts go: ``<artifact root>/mlflow-artifacts`` when the artifact store
    is ``s3://`` (MLflow's own S3 repository writes them), else ``$RAYLINE_HOME/mlflow-artifacts``
    as before. A step passes its driver's ``artifact_uri`` and ``home``: a Ray worker's own
    environment may predate them."""
    s = settings()
    artifact_uri = artifact_uri or s.artifact_uri
    if artifact_uri.startswith("s3://"):
        return f"{artifact_uri.rstrip('/')}/mlflow-artifacts"
    return (Path(home or s.home) / "mlflow-artifacts").as_uri()


def artifact_location(experiment: str, *, root: str | None = None) -> str:
    """The artifact location of experiment ``experiment`` under ``root`` (default:
    :func:`artifacts_root`)."""
    return f"{(root or artifacts_root()).rstrip('/')}/{experiment}"


@contextmanager
def _artifact_access(uri: str) -> Iterator[None]:
    """MLflow's S3 settings for the duration of an artifact call on ``uri`` (nothing for
    local artifact locations)."""
    if not uri.startswith("s3://"):
        yield
        return
    from rayline.engine.environment import process_state
    from rayline.store.s3 import S3Connection

    # MLflow's S3 repository (boto3) reads its endpoint, credentials and addressing style from
    # the environment, which in a Ray worker may predate rayline's settings.
    with process_state(env=S3Connection.from_environment().environment()):
        yield


def _params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(str(k), str(v)[:_MAX_PARAM]) for k, v in values.items() if v is not None]


def _metrics(values: Mapping[str, Any], *, step: int = 0) -> list[Any]:
    from mlflow.entities import Metric

    now = int(time.time() * 1000)
    out = []
    for k, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int | float):
            continue
        out.append(Metric(str(k).replace(":", "-"), float(v), now, step))
    return out


def ensure_execution_run(
    *,
    pipeline_name: str,
    execution_id: str,
    parameters: Mapping[str, Any] | None = None,
    db_url: str | None = None,
    uri: str | None = None,
    artifact_root: str | None = None,
) -> str:
    """The MLflow run of execution ``execution_id``: the one on its record, or a new one.

    A new run is stored on ``executions.mlflow_run_id`` only if none is there yet; when a
    parallel step won that race, our run is deleted and the winner's id returned.
    """
    repo = _repository(db_url)
    row = repo.find_execution(execution_id)
    if row is not None and row.mlflow_run_id:
        return row.mlflow_run_id
    c = client(uri)
    run = c.create_run(
        experiment_id(pipeline_name, uri=uri, artifact_root=artifact_root),
        run_name=execution_id,
        tags={"rayline.execution_id": execution_id, "rayline.pipeline": pipeline_name},
        # The run starts when the execution did, not when its first ML step needed it.
        start_time=int(row.created_at * 1000) if row is not None else None,
    )
    run_id = run.info.run_id
    if parameters:
        c.log_batch(run_id, params=_params(parameters))
    if row is None:
        return run_id  # not a recorded execution (library use): nothing to link
    winner = repo.claim_mlflow_run(execution_id, run_id)
    if winner != run_id:
        c.delete_run(run_id)
    return winner


def finish_execution_run(
    execution_id: str,
    status: ExecutionStatus | str,
    *,
    db_url: str | None = None,
    uri: str | None = None,
) -> str | None:
    """End the execution's MLflow run, if it has one, with ``status`` (rayline's execution
    status: Succeeded, Failed, Stopped). Returns the run id, or None when there is none — in
    which case MLflow is not even imported."""
    row = _repository(db_url).find_execution(execution_id)
    run_id = row.mlflow_run_id if row is not None else None
    if not run_id:
        return None
    client(uri).set_terminated(run_id, status=_STATUS.get(ExecutionStatus(status), "FINISHED"))
    return run_id


def reopen_execution_run(execution_id: str, *, db_url: str | None = None) -> str | None:
    """Mark a retried execution's MLflow run running again (unless the execution has ended
    since: the retry's own end is queued in its driver and must win). Returns the run id."""
    row = _repository(db_url).find_execution(execution_id)
    if row is None or not row.mlflow_run_id or row.status.finished:
        return None
    client().update_run(row.mlflow_run_id, status="RUNNING")
    return row.mlflow_run_id


def wait_until_tracked(
    execution_id: str, *, db_url: str | None = None, timeout: float | None = None
) -> Any:
    """Wait until the MLflow runs of an ended execution are complete: its run has ended, or its
    driver, which writes them, is gone; returns the execution's record. ``TimeoutError`` after
    ``timeout`` seconds."""
    from rayline.engine.lease import driver_alive, driver_id
    from rayline.tracking import background

    deadline = None if timeout is None else time.monotonic() + timeout
    background.flush(background.FLUSH_TIMEOUT_S if timeout is None else timeout)
    repo = _repository(db_url)
    while True:
        record = repo.get_execution(execution_id)
        if record.mlflow_run_id:
            if client().get_run(record.mlflow_run_id).info.status != "RUNNING":
                return record
        elif record.driver == driver_id():
            return record  # this process drove it and has flushed: tracking made no run
        if not driver_alive(record.driver, record.heartbeat_at, record.lease_expires_at):
            return record
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(
                f"the MLflow runs of execution {execution_id} were not complete after "
                f"{timeout:g} s; `rayline execution events {execution_id}` shows tracking's "
                "failures"
            )
        time.sleep(0.1)


def record_step_run(execution_id: str, step_name: str, run_id: str, *, db_url: str | None) -> bool:
    """Put ``run_id`` on the step's record; False when the step has no record (library use)."""
    return _repository(db_url).set_step_mlflow_run(execution_id, step_name, run_id)


def _repository(db_url: str | None) -> Any:
    # The engine owns executions and step runs; tracking reads and writes them through it.
    from rayline.engine.repository import PipelineRepository
    from rayline.store.db import open_database

    return PipelineRepository(open_database(db_url))


@dataclass
class StepTracker:
    """Logs one step's parameters, metrics and nested trial runs into its MLflow run."""

    run_id: str
    experiment_id: str
    uri: str
    parent_run_id: str | None = None
    execution_id: str | None = None
    trial_run_ids: list[str] = field(default_factory=list)

    def log_params(self, params: Mapping[str, Any]) -> None:
        if params:
            client(self.uri).log_batch(self.run_id, params=_params(params))

    def log_metrics(self, metrics: Mapping[str, Any], *, step: int = 0) -> None:
        batch = _metrics(metrics, step=step)
        if batch:
            client(self.uri).log_batch(self.run_id, metrics=batch)

    def log_history(self, history: Mapping[str, list[float]]) -> None:
        """Per-round metric curves (``validation-rmse`` at round 0, 1, ...)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(k, float(v), now, i)
            for k, values in history.items()
            for i, v in enumerate(values)
        ]
        for start in range(0, len(batch), 1000):  # MLflow's batch limit
            client(self.uri).log_batch(self.run_id, metrics=batch[start : start + 1000])

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        c = client(self.uri)
        for k, v in tags.items():
            c.set_tag(self.run_id, k, str(v))

    def log_artifacts(self, local: Path, artifact_path: str | None = None) -> None:
        """Copy the local file or directory ``local`` into the run's artifacts (under
        ``artifact_path``), through MLflow's artifact repository for the run's location."""
        c = client(self.uri)
        location = c.get_run(self.run_id).info.artifact_uri
        with _artifact_access(location):
            if Path(local).is_dir():
                c.log_artifacts(self.run_id, str(local), artifact_path)
            else:
                c.log_artifact(self.run_id, str(local), artifact_path)

    def log_trial(
        self,
        name: str,
        *,
        params: Mapping[str, Any],
        metrics: Mapping[str, Any],
        tags: Mapping[str, Any] | None = None,
        status: str = "FINISHED",
        start_time: float | None = None,
        end_time: float | None = None,
    ) -> str:
        """A nested run for one tuning trial, already finished (times in Unix seconds)."""
        c = client(self.uri)
        inherited = {"rayline.execution_id": self.execution_id} if self.execution_id else {}
        run = c.create_run(
            self.experiment_id,
            run_name=name,
            tags={"mlflow.parentRunId": self.run_id, **inherited, **_str_tags(tags)},
            start_time=_ms(start_time),
        )
        c.log_batch(run.info.run_id, metrics=_metrics(metrics), params=_params(params))
        c.set_terminated(run.info.run_id, status=status, end_time=_ms(end_time))
        self.trial_run_ids.append(run.info.run_id)
        return run.info.run_id


def step_tracker(
    execution_id: str | None,
    step_name: str,
    *,
    db_url: str | None,
    uri: str | None = None,
    timeout: float = 60.0,
) -> StepTracker | None:
    """A tracker on the MLflow run tracking's listener opened for this recorded step (the one
    run of the step: a runner logs into it, the listener ends it with the step); None when the
    step has no record (library use: see :func:`track_step`)."""
    from rayline.tracking.steps import wait_for_step_run

    if execution_id is None:
        return None
    run_id = wait_for_step_run(execution_id, step_name, db_url=db_url, timeout=timeout)
    if run_id is None:
        return None
    uri = uri or tracking_uri()
    run = client(uri).get_run(run_id)
    return StepTracker(
        run_id,
        run.info.experiment_id,
        uri,
        parent_run_id=run.data.tags.get("mlflow.parentRunId"),
        execution_id=execution_id,
    )


def _ms(seconds: float | None) -> int | None:
    return int(seconds * 1000) if seconds is not None else None


def _str_tags(tags: Mapping[str, Any] | None) -> dict[str, str]:
    return {k: str(v) for k, v in (tags or {}).items()}


@contextmanager
def track_step(
    *,
    pipeline_name: str | None,
    step_name: str,
    step_type: str,
    execution_id: str | None = None,
    execution_parameters: Mapping[str, Any] | None = None,
    db_url: str | None = None,
    uri: str | None = None,
    start_time: float | None = None,
    end_time: float | None = None,
    status: str = "FINISHED",
    artifact_root: str | None = None,
) -> Iterator[StepTracker]:
    """An MLflow run for one step, nested under its execution's run when there is one.

    The run ends with ``status`` (FINISHED), or FAILED if the block raises. ``start_time`` (Unix
    seconds) backdates the run when it is recorded after the work it tracks. Outside a pipeline
    (``execution_id=None``) it is a top-level run in experiment ``pipeline_name`` (or
    ``rayline``).
    """
    uri = uri or tracking_uri()
    exp_name = pipeline_name or "rayline"
    parent = None
    if execution_id is not None:
        parent = ensure_execution_run(
            pipeline_name=exp_name,
            execution_id=execution_id,
            parameters=execution_parameters,
            db_url=db_url,
            uri=uri,
            artifact_root=artifact_root,
        )
    exp = experiment_id(exp_name, uri=uri, artifact_root=artifact_root)
    tags = {"rayline.step": step_name, "rayline.step_type": step_type}
    if execution_id:
        tags["rayline.execution_id"] = execution_id
    if parent:
        tags["mlflow.parentRunId"] = parent
    run = client(uri).create_run(
        exp,
        run_name=step_name,
        tags=tags,
        start_time=int(start_time * 1000) if start_time is not None else None,
    )
    tracker = StepTracker(
        run.info.run_id, exp, uri, parent_run_id=parent, execution_id=execution_id
    )
    if execution_id is not None:
        record_step_run(execution_id, step_name, tracker.run_id, db_url=db_url)
    try:
        yield tracker
    except BaseException:
        client(uri).set_terminated(tracker.run_id, status="FAILED")
        raise
    client(uri).set_terminated(
        tracker.run_id,
        status=status,
        end_time=int(end_time * 1000) if end_time is not None else None,
    )


@dataclass(frozen=True)
class RunSummary:
    """One MLflow run as ``rayline experiments`` shows it."""

    run_id: str
    experiment: str
    name: str
    status: str
    started_at: float | None
    ended_at: float | None
    parent_run_id: str | None
    execution_id: str | None
    step: str | None
    params: dict[str, str]
    metrics: dict[str, float]
    #: A step's run: its kind, and the execution it reused the result of (a cache hit).
    step_type: str | None = None
    cached_from: str | None = None


def list_runs(
    *,
    experiment: str | None = None,
    execution_id: str | None = None,
    max_results: int = 100,
    uri: str | None = None,
) -> list[RunSummary]:
    """Runs in the tracking store, newest first (one experiment, or all of them)."""
    c = client(uri)
    if experiment is not None:
        exp = c.get_experiment_by_name(experiment)
        if exp is None:
            raise NotFoundError(
                f"no experiment {experiment!r} in {uri or tracking_uri()}; "
                "`rayline experiments list` shows the ones there are"
            )
        exps = [exp]
    else:
        exps = c.search_experiments()
    names = {e.experiment_id: e.name for e in exps}
    if not names:
        return []
    filter_string = f"tags.`rayline.execution_id` = '{execution_id}'" if execution_id else ""
    runs = c.search_runs(
        list(names),
        filter_string=filter_string,
        max_results=max_results,
        order_by=["attributes.start_time DESC"],
    )
    return [
        RunSummary(
            run_id=r.info.run_id,
            experiment=names.get(r.info.experiment_id, r.info.experiment_id),
            name=r.info.run_name or "",
            status=r.info.status,
            started_at=r.info.start_time / 1000 if r.info.start_time else None,
            ended_at=r.info.end_time / 1000 if r.info.end_time else None,
            parent_run_id=r.data.tags.get("mlflow.parentRunId"),
            execution_id=r.data.tags.get("rayline.execution_id"),
            step=r.data.tags.get("rayline.step"),
            params=dict(r.data.params),
            metrics=dict(r.data.metrics),
            step_type=r.data.tags.get("rayline.step_type"),
            cached_from=r.data.tags.get("rayline.cached_from"),
        )
        for r in runs
    ]


def list_experiments(*, uri: str | None = None) -> list[tuple[str, str, int]]:
    """``(experiment id, name, number of runs)`` for every experiment in the store."""
    c = client(uri)
    out = []
    for e in c.search_experiments():
        runs = c.search_runs([e.experiment_id], max_results=1000)
        out.append((e.experiment_id, e.name, len(runs)))
    return out


@dataclass(frozen=True)
class RunDetail:
    """One MLflow run as ``rayline experiments show`` shows it: its parameters, metrics and
    tags (MLflow's source tags left out)."""

    run_id: str
    name: str
    status: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]


def describe_run(run_id: str, *, uri: str | None = None) -> RunDetail:
    """MLflow run ``run_id``; ``NotFoundError`` when the store has none."""
    try:
        run = client(uri).get_run(run_id)
    except Exception as exc:
        raise NotFoundError(f"no MLflow run {run_id!r}: {exc}") from None
    return RunDetail(
        run_id=run.info.run_id,
        name=run.info.run_name or "",
        status=run.info.status,
        params=dict(run.data.params),
        metrics=dict(run.data.metrics),
        tags={k: v for k, v in run.data.tags.items() if not k.startswith("mlflow.source")},
    )
