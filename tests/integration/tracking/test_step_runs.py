"""Every step's MLflow run, kept by tracking's listener on real Ray with a real (SQLite) MLflow
store: one nested run per step of every kind with its status, arguments, properties and
outputs; a cache hit's run says so; training logs into its step's run (no second one); tuning
trials are logged while the tuning step still runs; a registered version carries the test
metrics and the MLflow run of the model it holds."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.conftest import wait_for

from rayline import CacheConfig, ParameterFloat, Pipeline
from rayline.definition.conditions import ConditionLessThanOrEqualTo
from rayline.definition.expressions import JsonGet
from rayline.definition.steps import (
    ConditionStep,
    FailStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
)
from rayline.engine.records import StepStatus
from rayline.ml import IntegerParameter, TrainingStep, TuningStep, XGBoostTrainer
from rayline.registry import ModelRegistry
from rayline.registry.steps import ModelStep
from rayline.tracking.runs import client, list_runs

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[3]
EVALUATE = ROOT / "examples" / "housing" / "scripts" / "evaluate.py"
HOUSING_CSV = ROOT / "examples" / "housing" / "data" / "house_pricing.csv"
if not HOUSING_CSV.is_file():  # pragma: no cover - other checkouts
    HOUSING_CSV = ROOT.parent / "shared" / "data" / "house_pricing.csv"

# Splits a few hundred housing rows 60/20/20 (the reference's preprocessing, in miniature).
PREPARE = """
import pandas as pd
from rayline.engine.context import processing_context

ctx = processing_context()
df = pd.read_csv(ctx.inputs["raw"] / "house_pricing.csv").sample(n=400, random_state=0)
n = len(df)
parts = {"train": df[: int(n * 0.6)], "validation": df[int(n * 0.6) : int(n * 0.8)],
         "test": df[int(n * 0.8) :]}
for name, part in parts.items():
    part.reset_index(drop=True).to_parquet(ctx.outputs[name] / "part.parquet", index=False)
print("prepared", n)
"""


def _reference_like(tmp_path: Path) -> Pipeline:
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    (raw / "house_pricing.csv").write_bytes(HOUSING_CSV.read_bytes())
    script = tmp_path / "prepare.py"
    script.write_text(PREPARE)
    threshold = ParameterFloat("RMSEThreshold", default_value=10.0**9)
    prep = ProcessingStep(
        "Prepare",
        code=str(script),
        # A long argument (the script ignores it) is logged cut short.
        arguments=["--note", "n" * 1000],
        inputs=[ProcessingInput(source=str(raw), destination="raw")],
        outputs=[ProcessingOutput(n) for n in ("train", "validation", "test")],
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    train = TrainingStep(
        "Train",
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=10, params={"max_depth": 3}),
        inputs={"train": prep.outputs["train"], "validation": prep.outputs["validation"]},
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    report = PropertyFile("EvaluationReport", output_name="evaluation", path="evaluation.json")
    evaluate = ProcessingStep(
        "Evaluate",
        code=str(EVALUATE),
        inputs=[
            ProcessingInput(source=train.outputs["model"], destination="model"),
            ProcessingInput(source=prep.outputs["test"], destination="test"),
        ],
        outputs=[ProcessingOutput("evaluation")],
        property_files=[report],
    )
    register = ModelStep(
        "Register",
        model=train.outputs["model"],
        model_package_group="tracked-housing",
        metrics=evaluate.outputs["evaluation"],
    )
    check = ConditionStep(
        "Check",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=JsonGet(
                    step=evaluate, property_file=report, json_path="regression_metrics.rmse.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[register],
        else_steps=[FailStep("TooHigh", error_message="RMSE too high")],
    )
    return Pipeline(
        "tracked-reference", parameters=[threshold], steps=[prep, train, evaluate, check]
    )


def _ended(execution) -> dict:
    """The execution's MLflow runs by step, once tracking has written them (``wait(tracked=
    True)``: tracking's worker writes them right behind the steps)."""
    record = execution.wait(tracked=True, raise_on_failure=False, timeout=120)
    assert record.mlflow_run_id
    assert client().get_run(record.mlflow_run_id).info.status != "RUNNING"
    runs = list_runs(execution_id=execution.id, max_results=1000)
    by_step: dict[str, list] = {}
    for r in runs:
        if r.step is not None:
            by_step.setdefault(r.step, []).append(r)
    return {"execution": record.mlflow_run_id, "steps": by_step}


def test_every_step_has_its_run_and_the_model_version_its_run_and_metrics(
    ray_session, rayline_home, tmp_path
):
    pipeline = _reference_like(tmp_path)
    first = pipeline.start()
    assert first.wait().status == "Succeeded"
    tracked = _ended(first)
    steps = {s.step_name: s for s in first.list_steps()}
    assert set(steps) == {"Prepare", "Train", "Evaluate", "Check", "Register"}
    for name, record in steps.items():
        (run,) = tracked["steps"][name]  # one run per step: no duplicate of training's
        assert run.run_id == record.mlflow_run_id
        assert run.parent_run_id == tracked["execution"]
        assert run.status == "FINISHED"
        full = client().get_run(run.run_id)
        assert full.data.tags["rayline.status"] == StepStatus.SUCCEEDED
        assert full.data.tags["rayline.step_type"] == record.step_type
        assert full.data.tags["rayline.cache_hit"] == "false"
        assert full.data.tags["rayline.attempt"] == "1"
        assert run.metrics["rayline.duration_s"] >= 0
        for output, uri in record.outputs.items():
            assert full.data.tags[f"rayline.output.{output}"] == uri

    # Resolved arguments as parameters: the evaluation's model input is the trained model.
    evaluate = tracked["steps"]["Evaluate"][0]
    model_uri = steps["Train"].outputs["model"]
    assert len(model_uri) < 250  # not cut (longer arguments are)
    assert any(
        k.startswith("arg.ProcessingInputs.0.") and v == model_uri
        for k, v in evaluate.params.items()
    ), evaluate.params
    (note,) = [v for v in tracked["steps"]["Prepare"][0].params.values() if v.startswith("nnn")]
    assert len(note) == 250 and note.endswith("...")
    # The evaluation report's numbers (the test split's) are metrics of the evaluation's run.
    report = json.loads(
        (
            Path(steps["Evaluate"].outputs["evaluation"].removeprefix("file://"))
            / "evaluation.json"
        ).read_text()
    )
    rmse = report["regression_metrics"]["rmse"]["value"]
    assert evaluate.metrics["EvaluationReport.regression_metrics.rmse.value"] == pytest.approx(rmse)
    assert evaluate.metrics["test-rmse"] == pytest.approx(rmse)
    assert set(report["regression_metrics"]) == {"mae", "rmse", "r2"}
    assert {"test-mae", "test-r2"} <= set(evaluate.metrics)
    # Training logged into its step's run: its metrics, and numeric properties as metrics.
    train = tracked["steps"]["Train"][0]
    assert train.run_id == steps["Train"].properties["MlflowRunId"]
    assert "validation-rmse" in train.metrics and train.params["max_depth"] == "3"
    assert train.metrics["NumRows"] == steps["Train"].properties["NumRows"]
    # A condition's run records the branch it took.
    assert client().get_run(steps["Check"].mlflow_run_id).data.tags["rayline.branch"] == "if true"

    # The registered version: the test metrics and the run of the training that made it.
    package = ModelRegistry().describe("tracked-housing", 1)
    assert package.metric("rmse") == pytest.approx(rmse)
    assert package.mlflow_run_id == steps["Train"].mlflow_run_id
    # ... and that run names the version it became.
    assert client().get_run(package.mlflow_run_id).data.tags[
        "rayline.model_package.tracked-housing/1"
    ] == str(package.arn)

    # Again: preparation and training are cache hits, and their runs say so (and from where);
    # the new version names the run that trained its model, in the first execution.
    second = pipeline.start()
    assert second.wait().status == "Succeeded"
    tracked_again = _ended(second)
    for name in ("Prepare", "Train"):
        (run,) = tracked_again["steps"][name]
        assert run.parent_run_id == tracked_again["execution"]
        tags = client().get_run(run.run_id).data.tags
        assert tags["rayline.cache_hit"] == "true"
        assert tags["rayline.cached_from"] == first.id
        assert tags["rayline.status"] == StepStatus.SUCCEEDED
    assert ModelRegistry().describe("tracked-housing", 2).mlflow_run_id == (
        steps["Train"].mlflow_run_id
    )


def test_model_describe_shows_the_run_and_test_metrics(ray_session, rayline_home, tmp_path, capsys):
    from rayline.cli.main import main

    pipeline = _reference_like(tmp_path)
    execution = pipeline.start()
    assert execution.wait().status == "Succeeded"
    run_id = execution.step("Train").mlflow_run_id
    assert main(["model", "describe", "tracked-housing/1"]) == 0
    out = capsys.readouterr().out
    assert run_id in out and "Test RMSE" in out and "Test R2" in out


def test_tuning_trials_are_logged_while_the_step_runs(ray_session, rayline_home, tmp_path):
    import pandas as pd

    df = pd.read_csv(HOUSING_CSV).sample(n=300, random_state=1).reset_index(drop=True)
    paths = {}
    for name, part in (("train", df[:200]), ("validation", df[200:])):
        paths[name] = tmp_path / name
        paths[name].mkdir()
        part.to_parquet(paths[name] / "part.parquet", index=False)
    tune = TuningStep(
        "Tune",
        # 200 rows take the in-process path; enough rounds that each trial takes a while.
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=3000),
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 6)},
        objective_metric="validation:rmse",
        strategy="Random",
        # One at a time: after the first trial ends, the others still have to train.
        max_jobs=4,
        max_parallel_jobs=1,
        inputs={"train": str(paths["train"]), "validation": str(paths["validation"])},
    )
    execution = Pipeline("tracked-tuning", steps=[tune]).start()

    seen_while_running = False
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        record = execution.step("Tune") if execution.list_steps() else None
        if record is not None and record.mlflow_run_id:
            trials = [
                r
                for r in list_runs(execution_id=execution.id)
                if r.parent_run_id == record.mlflow_run_id and r.status == "FINISHED"
            ]
            # Read the step's status after seeing the trial: still running means the trial
            # was logged before the step ended, however fast or slow this machine is.
            if trials and execution.step("Tune").status == StepStatus.EXECUTING:
                seen_while_running = True
                assert trials[0].params["max_depth"] in {"2", "3", "4", "5", "6"}
                assert "validation-rmse" in trials[0].metrics
                break
        if execution.describe().status.finished:
            break
        time.sleep(0.1)
    assert seen_while_running, "no finished trial's run appeared while the tuning step ran"

    assert execution.wait().status == "Succeeded"
    assert execution.step("Tune").properties["TuningPath"] == "in-process"
    tracked = _ended(execution)
    (step_run,) = tracked["steps"]["Tune"]
    trials = [r for r in list_runs(execution_id=execution.id) if r.parent_run_id == step_run.run_id]
    assert len(trials) == 4  # each trial once, though seen both as it ended and at the end
    ranks = sorted(client().get_run(t.run_id).data.tags.get("rayline.rank", "") for t in trials)
    assert ranks == ["0", "1", "2", "3"]


def test_a_failed_step_run_says_why_and_the_execution_run_failed(ray_session, rayline_home):
    from rayline import step

    @step(name="Explode")
    def explode(x: int) -> int:
        raise ValueError(f"bad input {x}")

    execution = Pipeline("tracked-failure", steps=[explode(3)]).start()
    assert execution.wait(raise_on_failure=False).status == "Failed"
    tracked = _ended(execution)
    (run,) = tracked["steps"]["Explode"]
    assert run.status == "FAILED" and run.step_type == "Function"
    tags = client().get_run(run.run_id).data.tags
    assert tags["rayline.status"] == StepStatus.FAILED
    assert "bad input 3" in tags["rayline.failure_reason"]
    assert client().get_run(tracked["execution"]).info.status == "FAILED"


def test_a_retried_executions_run_is_running_again_until_the_retry_ends(
    ray_session, rayline_home, tmp_path
):
    from rayline import step

    marker, gate = tmp_path / "failed-once", tmp_path / "go"

    @step(name="Flaky")
    def flaky(x: int) -> int:
        import pathlib
        import time as t

        if not pathlib.Path(marker).exists():
            pathlib.Path(marker).touch()
            raise ValueError("first attempt fails")
        while not pathlib.Path(gate).exists():  # the retry holds here until the test looks
            t.sleep(0.05)
        return x

    execution = Pipeline("tracked-retry", steps=[flaky(3)]).start()
    assert execution.wait(raise_on_failure=False).status == "Failed"
    run_id = _ended(execution)["execution"]
    assert client().get_run(run_id).info.status == "FAILED"

    execution.retry()
    wait_for(lambda: client().get_run(run_id).info.status == "RUNNING", timeout=60)
    gate.touch()
    assert execution.wait().status == "Succeeded"
    assert _ended(execution)["execution"] == run_id
    assert client().get_run(run_id).info.status == "FINISHED"
