"""``rayline webhook``: signed POSTs to a URL when an execution's or a model package's status
changes, sent by ``rayline server`` (admins manage them). The commands call
``rayline.webhooks.api``: on the metadata DB (``RAYLINE_DB_URL``), or with ``RAYLINE_SERVER_URL``
through that server (an admin's ``RAYLINE_TOKEN``)."""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import add_group, arg, command
from rayline.cli.render import console, print_json, table, when


def register(sub: Any) -> None:
    cmds = add_group(
        sub, "webhook", "POST execution and model status changes to a URL (sent by the server)."
    )
    webhook_id = arg("id", help="the webhook's id (wh_...)")
    events = arg(
        "--event",
        action="append",
        dest="events",
        metavar="TYPE",
        help="an event type: execution.status_changed, model_package.status_changed or '*' "
        "(repeatable; default '*')",
    )
    command(
        cmds,
        "create",
        cmd_create,
        "Subscribe a URL; prints its signing secret (shown this once).",
        arg("url", help="http(s) URL the events are POSTed to"),
        events,
        arg("--description", default="", help="what it is for"),
        json=True,
    )
    command(cmds, "list", cmd_list, "List webhooks.", json=True)
    command(cmds, "describe", cmd_describe, "A webhook (never its secret).", webhook_id, json=True)
    command(
        cmds,
        "update",
        cmd_update,
        "Change a webhook's URL, event types or description, or (de)activate it.",
        webhook_id,
        arg("--url", help="the new URL"),
        events,
        arg("--description", help="the new description"),
        arg("--active", dest="active", action="store_true", default=None, help="send again"),
        arg("--inactive", dest="active", action="store_false", help="send nothing for now"),
        json=True,
    )
    command(cmds, "delete", cmd_delete, "Delete a webhook and its deliveries.", webhook_id)
    command(
        cmds,
        "deliveries",
        cmd_deliveries,
        "A webhook's deliveries, newest first.",
        webhook_id,
        arg("--limit", type=int, default=20, help="how many (default 20)"),
        json=True,
    )
    command(cmds, "ping", cmd_ping, "Queue a ping event to a webhook.", webhook_id, json=True)


def cmd_create(args: Any) -> int:
    from rayline.webhooks.api import create_webhook

    webhook, secret = create_webhook(
        args.url, events=args.events or ["*"], description=args.description
    )
    if args.json:
        print_json({"webhook": webhook.to_dict(), "secret": secret})
        return 0
    _show(webhook)
    console().print(
        f"signing secret (shown this once; verify each POST's webhook-signature with it):\n{secret}"
    )
    return 0


def cmd_list(args: Any) -> int:
    from rayline.webhooks.api import list_webhooks

    rows = list_webhooks()
    if args.json:
        print_json([w.to_dict() for w in rows])
        return 0
    console().print(
        table(
            "Webhooks",
            ["Id", "URL", "Events", "State", "Created"],
            [(w.id, w.url, ", ".join(w.events), _state(w), when(w.created_at)) for w in rows],
        )
    )
    return 0


def cmd_describe(args: Any) -> int:
    from rayline.webhooks.api import get_webhook

    _print(get_webhook(args.id), args.json)
    return 0


def cmd_update(args: Any) -> int:
    from rayline.webhooks.api import update_webhook

    webhook = update_webhook(
        args.id,
        url=args.url,
        events=args.events,
        description=args.description,
        active=args.active,
    )
    _print(webhook, args.json)
    return 0


def cmd_delete(args: Any) -> int:
    from rayline.webhooks.api import delete_webhook

    delete_webhook(args.id)
    console().print(f"deleted webhook {args.id!r}")
    return 0


def cmd_deliveries(args: Any) -> int:
    from rayline.webhooks.api import list_deliveries

    rows = list_deliveries(args.id, limit=max(1, args.limit))
    if args.json:
        print_json([d.to_dict() for d in rows])
        return 0
    console().print(
        table(
            "Deliveries",
            ["Id", "Event", "Type", "Status", "Attempts", "Last code", "Last error", "Created"],
            [
                (
                    d.id,
                    d.event_id,
                    d.event_type,
                    d.status.value,
                    d.attempts,
                    d.last_status_code,
                    d.last_error,
                    when(d.created_at),
                )
                for d in rows
            ],
        )
    )
    return 0


def cmd_ping(args: Any) -> int:
    from rayline.webhooks.api import ping_webhook

    delivery = ping_webhook(args.id)
    if args.json:
        print_json(delivery.to_dict())
        return 0
    console().print(
        f"queued ping {delivery.event_id} (delivery {delivery.id}); a running server sends it: "
        f"rayline webhook deliveries {args.id}"
    )
    return 0


def _state(webhook: Any) -> str:
    return "active" if webhook.active else "inactive"


def _print(webhook: Any, as_json: bool) -> None:
    if as_json:
        print_json(webhook.to_dict())
    else:
        _show(webhook)


def _show(webhook: Any) -> None:
    out = console()
    out.print(f"[bold]{webhook.id}[/]  {_state(webhook)}  {webhook.url}")
    rows = [
        ("Events", ", ".join(webhook.events)),
        ("Description", webhook.description),
        ("Created", f"{when(webhook.created_at)} by {webhook.created_by}"),
        ("Updated", when(webhook.updated_at)),
    ]
    out.print(table(None, ["Field", "Value"], [r for r in rows if r[1] not in (None, "")]))
