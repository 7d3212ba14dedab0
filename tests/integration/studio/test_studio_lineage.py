"""Studio's lineage page in a real browser, against a real server and one small real pipeline
(tune → evaluate → register): the chooser with its hint, an execution's lineage as a graph
(a node per node the builder reaches, coloured by kind, pan and zoom) and as SageMaker's
lineage table, a node's click opening its own lineage, and an unknown node's 404 message."""

from __future__ import annotations

import re

import pytest
from tests.integration.studio.test_studio_tuning import tuning_pipeline

pytestmark = [pytest.mark.ray, pytest.mark.server]


def test_lineage_graph_table_and_navigation(studio, ray_session, tmp_path):
    from playwright.sync_api import expect

    from rayline.lineage import LineageBuilder

    execution = tuning_pipeline(tmp_path, name="studio-lineage", register=True).start()
    assert execution.wait().status == "Succeeded"
    eid = execution.id
    page = studio.page

    # No node chosen: the form, what names each kind, and recent executions to start from.
    studio.sign_in("viewer", path="/studio/lineage")
    expect(page.locator("#lineage-hint")).to_contain_text("EXECUTION_ID/STEP_NAME")
    expect(page.locator("#kind option")).to_have_count(6)
    studio.shot("lineage-chooser")

    # The execution's lineage: every node the builder reaches, drawn and listed.
    page.locator("#recent a", has_text=eid).click()
    expect(page).to_have_url(re.compile(r"/studio/lineage\?kind=execution&id=" + eid))
    around = LineageBuilder().around("execution", eid)
    expect(page.locator(".lineage-node")).to_have_count(len(around.nodes))
    expect(page.locator(".lineage-dag .edge")).to_have_count(len(around.edges))
    expect(page.locator(f'.lineage-node.r-focus[data-node="execution:{eid}"]')).to_have_count(1)
    for kind in ("step", "artifact", "code", "model", "execution"):
        assert page.locator(f".lineage-node.k-{kind}").count() >= 1, kind
    model = page.locator('.lineage-node[data-node="model:studio-lineage/1"]')
    assert model.locator("a.node-open").get_attribute("href") == (
        "/studio/models/studio-lineage/versions/1"
    )
    step = page.locator(f'.lineage-node[data-node="step:{eid}/Evaluate"]')
    assert step.locator("a.node-open").get_attribute("href") == f"/studio/executions/{eid}"
    # Pan and zoom are the DAG's (studio.js).
    svg = page.locator(".lineage-dag .dag-svg")
    fitted = svg.get_attribute("viewBox")
    page.click('.lineage-dag [data-zoom="in"]')
    assert svg.get_attribute("viewBox") != fitted
    page.click('.lineage-dag [data-zoom="fit"]')
    assert svg.get_attribute("viewBox") == fitted

    # The table: SageMaker's columns, a row per node but the focus.
    headers = page.locator("#lineage-table thead th").all_text_contents()
    assert headers[:5] == ["Name/Source", "Direction", "Type", "Association Type", "Lineage Type"]
    rows = page.locator("#lineage-table tbody tr")
    expect(rows).to_have_count(len(around.nodes) - 1)
    evaluate = page.locator(f'#lineage-table tr[data-node="step:{eid}/Evaluate"]')
    expect(evaluate).to_contain_text("Member")
    expect(evaluate).to_contain_text("ProcessingStep")
    registered = page.locator('#lineage-table tr[data-node="model:studio-lineage/1"]')
    expect(registered).to_contain_text("Output")
    expect(registered).to_contain_text("Produced")
    expect(registered).to_contain_text("registered")
    studio.shot("lineage-execution")

    # A node's click: its own lineage (the evaluation step run, upstream to the tuning step).
    step.locator("a.node-lineage").click()
    expect(page).to_have_url(re.compile(r"kind=step_run&id=" + eid + "%2FEvaluate"))
    expect(page.locator("#focus")).to_have_text("Evaluate")
    tune = page.locator(f'#lineage-table tr[data-node="step:{eid}/Tune"]')
    expect(tune).to_contain_text("Input")
    upstream = page.locator('#lineage-table tr[data-direction="Input"]')
    assert upstream.count() >= 3  # the tuning step, its model output, the test data, the code
    studio.shot("lineage-step-run")

    # Upstream only, one hop: fewer nodes, none downstream.
    page.select_option("#direction", "upstream")
    page.fill("#depth", "1")
    page.click("#show-lineage")
    expect(page.locator('#lineage-table tr[data-direction="Output"]')).to_have_count(0)
    assert page.locator(".lineage-node.r-downstream").count() == 0

    # What does not exist: a 404 message on the page, the form still there to fix it.
    missing = f"/studio/lineage?kind=execution&id=nosuch{eid}"
    studio.allow(missing, 404)
    response = studio.goto(missing)
    assert response.status == 404
    expect(page.locator("#lineage-error")).to_contain_text("does not exist")
    expect(page.locator("#lineage-id")).to_have_value(f"nosuch{eid}")
    studio.shot("lineage-unknown")
    bad = "/studio/lineage?kind=pipeline&id=x"
    studio.allow(bad, 400)
    response = studio.goto(bad)
    assert response.status == 400
    expect(page.locator("#lineage-error")).to_contain_text("is not a kind of lineage node")
