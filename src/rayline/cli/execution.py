"""``rayline execution``: list, describe, steps, logs, wait, stop, retry."""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import add_group, arg, command, parallelism
from rayline.cli.render import console, duration, print_json, short_node, table, when


def register(sub: Any) -> None:
    cmds = add_group(sub, "execution", "Inspect and control pipeline executions.")
    execution_id = arg("execution_id")
    command(
        cmds,
        "list",
        cmd_list,
        "List executions, newest first.",
        arg("--pipeline", help="only this pipeline's executions"),
        arg("--limit", type=int, default=20),
        json=True,
    )
    for name, handler, help_text in (
        ("describe", cmd_describe, "Show an execution's status, parameters and failure reason."),
        ("steps", cmd_steps, "List an execution's steps with status, times and cache use."),
        ("stop", cmd_stop, "Stop a running execution."),
    ):
        command(cmds, name, handler, help_text, execution_id, json=True)
    command(
        cmds,
        "logs",
        cmd_logs,
        "Print a step's logs (and the user's traceback if it failed).",
        execution_id,
        arg("--step", help="one step (default: every step that has logs)"),
        arg(
            "-f",
            "--follow",
            action="store_true",
            help="with --step: print what the step prints as it runs, until it ends",
        ),
    )
    command(
        cmds,
        "wait",
        cmd_wait,
        "Follow an execution with a live progress view until it ends.",
        execution_id,
        json=True,
    )
    command(
        cmds,
        "retry",
        cmd_retry,
        "Re-run a failed, stopped or orphaned execution from its unfinished steps.",
        execution_id,
        arg(
            "--max-parallel",
            type=int,
            metavar="N",
            help="at most N steps at once from now on (default: as it was started)",
        ),
        arg("--wait", action="store_true"),
        json=True,
    )


def _as_json(record: Any) -> dict[str, Any]:
    """An execution or step-run record for ``--json`` (its status by name)."""
    return {**vars(record), "status": record.status.value}


def _execution_json(record: Any) -> dict[str, Any]:
    """An execution record for ``--json``, with whether its driver is alive (null once it
    finished) and, for an orphan, the hint."""
    from rayline.executions import is_orphaned

    orphaned = is_orphaned(record)
    return {
        **_as_json(record),
        "driver_alive": None if record.status.finished else not orphaned,
        "hint": _orphan_hint(record) if orphaned else None,
    }


def _status(record: Any, orphaned: bool) -> str:
    # The stored status stays (retry reads it); the display says nobody drives it any more.
    return f"{record.status.value} (driver gone)" if orphaned else record.status.value


def _orphan_hint(record: Any) -> str:
    from rayline.engine.records import ExecutionStatus

    driver = f"its driver ({record.driver})" if record.driver else "its driver"
    if record.status == ExecutionStatus.STOPPING:  # retry is the one way on: resume, then stop
        return (
            f"{driver} died before it stopped; resume it with: rayline execution retry "
            f"{record.id} (then stop it again)"
        )
    return f"{driver} is gone; resume it with: rayline execution retry {record.id}"


def _execution(execution_id: str) -> Any:
    from rayline.executions import Execution

    return Execution(execution_id)


def cmd_list(args: Any) -> int:
    from rayline.executions import is_orphaned, list_executions

    records = list_executions(args.pipeline, limit=args.limit)
    if args.json:
        print_json([_execution_json(r) for r in records])
        return 0
    orphans = {r.id for r in records if is_orphaned(r)}
    out = console()
    out.print(
        table(
            "Executions",
            ["id", "pipeline", "version", "status", "started", "elapsed"],
            [
                (
                    r.id,
                    r.pipeline_name,
                    r.pipeline_version,
                    _status(r, r.id in orphans),
                    when(r.created_at),
                    duration(r.elapsed_s),
                )
                for r in records
            ],
        )
    )
    if orphans:
        example = next(r.id for r in records if r.id in orphans)
        out.print(
            f"[yellow]{len(orphans)} execution(s) lost their driver and will not progress; "
            f"resume one with: rayline execution retry ID (e.g. {example})[/]"
        )
    return 0


def cmd_describe(args: Any) -> int:
    from rayline.executions import is_orphaned

    record = _execution(args.execution_id).describe()
    if args.json:
        print_json(_execution_json(record))
        return 0
    orphaned = is_orphaned(record)
    out = console()
    out.print(f"[bold]{record.id}[/]  pipeline {record.pipeline_name} v{record.pipeline_version}")
    out.print(f"status     {_status(record, orphaned)}")
    if orphaned:
        out.print(f"[yellow]hint       {_orphan_hint(record)}[/]")
    out.print(
        f"started    {when(record.created_at)}   ended {when(record.ended_at) or '-'}   "
        f"elapsed {duration(record.elapsed_s)}"
    )
    out.print(f"parameters {record.parameters}")
    if record.selective:
        steps = ", ".join(s["StepName"] for s in record.selective["SelectedSteps"])
        source = record.selective.get("SourcePipelineExecutionId") or "none"
        out.print(f"selective  ran {steps}; upstream steps from execution {source}")
    if record.failure_reason:
        out.print(f"[red]reason     {record.failure_reason}[/]")
    return 0


def cmd_steps(args: Any) -> int:
    runs = _execution(args.execution_id).list_steps()
    if args.json:
        print_json([_as_json(r) for r in runs])
        return 0
    console().print(
        table(
            "Steps",
            ["step", "type", "status", "attempts", "started", "elapsed", "cache", "node", "reason"],
            [
                (
                    r.step_name,
                    r.step_type,
                    r.status.value,
                    r.attempts,
                    when(r.started_at),
                    duration(r.elapsed_s),
                    f"hit ({r.cached_from})" if r.cached_from else "",
                    short_node(r.node),
                    (r.failure_reason or "")[:100],
                )
                for r in runs
            ],
        )
    )
    return 0


def cmd_logs(args: Any) -> int:
    execution = _execution(args.execution_id)
    if args.follow:
        if not args.step:
            from rayline.errors import UserInputError

            raise UserInputError("--follow goes with --step STEP (the step whose log to follow)")
        for chunk in execution.follow_logs(args.step):
            print(chunk, end="", flush=True)
        return 0
    runs = [execution.step(args.step)] if args.step else execution.list_steps()
    out = console()
    for run in runs:
        logs = execution.logs(run.step_name)  # a running step: what it printed so far
        if not (logs or run.user_traceback) and not args.step:
            continue
        out.rule(f"{run.step_name} ({run.status.value})")
        print(logs or "(no output)", end="" if logs.endswith("\n") else "\n")
        if run.user_traceback:
            out.print("[red]traceback:[/]")
            print(run.user_traceback)
    return 0


def cmd_wait(args: Any) -> int:
    from rayline.cli.progress import follow

    return follow(_execution(args.execution_id), as_json=args.json)


def cmd_stop(args: Any) -> int:
    from rayline.engine.records import ExecutionStatus

    _execution(args.execution_id).stop()
    if args.json:
        print_json({"execution_id": args.execution_id, "status": ExecutionStatus.STOPPING.value})
    else:
        console().print(f"stopping execution {args.execution_id}")
    return 0


def cmd_retry(args: Any) -> int:
    from rayline.cli.progress import follow
    from rayline.engine.records import ExecutionStatus

    execution = _execution(args.execution_id).retry(
        detach=True, parallelism_config=parallelism(args.max_parallel)
    )
    if not args.wait:
        if args.json:
            print_json({"execution_id": execution.id, "status": ExecutionStatus.EXECUTING.value})
        else:
            console().print(
                f"retrying execution {execution.id}; follow it with: "
                f"rayline execution wait {execution.id}"
            )
        return 0
    return follow(execution, as_json=args.json)
