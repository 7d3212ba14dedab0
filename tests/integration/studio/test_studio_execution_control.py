"""Studio's Stop and Retry buttons on a real running execution: an operator stops it while its
first step waits for a file, the page turns Stopped live and offers Retry; the gate opens, Retry
runs it to Succeeded, live."""

from __future__ import annotations

import re

import pytest
from tests.integration.gated import gated_pipeline

pytestmark = [pytest.mark.ray, pytest.mark.server]


def test_stop_then_retry_from_the_buttons(studio, ray_session, tmp_path):
    from playwright.sync_api import expect

    gate = tmp_path / "gate"
    execution = gated_pipeline("gated-studio", gate).start()
    studio.sign_in("operator", path=f"/studio/executions/{execution.id}")
    page = studio.page
    wait = page.locator('.node[data-step="wait"]')
    expect(wait).to_have_class(re.compile(r"\bst-Executing\b"), timeout=60_000)
    expect(page.locator("#retry")).to_be_disabled()
    studio.shot("running")

    page.click("#stop")
    expect(page.locator("#execution-status")).to_have_text("Stopped", timeout=60_000)
    expect(page.locator("#stop")).to_be_disabled()
    expect(page.locator("#retry")).to_be_enabled()
    assert execution.describe().status.value == "Stopped"
    studio.shot("stopped")

    gate.touch()
    page.click("#retry")
    expect(page.locator("#execution-status")).to_have_text("Succeeded", timeout=60_000)
    for name in ("wait", "after"):
        expect(page.locator(f'.node[data-step="{name}"]')).to_have_class(
            re.compile(r"\bst-Succeeded\b")
        )
    expect(page.locator("#retry")).to_be_disabled()
    assert execution.describe().status.value == "Succeeded"
    studio.shot("retried")

    from rayline.auth.audit import list_audit

    rows = {(r.identity, r.path, r.status) for r in list_audit()}
    for action in ("stop", "retry"):
        assert ("operator-user", f"/studio/executions/{execution.id}/{action}", 200) in rows
