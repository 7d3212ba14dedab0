"""How fast Studio's pages load in a real browser with 1,000 executions in the metadata DB.

Runs the reference workflow once in a temporary RAYLINE_HOME (the housing pipeline with two
tuning trials: feature group, tuning trials, evaluation, a registered and approved model
version, an endpoint on Ray Serve), records 1,000 more executions of its pipeline (ended, as a
team's history), serves the rayline server with Studio (authentication on) on loopback, signs in
with Chromium (Playwright, Debian's ``/usr/bin/chromium``) and opens every page five times.

A page's load time is the browser's own navigation timing: from the start of the navigation to
the end of the ``load`` event (the HTML, its CSS and JavaScript, and what the page's script
draws on load). The server's share of it (``Server-Timing``'s ``app``) is printed alongside.

    .venv/bin/python benchmarks/studio.py

Last line: {"executions_in_db", "pages", "page_load_ms" (median per page), "page_load_max_ms",
"page_load_p95_ms", "pages_over_1s", "plain_uvicorn_ms"}. ``plain_uvicorn_ms`` is the floor:
the same browser loading a static HTML page from a bare uvicorn app in the same run.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HOUSING = ROOT / "examples" / "housing"
CHROMIUM = "/usr/bin/chromium"
ENDPOINT = "studio-bench-endpoint"
RUNS = 5


def main() -> None:
    home = tempfile.mkdtemp(prefix="rayline-bench-studio-")
    os.environ["RAYLINE_HOME"] = home
    os.environ["RAYLINE_SERVER_AUTH"] = "on"
    for var in ("RAYLINE_DB_URL", "RAYLINE_ARTIFACT_URI", "MLFLOW_TRACKING_URI"):
        os.environ.pop(var, None)
    os.environ.pop("RAYLINE_SERVER_URL", None)
    if not Path(CHROMIUM).exists():
        sys.exit(f"{CHROMIUM} is missing: `make browser` installs it")

    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token
    from rayline.ray_connection import ensure_ray

    ensure_ray()
    _, token = create_token(name="bench-admin", role=Role.ADMIN)
    state = _reference_run()
    state["history"] = _record_history(state["pipeline"], 1000)
    from rayline.engine.repository import open_repository

    in_db = len(open_repository().list_executions(limit=5000))

    from rayline.server.app import create_app
    from rayline.studio import mount

    with _serve(mount(create_app(services=False))) as base, _serve(_plain_app()) as plain:
        pages = _pages(state)
        timings, server = _measure(base, token, pages, plain)
    _cleanup(state)

    medians = {name: round(statistics.median(ms), 1) for name, ms in timings.items()}
    everything = sorted(ms for k, samples in timings.items() if k != "plain" for ms in samples)
    result = {
        "executions_in_db": in_db,
        "pages": len(pages),
        "page_load_ms": {k: v for k, v in medians.items() if k != "plain"},
        "server_ms": {k: round(statistics.median(v), 1) for k, v in server.items() if v},
        "page_load_max_ms": max(v for k, v in medians.items() if k != "plain"),
        "page_load_p95_ms": round(everything[int(len(everything) * 0.95) - 1], 1),
        "pages_over_1s": sorted(k for k, v in medians.items() if k != "plain" and v > 1000),
        "plain_uvicorn_ms": medians["plain"],
    }
    for name, ms in result["page_load_ms"].items():
        print(f"{name:28s} {ms:8.1f} ms  (server {result['server_ms'].get(name, 0):.1f} ms)")
    print(
        f"{in_db} executions in the DB; slowest page {result['page_load_max_ms']:.0f} ms "
        f"(goal ≤ 1000); plain uvicorn page {result['plain_uvicorn_ms']:.0f} ms"
    )
    print(json.dumps(result))


def _reference_run() -> dict[str, Any]:
    """The housing pipeline, run once and its model approved and deployed."""
    sys.path.insert(0, str(HOUSING))
    from pipeline import MODEL_PACKAGE_GROUP, get_pipeline

    from rayline.registry import ModelRegistry
    from rayline.serving import Endpoints

    pipeline = get_pipeline(max_jobs=2, max_parallel_jobs=2)
    pipeline.upsert()
    started = time.perf_counter()
    execution = pipeline.start()
    record = execution.wait()
    if record.status != "Succeeded":
        sys.exit(f"the reference pipeline failed: {record.failure_reason}")
    print(f"reference pipeline: {time.perf_counter() - started:.1f} s")
    registry = ModelRegistry()
    version = registry.list_versions(MODEL_PACKAGE_GROUP)[0].version
    # Another identity than the one that started the execution: the registry's four eyes.
    registry.approve(MODEL_PACKAGE_GROUP, version, reason="benchmark", by="bench-reviewer")
    Endpoints().create(ENDPOINT, f"{MODEL_PACKAGE_GROUP}/{version}")
    return {
        "pipeline": pipeline.name,
        "execution": execution.id,
        "group": MODEL_PACKAGE_GROUP,
        "version": version,
        "feature_group": record.parameters["FeatureGroupName"],
    }


def _record_history(pipeline_name: str, count: int) -> list[str]:
    """``count`` ended executions of the pipeline, recorded directly (what is measured is
    reading them; ended, so no server would resume them); returns their ids."""
    from rayline.engine.records import ExecutionStatus
    from rayline.engine.repository import open_repository

    repo = open_repository()
    version = repo.get_pipeline(pipeline_name).latest_version
    ids = []
    for i in range(count):
        execution_id = uuid.uuid4().hex[:16]
        repo.create_execution(
            execution_id, pipeline_name, version, {"Run": i}, max_parallel_steps=None
        )
        status = ExecutionStatus.FAILED if i % 10 == 0 else ExecutionStatus.SUCCEEDED
        repo.set_execution_status(execution_id, status)
        ids.append(execution_id)
    return ids


def _pages(state: dict[str, Any]) -> dict[str, str]:
    execution, group, version = state["execution"], state["group"], state["version"]
    return {
        "pipelines": "/studio/pipelines",
        "pipeline": f"/studio/pipelines/{state['pipeline']}",
        "executions": "/studio/executions",
        "executions_page_20": "/studio/executions?offset=950",
        "executions_failed": "/studio/executions?status=Failed",
        "execution": f"/studio/executions/{execution}",
        "step_panel": f"/studio/executions/{execution}/steps/HPTuning",
        "tuning": f"/studio/executions/{execution}/steps/HPTuning/tuning",
        "metrics": f"/studio/executions/{execution}/steps/EvaluateModel/metrics",
        "compare": f"/studio/compare?a={execution}&b={state['history'][0]}",
        "models": "/studio/models",
        "model_group": f"/studio/models/{group}",
        "model_version": f"/studio/models/{group}/versions/{version}",
        "endpoints": "/studio/endpoints",
        "endpoint": f"/studio/endpoints/{ENDPOINT}",
        "feature_groups": "/studio/feature-groups",
        "feature_group": f"/studio/feature-groups/{state['feature_group']}",
        "lineage_execution": f"/studio/lineage?kind=execution&id={execution}",
        "lineage_model": f"/studio/lineage?kind=model_version&id={group}/{version}",
        "schedules": "/studio/schedules",
        "webhooks": "/studio/webhooks",
    }


def _measure(
    base: str, token: str, pages: dict[str, str], plain: str
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    from playwright.sync_api import sync_playwright

    timings: dict[str, list[float]] = {name: [] for name in [*pages, "plain"]}
    server: dict[str, list[float]] = {name: [] for name in pages}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox"], headless=True
        )
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        page.goto(f"{base}/studio/signin")
        page.fill("#token", token)
        page.click("#signin")
        page.wait_for_url(f"{base}/studio/pipelines")
        for _ in range(RUNS):
            for name, path in pages.items():
                response = page.goto(f"{base}{path}", wait_until="load")
                if response is None or response.status != 200:
                    status = response.status if response else "no response"
                    sys.exit(f"{path} answered {status}")
                timings[name].append(_load_ms(page))
                app = _server_timing(response.headers.get("server-timing", ""))
                if app is not None:
                    server[name].append(app)
            page.goto(plain, wait_until="load")
            timings["plain"].append(_load_ms(page))
        browser.close()
    return timings, server


def _load_ms(page: Any) -> float:
    """The browser's navigation timing: navigation start to the end of the load event."""
    return float(
        page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " return n.loadEventEnd - n.startTime; }"
        )
    )


def _server_timing(header: str) -> float | None:
    for part in header.split(","):
        fields = dict(
            f.strip().split("=", 1) if "=" in f else (f.strip(), "") for f in part.split(";")
        )
        if "app" in fields and "dur" in fields:
            return float(fields["dur"])
    return None


def _plain_app() -> Any:
    """The floor: a bare ASGI app answering one static page of similar size."""
    html = (
        "<!doctype html><html><head><title>plain</title></head><body>"
        + "<p>plain uvicorn</p>" * 200
        + "</body></html>"
    ).encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/html; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": html})

    return app


@contextmanager
def _serve(app: Any):
    import socket

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


def _cleanup(state: dict[str, Any]) -> None:
    from rayline.serving import Endpoints

    Endpoints().delete(ENDPOINT)


if __name__ == "__main__":
    main()
