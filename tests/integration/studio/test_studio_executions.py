"""Studio's executions, the rest of it, in a real browser against a real server and real runs:
a 50-step DAG collapses into boxes (open one, expand all, collapse) that count their steps per
status; the step panel shows what a step read (its inputs), its attempts and cache source, and
links to its lineage, trials and metrics; chosen steps re-run (only they run, their upstream
steps' results are reused, the rest are skipped; a viewer is refused); two executions compare
side by side with the parameter that differs highlighted. Every page is screenshotted."""

from __future__ import annotations

import re

import pytest

from rayline import Execution, ParameterInteger, Pipeline, step

pytestmark = [pytest.mark.ray, pytest.mark.server]

FITS = 4


def _fifty_steps() -> Pipeline:
    """Mixed, 50 steps: a load, a fan-out of 40 fits, a join, then a chain of eight."""

    @step(name="load")
    def load():
        return 1

    fits = [step(name=f"fit-{i:02d}")(lambda x: x) for i in range(40)]
    first = load()
    outs = [f(first) for f in fits]

    @step(name="join")
    def join(*xs):
        return sum(xs)

    last = join(*outs)
    for i in range(8):
        last = step(name=f"post-{i}")(lambda x: x)(last)
    return Pipeline("studio-fifty", steps=[last])


def _runs_pipeline() -> Pipeline:
    """prepare(Count) → fit-0..3 → evaluate (a property file: Metrics); a tuning step in the
    branch of a gate never taken (its panel links to Trials)."""
    from rayline.conditions import ConditionGreaterThan
    from rayline.definition.steps import (
        ConditionStep,
        ProcessingOutput,
        ProcessingStep,
        PropertyFile,
    )
    from rayline.ml import IntegerParameter, TuningStep, XGBoostTrainer

    count = ParameterInteger("Count", default_value=2)

    def evaluate_fits(ctx):  # defined here so that it is pickled by value
        import json
        import pathlib

        total = sum(float(a) for a in ctx.arguments)
        report = {"regression_metrics": {"rmse": {"value": total / 10}}}
        pathlib.Path(ctx.outputs["evaluation"], "evaluation.json").write_text(json.dumps(report))

    @step(name="prepare")
    def prepare(n):
        print(f"preparing {n}")
        return n * 10

    rows = prepare(count)
    fits = [step(name=f"fit-{i}")(lambda r, i=i: r + i)(rows) for i in range(FITS)]
    report = PropertyFile("Evaluation", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "evaluate",
        function=evaluate_fits,
        arguments=[f.result for f in fits],
        outputs=[ProcessingOutput("evaluation")],
        property_files=[report],
    )
    tune = TuningStep(
        "tune",
        trainer=XGBoostTrainer(label="y", num_boost_round=2),
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 3)},
        objective_metric="validation:rmse",
        max_jobs=1,
        inputs={"train": "file:///nowhere/train", "validation": "file:///nowhere/validation"},
    )
    gate = ConditionStep(
        "gate", conditions=[ConditionGreaterThan(left=count, right=1000)], if_steps=[tune]
    )
    return Pipeline("studio-runs", parameters=[count], steps=[evaluate, gate])


def _succeeded(execution: Execution) -> Execution:
    assert execution.wait().status == "Succeeded", execution.describe().failure_reason
    return execution


def test_fifty_step_dag_collapses_and_expands(studio, rayline_home):
    from playwright.sync_api import expect

    _fifty_steps().upsert()
    page = studio.page
    studio.sign_in("viewer", path="/studio/pipelines/studio-fifty")
    nodes, groups = page.locator(".dag .node"), page.locator(".dag .node.group")
    # By default: load, the fan-out as four chunks of ten, join and the chain after it.
    expect(nodes).to_have_count(1 + 4 + 9)
    expect(groups).to_have_count(4)
    chunk = page.locator('.node[data-group="fit-00~10"]')
    expect(chunk.locator(".label")).to_have_text("fit-0*")
    expect(chunk.locator(".meta")).to_have_text("10 steps · 10 parallel")
    studio.shot("fifty-default")

    # Open a chunk: its ten steps replace it, the page is not reloaded, the URL says so.
    page.evaluate("window.__notReloaded = true")
    chunk.click()
    expect(page.locator('.node[data-step="fit-05"]')).to_be_visible()
    expect(nodes).to_have_count(14 - 1 + 10)
    assert "expand=" in page.url and page.evaluate("window.__notReloaded") is True
    studio.shot("fifty-one-open")

    # Expand all: every step and edge; zoom still works on the new graph.
    page.click('[data-regroup="all"]')
    expect(nodes).to_have_count(50)
    expect(page.locator(".dag .edge")).to_have_count(40 + 40 + 8)
    svg = page.locator(".dag-svg")
    fitted = svg.get_attribute("viewBox")
    page.click('[data-zoom="in"]')
    assert svg.get_attribute("viewBox") != fitted
    studio.shot("fifty-expanded")

    # Collapse: the fan-out is one box, join and the chain after it another.
    page.click('[data-regroup="none"]')
    expect(nodes).to_have_count(3)
    expect(page.locator('.node[data-group="fit-00~40"] .meta')).to_have_text(
        "40 steps · 4 parallel"
    )
    expect(page.locator('.node[data-group="join~9"] .label')).to_have_text("join … post-7")
    studio.shot("fifty-collapsed")
    # A reload keeps the view; an unknown group id in the URL is ignored.
    page.reload()
    expect(nodes).to_have_count(3)
    studio.goto("/studio/pipelines/studio-fifty?expand=nope~9")
    expect(nodes).to_have_count(3)

    # 1,000 executions: the list pages through them newest first, 50 a page, each page exactly
    # the right slice (how fast a page loads is benchmarks/studio.py's job, not a test's).
    from rayline.engine.repository import open_repository

    repo = open_repository()
    for i in range(1000):
        repo.create_execution(f"{i:016x}", "studio-fifty", 1, {}, max_parallel_steps=None)
    stored = sorted(repo.list_executions(limit=5000), key=lambda e: e.id)
    newest_first = [e.id for e in sorted(stored, key=lambda e: e.created_at, reverse=True)]
    assert len(newest_first) >= 1000

    def listed(offset: int) -> tuple[list[str], str]:
        response = page.request.get(studio.url(f"/studio/executions?offset={offset}"))
        assert response.ok, response.status
        html = response.text()
        return re.findall(r'name="id" value="([^"]+)"', html), html

    shown, html = listed(500)
    assert shown == newest_first[500:550]
    assert 'offset=450">Newer' in html and 'offset=550">Older' in html
    last = (len(newest_first) - 1) // 50 * 50
    shown, html = listed(last)
    assert shown == newest_first[last:]
    assert ">Older<" not in html


def test_step_panel_rerun_and_compare(studio, ray_session):
    from playwright.sync_api import expect

    pipeline = _runs_pipeline()
    first = _succeeded(pipeline.start({"Count": 2}))
    second = _succeeded(pipeline.start({"Count": 3}))
    page = studio.page
    studio.sign_in("operator", path=f"/studio/executions/{first.id}?expand=none")

    # Collapsed: prepare → fits → evaluate is one box, the gate and its branch another;
    # opened one level, the fan-out's box counts its four succeeded steps.
    expect(page.locator(".dag .node")).to_have_count(2)
    expect(page.locator('.node[data-group="gate~2"] .meta')).to_have_text("ok 1 · wait 1")
    page.locator('.node[data-group="prepare~6"]').click()
    fan = page.locator('.node[data-group="fit-0~4"]')
    expect(fan.locator(".meta")).to_have_text(f"ok {FITS}")
    expect(fan).to_have_class(re.compile(r"\bst-Succeeded\b"))
    expect(page.locator("#execution-lineage")).to_have_attribute(
        "href", f"/studio/lineage?kind=execution&id={first.id}"
    )
    studio.shot("execution-collapsed")

    # The step panel: what the step read, attempts, cache, and links.
    page.click('[data-regroup="all"]')
    page.locator('.node[data-step="fit-2"]').click()
    inputs = page.locator("#inputs")
    expect(inputs).to_contain_text("Steps.prepare.Return")
    expect(inputs).to_contain_text("20")
    panel = page.locator("#step-panel")
    expect(panel).to_contain_text("Attempts")
    expect(page.locator("#cached-from")).to_contain_text("not cached")
    expect(page.locator("#step-lineage")).to_have_attribute(
        "href", f"/studio/lineage?kind=step_run&id={first.id}/fit-2"
    )
    expect(page.locator("#step-trials")).to_have_count(0)
    studio.shot("step-inputs")
    page.locator('.node[data-step="prepare"]').click()
    expect(page.locator("#inputs")).to_contain_text("Parameters.Count")
    page.locator('.node[data-step="evaluate"]').click()
    steps_url = f"/studio/executions/{first.id}/steps"
    expect(page.locator("#step-metrics")).to_have_attribute("href", f"{steps_url}/evaluate/metrics")
    page.locator('.node[data-step="tune"]').click()
    expect(page.locator("#step-trials")).to_have_attribute("href", f"{steps_url}/tune/tuning")
    expect(page.locator("#inputs")).to_contain_text("file:///nowhere/train")
    studio.shot("step-tuning-links")

    # Re-run fit-1 alone: prepare is taken from this execution, the others do not run.
    page.click("#rerun-details summary")
    page.check('#rerun-form input[value="fit-1"]')
    studio.shot("rerun-chosen")
    page.click("#rerun")
    expect(page).to_have_url(re.compile(r"/studio/executions/[0-9a-f]{16}$"))
    rerun_id = page.url.rsplit("/", 1)[1]
    assert rerun_id not in (first.id, second.id)
    expect(page.locator('.node[data-step="fit-1"]')).to_have_class(
        re.compile(r"\bst-Succeeded\b"), timeout=60_000
    )
    expect(page.locator("#execution-status")).to_have_text("Succeeded", timeout=60_000)
    expect(page.locator("#selective-note")).to_contain_text("ran fit-1")
    runs = {r.step_name: r for r in Execution(rerun_id).list_steps()}
    assert set(runs) == {"prepare", "fit-1"}
    assert runs["prepare"].cached_from == first.id and runs["prepare"].attempts == 0
    assert runs["fit-1"].cached_from is None and runs["fit-1"].attempts == 1
    page.locator('.node[data-step="prepare"]').click()
    expect(page.locator("#cached-from")).to_contain_text(first.id)
    studio.shot("rerun-done")

    # Refusals on the page: a selection the graph does not allow; a viewer.
    page.goto(studio.url(f"/studio/executions/{first.id}"))
    page.click("#rerun-details summary")
    page.check('#rerun-form input[value="prepare"]')
    page.check('#rerun-form input[value="evaluate"]')
    studio.allow(f"/studio/executions/{first.id}/rerun", 400)
    page.click("#rerun")
    expect(page.locator("#action-error")).to_contain_text("must be selected too")
    expect(page.locator('#rerun-form input[value="evaluate"]')).to_be_checked()
    studio.shot("rerun-refused")
    studio.sign_in("viewer", path=f"/studio/executions/{first.id}")
    expect(page.locator("#rerun")).to_be_disabled()
    csrf = page.locator('input[name="csrf"]').first.get_attribute("value")
    refused = page.request.post(
        studio.url(f"/studio/executions/{first.id}/rerun"), form={"csrf": csrf, "step": "fit-1"}
    )
    assert refused.status == 403 and "viewer role" in refused.text()

    # Compare: ticked in the list; Count differs (highlighted), so do the numbers it drove.
    studio.goto("/studio/executions")
    expect(page.locator("#compare")).to_be_disabled()
    page.check(f'input[name="id"][value="{first.id}"]')
    page.check(f'input[name="id"][value="{second.id}"]')
    studio.shot("executions-compare-ticked")
    page.click("#compare")
    expect(page).to_have_url(re.compile(r"/studio/compare\?"))
    count = page.locator('#compare-parameters tr[data-key="Count"]')
    expect(count).to_have_class("differs")
    # Newest first in the list: A is the second execution (Count 3), B the first (Count 2).
    expect(page.locator("#compare-heads")).to_contain_text(second.id)
    expect(count.locator("td")).to_have_text(["Count", "3", "2", "-1"])
    metrics = page.locator("#compare-metrics")
    expect(metrics).to_contain_text("prepare.Return")
    expect(metrics).to_contain_text("evaluate.Evaluation.regression_metrics.rmse.value")
    expect(page.locator('#compare-metrics tr[data-key="prepare.Return"]')).to_have_class("differs")
    expect(page.locator('#compare-durations tr[data-key="fit-0"] td')).to_have_count(4)
    studio.shot("compare")
    # From an execution: "Compare with…"; a missing id is a 404 message.
    studio.allow(f"/studio/compare?a={first.id}&b=0000000000000000", 404)
    studio.goto(f"/studio/compare?a={first.id}&b=0000000000000000")
    expect(page.locator("main")).to_contain_text("0000000000000000")
    studio.goto(f"/studio/executions/{first.id}")
    page.select_option("#compare-b", second.id)
    page.click("#compare-with #compare")
    expect(page.locator('#compare-parameters tr[data-key="Count"] td')).to_have_text(
        ["Count", "2", "3", "+1"]
    )
