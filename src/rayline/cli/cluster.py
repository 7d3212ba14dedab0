"""``rayline up`` / ``rayline down``: the long-lived local Ray that endpoints live on.

``rayline up`` starts Ray (``ray start --head``) in the background with Serve's fast-path
settings, records its address in ``$RAYLINE_HOME/ray-address`` for every later rayline command,
and redeploys the endpoints recorded in the metadata DB. ``rayline down`` stops that Ray (the
endpoints' records stay; the next ``rayline up`` brings them back). ``RAY_ADDRESS``, when set,
wins over the recorded address: commands then use that cluster instead.
"""

from __future__ import annotations

from typing import Any

from rayline.cli.arguments import arg, command
from rayline.cli.render import console, error_console, print_json
from rayline.config import settings
from rayline.errors import UserInputError


def register(sub: Any) -> None:
    command(
        sub,
        "up",
        cmd_up,
        "Start a long-lived local Ray for endpoints and pipelines.",
        arg(
            "--num-cpus",
            type=int,
            help="logical CPUs (default: RAYLINE_RAY_NUM_CPUS or twice the cores, at least 4)",
        ),
        arg("--port", type=int, help="the GCS port (default: a free port)"),
        arg(
            "--no-restore",
            action="store_true",
            help="do not redeploy the endpoints recorded in the metadata DB",
        ),
        json=True,
        description=__doc__.split("\n\n", 1)[1],
    )
    command(sub, "down", cmd_down, "Stop the local Ray that `rayline up` started.")


def cmd_up(args: Any) -> int:
    from rayline.serving.cluster import local_ray, start_local_ray

    if settings().server_url:
        # Checked before Ray starts: `up` serves this machine's own endpoints again.
        raise UserInputError(
            "rayline up starts Ray on this machine and serves this machine's endpoints again; "
            f"with RAYLINE_SERVER_URL={settings().server_url} set the API works through that "
            "server, which runs its own Ray. Unset RAYLINE_SERVER_URL to run rayline up here"
        )
    out = console()
    address = settings().ray_address
    if address:
        error_console().print(
            f"[yellow]note:[/] RAY_ADDRESS={address} is set: rayline commands "
            "use that cluster, not the local one, until you unset it."
        )
    before = local_ray()
    ray = start_local_ray(num_cpus=args.num_cpus, port=args.port)
    started = not (before and before.running)
    restored: list[str] = []
    if not args.no_restore:
        from rayline.serving import Endpoints

        if address:
            pass  # the endpoints belong to the cluster RAY_ADDRESS names
        else:
            restored = Endpoints().redeploy_all()
    if args.json:
        print_json(
            {
                "address": ray.address,
                "pid": ray.pid,
                "started": started,
                "log": str(ray.log),
                "endpoints": restored,
            }
        )
        return 0
    verb = "started" if started else "already running"
    out.print(f"Ray {verb} at [bold]{ray.address}[/] (pid {ray.pid}, log {ray.log})")
    if restored:
        out.print(f"endpoints serving again: {', '.join(restored)}")
    out.print("Stop it with `rayline down`.")
    return 0


def cmd_down(args: Any) -> int:
    from rayline.serving.cluster import stop_local_ray

    if stop_local_ray():
        console().print("local Ray stopped (endpoint records are kept; `rayline up` restores them)")
    else:
        console().print("no local Ray was running")
    return 0
