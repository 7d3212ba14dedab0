"""The reference workflow in Studio, the way a team does it, in a real browser against a real
server (authentication on), real Ray and Ray Serve: an operator starts the housing pipeline from
its page and watches it finish live, reads the tuning step's logs, trials and the evaluation's
metrics; a viewer cannot approve the model (the button is disabled, the server refuses); an
approver approves it; the operator deploys it and invokes it from the form with a raw CSV row;
the model's lineage is a graph and a table; a SQL query runs on the feature group. The console
shows no errors; every page is screenshotted."""

from __future__ import annotations

import csv
import re
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server]

HOUSING = Path(__file__).resolve().parents[3] / "examples" / "housing"
ENDPOINT = "housing-studio-flow"


def _raw_row() -> tuple[str, float]:
    """A CSV row of the reference data without its label, and the label."""
    with (HOUSING / "data" / "house_pricing.csv").open() as f:
        header, first = list(csv.reader(f))[:2]
    price = header.index("PRICE")
    return ",".join(v for i, v in enumerate(first) if i != price), float(first[price])


@pytest.fixture
def housing(studio_server, ray_session, serve_port):
    """The reference pipeline, upserted (as `make demo` does); no endpoint is left behind."""
    sys.path.insert(0, str(HOUSING))
    try:
        from pipeline import MODEL_PACKAGE_GROUP, get_pipeline
    finally:
        sys.path.remove(str(HOUSING))
    pipeline = get_pipeline(max_jobs=2, max_parallel_jobs=2)
    pipeline.upsert()
    yield pipeline, MODEL_PACKAGE_GROUP
    from rayline.serving import Endpoints

    endpoints = Endpoints()
    for endpoint in endpoints.list():
        endpoints.delete(endpoint.name)


def test_the_reference_workflow_from_studio(studio, housing):
    from playwright.sync_api import expect

    from rayline.registry import ModelRegistry

    pipeline, group = housing
    page = studio.page

    # An operator starts the pipeline from its page, with its defaults.
    studio.sign_in("operator", path=f"/studio/pipelines/{pipeline.name}")
    expect(page.locator(".node")).to_have_count(7)  # five steps, the register and fail branches
    studio.shot("reference-pipeline")
    page.click("#start")
    expect(page).to_have_url(re.compile(r"/studio/executions/[0-9a-f]{16}$"))
    execution_id = page.url.rsplit("/", 1)[1]
    page.evaluate("window.__notReloaded = true")

    # It finishes live: every step on the taken branch turns green without a reload.
    taken = (
        "FeatureStoreIngestion",
        "PreprocessData",
        "HPTuning",
        "EvaluateModel",
        "CheckEvaluation",
        "RegisterTrainedModel",
    )
    for name in taken:
        expect(page.locator(f'.node[data-step="{name}"]')).to_have_class(
            re.compile(r"\bst-Succeeded\b"), timeout=240_000
        )
    expect(page.locator("#execution-status")).to_have_text("Succeeded")
    assert page.evaluate("window.__notReloaded") is True
    studio.shot("reference-execution")

    # The tuning step's logs, then its trials and the evaluation's metrics.
    page.locator('.node[data-step="HPTuning"]').click()
    expect(page.locator("#logs")).to_contain_text("2 trials in")
    studio.shot("tuning-step-logs")
    studio.goto(f"/studio/executions/{execution_id}/steps/HPTuning/tuning")
    expect(page.locator("#trials tbody tr")).to_have_count(2)
    expect(page.locator("#charts svg").first).to_be_visible()
    studio.shot("tuning-trials")
    studio.goto(f"/studio/executions/{execution_id}/steps/EvaluateModel/metrics")
    expect(page.locator("#property-files")).to_contain_text("rmse")
    studio.shot("evaluation-metrics")

    # The registered version: a viewer sees the review disabled, and the server refuses it.
    version_page = f"/studio/models/{group}/versions/1"
    studio.sign_in("viewer", path=version_page)
    expect(page.locator("#version-status")).to_have_text("PendingManualApproval")
    expect(page.locator("#approve")).to_be_disabled()
    expect(page.locator("#metrics")).to_contain_text("rmse")
    # The step registered it as whoever started the execution, not the server's OS user.
    expect(page.locator("#origin dd").first).to_contain_text("by operator-user")
    assert ModelRegistry().describe(group, 1).created_by == "operator-user"
    studio.shot("model-version-as-viewer")
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(
        studio.url(f"{version_page}/approve"), form={"csrf": csrf, "reason": "looks good"}
    )
    assert refused.status == 403 and "viewer role" in refused.text()

    # An approver approves it, with a reason; the timeline names who.
    studio.sign_in("approver", path=version_page)
    page.fill("#approve-reason", "rmse under the threshold")
    page.click("#approve")
    expect(page.locator("#version-status")).to_have_text("Approved")
    expect(page.locator("#timeline")).to_contain_text("approver-user")
    expect(page.locator("#timeline")).to_contain_text("rmse under the threshold")
    studio.shot("model-version-approved")

    # The operator deploys it from the version's page and invokes it with a raw CSV row.
    studio.sign_in("operator", path=version_page)
    page.click("#deploy")
    expect(page).to_have_url(re.compile(r"/studio/endpoints/new\?"))
    page.fill("#ep-name", ENDPOINT)
    expect(page.locator("#ep-model")).to_have_value(f"{group}/1")
    studio.shot("deploy-form")
    page.click("#deploy")
    expect(page).to_have_url(studio.url(f"/studio/endpoints/{ENDPOINT}"), timeout=180_000)
    expect(page.locator("#endpoint-status")).to_have_text("InService")
    row, price = _raw_row()
    page.select_option("#invoke-type", "text/csv")
    page.fill("#invoke-body", row)
    page.click("#invoke")
    expect(page.locator("#prediction")).to_be_visible()
    predicted = float(re.findall(r"[-\d.]+", page.locator("#prediction").text_content())[0])
    assert abs(predicted - price) / price < 0.5
    expect(page.locator("#latency")).to_contain_text("ms")
    studio.shot("endpoint-invoked")

    # The model version's lineage: a graph back to the feature group, and the same as a table.
    studio.goto(f"/studio/lineage?kind=model_version&id={group}/1")
    expect(page.locator(".lineage-node").first).to_be_visible()
    kinds = set(page.locator(".lineage-node").evaluate_all("ns => ns.map(n => n.dataset.kind)"))
    assert {"model", "step", "feature_group"} <= kinds, kinds
    expect(page.locator("#lineage-table")).to_contain_text("RegisterTrainedModel")
    studio.shot("model-lineage")

    # A SQL query on the feature group the pipeline ingested into.
    feature_group = "fs-ray-synthetic-housing-data"
    studio.goto(f"/studio/feature-groups/{feature_group}")
    page.fill("#sql", f'SELECT count(*) AS n FROM "{feature_group}"')
    page.click("#run-sql")
    expect(page.locator("#sql-count")).to_have_text("1 row")
    rows = int(page.locator("#sql-result tbody td").first.text_content().replace(",", ""))
    with (HOUSING / "data" / "house_pricing.csv").open() as f:
        assert rows == sum(1 for _ in csv.DictReader(f))  # every row of the CSV, once
    studio.shot("feature-group-sql")
