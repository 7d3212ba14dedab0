"""Studio on a real ``rayline server`` process with its services on (schedules, ownership,
webhooks) and authentication on: a viewer has the executions list open when a schedule comes
due; the server's schedules service starts the pipeline, and the list shows the new execution,
then its Succeeded, without a reload. And the list's stream, which ends now and then so that an
open list never holds up the server's shutdown, is resumed by the browser where it left off."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest
from croniter import croniter
from tests.integration.server.conftest import start_server_process  # noqa: F401 (a fixture)
from tests.integration.studio.conftest import open_studio

from rayline import ParameterInteger, Pipeline, step

pytestmark = [pytest.mark.ray, pytest.mark.server]

YEARLY = "0 0 1 1 *"  # due once a year: the test makes its last due time missed, to catch up
#: Time for the schedules service (ticking each second) to start the execution, and for a
#: one-step execution to run on the session's Ray.
FIRES_MS, RUNS_MS = 15_000, 60_000


def doubling(name: str) -> Pipeline:
    n = ParameterInteger("n", default_value=1)

    @step
    def double(value):
        return value * 2

    return Pipeline(name, parameters=[n], steps=[double(n)])


def test_a_schedule_fires_and_its_execution_shows_up_live(
    start_server_process,  # noqa: F811
    chromium,
    tmp_path,
    monkeypatch,
):
    from playwright.sync_api import expect

    from rayline.auth.roles import Role
    from rayline.auth.tokens import create_token
    from rayline.schedules.repository import open_schedules

    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    doubling("nightly-double").upsert()
    # The server process shares this test's RAYLINE_HOME (its database): the tokens made here
    # are the ones it checks.
    tokens = {role.label: create_token(name=f"{role.label}-user", role=role)[1] for role in Role}
    server = start_server_process(env={"RAYLINE_SERVER_AUTH": "on"})
    with httpx.Client(
        base_url=f"{server.url}/api/v1",
        headers={"Authorization": f"Bearer {tokens['operator']}"},
        timeout=30,
    ) as operator:
        created = operator.post(
            "/schedules",
            json={
                "name": "yearly",
                "pipeline": "nightly-double",
                "cron": YEARLY,
                "parameters": {"n": 21},
                "missed": "catch_up",
            },
        )
    assert created.status_code == 201, created.text

    with open_studio(chromium, server.url, tokens, tmp_path / "screenshots") as studio:
        studio.sign_in("viewer", path="/studio/executions")
        page = studio.page
        expect(page.locator("#executions-live")).to_contain_text("No executions.")
        studio.shot("no-executions")
        # A reload would drop this: it shows the list changed in place.
        page.evaluate("window.untouched = true")

        # The schedule comes due: as if it had last fired before its latest due time, which is
        # then missed and caught up by the server's schedules service.
        due_at = croniter(YEARLY, datetime.now(UTC)).get_prev(float)
        open_schedules().rewind("yearly", due_at - 60)

        row = page.locator("#executions tbody tr")
        expect(row).to_have_count(1, timeout=FIRES_MS)
        expect(row).to_contain_text("nightly-double")
        expect(row).to_contain_text("schedule:yearly")
        studio.shot("fired")
        expect(row.locator(".badge")).to_have_text("Succeeded", timeout=RUNS_MS)
        studio.shot("succeeded")
        assert page.evaluate("window.untouched") is True

        execution_id = row.locator("a code").inner_text()
        row.locator("a").click()
        expect(page.locator("#execution-status")).to_have_text("Succeeded")

    from rayline.executions import Execution

    assert Execution(execution_id).result("double") == 42


def test_the_live_list_resumes_after_its_stream_ends(studio, ray_session, monkeypatch):
    from playwright.sync_api import expect

    from rayline.server import streams

    monkeypatch.setattr(streams, "STATUS_STREAM_S", 1.0)  # the server runs in this process
    page = studio.page
    # all_headers: Playwright's `headers` leaves Last-Event-ID out.
    resumed_after: list[str] = []
    page.on(
        "request",
        lambda r: (
            "/studio/executions/events" in r.url
            and "last-event-id" in (headers := r.all_headers())
            and resumed_after.append(headers["last-event-id"])
        ),
    )
    studio.sign_in("viewer", path="/studio/executions")
    page.evaluate("window.untouched = true")
    pipeline = doubling("live-double")
    rows = page.locator("#executions tbody tr")

    first = pipeline.start({"n": 1})
    expect(rows).to_have_count(1)
    expect(rows.first.locator(".badge")).to_have_text("Succeeded", timeout=RUNS_MS)
    # The stream ends within a second; the browser reconnects, sending the last id it got.
    deadline = time.monotonic() + 15
    while not resumed_after:
        assert time.monotonic() < deadline, "the browser did not resume the list's stream"
        page.wait_for_timeout(100)  # lets Playwright deliver the page's requests
    assert int(resumed_after[0]) > 0

    second = pipeline.start({"n": 2})
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(second.id)
    expect(rows.first.locator(".badge")).to_have_text("Succeeded", timeout=RUNS_MS)
    expect(rows.nth(1)).to_contain_text(first.id)
    assert page.evaluate("window.untouched") is True
    studio.shot("resumed")
