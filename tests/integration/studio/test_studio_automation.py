"""Studio's schedules and webhooks in a real browser against a real server (authentication on).

Schedules made with the Python API are listed with their cron, time zone, next fire time, state
and the execution the last fire started (a real tick of the scheduler, a real execution on Ray);
an operator pauses and resumes one from the page; a viewer sees the buttons disabled and the
server refuses the POST anyway (403).

A webhook points at a real receiver on loopback; two pings are sent by the real dispatcher (the
receiver fails the first with a 500): the list shows the last delivery, the webhook's page every
delivery with its attempts, status codes and error, never the secret; an admin pauses, resumes
and pings it from the pages; an operator is refused both the pages and the POST (403).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from rayline import Pipeline, step

pytestmark = [pytest.mark.ray, pytest.mark.server]


def _pipeline() -> Pipeline:
    @step(name="tick")
    def tick():
        return 1

    return Pipeline("auto-demo", steps=[tick()], description="started by a schedule")


def _schedules() -> str:
    """Two schedules of a tiny pipeline: ``every-5`` fired once by a real scheduler tick (its
    execution's id is returned), ``nightly`` not yet."""
    from rayline.schedules import api
    from rayline.schedules.firing import tick
    from rayline.schedules.repository import open_schedules

    _pipeline().upsert()
    every5 = api.create_schedule("every-5", pipeline="auto-demo", cron="*/5 * * * *")
    (fired,) = tick(open_schedules(), now=every5.next_runs[0] + 1)
    assert fired.execution_id is not None, fired.error
    api.create_schedule("nightly", pipeline="auto-demo", cron="0 2 * * *", timezone="Europe/Paris")
    return fired.execution_id


def test_schedules_pause_resume_and_roles(studio, ray_session):
    from playwright.sync_api import expect

    from rayline.schedules import api

    execution_id = _schedules()
    page = studio.page

    studio.sign_in("operator", path="/studio/schedules")
    rows = page.locator("#schedules tbody tr")
    expect(rows).to_have_count(2)
    ticked = page.locator('tr[data-schedule="every-5"]')
    nightly = page.locator('tr[data-schedule="nightly"]')
    expect(ticked.locator(".last-execution")).to_have_text(execution_id)
    assert ticked.locator(".last-execution").get_attribute("href") == (
        f"/studio/executions/{execution_id}"
    )
    expect(nightly).to_contain_text("0 2 * * *")
    expect(nightly).to_contain_text("Europe/Paris")
    expect(nightly.locator("td.next")).to_contain_text(re.compile(r"\d{4}-\d\d-\d\d 02:00 CES?T"))
    expect(nightly.locator(".badge.state")).to_have_text("active")
    expect(nightly.locator("td.last")).to_have_text("none yet")
    studio.shot("schedules")

    # The operator pauses nightly: no next fire time while paused; then resumes it.
    nightly.locator("button.pause").click()
    expect(nightly.locator(".badge.state")).to_have_text("paused")
    expect(nightly.locator("td.next")).to_have_text("none while paused")
    assert api.get_schedule("nightly").paused
    studio.shot("schedules-paused")
    nightly.locator("button.resume").click()
    expect(nightly.locator(".badge.state")).to_have_text("active")
    assert not api.get_schedule("nightly").paused
    expect(ticked.locator(".badge.state")).to_have_text("active")

    # A viewer sees the buttons disabled, and the server refuses the POST anyway.
    studio.sign_in("viewer", path="/studio/schedules")
    for button in page.locator("#schedules button").all():
        expect(button).to_be_disabled()
        expect(button).to_have_attribute("title", "needs the operator role")
    studio.shot("schedules-as-viewer")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(studio.url("/studio/schedules/nightly/pause"), form={"csrf": csrf})
    assert refused.status == 403 and "viewer role" in refused.text()
    assert not api.get_schedule("nightly").paused
    # An unknown schedule is said so, on the list, with its 404.
    studio.sign_in("operator", path="/studio/schedules")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    missing = page.request.post(studio.url("/studio/schedules/nope/pause"), form={"csrf": csrf})
    assert missing.status == 404 and "nope" in missing.text()

    from rayline.auth.audit import list_audit

    rows_ = {(r.identity, r.path, r.status) for r in list_audit()}
    assert ("operator-user", "/studio/schedules/nightly/pause", 200) in rows_
    assert ("operator-user", "/studio/schedules/nightly/resume", 200) in rows_
    assert ("viewer-user", "/studio/schedules/nightly/pause", 403) in rows_

    from rayline.executions import Execution

    Execution(execution_id).wait(timeout=60)  # the tick's execution ends before Ray does


class _Receiver:
    """A webhook receiver on loopback: answers the codes of ``script`` in turn, then 200."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver.lock:
                    code = receiver.script.pop(0) if receiver.script else 200
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    running = _Receiver([500])
    yield running
    running.close()


def _send_pings(webhook_id: str, count: int) -> None:
    """Queue ``count`` pings and send each with the real dispatcher (what the server's
    webhooks service does each tick), one after the other."""
    from rayline.webhooks import api
    from rayline.webhooks.dispatcher import Dispatcher
    from rayline.webhooks.repository import open_webhooks

    dispatcher = Dispatcher(open_webhooks())
    try:
        for _ in range(count):
            api.ping_webhook(webhook_id)
            assert len(dispatcher.send_due()) == 1
    finally:
        dispatcher.close()


def test_webhooks_deliveries_pause_resume_and_roles(studio, receiver):
    from playwright.sync_api import expect

    from rayline.webhooks import api

    hook, secret = api.create_webhook(receiver.url, events=["*"], description="ci hook")
    _send_pings(hook.id, 2)
    page = studio.page

    # The list: URL, events, state, the last delivery (the second ping, answered 200).
    studio.sign_in("admin", path="/studio/webhooks")
    row = page.locator(f'#webhooks tr[data-webhook="{hook.id}"]')
    expect(row).to_contain_text(receiver.url)
    expect(row).to_contain_text("ci hook")
    expect(row.locator("code.event")).to_have_text("all")
    expect(row.locator(".badge.state")).to_have_text("active")
    expect(row.locator("td.last")).to_contain_text(re.compile(r"succeeded\s+200\s+ping"))
    assert secret not in page.content()
    studio.shot("webhooks")

    # Its page: both deliveries, newest first; the failed one with its code and error.
    row.locator(f'a[href="/studio/webhooks/{hook.id}"]').click()
    deliveries = page.locator("#deliveries > tbody > tr")
    expect(deliveries).to_have_count(2)
    expect(deliveries.nth(0).locator(".badge")).to_have_text("succeeded")
    expect(deliveries.nth(0).locator("td.code")).to_have_text("200")
    failed = deliveries.nth(1)
    expect(failed.locator(".badge")).to_have_text("pending")
    expect(failed.locator("td.code")).to_have_text("500")
    expect(failed.locator("td.delivery-error")).to_contain_text("HTTP 500")
    expect(failed).to_contain_text("ping")
    failed.locator("summary").click()
    expect(failed.locator("table.history tbody tr")).to_have_count(1)
    assert secret not in page.content() and "whsec_" not in page.content()
    studio.shot("webhook")

    # The admin pauses it (a paused webhook cannot be pinged), resumes it from the list, pings.
    page.click("#pause")
    expect(page.locator("#webhook-state")).to_have_text("paused")
    expect(page.locator("#ping")).to_be_disabled()
    assert not api.get_webhook(hook.id).active
    studio.shot("webhook-paused")
    page.goto(studio.url("/studio/webhooks"))
    expect(row.locator(".badge.state")).to_have_text("paused")
    row.locator("button.resume").click()
    expect(page).to_have_url(studio.url("/studio/webhooks"))
    expect(row.locator(".badge.state")).to_have_text("active")
    assert api.get_webhook(hook.id).active
    studio.goto(f"/studio/webhooks/{hook.id}")
    page.click("#ping")
    expect(deliveries).to_have_count(3)
    expect(deliveries.nth(0).locator(".badge")).to_have_text("pending")
    studio.shot("webhook-pinged")

    # An operator is refused the pages and the POST, as by the REST API (admin only).
    studio.allow("/studio/webhooks", 403)
    studio.sign_in("operator", path="/studio/pipelines")
    assert studio.goto("/studio/webhooks").status == 403
    expect(page.locator("#page-error")).to_contain_text("admin role")
    studio.shot("webhooks-as-operator")
    studio.allow(f"/studio/webhooks/{hook.id}", 403)
    assert studio.goto(f"/studio/webhooks/{hook.id}").status == 403
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    pause = studio.url(f"/studio/webhooks/{hook.id}/pause")
    refused = page.request.post(pause, form={"csrf": csrf})
    assert refused.status == 403 and "operator role" in refused.text()
    assert api.get_webhook(hook.id).active
