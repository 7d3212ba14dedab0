"""``rayline experiments``: MLflow runs of executions, steps and tuning trials, in the terminal.

``rayline experiments`` (or ``experiments runs``) lists runs, newest first, with their key
metrics (a step's cache hit says whose result it reused); ``--execution ID`` shows one
execution's runs as a tree (execution → every step → tuning trials);
``experiments list`` lists the experiments (one per pipeline). The same store opens in
``mlflow ui --backend-store-uri <tracking uri>`` (``experiments uri`` prints it).
"""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import add_arguments, add_group, arg, command
from rayline.cli.render import console, duration, print_json, table, when

_METRIC_COLUMNS = 3

# `experiments runs` and `experiments` alone take these.
_RUN_OPTIONS = (
    arg("--experiment", "--pipeline", dest="experiment", help="one experiment"),
    arg("--execution", help="one execution's runs, as a tree"),
    arg("--limit", type=int, default=50),
)


def register(sub: Any) -> None:
    cmds = add_group(sub, "experiments", "List MLflow runs of executions, steps and trials.")
    command(
        cmds,
        "runs",
        cmd_runs,
        "List runs with their metrics, newest first.",
        *_RUN_OPTIONS,
        json=True,
    )
    command(
        cmds,
        "list",
        cmd_list,
        "List experiments (one per pipeline) and their run counts.",
        json=True,
    )
    command(
        cmds, "show", cmd_show, "Show one run's parameters and metrics.", arg("run_id"), json=True
    )
    command(cmds, "uri", cmd_uri, "Print the tracking URI (for `mlflow ui --backend-store-uri`).")

    # `rayline experiments` alone lists runs.
    group = sub.choices["experiments"]
    add_arguments(group, _RUN_OPTIONS, json=True)
    group.set_defaults(handler=cmd_runs)


def _summary_json(r: Any) -> dict[str, Any]:
    return dict(vars(r))


def _key_metrics(metrics: dict[str, float]) -> str:
    # Validation metrics first: they are what tuning and gates look at; rayline's own
    # bookkeeping (duration, attempts) last.
    keys = sorted(
        metrics,
        key=lambda k: (k.startswith("rayline."), not k.startswith(("validation", "best")), k),
    )
    shown = [f"{k}={metrics[k]:.5g}" for k in keys[:_METRIC_COLUMNS]]
    more = len(keys) - len(shown)
    return ", ".join(shown) + (f" (+{more})" if more > 0 else "")


def cmd_runs(args: Any) -> int:
    from rayline.tracking.experiments import list_runs

    runs = list_runs(
        experiment=getattr(args, "experiment", None),
        execution_id=getattr(args, "execution", None),
        max_results=getattr(args, "limit", 50),
    )
    if getattr(args, "json", False):
        print_json([_summary_json(r) for r in runs])
        return 0
    if getattr(args, "execution", None):
        runs = _as_tree(runs)
    rows = []
    for depth, r in runs if args.execution else [(0, r) for r in runs]:
        took = r.ended_at - r.started_at if r.ended_at and r.started_at else None
        rows.append(
            [
                "  " * depth + (r.name or r.run_id[:8]),
                r.experiment,
                r.status + (f" (cache hit of {r.cached_from})" if r.cached_from else ""),
                when(r.started_at),
                duration(took),
                _key_metrics(r.metrics),
                r.run_id,
            ]
        )
    console().print(
        table(
            "MLflow runs",
            ["run", "experiment", "status", "started", "took", "metrics", "run id"],
            rows,
        )
    )
    if not rows:
        console().print("no runs yet: every step of an execution records a run when it runs")
    return 0


def _as_tree(runs: list[Any]) -> list[tuple[int, Any]]:
    """Parents before children, children indented (oldest first within a parent)."""
    by_parent: dict[str | None, list[Any]] = {}
    ids = {r.run_id for r in runs}
    for r in sorted(runs, key=lambda r: r.started_at or 0):
        parent = r.parent_run_id if r.parent_run_id in ids else None
        by_parent.setdefault(parent, []).append(r)
    out: list[tuple[int, Any]] = []

    def visit(parent: str | None, depth: int) -> None:
        for r in by_parent.get(parent, []):
            out.append((depth, r))
            visit(r.run_id, depth + 1)

    visit(None, 0)
    return out


def cmd_list(args: Any) -> int:
    from rayline.tracking.experiments import list_experiments

    experiments = list_experiments()
    if args.json:
        print_json([{"id": i, "name": n, "runs": c} for i, n, c in experiments])
        return 0
    console().print(table("Experiments", ["id", "name", "runs"], experiments))
    return 0


def cmd_show(args: Any) -> int:
    import dataclasses

    from rayline.tracking.experiments import describe_run

    data = dataclasses.asdict(describe_run(args.run_id))
    if args.json:
        print_json(data)
        return 0
    c = console()
    c.print(f"[bold]{data['name']}[/] ({data['run_id']}) {data['status']}")
    c.print(table("Parameters", ["name", "value"], sorted(data["params"].items())))
    c.print(table("Metrics", ["name", "value"], sorted(data["metrics"].items())))
    c.print(table("Tags", ["name", "value"], sorted(data["tags"].items())))
    return 0


def cmd_uri(args: Any) -> int:
    from rayline.tracking.experiments import tracking_uri

    print(tracking_uri())
    return 0
