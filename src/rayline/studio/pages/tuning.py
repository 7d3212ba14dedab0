"""A tuning step's trials, and any step's evaluation metrics.

``/executions/{id}/steps/{name}/tuning``: the trials of a ``TuningStep`` as a table (best
first) and as charts drawn on the server (``rayline.studio.charts``): the objective per trial
in trial order, and the objective against each hyperparameter. The trials are the ones the
step's runner recorded: its ``results`` output's ``results.parquet`` (every trial, ranked), read
through the artifact store so that it works on S3 too; a run whose output cannot be read falls
back to its ``Trials`` property (the first 100).

``/executions/{id}/steps/{name}/metrics``: the step's property files (an ``evaluation.json``:
SageMaker's model-quality report, ``{"regression_metrics": {"rmse": {"value": ...}}}``) as
tables, and the metrics MLflow tracked for the execution's runs (``rayline.tracking``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from rayline.errors import NotFoundError, RaylineError
from rayline.studio import charts
from rayline.studio.pages.executions import TUNING_KIND, StepView, step_view
from rayline.studio.web import PREFIX, Ctx, page, render, studio_page

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PageCtx = Annotated[Ctx, Depends(page)]

log = logging.getLogger("rayline.studio")


@dataclass(frozen=True)
class Trial:
    """One row of the trials table."""

    name: str
    status: str
    hyperparameters: dict[str, Any]
    objective: float | None
    rounds: int | None
    seconds: float | None
    rank: int | None
    error: str | None = None

    @property
    def best(self) -> bool:
        return self.rank == 0


@dataclass(frozen=True)
class Trials:
    """A tuning step's trials and where they came from."""

    rows: tuple[Trial, ...]  # best first
    hyperparameters: tuple[str, ...]
    objective_metric: str
    objective_type: str
    source: str  # the file (or property) they were read from
    partial: bool = False  # only the first trials (the ``Trials`` property)
    charts: tuple[charts.Chart, ...] = field(default_factory=tuple)


@router.get("/executions/{execution_id}/steps/{step_name}/tuning")
@studio_page
def tuning(execution_id: str, step_name: str, ctx: PageCtx) -> Response:
    view = step_view(execution_id, step_name)
    if view.step.kind != TUNING_KIND:
        raise NotFoundError(
            f"step {step_name!r} is a {view.step.kind} step, not a tuning step: it has no "
            f"trials (its metrics: {PREFIX}/executions/{execution_id}/steps/{step_name}/metrics)"
        )
    trials = read_trials(view) if view.run is not None else None
    return render(
        ctx, "tuning.html", view=view, trials=trials, step_name=step_name, fmt=charts.display
    )


def read_trials(view: StepView) -> Trials | None:
    """The trials the step recorded (None: none yet), with their charts."""
    rows, source, partial = _trial_rows(view.run)
    if rows is None:
        return None
    names = _hyperparameter_names(view, rows)
    trials = sorted(
        (_trial(row, names) for row in rows),
        key=lambda t: (t.rank is None, t.rank if t.rank is not None else 0, t.name),
    )
    metric, direction = _objective(view)
    out = Trials(tuple(trials), names, metric, direction, source, partial)
    return Trials(**{**out.__dict__, "charts": trial_charts(out)})


def trial_charts(trials: Trials) -> tuple[charts.Chart, ...]:
    """The objective per trial in trial order (the best marked), then the objective against
    each hyperparameter."""
    ordered = sorted(trials.rows, key=lambda t: t.name)
    labels = [t.name for t in ordered]
    best = next((i for i, t in enumerate(ordered) if t.best), None)
    objectives = [t.objective for t in ordered]
    metric = trials.objective_metric
    out = [
        charts.series(
            objectives,
            labels,
            best=best,
            title=f"{metric} per trial",
            x_label="trial",
            y_label=metric,
        )
    ]
    for name in trials.hyperparameters:
        out.append(
            charts.scatter(
                [t.hyperparameters.get(name) for t in ordered],
                objectives,
                labels,
                best=best,
                title=f"{metric} against {name}",
                x_label=name,
                y_label=metric,
            )
        )
    return tuple(out)


def _trial_rows(run: Any) -> tuple[list[dict[str, Any]] | None, str, bool]:
    """The trials' rows from the ``results`` output's parquet file, else from the ``Trials``
    property; ``(rows, source, partial)``."""
    from rayline.ml.tuning import RESULTS_PARQUET

    uri = (run.outputs or {}).get("results")
    if uri:
        location = uri.rstrip("/") + "/" + RESULTS_PARQUET
        try:
            return _read_parquet(_read_bytes(location)), location, False
        except RaylineError as exc:
            log.warning("tuning results %s unreadable, using the Trials property: %s", uri, exc)
    # As recorded (a list of JSON rows); the server never unpickles what a step stored.
    rows = (run.properties or {}).get("Trials")
    if not isinstance(rows, list):
        return None, "", False
    total = (run.properties or {}).get("NumTrials")
    partial = isinstance(total, int) and total > len(rows)
    return [r for r in rows if isinstance(r, dict)], "the step's Trials property", partial


def _read_bytes(uri: str) -> bytes:
    """A file a step wrote, wherever it is stored."""
    from rayline.engine.api import read_output_file

    return read_output_file(uri)


def _read_parquet(data: bytes) -> list[dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data)).to_pylist()


def _hyperparameter_names(view: StepView, rows: list[dict[str, Any]]) -> tuple[str, ...]:
    """The tuned hyperparameters: the step's ranges, else the best trial's final values."""
    ranges = getattr(view.step, "hyperparameter_ranges", None)
    if isinstance(ranges, dict) and ranges:
        return tuple(ranges)
    best = (view.run.properties or {}).get("BestTrainingJob") or {}
    final = best.get("FinalHyperParameters") if isinstance(best, dict) else None
    if isinstance(final, dict):
        return tuple(final)
    return ()


def _objective(view: StepView) -> tuple[str, str]:
    """The objective's metric name and direction (as the step declares them, else as its run
    recorded them)."""
    props = view.run.properties or {}
    best = props.get("BestTrainingJob") if isinstance(props.get("BestTrainingJob"), dict) else {}
    metric = getattr(view.step, "objective_metric", None)
    if not isinstance(metric, str):
        metric = str(best.get("ObjectiveMetric") or "objective")
    direction = getattr(view.step, "objective_type", None)
    return metric, direction if isinstance(direction, str) else ""


def _trial(row: dict[str, Any], names: tuple[str, ...]) -> Trial:
    rank = charts.number(row.get("rank"))
    rounds = charts.number(row.get("boost_rounds"))
    return Trial(
        name=str(row.get("trial") or ""),
        status=str(row.get("status") or ""),
        hyperparameters={n: _plain(row.get(n)) for n in names},
        objective=charts.number(row.get("objective")),
        rounds=int(rounds) if rounds is not None else None,
        seconds=charts.number(row.get("training_seconds")),
        rank=int(rank) if rank is not None else None,
        error=str(row["error"]) if row.get("error") else None,
    )


def _plain(value: Any) -> Any:
    number = charts.number(value)
    if number is None:
        return value
    return int(number) if isinstance(value, int) else number


# -- evaluation metrics -----------------------------------------------------------------------


@dataclass(frozen=True)
class ReportFile:
    """One property file of the step: its metrics (``(group, metric, value, standard
    deviation)``), its other numbers (``(json path, value)``) and the document itself."""

    name: str
    uri: str
    metrics: tuple[tuple[str, str, Any, Any], ...] = ()
    numbers: tuple[tuple[str, Any], ...] = ()
    text: str = ""
    problem: str = ""


@dataclass(frozen=True)
class TrackedRun:
    """An MLflow run of the execution (its own or a step's) and its metrics."""

    name: str
    step: str | None
    status: str
    run_id: str
    metrics: tuple[tuple[str, float], ...]
    this_step: bool


@router.get("/executions/{execution_id}/steps/{step_name}/metrics")
@studio_page
def metrics(execution_id: str, step_name: str, ctx: PageCtx) -> Response:
    view = step_view(execution_id, step_name)
    files = tuple(report_file(view, pf) for pf in view.step.declared_property_files())
    runs, trials, tracking_problem = tracked_runs(execution_id, step_name)
    return render(
        ctx,
        "tuning_metrics.html",
        view=view,
        step_name=step_name,
        files=files,
        runs=runs,
        trial_runs=trials,
        tracking_problem=tracking_problem,
        is_tuning=view.step.kind == TUNING_KIND,
        fmt=charts.display,
    )


def report_file(view: StepView, declared: Any) -> ReportFile:
    """A property file as the step wrote it in its output, read through the artifact store."""
    name = declared.name
    if view.run is None:
        return ReportFile(name, "", problem="the step has not started")
    output = (view.run.outputs or {}).get(declared.output_name)
    if not output:
        return ReportFile(
            name, "", problem=f"the step has no output {declared.output_name!r} (yet)"
        )
    uri = output.rstrip("/") + "/" + declared.path.lstrip("/")
    try:
        data = json.loads(_read_bytes(uri))
    except RaylineError as exc:
        return ReportFile(name, uri, problem=str(exc))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return ReportFile(name, uri, problem=f"{uri} is not JSON: {exc}")
    report, other = report_metrics(data)
    return ReportFile(
        name, uri, report, other, text=json.dumps(data, indent=2, sort_keys=True, default=str)
    )


def report_metrics(
    data: Any,
) -> tuple[tuple[tuple[str, str, Any, Any], ...], tuple[tuple[str, Any], ...]]:
    """SageMaker's model-quality groups (``*_metrics``: ``{name: {value, standard_deviation}}``)
    as rows, and every other number in the document by its JSON path."""
    report: list[tuple[str, str, Any, Any]] = []
    other: list[tuple[str, Any]] = []
    if isinstance(data, dict):
        for group, entries in data.items():
            if str(group).endswith("_metrics") and isinstance(entries, dict):
                for metric, entry in entries.items():
                    if isinstance(entry, dict) and "value" in entry:
                        spread = entry.get("standard_deviation")
                        report.append((str(group), str(metric), entry["value"], spread))
                    else:
                        other.extend(_numbers(entry, f"{group}.{metric}"))
            else:
                other.extend(_numbers(entries, str(group)))
    else:
        other.extend(_numbers(data, ""))
    return tuple(report), tuple(other)


def _numbers(value: Any, path: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [n for k, v in value.items() for n in _numbers(v, f"{path}.{k}" if path else k)]
    if isinstance(value, list):
        return [n for i, v in enumerate(value) for n in _numbers(v, f"{path}[{i}]")]
    if charts.number(value) is not None:
        return [(path or "(value)", value)]
    return []


def tracked_runs(execution_id: str, step_name: str) -> tuple[tuple[TrackedRun, ...], int, str]:
    """The execution's MLflow runs (its own and its steps', this step's first) with their
    metrics, how many tuning-trial runs were left out (the tuning page shows trials), and why
    none could be read ("" when they could)."""
    try:
        from rayline.tracking import list_runs

        runs = list_runs(execution_id=execution_id, max_results=1000)
    except Exception as exc:  # the tracking store is optional: say why, show the rest
        log.warning("tracked runs of %s unreadable: %s", execution_id, exc)
        return (), 0, f"the tracking store could not be read: {type(exc).__name__}: {exc}"
    # The execution's own run has no parent; a step's run names its step; a tuning trial's
    # run has neither (its parent is its step's run).
    kept = [r for r in runs if r.step is not None or not r.parent_run_id]
    out = sorted(
        (
            TrackedRun(
                name=r.name,
                step=r.step,
                status=r.status,
                run_id=r.run_id,
                metrics=tuple(sorted(r.metrics.items())),
                this_step=r.step == step_name,
            )
            for r in kept
        ),
        key=lambda r: (not r.this_step, r.step is not None, r.step or "", r.name),
    )
    return tuple(out), len(runs) - len(kept), ""
