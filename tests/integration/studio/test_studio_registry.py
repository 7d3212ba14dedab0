"""Studio's model registry in a real browser against a real server with authentication on: a
real pipeline execution (started by approver-user) registers housing/1, housing/2 is registered
by hand. The groups list, a group's versions with their metrics and the status filter, a
version's metrics, origin links and approval timeline. A viewer and an operator see approve and
reject disabled, and the server refuses a viewer's POST anyway; an approver's reject without a
reason is refused with the message on the page, the approval with a reason lands in the timeline
as approver-user; a stale form's second approval shows the 409; the four-eyes rule refuses
approver-user on the version its execution registered, admin-user may approve it. Every page is
screenshotted; the console shows no errors."""

from __future__ import annotations

import pytest
from tests.integration.registering import registering_pipeline

pytestmark = [pytest.mark.ray, pytest.mark.server]


def test_registry_pages_review_and_four_eyes(
    studio, ray_session, tiny_models, tmp_path, monkeypatch
):
    from playwright.sync_api import expect

    from rayline.auth.audit import list_audit
    from rayline.config import acting_as
    from rayline.registry import ApprovalStatus, ModelRegistry
    from rayline.studio.pages.registry import number

    monkeypatch.delenv("RAYLINE_ALLOW_SELF_APPROVAL", raising=False)
    with acting_as("approver-user"):
        execution = registering_pipeline(
            tiny_models[0], tmp_path, name="studio-registry-test", register_step="Register"
        ).start()
    assert execution.wait().status == "Succeeded"
    registry = ModelRegistry()
    assert registry.describe("housing", 1).execution_id == execution.id
    by_hand = tiny_models[1]
    registry.register(
        "housing",
        model=str(by_hand / "model.ubj"),
        preprocessor=str(by_hand / "preprocessor.json"),
        metrics=str(by_hand / "evaluation"),
        description="registered by hand",
    )
    registry.create_group("churn", description="nothing registered yet")
    page = studio.page
    v1, v2 = "/studio/models/housing/versions/1", "/studio/models/housing/versions/2"

    # A viewer: the groups, each with its version count and latest version's status.
    studio.sign_in("viewer", path="/studio/models")
    housing = page.locator('#groups tr[data-group="housing"]')
    expect(housing).to_contain_text("housing")
    expect(housing.locator("td").nth(2)).to_have_text("2")
    expect(housing).to_contain_text(ApprovalStatus.PENDING)
    expect(page.locator('#groups tr[data-group="churn"]')).to_contain_text("none yet")
    studio.shot("models")

    # The group: newest first, with each version's metrics from its evaluation report.
    housing.locator("a", has_text="housing").click()
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    assert [r.get_attribute("data-version") for r in rows.all()] == ["2", "1"]
    expect(page.locator("#versions thead")).to_contain_text("rmse")
    rmse = number(registry.describe("housing", 1).metric("rmse"))
    expect(rows.nth(1).locator('[data-metric="rmse"]')).to_have_text(rmse)
    expect(rows.nth(1)).to_contain_text(execution.id)
    studio.shot("model-group")
    page.select_option("#status", ApprovalStatus.APPROVED)
    page.click("#filter")
    expect(page.locator("#no-versions")).to_contain_text("No version of housing is Approved")

    # The version: metrics, where it came from, its history; review disabled for a viewer.
    page.goto(studio.url(v1))
    expect(page.locator('#metrics tr[data-metric="rmse"]')).to_contain_text(rmse)
    expect(page.locator('#metrics tr[data-metric="mae"]')).to_contain_text("standard deviation")
    link = page.locator("#execution-link")
    assert link.get_attribute("href") == f"/studio/executions/{execution.id}"
    lineage = page.locator("#lineage-link").get_attribute("href")
    assert lineage == "/studio/lineage?kind=model_version&id=housing/1"
    expect(page.locator("#started-by")).to_have_text("approver-user")
    expect(page.locator("#timeline li")).to_have_count(1)
    for button in ("#approve", "#reject"):
        expect(page.locator(button)).to_be_disabled()
        expect(page.locator(button)).to_have_attribute("title", "needs the approver role")
    expect(page.locator("#deploy")).to_have_count(0)
    studio.shot("model-version-as-viewer")
    # ... and the server refuses the viewer's POST anyway (with the session's CSRF token).
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(studio.url(f"{v1}/approve"), form={"csrf": csrf, "reason": "x"})
    assert refused.status == 403 and "viewer role" in refused.text()

    # An operator may not review either.
    studio.sign_in("operator", path=v2)
    expect(page.locator("#approve")).to_be_disabled()
    expect(page.locator("#reject")).to_have_attribute("title", "needs the approver role")

    # An approver on housing/2: a reject needs a reason (the page says so, with a 400) ...
    studio.sign_in("approver", path=v2)
    stale = page.context.new_page()  # a second tab, still showing housing/2 as pending
    stale.goto(studio.url(v2))
    studio.allow(f"{v2}/reject", 400)
    page.fill("#reject-reason", "   ")
    with page.expect_response(lambda r: r.request.method == "POST") as rejected:
        page.click("#reject")
    assert rejected.value.status == 400
    expect(page.locator("#action-error")).to_contain_text("give the reason for the rejection")
    expect(page.locator("#version-status")).to_have_text(ApprovalStatus.PENDING)
    studio.shot("reject-needs-a-reason")
    # ... an approval with one lands in the timeline under the signed-in identity.
    page.fill("#approve-reason", "rmse and mae within budget")
    page.click("#approve")
    expect(page).to_have_url(studio.url(f"{v2}#history"))
    expect(page.locator("#version-status")).to_have_text(ApprovalStatus.APPROVED)
    newest = page.locator("#timeline li").first
    expect(newest).to_contain_text("approver-user")
    expect(newest).to_contain_text("rmse and mae within budget")
    expect(newest).to_contain_text(f"{ApprovalStatus.PENDING} → {ApprovalStatus.APPROVED}")
    expect(page.locator("#approve")).to_be_disabled()
    expect(page.locator("#deploy")).to_have_attribute(
        "href", "/studio/endpoints/new?group=housing&version=2"
    )
    studio.shot("model-version-approved")
    change = registry.history("housing", 2)[-1]
    assert (change.by, change.reason) == ("approver-user", "rmse and mae within budget")
    # The stale tab's approval: Approved already, said on the page (409).
    with stale.expect_response(lambda r: r.request.method == "POST") as again:
        stale.click("#approve")
    assert again.value.status == 409
    expect(stale.locator("#action-error")).to_contain_text("Approved already")
    stale.close()

    # Four eyes: approver-user started the execution that registered housing/1.
    studio.allow(f"{v1}/approve", 403)
    page.goto(studio.url(v1))
    page.fill("#approve-reason", "looks good to me")
    page.click("#approve")
    error = page.locator("#action-error")
    expect(error).to_contain_text(f"'approver-user' started execution {execution.id}")
    expect(error).to_contain_text("four eyes")
    expect(page.locator("#approve-reason")).to_have_value("looks good to me")
    expect(page.locator("#version-status")).to_have_text(ApprovalStatus.PENDING)
    studio.shot("four-eyes-refused")

    # Another pair of eyes (admin-user) may approve it.
    studio.sign_in("admin", path=v1)
    page.fill("#approve-reason", "second pair of eyes")
    page.click("#approve")
    expect(page.locator("#version-status")).to_have_text(ApprovalStatus.APPROVED)
    expect(page.locator("#timeline li").first).to_contain_text("admin-user")
    studio.shot("model-version-approved-by-admin")
    page.goto(studio.url(f"/studio/models/housing?status={ApprovalStatus.APPROVED}"))
    expect(rows).to_have_count(2)
    studio.shot("model-group-approved")

    # Bad addresses: a clear message and a 4xx, never a traceback.
    for path, status, says in (
        ("/studio/models/housing?status=maybe", 400, "is not one of"),
        ("/studio/models/nosuch", 404, "nosuch"),
        ("/studio/models/housing/versions/9", 404, "no version 9; it has 1, 2"),
        ("/studio/models/housing/versions/one", 400, "not a version number"),
    ):
        answer = page.request.get(studio.url(path))
        assert answer.status == status and says in answer.text(), (path, answer.status)
    studio.allow("/studio/models/housing/versions/9", 404)
    page.goto(studio.url("/studio/models/housing/versions/9"))
    expect(page.locator("#page-error")).to_contain_text("no version 9")
    studio.shot("model-version-missing")

    # Who did what is in the audit log, as for the API.
    audit = {(r.identity, r.path, r.status) for r in list_audit()}
    assert {
        ("viewer-user", f"{v1}/approve", 403),
        ("approver-user", f"{v2}/reject", 400),
        ("approver-user", f"{v2}/approve", 200),
        ("approver-user", f"{v2}/approve", 409),
        ("approver-user", f"{v1}/approve", 403),
        ("admin-user", f"{v1}/approve", 200),
    } <= audit


def test_metric_rows_of_any_report_shape():
    from rayline.studio.pages.registry import metric_rows, number

    report = {
        "regression_metrics": {
            "rmse": {"value": 10963.24, "standard_deviation": 0.0},
            "r2": {"value": 0.873412},
        },
        "custom": {"latency_ms": 12, "notes": "fast", "flag": True},
    }
    rows = [(r["section"], r["name"], r["value"], r["extra"]) for r in metric_rows(report)]
    assert rows == [
        ("regression_metrics", "rmse", "10,963", "standard deviation 0"),
        ("regression_metrics", "r2", "0.8734", ""),
        ("custom", "latency_ms", "12", ""),
    ]
    assert metric_rows(None) == [] and metric_rows([1, 2]) == []
    assert number(0.000123456) == "0.0001235" and number("n/a") == "n/a"
