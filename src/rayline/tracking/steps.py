"""Every step's MLflow run, kept from the engine's step events (any kind, cache hits included).

These run in tracking's worker process (:func:`step_started`, :func:`step_ended`, queued by
``rayline.tracking.listener``). The run of a kind that logs into it while it runs (training,
tuning, registration: ``StepKind.logs_while_running``) is opened when the step starts; the
others' runs are written in one go when the step ends (a create, a batch, an end: MLflow's
store calls are what tracking costs). Each is nested under the execution's run. When the
step ends its run gets what the step's record holds: status, kind, duration, attempts, whether
it was a cache hit (and of which execution), its resolved arguments as parameters, its numeric
properties and the numbers of its property files (an evaluation report) as metrics, and its
outputs' URIs as tags.

Only this module creates a recorded step's run (in tracking's worker, one job at a time), so
there is never more than one per step: the ML runners log into it
(:func:`wait_for_step_run`) rather than making their own.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

from rayline.engine.records import StepStatus

#: MLflow's terminal run statuses, from a step's final status.
STEP_STATUS = {
    StepStatus.SUCCEEDED: "FINISHED",
    StepStatus.FAILED: "FAILED",
    StepStatus.STOPPED: "KILLED",
}
#: A logged argument's value is cut to this many characters (MLflow allows 6,000; a long
#: argument, say an inline script, would drown the run's parameters).
MAX_ARGUMENT_CHARS = 250
#: At most this many arguments become parameters, and properties metrics, per step run.
MAX_PARAMS = 100
MAX_METRICS = 200

_KEY_CHARS = re.compile(r"[^0-9A-Za-z_\-. /]")
_definitions: dict[tuple[str, int], Any] = {}


def step_started(*, execution_id: str, step_name: str, db_url: str) -> None:
    """A step started: open its run now if its kind logs into it while it runs."""
    from rayline.step_kinds import STEP_KINDS
    from rayline.tracking.runs import _repository, tracking_uri

    repo = _repository(db_url)
    kind = STEP_KINDS.get(repo.get_step_run(execution_id, step_name).step_type)
    if kind is not None and kind.logs_while_running:
        open_step_run(repo, execution_id, step_name, uri=tracking_uri())
    else:  # the execution's run exists from its first step on
        _execution_run(repo, execution_id, uri=tracking_uri())


def step_ended(*, execution_id: str, step_name: str, db_url: str) -> str:
    """A step ended: record it on its run (opened here when it was not) and end the run."""
    from rayline.tracking.runs import _repository, tracking_uri

    return close_step_run(_repository(db_url), execution_id, step_name, uri=tracking_uri())


def open_step_run(repo: Any, execution_id: str, step_name: str, *, uri: str) -> str:
    """The MLflow run of the step's record, created (nested under the execution's run) when it
    has none; a retried or resumed step's run is marked running again."""
    from rayline.tracking.runs import artifacts_root, client, experiment_id

    record = repo.get_step_run(execution_id, step_name)
    c = client(uri)
    if record.mlflow_run_id:
        c.update_run(record.mlflow_run_id, status="RUNNING")
        c.set_tag(record.mlflow_run_id, "rayline.attempt", str(record.attempts))
        return record.mlflow_run_id
    execution = repo.get_execution(execution_id)
    root = artifacts_root()
    parent = _execution_run(repo, execution_id, uri=uri)
    run = c.create_run(
        experiment_id(execution.pipeline_name, uri=uri, artifact_root=root),
        run_name=step_name,
        tags={
            "mlflow.parentRunId": parent,
            "rayline.execution_id": execution_id,
            "rayline.pipeline": execution.pipeline_name,
            "rayline.step": step_name,
            "rayline.step_type": record.step_type,
            "rayline.attempt": str(record.attempts),
        },
        start_time=int((record.started_at or time.time()) * 1000),
    )
    repo.set_step_mlflow_run(execution_id, step_name, run.info.run_id)
    return run.info.run_id


def _execution_run(repo: Any, execution_id: str, *, uri: str) -> str:
    from rayline.tracking.runs import artifacts_root, ensure_execution_run

    execution = repo.get_execution(execution_id)
    if execution.mlflow_run_id:
        return execution.mlflow_run_id
    return ensure_execution_run(
        pipeline_name=execution.pipeline_name,
        execution_id=execution_id,
        parameters=execution.parameters,
        db_url=repo.db.url,
        uri=uri,
        artifact_root=artifacts_root(),
    )


def close_step_run(repo: Any, execution_id: str, step_name: str, *, uri: str) -> str:
    """Record the finished step on its run (opened here when it was not: a cache hit) and end
    the run with the step's status; returns the run id."""
    from rayline.tracking.runs import _metrics, _params, client

    record = repo.get_step_run(execution_id, step_name)
    run_id = record.mlflow_run_id
    if not run_id:  # written now: a kind not tracked while it runs, or a cache hit
        run_id = open_step_run(repo, execution_id, step_name, uri=uri)
    c = client(uri)
    tags = {
        "rayline.status": record.status.value,
        "rayline.attempt": str(record.attempts),
        "rayline.cache_hit": str(record.cached_from is not None).lower(),
        **({"rayline.cached_from": record.cached_from} if record.cached_from else {}),
        **({"rayline.branch": record.branch} if record.branch else {}),
        **(
            {"rayline.failure_reason": record.failure_reason[:5000]}
            if record.failure_reason
            else {}
        ),
        **{f"rayline.output.{_key(n)}": u for n, u in sorted(record.outputs.items())},
    }
    metrics = {"rayline.attempts": record.attempts}
    if record.elapsed_s is not None:
        metrics["rayline.duration_s"] = round(record.elapsed_s, 4)
    metrics.update(dict(_numbers(record.properties)))
    metrics.update(_property_file_numbers(repo, record))
    from mlflow.entities import RunTag

    batch = {
        "metrics": _metrics(dict(list(metrics.items())[:MAX_METRICS])),
        "tags": [RunTag(k, str(v)) for k, v in tags.items()],
    }
    params = _params(resolved_arguments(repo, record))
    try:
        c.log_batch(run_id, params=params, **batch)
    except Exception:
        # MLflow refuses to change a parameter: a resumed step whose arguments resolved
        # differently keeps the ones it first ran with.
        c.log_batch(run_id, **batch)
    _name_the_version(c, record)
    c.set_terminated(
        run_id,
        status=STEP_STATUS.get(record.status, "FINISHED"),
        end_time=int(record.ended_at * 1000) if record.ended_at else None,
    )
    return run_id


def _name_the_version(c: Any, record: Any) -> None:
    """A step that registered a model version (its properties name the version and the MLflow
    run of the model, as ``ModelStep`` does) tags that run with the version it became."""
    props = record.properties
    produced, arn = props.get("MlflowRunId"), props.get("ModelPackageArn")
    if record.status != StepStatus.SUCCEEDED or not isinstance(produced, str) or not arn:
        return
    if produced == record.mlflow_run_id:
        return
    ref = f"{props.get('ModelPackageGroupName')}/{props.get('ModelPackageVersion')}"
    c.set_tag(produced, f"rayline.model_package.{_key(ref)}", str(arn))


def wait_for_step_run(
    execution_id: str, step_name: str, *, db_url: str | None, timeout: float = 60.0
) -> str | None:
    """The MLflow run id of a recorded step, once tracking's listener has opened it (it does so
    right after the step's ``Starting`` is recorded, off the scheduler's thread); None when the
    step has no record (library use). ``BackendError`` when no run appeared in ``timeout``
    seconds (the listener could not reach the tracking store: its ``ListenerFailed`` events
    say why)."""
    from rayline.errors import BackendError, NotFoundError
    from rayline.tracking.runs import _repository

    repo = _repository(db_url)
    deadline = time.monotonic() + timeout
    delay = 0.05
    while True:
        try:
            run_id = repo.get_step_run(execution_id, step_name).mlflow_run_id
        except NotFoundError:  # not a step of a recorded execution
            return None
        if run_id:
            return run_id
        if time.monotonic() >= deadline:
            raise BackendError(
                f"step {step_name!r} of execution {execution_id} got no MLflow run in "
                f"{timeout:g} s; `rayline execution events {execution_id}` shows the "
                "tracking listener's failures"
            )
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def resolved_arguments(repo: Any, record: Any) -> dict[str, str]:
    """The step's arguments as it ran (parameters and upstream properties resolved), flattened
    to ``Arguments.path.to.field`` and cut to :data:`MAX_ARGUMENT_CHARS`; empty when the step
    cannot be resolved (a step that failed on exactly that)."""
    from rayline.config import settings
    from rayline.definition.expressions import resolve
    from rayline.engine.resolution import ExecutionResolver
    from rayline.store.artifacts import open_artifact_store

    try:
        execution = repo.get_execution(record.execution_id)
        pipeline = _definition(repo, execution.pipeline_name, execution.pipeline_version)
        done = {
            r.step_name: r
            for r in repo.list_step_runs(record.execution_id)
            if r.status == StepStatus.SUCCEEDED
        }
        resolver = ExecutionResolver(
            pipeline,
            execution.id,
            execution.created_at,
            execution.parameters,
            done,
            open_artifact_store(settings().artifact_uri),
        )
        arguments = resolve(pipeline.step(record.step_name), resolver).to_arguments()
    except Exception:
        return {}
    out: dict[str, str] = {}
    for path, value in _leaves(arguments, "arg"):
        text = str(value)
        if len(text) > MAX_ARGUMENT_CHARS:
            text = text[: MAX_ARGUMENT_CHARS - 3] + "..."
        out[path] = text
        if len(out) >= MAX_PARAMS:
            break
    return out


def _definition(repo: Any, name: str, version: int) -> Any:
    from rayline.definition.pipeline import PipelineDefinition

    key = (name, version)
    if key not in _definitions:
        _, definition = repo.get_definition(name, version)
        _definitions[key] = PipelineDefinition.from_definition(definition)
    return _definitions[key]


def _property_file_numbers(repo: Any, record: Any) -> dict[str, float]:
    """The numbers in the step's property files (``evaluation.json``: the test split's
    metrics), as ``<file>.<json path>``."""
    if record.status != StepStatus.SUCCEEDED:
        return {}
    from rayline.config import settings
    from rayline.engine.resolution import ExecutionResolver
    from rayline.store.artifacts import open_artifact_store

    try:
        execution = repo.get_execution(record.execution_id)
        pipeline = _definition(repo, execution.pipeline_name, execution.pipeline_version)
        files = pipeline.step(record.step_name).declared_property_files()
    except Exception:
        return {}
    if not files:
        return {}
    resolver = ExecutionResolver(
        pipeline,
        execution.id,
        execution.created_at,
        execution.parameters,
        {record.step_name: record},
        open_artifact_store(settings().artifact_uri),
    )
    out: dict[str, float] = {}
    for pf in files:
        try:
            data = resolver.property_file(record.step_name, pf.name)
        except Exception:  # not written: the step's own check reports that
            continue
        out.update(_numbers(data, _key(pf.name)))
        out.update(_report_metrics(data))
    return out


def _report_metrics(data: Any) -> dict[str, float]:
    """An evaluation report in SageMaker's model-quality shape (``{"regression_metrics":
    {"rmse": {"value": ...}}}``, as ``rayline.ml.evaluation`` writes it) as ``test-rmse``, ...:
    the test split's metrics under the names MLflow users compare runs by."""
    out: dict[str, float] = {}
    if not isinstance(data, Mapping):
        return out
    for group, metrics in data.items():
        if not str(group).endswith("_metrics") or not isinstance(metrics, Mapping):
            continue
        for name, entry in metrics.items():
            value = entry.get("value") if isinstance(entry, Mapping) else None
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[f"test-{_key(name)}"] = float(value)
    return out


def _numbers(value: Any, prefix: str = "") -> Iterator[tuple[str, float]]:
    """The numeric leaves of a JSON-like value (lists are left out: trials tables and the
    like belong in artifacts, not in hundreds of metrics)."""
    for path, leaf in _leaves(value, prefix, lists=False):
        if isinstance(leaf, int | float) and not isinstance(leaf, bool):
            yield path, float(leaf)


def _leaves(value: Any, prefix: str, *, lists: bool = True) -> Iterator[tuple[str, Any]]:
    if isinstance(value, Mapping):
        for k, v in value.items():
            yield from _leaves(v, f"{prefix}.{_key(k)}" if prefix else _key(k), lists=lists)
    elif isinstance(value, list | tuple):
        if lists:
            for i, v in enumerate(value):
                yield from _leaves(v, f"{prefix}.{i}", lists=lists)
    elif value is not None and prefix:
        yield prefix, value


def _key(name: Any) -> str:
    # MLflow keys allow letters, digits, _ - . space and /.
    return _KEY_CHARS.sub("_", str(name))
