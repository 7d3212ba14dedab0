"""``rayline server``: run the REST API on uvicorn."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser(
        "server",
        help="Run the rayline server: the REST API under /api/v1, OpenAPI at /openapi.json, "
        "docs at /docs, the web UI (Studio) at /studio.",
        description="Run the rayline server. It drives the executions started through it "
        "and runs schedules. Beyond loopback it requires API tokens (rayline token create).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.set_defaults(handler=cmd_server)


def cmd_server(args: argparse.Namespace) -> int:
    from rayline.server.app import create_app
    from rayline.server.run import serve
    from rayline.studio import mount

    # Studio (the web UI) sits a layer above the server: the app is put together here.
    base = f"http://{_url_host(args.host)}:{args.port}"
    print(f"rayline server at {base}: Studio {base}/studio, API docs {base}/docs", flush=True)
    serve(host=args.host, port=args.port, log_level=args.log_level, app=mount(create_app()))
    return 0


def _url_host(host: str) -> str:
    """``host`` as it goes in a URL to open (an unspecified address: this machine's loopback)."""
    if host in ("0.0.0.0", "::", ""):
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
