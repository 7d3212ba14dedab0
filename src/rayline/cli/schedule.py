"""``rayline schedule``: cron schedules of stored pipelines, which ``rayline server`` starts.

The commands call ``rayline.schedules.api``: on the metadata DB (``RAYLINE_DB_URL``), which a
server on that DB fires, or with ``RAYLINE_SERVER_URL`` through that server.
"""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import add_group, arg, command, parse_pairs
from rayline.cli.render import console, print_json, table, when
from rayline.errors import ParameterError


def register(sub: Any) -> None:
    cmds = add_group(
        sub, "schedule", "Start pipelines on a cron schedule (run by `rayline server`)."
    )
    name = arg("name")
    command(
        cmds,
        "create",
        cmd_create,
        "Schedule a stored pipeline: NAME --pipeline P --cron '0 2 * * *'.",
        name,
        arg("--pipeline", required=True, help="the stored pipeline to start"),
        arg(
            "--cron",
            required=True,
            help="5 fields: minute hour day-of-month month day-of-week, e.g. '0 2 * * *'",
        ),
        arg(
            "-p",
            "--parameter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a parameter value of every execution (repeatable)",
        ),
        arg("--version", type=int, help="start this stored version (default: the latest)"),
        arg("--timezone", default="UTC", help="the cron expression's time zone (default UTC)"),
        arg(
            "--missed",
            choices=["skip", "catch_up"],
            default="skip",
            help="times missed while no server ran: skip them (default) or start each "
            "(catch_up, at most 10)",
        ),
        json=True,
    )
    command(
        cmds,
        "list",
        cmd_list,
        "List schedules and their next run.",
        arg("--pipeline", help="only this pipeline's"),
        json=True,
    )
    command(
        cmds, "describe", cmd_describe, "A schedule, its next runs and last start.", name, json=True
    )
    command(cmds, "pause", cmd_pause, "Stop starting a schedule's executions.", name, json=True)
    command(
        cmds,
        "resume",
        cmd_resume,
        "Resume a schedule from now (the paused period is not caught up).",
        name,
        json=True,
    )
    command(cmds, "delete", cmd_delete, "Delete a schedule (its executions stay).", name)


def cmd_create(args: Any) -> int:
    from rayline.schedules.api import create_schedule

    parameters = dict(parse_pairs(args.parameter, option="-p", error=ParameterError))
    schedule = create_schedule(
        args.name,
        pipeline=args.pipeline,
        cron=args.cron,
        parameters=parameters,
        version=args.version,
        timezone=args.timezone,
        missed=args.missed,
    )
    _show(schedule, args.json)
    return 0


def cmd_list(args: Any) -> int:
    from rayline.schedules.api import list_schedules

    rows = list_schedules(pipeline=args.pipeline)
    if args.json:
        print_json([s.to_dict() for s in rows])
        return 0
    console().print(
        table(
            "Schedules",
            ["Name", "Pipeline", "Cron", "Time zone", "State", "Next run", "Last execution"],
            [
                (
                    s.name,
                    _version(s),
                    s.cron,
                    s.timezone,
                    _state(s),
                    when(s.next_runs[0]) if s.next_runs else "",
                    s.last_execution_id,
                )
                for s in rows
            ],
        )
    )
    return 0


def cmd_describe(args: Any) -> int:
    from rayline.schedules.api import get_schedule

    _show(get_schedule(args.name), args.json)
    return 0


def cmd_pause(args: Any) -> int:
    from rayline.schedules.api import pause_schedule

    _show(pause_schedule(args.name), args.json)
    return 0


def cmd_resume(args: Any) -> int:
    from rayline.schedules.api import resume_schedule

    _show(resume_schedule(args.name), args.json)
    return 0


def cmd_delete(args: Any) -> int:
    from rayline.schedules.api import delete_schedule

    delete_schedule(args.name)
    console().print(f"deleted schedule {args.name!r}")
    return 0


def _version(schedule: Any) -> str:
    pinned = schedule.pipeline_version
    return f"{schedule.pipeline_name} v{pinned}" if pinned else f"{schedule.pipeline_name} (latest)"


def _state(schedule: Any) -> str:
    if schedule.paused:
        return "paused"
    return "failing" if schedule.last_error else "active"


def _show(schedule: Any, as_json: bool) -> None:
    if as_json:
        print_json(schedule.to_dict())
        return
    out = console()
    out.print(f"[bold]{schedule.name}[/]  {_state(schedule)}  starts {_version(schedule)}")
    rows = [
        ("Cron", f"{schedule.cron} ({schedule.timezone})"),
        ("Parameters", ", ".join(f"{k}={v}" for k, v in schedule.parameters.items())),
        ("Missed runs", schedule.missed),
        ("Next runs", ", ".join(when(t) for t in schedule.next_runs)),
        ("Last fired", when(schedule.last_fired_at)),
        ("Last execution", schedule.last_execution_id),
        ("Last error", schedule.last_error),
        ("Notice", schedule.last_notice),
        ("Created", f"{when(schedule.created_at)} by {schedule.created_by}"),
    ]
    out.print(table(None, ["Field", "Value"], [r for r in rows if r[1] not in (None, "")]))
