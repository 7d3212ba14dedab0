"""Starting a chosen stored version, and the step parallelism given per start and per retry."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from rayline import ParallelismConfiguration, Pipeline, step
from rayline.cli.main import main
from rayline.errors import NotFoundError, PipelineDefinitionError

pytestmark = pytest.mark.ray


def _versioned(answer: str) -> Pipeline:
    @step(name="answer")
    def answer_step():
        return answer

    return Pipeline("versioned", steps=[answer_step()])


def test_start_runs_the_stored_version_it_is_given(ray_session, rayline_home, capsys):
    assert _versioned("one").upsert() == 1
    latest = _versioned("two")
    assert latest.upsert() == 2
    # Version 1 runs as it was stored, not the definition at hand (nothing is upserted).
    execution = latest.start(version=1)
    execution.wait()
    assert execution.result("answer") == "one"
    assert execution.describe().pipeline_version == 1
    assert latest.describe().latest_version == 2
    with pytest.raises(NotFoundError, match="no version 9; its versions are 1 to 2"):
        latest.start(version=9)

    assert main(["pipeline", "start", "versioned", "--version", "1", "--wait", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "Succeeded"
    assert Pipeline.load("versioned").list_executions(limit=1)[0].describe().pipeline_version == 1


def test_parallelism_per_start(ray_session, rayline_home, tmp_path):
    @step
    def span(i):
        import time as t

        start = t.time()
        t.sleep(0.2)
        return [start, t.time()]

    @step
    def gather(values):
        return values

    pipeline = Pipeline("one-at-a-time", steps=[gather([span(i) for i in range(3)])])
    execution = pipeline.start(parallelism_config=ParallelismConfiguration(1))
    execution.wait()
    assert execution.describe().max_parallel_steps == 1
    spans = execution.result("gather")
    for (a0, a1), (b0, b1) in itertools.combinations(spans, 2):
        assert a1 <= b0 or b1 <= a0, "two steps ran at once under a parallelism of 1"
    # The pipeline's own configuration still applies when none is given.
    assert pipeline.start().wait().max_parallel_steps is None

    with pytest.raises(PipelineDefinitionError, match="must be a ParallelismConfiguration"):
        pipeline.start(parallelism_config=2)
    with pytest.raises(PipelineDefinitionError, match="whole number of at least 1"):
        ParallelismConfiguration(0)


def test_retry_takes_a_new_parallelism(ray_session, rayline_home, tmp_path):
    marker = str(tmp_path / "failed-once")

    @step
    def flaky():
        if not Path(marker).exists():
            Path(marker).touch()
            raise RuntimeError("first attempt fails")
        return "ok"

    execution = Pipeline("flaky", steps=[flaky()]).start()
    assert execution.wait(raise_on_failure=False).status == "Failed"
    execution.retry(parallelism_config=ParallelismConfiguration(3))
    assert execution.wait().status == "Succeeded"
    assert execution.describe().max_parallel_steps == 3
