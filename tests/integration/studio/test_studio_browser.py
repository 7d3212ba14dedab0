"""Studio in a real browser (Playwright driving Debian's Chromium) against a real server with
authentication on: sign in, list and open a pipeline, start it from its form (a mistyped
parameter shows the engine's message), watch its DAG turn green live, open a step's logs, filter
the executions; a wrong token is refused; a viewer sees stop, retry and start disabled and the
server refuses them anyway. The console shows no errors; every page is screenshotted to the
test's tmp_path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.integration.studio.conftest import Shots

from rayline import ParameterInteger, Pipeline, step

pytestmark = [pytest.mark.ray, pytest.mark.server]


def _pipeline(gate: Path) -> Pipeline:
    """prepare → train, report; ``prepare`` waits for ``gate`` (as in tests/integration/gated.py)
    so the page sees the graph running before it is green, with no timing assumption."""
    count = ParameterInteger("Count", default_value=2)

    @step(name="prepare")
    def prepare(n):
        import time

        print(f"preparing {n} rows", flush=True)
        deadline = time.monotonic() + 300  # a forgotten gate fails the step, not the session
        while not gate.exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{gate} never appeared")
            time.sleep(0.05)
        return n * 10

    @step(name="train")
    def train(rows):
        print(f"training on {rows} rows")
        return rows + 1

    @step(name="report")
    def report(rows):
        print(f"report of {rows}")
        return rows

    rows = prepare(count)
    return Pipeline(
        "studio-demo",
        parameters=[count],
        steps=[train(rows), report(rows)],
        description="prepares, trains, reports",
    )


def test_sign_in_start_watch_live_and_roles(studio_server, ray_session, chromium, tmp_path):
    from playwright.sync_api import expect

    gate = tmp_path / "gate"
    _pipeline(gate).upsert()
    base = studio_server.url
    console: list[str] = []
    # The two refusals this test provokes are pages with an error status, which Chromium logs
    # as "Failed to load resource"; any other error (or those from elsewhere) fails the test.
    expected = {
        (f"{base}/studio/signin", 401),
        (f"{base}/studio/pipelines/studio-demo/start", 422),
    }

    def on_console(message) -> None:
        if message.type != "error":
            return
        status = re.search(r"status of (\d{3})", message.text)
        if status and (message.location.get("url"), int(status.group(1))) in expected:
            return
        console.append(f"{message.text} ({message.location.get('url')})")

    def watch(page) -> None:
        page.on("console", on_console)
        page.on("pageerror", lambda e: console.append(str(e)))

    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    watch(page)
    shot = Shots(page, tmp_path / "screenshots")

    # Not signed in: any page leads to the sign-in form; a wrong token is refused there.
    page.goto(f"{base}/studio/pipelines")
    expect(page).to_have_url(re.compile(r"/studio/signin\?next="))
    shot("signin")
    page.fill("#token", "rl_" + "x" * 43)
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.click("#signin")
    assert refused.value.status == 401
    expect(page.locator("#signin-error")).to_contain_text("not known to this server")
    shot("signin-refused")

    # An operator signs in and lands on the page asked for: the pipeline is listed.
    page.fill("#token", studio_server.tokens["operator"])
    page.click("#signin")
    expect(page).to_have_url(f"{base}/studio/pipelines")
    expect(page.locator("#identity")).to_have_text("operator-user (operator)")
    link = page.locator("#pipelines a", has_text="studio-demo")
    expect(link).to_be_visible()
    shot("pipelines")

    # The pipeline: its DAG (three steps, two edges), versions and definition.
    link.click()
    expect(page.locator(".node")).to_have_count(3)
    expect(page.locator(".edge")).to_have_count(2)
    assert '"Name": "Count"' in page.locator("#definition").text_content()
    svg = page.locator(".dag-svg")
    fitted = svg.get_attribute("viewBox")
    page.click('[data-zoom="in"]')
    assert svg.get_attribute("viewBox") != fitted
    page.click('[data-zoom="fit"]')
    assert svg.get_attribute("viewBox") == fitted
    shot("pipeline")

    # A mistyped parameter: the engine's ParameterError, on the form, with what was typed.
    page.fill("#p-Count", "many")
    page.click("#start")
    expect(page.locator("#start-error")).to_contain_text("parameter 'Count' (Integer)")
    expect(page.locator("#p-Count")).to_have_value("many")
    shot("start-refused")

    # Started from the form: the execution's page, then its DAG turns green without reload.
    page.fill("#p-Count", "3")
    page.click("#start")
    expect(page).to_have_url(re.compile(r"/studio/executions/[0-9a-f]{16}$"))
    page.evaluate("window.__notReloaded = true")
    report = page.locator('.node[data-step="report"]')
    expect(page.locator('.node[data-step="prepare"]')).to_have_class(
        re.compile(r"\bst-Executing\b"), timeout=60_000
    )
    assert "st-Succeeded" not in report.get_attribute("class")
    shot("execution-running")
    gate.touch()
    for name in ("prepare", "train", "report"):
        expect(page.locator(f'.node[data-step="{name}"]')).to_have_class(
            re.compile(r"\bst-Succeeded\b"), timeout=60_000
        )
    expect(page.locator("#execution-status")).to_have_text("Succeeded")
    expect(page.locator("#summary")).to_have_text("Succeeded: 3")
    expect(report.locator(".meta")).to_contain_text(re.compile(r"Succeeded · \d+\.\d s"))
    assert page.evaluate("window.__notReloaded") is True
    execution_url = page.url
    execution_id = execution_url.rsplit("/", 1)[1]
    shot("execution-succeeded")

    # A step's logs, properties and attempts in the side panel.
    page.locator('.node[data-step="prepare"]').click()
    expect(page.locator("#logs")).to_contain_text("preparing 3 rows")
    expect(page.locator("#step-panel")).to_contain_text("Attempts")
    shot("step-logs")

    # The executions list, filtered by status.
    page.goto(f"{base}/studio/executions?status=Succeeded")
    expect(page.locator("#executions")).to_contain_text(execution_id)
    expect(page.locator("#executions")).to_contain_text("operator-user")
    page.goto(f"{base}/studio/executions?status=Failed")
    expect(page.locator("#executions")).to_have_count(0)
    shot("executions-filtered")

    # Sign out; a viewer signs in: reads, but stop, retry and start are disabled ...
    page.goto(execution_url)
    page.click("#signout")
    expect(page).to_have_url(re.compile(r"/studio/signin"))
    page.goto(execution_url)
    page.fill("#token", studio_server.tokens["viewer"])
    page.click("#signin")
    expect(page).to_have_url(execution_url)
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#retry")).to_be_disabled()
    shot("execution-as-viewer")
    page.goto(f"{base}/studio/pipelines/studio-demo")
    expect(page.locator("#start")).to_be_disabled()
    shot("pipeline-as-viewer")

    # ... and the server refuses them anyway (a valid CSRF token, the viewer's session).
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(f"{execution_url}/retry", form={"csrf": csrf})
    assert refused.status == 403
    assert "viewer role" in refused.text()
    started = page.request.post(
        f"{base}/studio/pipelines/studio-demo/start", form={"csrf": csrf, "p.Count": "1"}
    )
    assert started.status == 403
    # Without the session's CSRF token even an operator's form is refused.
    forged = page.request.post(f"{execution_url}/retry", form={"csrf": "0" * 64})
    assert forged.status == 403 and "CSRF" in forged.text()

    # Who did what is in the audit log, as for the API: the operator's start (and the refused
    # one before it), the viewer's refusals.
    from rayline.auth.audit import list_audit

    rows = {(r.identity, r.path, r.status) for r in list_audit()}
    start_path = "/studio/pipelines/studio-demo/start"
    assert ("operator-user", start_path, 200) in rows
    assert ("operator-user", start_path, 422) in rows
    assert ("viewer-user", start_path, 403) in rows
    assert ("viewer-user", f"/studio/executions/{execution_id}/retry", 403) in rows

    context.close()
    assert console == [], console
    assert len(list((tmp_path / "screenshots").glob("*.png"))) == shot.n
