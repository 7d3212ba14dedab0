"""Selective execution on real Ray: the selected steps run, their upstream steps come from the
source execution, downstream steps do not run; a source that cannot serve is a clear error."""

from __future__ import annotations

import json

import pytest

from rayline import Pipeline, SelectiveExecutionConfig, step
from rayline.cli.main import main
from rayline.errors import ConflictError, NotFoundError

pytestmark = pytest.mark.ray


def chain(tag: str) -> Pipeline:
    @step(name="prepare")
    def prepare():
        import uuid as u

        return u.uuid4().hex  # differs on every run: shows whether it ran again

    @step(name="train")
    def train(data):
        return f"{tag}:{data}"

    @step(name="evaluate")
    def evaluate(model):
        return f"evaluated {model}"

    return Pipeline("selective", steps=[evaluate(train(prepare()))])


def test_selected_steps_run_on_the_source_executions_upstream(ray_session, rayline_home, capsys):
    source = chain("v1").start()
    source.wait()
    prepared = source.result("prepare")

    again = chain("v2").start(
        selective_execution_config=SelectiveExecutionConfig(
            selected_steps=["train"], source_pipeline_execution_id=source.id
        )
    )
    assert again.wait().status == "Succeeded"
    runs = {r.step_name: r for r in again.list_steps()}
    assert set(runs) == {"prepare", "train"}  # evaluate, downstream and unselected, did not run
    assert runs["prepare"].cached_from == source.id and runs["prepare"].attempts == 0
    assert again.result("prepare") == prepared
    assert again.result("train") == f"v2:{prepared}"  # the new code, on the source's data
    assert again.describe().selective == {
        "SourcePipelineExecutionId": source.id,
        "SelectedSteps": [{"StepName": "train"}],
    }

    assert main(["execution", "describe", again.id]) == 0
    assert f"ran train; upstream steps from execution {source.id}" in capsys.readouterr().out

    # The CLI: --select, the latest execution as the source by default.
    assert main(["pipeline", "start", "selective", "--select", "train", "--wait", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "Succeeded"
    assert {s["name"] for s in out["steps"]} == {"prepare", "train"}


def failing() -> Pipeline:
    @step(name="prepare")
    def prepare():
        raise RuntimeError("no data today")

    @step(name="train")
    def train(data):
        return data

    return Pipeline("selective-failed", steps=[train(prepare())])


def test_a_source_that_cannot_serve_is_refused(ray_session, rayline_home):
    failed = failing().start()
    assert failed.wait(raise_on_failure=False).status == "Failed"
    config = SelectiveExecutionConfig(
        selected_steps=["train"], source_pipeline_execution_id=failed.id
    )
    with pytest.raises(ConflictError, match=r"\['prepare'\] are upstream .* did not succeed"):
        failing().start(selective_execution_config=config)
    missing = SelectiveExecutionConfig(selected_steps=["train"], source_pipeline_execution_id="x")
    with pytest.raises(NotFoundError, match="execution 'x' does not exist"):
        failing().start(selective_execution_config=missing)
    # Selecting every step needs nothing from the source: a failed source is fine then.
    both = SelectiveExecutionConfig(
        selected_steps=["prepare", "train"], source_pipeline_execution_id=failed.id
    )
    rerun = failing().start(selective_execution_config=both)
    assert rerun.wait(raise_on_failure=False).status == "Failed"  # prepare ran (and failed)
