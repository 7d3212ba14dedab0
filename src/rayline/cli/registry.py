"""``rayline model``: model package groups, versions and their approval workflow."""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, print_json, table, when


def register(sub: Any) -> None:
    cmds = add_group(sub, "model", "Model registry: groups, versions, approvals.")
    version_ref = arg("ref", help="GROUP/VERSION")
    command(cmds, "groups", cmd_groups, "List model package groups.", json=True)
    command(
        cmds,
        "list",
        cmd_list,
        "List versions (of one group, or of all).",
        arg("group", nargs="?"),
        arg("--status", help="PendingManualApproval, Approved or Rejected"),
        json=True,
    )
    command(
        cmds,
        "describe",
        cmd_describe,
        "Show a version (GROUP/VERSION, or GROUP for the "
        "latest) with its metrics and approval history.",
        arg("ref"),
        json=True,
    )
    command(
        cmds,
        "register",
        cmd_register,
        "Register a model file as a new version.",
        arg("group"),
        arg("--model", required=True, help="XGBoost model file (or a directory with one)"),
        arg("--preprocessor", help="the fitted preprocessor JSON"),
        arg("--metrics", help="the evaluation report (file or directory)"),
        arg("--status", default="PendingManualApproval"),
        arg("--description", default=""),
        json=True,
    )
    for name, status, text in (
        ("approve", "Approved", "Approve a version (it may deploy)."),
        ("reject", "Rejected", "Reject a version."),
    ):
        command(
            cmds,
            name,
            cmd_update_status,
            text,
            version_ref,
            arg("--reason", default="", help="why (kept in the history)"),
            arg("--by", help="who (default: RAYLINE_USER or the OS user)"),
            defaults={"status": status},
        )
    command(
        cmds,
        "update-status",
        cmd_update_status,
        "Set a version's approval status.",
        version_ref,
        arg("status", help="PendingManualApproval, Approved or Rejected"),
        arg("--reason", default=""),
        arg("--by"),
    )
    command(cmds, "history", cmd_history, "A version's approval history.", version_ref, json=True)
    command(
        cmds,
        "delete",
        cmd_delete,
        "Delete a version (GROUP/VERSION) or a group (GROUP).",
        arg("ref"),
        arg("--force", action="store_true", help="delete a group with its versions"),
    )
    command(
        cmds,
        "delete-group",
        cmd_delete,
        "Delete a group (--force: with its versions).",
        arg("ref", metavar="group"),
        arg("--force", action="store_true"),
    )


def _registry():
    from rayline.registry import ModelRegistry

    return ModelRegistry()


def _ref(ref: str) -> tuple[str, int | None]:
    from rayline.registry import parse_version_ref

    if "/" in ref:
        return parse_version_ref(ref)
    return ref, None


def _test_metrics(mp) -> list[str]:
    """The evaluation report's regression metrics (the test split's), rmse first."""
    found = (mp.metrics or {}).get("regression_metrics")
    names = [n for n in found if mp.metric(n) is not None] if isinstance(found, dict) else []
    return sorted(names, key=lambda n: (n != "rmse", n))


def _metric(mp, name: str) -> str:
    value = mp.metric(name)
    if value is None:
        return ""
    return f"{value:,.1f}" if abs(value) >= 100 else f"{value:.4g}"


def _rmse(mp) -> str:
    value = mp.metric("rmse")
    return f"{value:,.1f}" if value is not None else ""


def cmd_groups(args: Any) -> int:
    groups = _registry().list_groups()
    if args.json:
        print_json([g.__dict__ for g in groups])
        return 0
    console().print(
        table(
            "Model package groups",
            ["Group", "Versions", "Latest", "Created", "Description"],
            [
                (g.name, g.version_count, g.latest_version, when(g.created_at), g.description)
                for g in groups
            ],
        )
    )
    return 0


def cmd_list(args: Any) -> int:
    versions = _registry().list_versions(args.group, status=args.status)
    if args.json:
        print_json([v.to_dict() for v in versions])
        return 0
    console().print(
        table(
            f"Model versions{' of ' + args.group if args.group else ''}",
            ["Version", "Status", "RMSE", "MAE", "Execution", "Registered", "By"],
            [
                (
                    v.ref,
                    v.status,
                    _rmse(v),
                    f"{v.metric('mae'):,.1f}" if v.metric("mae") is not None else "",
                    (v.execution_id or "")[:12],
                    when(v.created_at),
                    v.created_by,
                )
                for v in versions
            ],
        )
    )
    return 0


def cmd_describe(args: Any) -> int:
    group, version = _ref(args.ref)
    mp = _registry().describe(group, version)
    if args.json:
        print_json(mp.to_dict())
        return 0
    out = console()
    out.print(f"[bold]{mp.ref}[/]  {mp.status}")
    rows = [
        ("Model", mp.model_uri),
        ("Preprocessor", mp.preprocessor_uri),
        ("Metrics", mp.metrics_uri),
        *((f"Test {m.upper()}", _metric(mp, m)) for m in _test_metrics(mp)),
        ("Input columns", ",".join(mp.inference_spec.input_columns)),
        ("Content types", ", ".join(mp.inference_spec.content_types)),
        ("Label", mp.inference_spec.label),
        ("Pipeline execution", mp.execution_id),
        ("Step", mp.step_name),
        ("MLflow run", mp.mlflow_run_id or "none recorded (registered outside a tracked run)"),
        ("Registered", f"{when(mp.created_at)} by {mp.created_by}"),
        ("Description", mp.description),
    ]
    out.print(table(None, ["Field", "Value"], [r for r in rows if r[1]]))
    _print_history(mp)
    return 0


def _print_history(mp) -> None:
    console().print(
        table(
            "Approval history",
            ["When", "From", "To", "By", "Reason"],
            [(when(h.at), h.from_status or "", h.to_status, h.by, h.reason) for h in mp.history],
        )
    )


def cmd_register(args: Any) -> int:
    mp = _registry().register(
        args.group,
        model=args.model,
        preprocessor=args.preprocessor,
        metrics=args.metrics,
        approval_status=args.status,
        description=args.description,
    )
    if args.json:
        print_json(mp.to_dict())
    else:
        console().print(f"registered [bold]{mp.ref}[/] ({mp.status})")
    return 0


def cmd_update_status(args: Any) -> int:
    from rayline.registry import parse_version_ref

    group, version = parse_version_ref(args.ref)
    mp = _registry().update_status(group, version, args.status, reason=args.reason, by=args.by)
    console().print(f"{mp.ref} is now [bold]{mp.status}[/]")
    return 0


def cmd_history(args: Any) -> int:
    from rayline.registry import parse_version_ref

    group, version = parse_version_ref(args.ref)
    mp = _registry().describe(group, version)
    if args.json:
        print_json(mp.to_dict()["ApprovalHistory"])
    else:
        _print_history(mp)
    return 0


def cmd_delete(args: Any) -> int:
    group, version = _ref(args.ref) if args.model_command == "delete" else (args.ref, None)
    registry = _registry()
    if version is None:
        n = registry.delete_group(group, force=args.force)
        console().print(
            f"deleted model package group {group!r}" + (f" and its {n} version(s)" if n else "")
        )
    else:
        registry.delete_version(group, version)
        console().print(f"deleted {group}/{version}")
    return 0
