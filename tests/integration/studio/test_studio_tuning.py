"""Studio's tuning and metrics pages in a real browser, against a real server and one small
real pipeline: a TuningStep on synthetic data (in-process trials, about a second) and a
ProcessingStep that scores the best trial's model into ``evaluation.json``. The tuning page
lists every trial best first and draws the objective per trial and against each
hyperparameter; the metrics page shows the evaluation report and the MLflow-tracked metrics;
a step that is not a tuning step, and an unknown execution, answer 404 with a message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server]

RANGES = ("max_depth", "eta")

EVALUATE = """
from rayline.engine.context import processing_context
from rayline.ml.evaluation import evaluate_model

ctx = processing_context()
out = ctx.outputs["evaluation"]
evaluate_model(ctx.inputs["model"], ctx.inputs["test"], label="y", output_dir=out)
"""


def synthetic_splits(root: Path) -> dict[str, Path]:
    """train/validation/test directories of a small synthetic regression (y from x1, x2)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, size=(300, 2))
    y = 3 * x[:, 0] - 2 * x[:, 1] + rng.normal(0, 0.1, 300)
    df = pd.DataFrame({"y": y, "x1": x[:, 0], "x2": x[:, 1]})
    out = {}
    for name, part in (("train", df[:200]), ("validation", df[200:250]), ("test", df[250:])):
        out[name] = root / name
        out[name].mkdir(parents=True)
        part.to_parquet(out[name] / "part.parquet", index=False)
    return out


def tuning_pipeline(root: Path, *, name: str, register: bool = False):
    """Tune (4 trials over max_depth and eta) → Evaluate (evaluation.json), and with
    ``register`` a ModelStep registering the best model with that report."""
    from rayline import Pipeline
    from rayline.definition.steps import (
        ProcessingInput,
        ProcessingOutput,
        ProcessingStep,
        PropertyFile,
    )
    from rayline.ml import ContinuousParameter, IntegerParameter, TuningStep, XGBoostTrainer

    splits = synthetic_splits(root / "data")
    script = root / "evaluate.py"
    script.write_text(EVALUATE)
    tune = TuningStep(
        "Tune",
        trainer=XGBoostTrainer(label="y", num_boost_round=10),
        hyperparameter_ranges={
            "max_depth": IntegerParameter(2, 5),
            "eta": ContinuousParameter(0.1, 0.9),
        },
        objective_metric="validation:rmse",
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        inputs={"train": str(splits["train"]), "validation": str(splits["validation"])},
    )
    report = PropertyFile("EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        code=str(script),
        inputs=[
            ProcessingInput(source=tune.get_top_model_uri(top_k=0), destination="model"),
            ProcessingInput(source=str(splits["test"]), destination="test"),
        ],
        outputs=[ProcessingOutput("evaluation")],
        property_files=[report],
    )
    steps = [tune, evaluate]
    if register:
        from rayline.registry.steps import ModelStep

        steps.append(
            ModelStep(
                "Register",
                model=tune.best_model,
                model_package_group="studio-lineage",
                metrics=evaluate.outputs["evaluation"],
            )
        )
    return Pipeline(name, steps=steps)


def test_tuning_trials_charts_and_metrics(studio, ray_session, tmp_path):
    from playwright.sync_api import expect

    from rayline.store.artifacts import to_path

    execution = tuning_pipeline(tmp_path, name="studio-tuning").start()
    assert execution.wait(tracked=True).status == "Succeeded"
    eid = execution.id
    props = execution.step("Tune").properties
    best = props["BestTrainingJob"]["TrainingJobName"]
    base = f"/studio/executions/{eid}/steps"
    page = studio.page

    # The trials: one row per trial, best first; a chart per hyperparameter and the objective.
    studio.sign_in("viewer", path=f"{base}/Tune/tuning")
    rows = page.locator("#trials tbody tr")
    expect(rows).to_have_count(props["NumTrials"])
    assert rows.first.get_attribute("data-trial") == best
    expect(rows.first).to_have_class("trial best")
    expect(page.locator("#best-trial")).to_contain_text(best)
    expect(page.locator("#charts .chart")).to_have_count(1 + len(RANGES))
    expect(page.locator("#chart-0")).to_contain_text("validation:rmse per trial")
    for i, name in enumerate(RANGES, start=1):
        expect(page.locator(f"#chart-{i}")).to_contain_text(f"validation:rmse against {name}")
    # Every chart has a point per trial and rings the best one.
    expect(page.locator("#charts circle.point")).to_have_count(4 * (1 + len(RANGES)))
    expect(page.locator("#charts circle.point.best")).to_have_count(1 + len(RANGES))
    expect(page.locator("#tuning-facts")).to_contain_text("results.parquet")
    cells = rows.locator("td.objective")
    objectives = [float(v) for v in cells.evaluate_all("c => c.map(e => e.dataset.value)")]
    assert objectives == sorted(objectives)
    studio.shot("tuning")
    # Sorting by a column reorders the rows (descending on a second click).
    header = page.locator("#trials thead th", has_text="validation:rmse")
    header.locator("button").click()
    header.locator("button").click()
    expect(header).to_have_attribute("aria-sort", "descending")
    assert rows.first.get_attribute("data-trial") != best
    studio.shot("tuning-sorted")

    # The evaluation report of the scoring step, as the step wrote it, and MLflow's metrics.
    page.click("#metrics-link")  # the tuning step's metrics: no property files, its MLflow run
    expect(page.locator("#no-property-files")).to_be_visible()
    expect(page.locator("#tracked-runs")).to_contain_text("best.validation-rmse")
    expect(page.locator("#trial-runs")).to_contain_text("4 tuning-trial runs left out")
    page.goto(studio.url(f"{base}/Evaluate/metrics"))
    written = json.loads(
        (to_path(execution.step("Evaluate").outputs["evaluation"]) / "evaluation.json").read_text()
    )
    rmse = written["regression_metrics"]["rmse"]["value"]
    row = page.locator('.report-metrics tr[data-metric="rmse"]')
    expect(row).to_contain_text("regression_metrics")
    expect(row.locator("td.num").first).to_have_text(f"{rmse:.4g}")
    expect(page.locator('.report-metrics tr[data-metric="r2"]')).to_have_count(1)
    tracked = page.locator("#tracked-runs tr.this-step")
    expect(tracked.first).to_contain_text("Evaluate")
    expect(page.locator("#tracked-runs")).to_contain_text("test-rmse")
    studio.shot("metrics")

    # Not a tuning step; an unknown execution: a 404 that says so.
    studio.allow(f"{base}/Evaluate/tuning", 404)
    response = studio.goto(f"{base}/Evaluate/tuning")
    assert response.status == 404
    expect(page.locator("#page-error")).to_contain_text("is a Processing step, not a tuning step")
    studio.shot("tuning-not-a-tuning-step")
    studio.allow("/studio/executions/nosuch/steps/Tune/tuning", 404)
    response = studio.goto("/studio/executions/nosuch/steps/Tune/tuning")
    assert response.status == 404
    expect(page.locator("#page-error")).to_contain_text("nosuch")
    studio.allow(f"{base}/Nope/metrics", 404)
    response = studio.goto(f"{base}/Nope/metrics")
    assert response.status == 404
    expect(page.locator("#page-error")).to_contain_text("has no step 'Nope'")
