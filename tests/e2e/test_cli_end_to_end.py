"""The ``rayline`` command as a user runs it: a separate process, real Ray, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.slow]

RAYLINE = str(Path(sys.executable).parent / "rayline")

PIPELINE = """
from rayline import CacheConfig, ParameterFloat, Pipeline, step
from rayline.conditions import ConditionLessThanOrEqualTo
from rayline.functions import Join
from rayline.steps import ConditionStep, FailStep

threshold = ParameterFloat("Threshold", default_value=10.0)


@step(cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"))
def score(x):
    print("scoring", x)
    return x * 2


@step
def publish(value):
    return f"published {value}"


s = score(3)
check = ConditionStep(
    "Check",
    conditions=[ConditionLessThanOrEqualTo(left=s.result, right=threshold)],
    if_steps=[publish(s)],
    else_steps=[FailStep("TooHigh", error_message=Join(on=" ", values=["score >", threshold]))],
)
pipeline = Pipeline("cli-e2e", parameters=[threshold], steps=[check])
"""


def rayline(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run([RAYLINE, *args], env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(
            f"rayline {' '.join(args)} exited {result.returncode}:\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return result


def test_upsert_start_inspect_and_errors(tmp_path, rayline_home, ray_session):
    env = {**os.environ, "RAY_ADDRESS": ray_session.get_runtime_context().gcs_address}
    module = tmp_path / "pipeline.py"
    module.write_text(PIPELINE)

    stored = json.loads(rayline("pipeline", "upsert", str(module), "--json", env=env).stdout)
    assert stored == {"name": "cli-e2e", "version": 1}
    graph = rayline("pipeline", "graph", "cli-e2e", env=env).stdout
    assert "score" in graph and "if publish" in graph and "else TooHigh" in graph

    ok = json.loads(rayline("pipeline", "start", "cli-e2e", "--wait", "--json", env=env).stdout)
    assert ok["status"] == "Succeeded"
    assert {s["name"]: s["status"] for s in ok["steps"]} == {
        "score": "Succeeded",
        "Check": "Succeeded",
        "publish": "Succeeded",
    }

    failed = rayline(
        "pipeline",
        "start",
        "cli-e2e",
        "-p",
        "Threshold=5",
        "--wait",
        "--json",
        env=env,
        check=False,
    )
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["failure_reason"] == "score > 5.0"
    assert (
        next(s for s in report["steps"] if s["name"] == "score")["cached_from"]
        == ok["execution_id"]
    )

    listed = json.loads(rayline("execution", "list", "--json", env=env).stdout)
    assert [e["status"] for e in listed] == ["Failed", "Succeeded"]
    logs = rayline("execution", "logs", ok["execution_id"], "--step", "score", env=env).stdout
    assert "scoring 3" in logs
    steps = json.loads(rayline("execution", "steps", ok["execution_id"], "--json", env=env).stdout)
    assert [s["step_name"] for s in steps] == ["score", "Check", "publish"]
    definition = json.loads(rayline("pipeline", "definition", "cli-e2e", env=env).stdout)
    assert definition["Parameters"] == [
        {"Name": "Threshold", "Type": "Float", "DefaultValue": 10.0}
    ]

    # User mistakes: one clear line on stderr, exit 1, no traceback.
    for args, message in (
        (
            ("pipeline", "start", "cli-e2e", "-p", "Threshold=high"),
            "parameter 'Threshold' (Float) got 'high'",
        ),
        (("pipeline", "start", "cli-e2e", "-p", "Nope=1"), "unknown parameter(s) 'Nope'"),
        (("pipeline", "describe", "missing"), "pipeline 'missing' does not exist"),
        (("execution", "describe", "0000"), "execution '0000' does not exist"),
    ):
        result = rayline(*args, env=env, check=False)
        assert result.returncode == 1, args
        assert message in " ".join(result.stderr.split()), result.stderr
        assert "Traceback" not in result.stderr

    rayline("pipeline", "delete", "cli-e2e", env=env)
    assert json.loads(rayline("pipeline", "list", "--json", env=env).stdout) == []


def test_demo_runs_end_to_end(tmp_path, rayline_home, ray_session):
    """`make demo`'s job: the reference workflow, approve, deploy, invoke, lineage, clean up."""
    demo = Path(__file__).resolve().parents[2] / "examples" / "housing" / "demo.py"
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    result = subprocess.run(
        [sys.executable, str(demo), "--max-jobs", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # The summary line; Ray may still print while this process shuts down, so find it.
    summary_lines = [ln for ln in result.stdout.splitlines() if ln.startswith('{"pipeline_cold_s"')]
    assert len(summary_lines) == 1, result.stdout[-3000:]
    summary = json.loads(summary_lines[0])
    assert summary["test_rmse"] < 15000
    assert summary["model_version"] == "synthetic-housing-models/1"
    text = " ".join(result.stdout.split())
    assert "Predicted against actual" in text
    assert "as expected:" in text and "Execution failed due to RMSE > 1000.0" in text
    assert "deleted feature group fs-ray-synthetic-housing-data" in text
