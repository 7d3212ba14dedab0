"""Studio's endpoints pages in a real browser against a real server (authentication on) and a
real Ray Serve: an operator deploys an Approved version from the form (a bad name and an
unapproved version show the service's message), sees it InService, invokes it with a CSV row and
JSON (prediction and latency shown) and a malformed row (the endpoint's message shown), updates
it to the other Approved version and deletes it after a confirm step; a viewer invokes, sees the
changes disabled and the server refuses them anyway. Every page is screenshotted."""

from __future__ import annotations

import json
import re

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server]

ROW = "2008,3063.66,2,1.0,1.37,2,0,0"
NAME = "housing-studio"
PAGE = f"/studio/endpoints/{NAME}"


@pytest.fixture
def registry(studio_server, tiny_models, serve_port):
    """``housing/1`` and ``/2`` Approved (two different models), ``housing/3`` pending; no
    endpoint is left behind, whatever the test did."""
    from rayline.registry import ModelRegistry

    registry = ModelRegistry()
    for n, d in enumerate((*tiny_models, tiny_models[0]), start=1):
        registry.register(
            "housing",
            model=str(d / "model.ubj"),
            preprocessor=str(d / "preprocessor.json"),
            description=f"tiny model {n}",
        )
    registry.approve("housing", 1, reason="good enough")
    registry.approve("housing", 2, reason="better")
    yield registry
    from rayline.serving import Endpoints

    endpoints = Endpoints()
    for endpoint in endpoints.list():
        endpoints.delete(endpoint.name)


def _expected(model_dir, row: str) -> float:
    import numpy as np
    import xgboost as xgb

    pre = json.loads((model_dir / "preprocessor.json").read_text())
    booster = xgb.Booster(model_file=str(model_dir / "model.ubj"))
    values = (np.array([row.split(",")], dtype=float) - pre["means"]) / pre["stds"]
    return float(booster.inplace_predict(values)[0])


def _invoke(page, body: str, content_type: str = "text/csv") -> None:
    """Send ``body`` from the invoke form; returns once the page shows the answer or the
    error (the script hides both as it sends)."""
    page.select_option("#invoke-type", content_type)
    page.fill("#invoke-body", body)
    page.click("#invoke")
    page.wait_for_selector("#invoke-result:not([hidden]), #invoke-error:not([hidden])")


def test_deploy_invoke_update_delete_and_roles(studio, registry, tiny_models):
    from playwright.sync_api import expect

    page = studio.page
    studio.allow("/studio/endpoints", 400)  # the deploy form refusing a bad name
    studio.allow(f"{PAGE}/invoke", 400)  # the endpoint refusing a malformed row

    # An operator: no endpoint yet; the deploy form offers only the Approved versions.
    studio.sign_in("operator", path="/studio/endpoints")
    expect(page.locator("#no-endpoints")).to_be_visible()
    studio.shot("endpoints-empty")
    page.click("#new-endpoint")
    expect(page).to_have_url(re.compile(r"/studio/endpoints/new$"))
    options = page.locator("#ep-model option")
    assert options.evaluate_all("os => os.map(o => o.value)") == ["housing/2", "housing/1"]

    # A bad name: the service's message, on the form, with what was typed.
    page.fill("#ep-name", "bad_name")
    page.select_option("#ep-model", "housing/1")
    with page.expect_response(lambda r: r.request.method == "POST") as refused:
        page.click("#deploy")
    assert refused.value.status == 400
    expect(page.locator("#deploy-error")).to_contain_text("endpoint name 'bad_name' is not valid")
    expect(page.locator("#ep-name")).to_have_value("bad_name")
    studio.shot("deploy-bad-name")

    # An unapproved version: the link to it says why, and the POST gets the service's 409.
    studio.goto("/studio/endpoints/new?group=housing&version=3")
    expect(page.locator("#deploy-notice")).to_contain_text("housing/3 is PendingManualApproval")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    pending = page.request.post(
        studio.url("/studio/endpoints"),
        form={"csrf": csrf, "name": "ep-pending", "model": "housing/3", "replicas": "1"},
    )
    assert pending.status == 409
    assert "housing/3 is PendingManualApproval" in pending.text()
    studio.shot("deploy-unapproved")

    # Deployed from the form: its page once it is InService.
    studio.goto("/studio/endpoints/new?group=housing&version=1")
    expect(page.locator("#ep-model")).to_have_value("housing/1")
    page.fill("#ep-name", NAME)
    page.fill("#ep-cpus", "0.1")
    with page.expect_navigation(url=re.compile(f"{PAGE}$"), timeout=120_000):
        page.click("#deploy")
    expect(page.locator("#endpoint-status")).to_have_text("InService")
    expect(page.locator("#serving")).to_have_text("housing/1")
    assert page.locator("#serving").get_attribute("href") == "/studio/models/housing/versions/1"
    expect(page.locator("#history")).to_contain_text("create")
    expect(page.locator("#history")).to_contain_text("operator-user")
    state = page.request.get(studio.url(f"{PAGE}/state")).json()
    assert state["status"] == "InService" and state["live"] is True

    # Invoked with a CSV row: the prediction and the latency measured by the server.
    _invoke(page, ROW)
    expect(page.locator("#latency")).to_have_text(re.compile(r"^\d+\.\d ms$"))
    want = _expected(tiny_models[0], ROW)
    assert float(page.locator("#prediction").text_content()) == pytest.approx(want, rel=1e-5)
    studio.shot("endpoint-invoked")
    instances = json.dumps({"instances": [[float(v) for v in ROW.split(",")]]})
    _invoke(page, instances, "application/json")
    expect(page.locator("#invoke-media")).to_have_text("application/json")
    answer = json.loads(page.locator("#prediction").text_content())
    assert answer["predictions"] == pytest.approx([want], rel=1e-5)

    # A malformed row: the endpoint's 400 message on the page, no error page.
    _invoke(page, "1,2")
    expect(page.locator("#invoke-error")).to_contain_text("expected 8")
    expect(page.locator("#invoke-result")).to_be_hidden()
    studio.shot("endpoint-malformed-row")

    # Updated to the other Approved version, in place.
    expect(page.locator("#update-version option")).to_have_text(["housing/2 · tiny model 2"])
    with page.expect_navigation(url=re.compile(f"{PAGE}$"), timeout=120_000):
        page.click("#update")
    expect(page.locator("#serving")).to_have_text("housing/2")
    expect(page.locator("#endpoint-status")).to_have_text("InService")
    expect(page.locator("#history tbody tr").first).to_contain_text("ready")
    expect(page.locator("#history")).to_contain_text("from housing/1")
    _invoke(page, ROW)
    expect(page.locator("#latency")).to_have_text(re.compile(r"ms$"))
    want2 = _expected(tiny_models[1], ROW)
    assert float(page.locator("#prediction").text_content()) == pytest.approx(want2, rel=1e-5)
    studio.shot("endpoint-updated")

    # A viewer: the list and the page, invoking works, the changes are disabled ...
    studio.sign_in("viewer", path="/studio/endpoints")
    row = page.locator(f'#endpoints tr[data-endpoint="{NAME}"]')
    expect(row).to_contain_text("InService")
    expect(row.locator("a", has_text="housing/2")).to_have_attribute(
        "href", "/studio/models/housing/versions/2"
    )
    expect(page.locator("#new-endpoint")).to_be_disabled()
    studio.shot("endpoints-as-viewer")
    studio.goto(PAGE)
    for button in ("#update", "#delete"):
        expect(page.locator(button)).to_be_disabled()
        expect(page.locator(button)).to_have_attribute("title", "needs the operator role")
    _invoke(page, ROW)
    expect(page.locator("#latency")).to_have_text(re.compile(r"ms$"))
    studio.shot("endpoint-as-viewer")

    # ... and the server refuses them anyway (the viewer's session and CSRF token).
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    for path, form in (
        (f"{PAGE}/update", {"version": "1"}),
        (f"{PAGE}/delete", {"confirm": NAME}),
        ("/studio/endpoints", {"name": "ep-viewer", "model": "housing/1"}),
    ):
        refused = page.request.post(studio.url(path), form={"csrf": csrf, **form})
        assert refused.status == 403, path
        assert "viewer role" in refused.text() and "deploying, updating and deleting" in (
            refused.text()
        )
    # Invoking without the session's CSRF token is refused too.
    forged = page.request.post(
        studio.url(f"{PAGE}/invoke"), data=ROW, headers={"Content-Type": "text/csv"}
    )
    assert forged.status == 403 and "CSRF" in forged.json()["detail"]

    # The operator deletes it, after the confirm step.
    studio.sign_in("operator", path=PAGE)
    expect(page.locator("#delete-form")).to_be_hidden()
    page.click("#delete")
    expect(page.locator("#delete-confirm")).to_be_visible()
    studio.shot("endpoint-delete-confirm")
    with page.expect_navigation(url=re.compile(r"/studio/endpoints$"), timeout=60_000):
        page.click("#delete-confirm")
    expect(page.locator("#no-endpoints")).to_be_visible()
    studio.shot("endpoints-after-delete")
    studio.allow(PAGE, 404)
    assert studio.goto(PAGE).status == 404
    expect(page.locator("#page-error")).to_contain_text(NAME)
    from rayline.serving import Endpoints

    assert Endpoints().list() == []

    # Who did what is in the audit log, as for the API.
    from rayline.auth.audit import list_audit

    rows = {(r.identity, r.path, r.status) for r in list_audit()}
    assert ("operator-user", "/studio/endpoints", 200) in rows
    assert ("operator-user", "/studio/endpoints", 409) in rows
    assert ("operator-user", f"{PAGE}/update", 200) in rows
    assert ("operator-user", f"{PAGE}/invoke", 400) in rows
    assert ("viewer-user", f"{PAGE}/invoke", 200) in rows
    assert ("viewer-user", f"{PAGE}/delete", 403) in rows
    assert ("operator-user", f"{PAGE}/delete", 200) in rows
