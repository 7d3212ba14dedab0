"""The DAG drawing and the live progress view of an execution (both read the metadata DB)."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.text import Text
from rich.tree import Tree

from rayline.cli.render import console, duration, print_json, table, when
from rayline.definition.steps.condition import IF_FALSE, IF_TRUE
from rayline.engine.records import ExecutionStatus, StepStatus

STATUS_STYLE = {
    StepStatus.STARTING: "cyan",
    StepStatus.EXECUTING: "bold cyan",
    StepStatus.STOPPING: "yellow",
    StepStatus.STOPPED: "yellow",
    StepStatus.FAILED: "bold red",
    StepStatus.SUCCEEDED: "green",
    # Shown for steps without a run yet (not statuses: nothing is recorded).
    "waiting": "dim",
    "not run": "dim",
}


# How branch steps are prefixed: a condition's branches read as code does; another kind's
# branches show their label (``Step.branches``).
_BRANCH_PREFIX = {IF_TRUE: "if ", IF_FALSE: "else "}


def dag_tree(pipeline: Any, statuses: dict[str, str] | None = None) -> Tree:
    """The steps as a tree: each step under its latest upstream step (others are named)."""
    graph = pipeline.graph
    order = graph.topological_order()
    position = {n: i for i, n in enumerate(order)}
    parent: dict[str, str | None] = {}
    for name in order:
        ups = [u for u in graph.upstream[name] if u in graph.steps]
        parent[name] = max(ups, key=position.__getitem__) if ups else None
    root = Tree(Text(f"{pipeline.name}", style="bold"), guide_style="dim")
    nodes: dict[str, Tree] = {}
    for name in order:
        step = graph.steps[name]
        label = Text()
        owner = graph.owner.get(name)
        if owner:
            label.append(_BRANCH_PREFIX.get(owner[1], f"{owner[1]}: "), style="magenta")
        label.append(name, style="bold")
        label.append(f"  {step.kind}", style="dim")
        others = sorted(
            set(graph.upstream[name]) - {parent[name]} - ({owner[0]} if owner else set())
        )
        if others:
            label.append(f"  ◀ also after {', '.join(others)}", style="dim")
        if statuses is not None:
            status = statuses.get(name, "waiting")
            label.append(f"  {status}", style=STATUS_STYLE.get(status, ""))
        nodes[name] = (nodes[parent[name]] if parent[name] else root).add(label)
    return root


def dag_lines(pipeline: Any) -> list[Tree]:
    return [dag_tree(pipeline)]


def _view(execution: Any, pipeline: Any) -> Group:
    record = execution.describe()
    runs = {r.step_name: r for r in execution.list_steps()}
    rows = []
    for name in pipeline.graph.topological_order():
        run = runs.get(name)
        if run is None:
            status = "not run" if record.status.finished else "waiting"
            rows.append(
                (
                    name,
                    pipeline.graph.steps[name].kind,
                    Text(status, STATUS_STYLE[status]),
                    "",
                    "",
                    "",
                )
            )
            continue
        note = f"cached from {run.cached_from}" if run.cached_from else (run.failure_reason or "")
        rows.append(
            (
                name,
                run.step_type,
                Text(run.status.value, STATUS_STYLE.get(run.status.value, "")),
                run.attempts or "",
                duration(run.elapsed_s),
                note[:80],
            )
        )
    header = Text.assemble(
        ("execution ", "dim"),
        (record.id, "bold"),
        ("  pipeline ", "dim"),
        record.pipeline_name,
        ("  status ", "dim"),
        (record.status.value, STATUS_STYLE.get(record.status.value, "")),
        ("  elapsed ", "dim"),
        duration(record.elapsed_s),
    )
    t = table(None, ["step", "type", "status", "attempts", "elapsed", "note"], [])
    for row in rows:
        t.add_row(*(c if isinstance(c, Text) else str(c) for c in row))
    return Group(header, t)


def follow(execution: Any, *, as_json: bool = False, refresh_s: float = 0.25) -> int:
    """Show the execution until it ends (live table on a terminal, event lines otherwise)."""
    from rayline.pipelines import Pipeline

    record = execution.describe()
    pipeline = Pipeline.load(record.pipeline_name, version=record.pipeline_version)
    out = console()
    if as_json:
        record = execution.wait(raise_on_failure=False)
    elif out.is_terminal:
        with Live(_view(execution, pipeline), console=out, refresh_per_second=8) as live:
            while not _ended(execution.describe()):
                time.sleep(refresh_s)
                live.update(_view(execution, pipeline))
            live.update(_view(execution, pipeline))
        record = execution.describe()
    else:
        last = 0
        while True:
            record = execution.describe()
            for event in execution.events(after_id=last):
                last = event.id
                where = event.step_name or "execution"
                detail = f"  {event.detail}" if event.detail else ""
                what = event.status or event.kind  # events that are no status change: their kind
                out.print(f"{when(event.at)}  {where:<28} {what}{detail}", highlight=False)
            if _ended(record):
                break
            time.sleep(refresh_s)
    if as_json:
        print_json(
            {
                "execution_id": record.id,
                "status": record.status.value,
                "failure_reason": record.failure_reason,
                "steps": [
                    {"name": r.step_name, "status": r.status.value, "cached_from": r.cached_from}
                    for r in execution.list_steps()
                ],
            }
        )
    else:
        style = STATUS_STYLE.get(record.status.value, "")
        out.print(
            Text.assemble(
                f"execution {record.id} ",
                (record.status.value, style),
                f" in {duration(record.elapsed_s)}",
            )
        )
        if record.failure_reason:
            out.print(Text(f"reason: {record.failure_reason}", style="red"))
        if not record.status.finished:
            out.print(
                Text(
                    f"its driver ({record.driver}) is gone; resume it with: "
                    f"rayline execution retry {record.id}",
                    style="yellow",
                )
            )
    return 0 if record.status == ExecutionStatus.SUCCEEDED else 1


def _ended(record: Any) -> bool:
    """Finished, or nobody left to finish it (its driver died: following it would never end)."""
    from rayline.executions import is_orphaned

    return record.status.finished or is_orphaned(record)
