"""The engine on a real local Ray: DAG shapes, branches, failures, caching, retries, stop."""

from __future__ import annotations

import itertools
import json
import time
from pathlib import Path

import pytest

from rayline import (
    CacheConfig,
    ExecutionFailedError,
    ParallelismConfiguration,
    ParameterFloat,
    ParameterString,
    Pipeline,
    RetryPolicy,
    step,
)
from rayline.definition import ConditionGreaterThan, ConditionLessThanOrEqualTo, Join, JsonGet
from rayline.definition.steps import (
    ConditionStep,
    FailStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
)

pytestmark = pytest.mark.ray


@pytest.fixture(autouse=True)
def _ray(ray_session, rayline_home):
    return ray_session


def statuses(execution) -> dict[str, str]:
    return {r.step_name: r.status.value for r in execution.list_steps()}


def test_chain_runs_in_order_and_passes_values():
    @step
    def inc(x):
        return x + 1

    value = 0
    for _ in range(5):
        value = inc(value)
    execution = Pipeline("chain", steps=[value]).start()
    assert execution.wait().status == "Succeeded"
    runs = execution.list_steps()
    assert [r.step_name for r in runs] == ["inc", "inc-2", "inc-3", "inc-4", "inc-5"]
    assert all(a.ended_at <= b.started_at for a, b in itertools.pairwise(runs))
    assert execution.result("inc-5") == 5


def test_values_that_are_not_json_pass_between_steps():
    @step
    def make():
        return {"ids": {3, 1, 2}, "when": __import__("datetime").date(2026, 11, 25)}

    @step
    def count(value):
        return len(value["ids"]), value["when"].isoformat()

    produced = make()
    execution = Pipeline("pickled", steps=[count(produced)]).start()
    execution.wait()
    stored = execution.step("make").properties["Return"]
    assert set(stored) == {"__pickle__"}  # kept by reference, not in the metadata DB
    assert execution.result("make")["ids"] == {1, 2, 3}
    assert execution.result("count") == [3, "2026-11-25"]


def test_diamond_and_every_state_change_is_recorded():
    @step
    def source():
        return 2

    @step
    def square(x):
        return x * x

    @step
    def double(x):
        return x * 2

    @step
    def total(a, b):
        return a + b

    s = source()
    execution = Pipeline("diamond", steps=[total(square(s), double(s))]).start()
    execution.wait()
    assert execution.result("total") == 8
    events = execution.events()
    per_step = {}
    for e in events:
        per_step.setdefault(e.step_name, []).append(e.status)
    assert per_step[None] == ["Executing", "Succeeded"]
    for name in ("source", "square", "double", "total"):
        assert per_step[name] == ["Starting", "Executing", "Succeeded"], name
    assert [e.at for e in events] == sorted(e.at for e in events)


def test_fan_out_fan_in_respects_parallelism(tmp_path):
    # A directory of its own: tmp_path also holds the test's RAYLINE_HOME.
    (tmp_path / "rendezvous").mkdir()
    rendezvous = str(tmp_path / "rendezvous")

    @step
    def work(i):
        import os
        import time as t

        # The first two steps wait (up to a minute) for each other, so that
        # "two ran at once" is decided by the engine, not by how fast a loaded
        # machine starts workers.
        start = t.time()
        open(os.path.join(rendezvous, f"started-{i}"), "w").close()
        deadline = start + 60
        while len(os.listdir(rendezvous)) < 2 and t.time() < deadline:
            t.sleep(0.05)
        t.sleep(0.3)
        return [i, start, t.time()]

    @step
    def gather(values):
        return sorted(values)

    pipeline = Pipeline(
        "fan",
        steps=[gather([work(i) for i in range(6)])],
        parallelism_config=ParallelismConfiguration(2),
    )
    execution = pipeline.start()
    execution.wait()
    spans = execution.result("gather")
    assert [i for i, _, _ in spans] == list(range(6))
    # measured inside the tasks: never more than two ran at the same moment
    for _, start, _ in spans:
        running = [1 for _, s, e in spans if s <= start < e]
        assert len(running) <= 2, "more than 2 steps ran at once"
    # ... and two did run at once
    assert any(
        a_start < b_end and b_start < a_end
        for (a, a_start, a_end), (b, b_start, b_end) in itertools.combinations(spans, 2)
    ), "no two steps overlapped: parallelism 2 ran them one at a time"


def _gate_pipeline():
    threshold = ParameterFloat("RMSEThreshold", default_value=15000.0)

    @step
    def evaluate():
        return {"regression_metrics": {"rmse": {"value": 9000.0}}}

    @step
    def register(report):
        return "registered"

    metrics = evaluate()
    fail = FailStep(
        "RMSEFail", error_message=Join(on=" ", values=["Execution failed due to RMSE >", threshold])
    )
    check = ConditionStep(
        "CheckEvaluation",
        conditions=[
            ConditionLessThanOrEqualTo(
                left=metrics["regression_metrics"]["rmse"]["value"], right=threshold
            )
        ],
        if_steps=[register(metrics)],
        else_steps=[fail],
    )
    return Pipeline("gate", parameters=[threshold], steps=[check])


def test_condition_takes_the_if_branch():
    execution = _gate_pipeline().start()
    execution.wait()
    assert statuses(execution) == {
        "evaluate": "Succeeded",
        "CheckEvaluation": "Succeeded",
        "register": "Succeeded",
    }
    assert execution.step("CheckEvaluation").properties == {"Outcome": True}


def test_condition_takes_the_else_branch_and_fails_with_the_message():
    execution = _gate_pipeline().start(parameters={"RMSEThreshold": 100.0})
    with pytest.raises(ExecutionFailedError, match=r"Execution failed due to RMSE > 100.0"):
        execution.wait()
    record = execution.describe()
    assert record.status == "Failed"
    assert record.failure_reason == "Execution failed due to RMSE > 100.0"
    assert statuses(execution) == {
        "evaluate": "Succeeded",
        "CheckEvaluation": "Succeeded",
        "RMSEFail": "Failed",
    }


SCRIPT = """
import argparse, json, os
from pathlib import Path
from rayline import processing_context

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float)
parser.add_argument("--tag")
args = parser.parse_args()
ctx = processing_context()
source = Path(ctx.inputs["raw"])
rows = (source / "rows.txt" if source.is_dir() else source).read_text().split()
total = sum(float(r) for r in rows) * args.scale
print(f"read {len(rows)} rows, tag {args.tag}")
(ctx.outputs["evaluation"] / "evaluation.json").write_text(json.dumps(
    {"regression_metrics": {"rmse": {"value": total}}}))
(ctx.outputs["data"] / "rows.txt").write_text("\\n".join(rows))
"""


def _script_pipeline(tmp_path: Path, *, cache: bool = False) -> tuple[Pipeline, Path]:
    script = tmp_path / "process.py"
    if not script.exists():
        script.write_text(SCRIPT)
    data = tmp_path / "data.txt"
    if not data.exists():
        data.write_text("1\n2\n3\n")
    threshold = ParameterFloat("Threshold", default_value=10.0)
    tag = ParameterString("Tag", default_value="a")
    report = PropertyFile("Report", output_name="evaluation", path="evaluation.json")
    cache_config = CacheConfig(enable_caching=True, expire_after="PT1H") if cache else None
    process = ProcessingStep(
        "Process",
        code=str(script),
        arguments=["--scale", "1.5", "--tag", tag],
        inputs=[ProcessingInput(source=str(data), destination="raw")],
        outputs=[ProcessingOutput("evaluation"), ProcessingOutput("data")],
        property_files=[report],
        cache_config=cache_config,
    )
    consume = ProcessingStep(
        "Consume",
        code=str(script),
        arguments=["--scale", "2", "--tag", "second"],
        inputs=[ProcessingInput(source=process.outputs["data"], destination="raw")],
        outputs=[ProcessingOutput("evaluation"), ProcessingOutput("data")],
        cache_config=cache_config,
    )
    check = ConditionStep(
        "Check",
        conditions=[
            ConditionGreaterThan(
                left=JsonGet(
                    step=process, property_file=report, json_path="regression_metrics.rmse.value"
                ),
                right=threshold,
            )
        ],
        if_steps=[FailStep("TooBig", error_message="too big")],
        else_steps=[consume],
    )
    return Pipeline("scripts", parameters=[threshold, tag], steps=[check]), script


def test_processing_script_inputs_outputs_property_file_and_logs(tmp_path):
    pipeline, _ = _script_pipeline(tmp_path)
    execution = pipeline.start(parameters={"Tag": "xyz"})
    execution.wait()
    process = execution.step("Process")
    assert "read 3 rows, tag xyz" in process.logs
    evaluation = Path(process.outputs["evaluation"].removeprefix("file://")) / "evaluation.json"
    assert json.loads(evaluation.read_text())["regression_metrics"]["rmse"]["value"] == 9.0
    consume = execution.step("Consume")
    assert consume.status == "Succeeded" and "read 3 rows, tag second" in consume.logs
    # the downstream step read the upstream step's output directory
    consumed = Path(consume.outputs["evaluation"].removeprefix("file://")) / "evaluation.json"
    assert json.loads(consumed.read_text())["regression_metrics"]["rmse"]["value"] == 12.0


def test_user_error_fails_the_step_with_the_users_traceback(tmp_path):
    script = tmp_path / "broken.py"
    script.write_text(
        "print('about to fail')\n\ndef helper():\n    raise KeyError('PRICE')\n\nhelper()\n"
    )
    execution = Pipeline("broken", steps=[ProcessingStep("Broken", code=str(script))]).start()
    with pytest.raises(ExecutionFailedError, match="step 'Broken' failed: KeyError: 'PRICE'"):
        execution.wait()
    run = execution.step("Broken")
    assert run.status == "Failed"
    assert 'broken.py", line 4, in helper' in run.user_traceback
    assert run.logs == "about to fail\n"


def test_cache_hit_miss_and_code_change(tmp_path):
    pipeline, script = _script_pipeline(tmp_path, cache=True)
    first = pipeline.start()
    first.wait()
    second = pipeline.start()
    second.wait()
    assert second.step("Process").cached_from == first.id
    assert second.step("Consume").cached_from == first.id
    assert second.step("Process").outputs == first.step("Process").outputs

    changed = pipeline.start(parameters={"Tag": "b"})  # a changed argument runs again
    changed.wait()
    assert changed.step("Process").cached_from is None
    # Process wrote the same data, so its consumer's inputs have the same content: still cached
    assert changed.step("Consume").cached_from == first.id

    script.write_text(SCRIPT + "\n# a change to the code\n")
    edited, _ = _script_pipeline(tmp_path, cache=True)
    rerun = edited.start()
    rerun.wait()
    assert rerun.step("Process").cached_from is None
    assert rerun.step("Consume").cached_from is None


def test_cache_miss_when_input_file_changes_and_after_expiry(tmp_path):
    marker = tmp_path / "runs.txt"

    # A window of seconds: the first execution of a fresh home also sets up MLflow's tables
    # before wait() returns, and a loaded machine takes a while to reach the cache lookup.
    @step(cache_config=CacheConfig(enable_caching=True, expire_after="PT6S"))
    def count(path):
        with open(path, "a") as f:
            f.write("x")
        return "done"

    pipeline = Pipeline("expiry", steps=[count(str(marker))])
    first = pipeline.start()
    first.wait()
    first_done = time.time()
    hit = pipeline.start()
    hit.wait()
    assert hit.step("count").cached_from == first.id
    time.sleep(max(0.0, first_done + 6.3 - time.time()))
    expired = pipeline.start()
    expired.wait()
    assert expired.step("count").cached_from is None
    assert marker.read_text() == "xx"


def test_cache_window_counts_from_the_run_that_computed(tmp_path):
    """Reuse inside the window does not extend it: a hit is not a new source of the result."""
    marker = tmp_path / "runs.txt"

    # The hit comes half-way through the window and the late start just after it, so a loaded
    # machine (an execution taking seconds to reach its cache lookup) cannot blur the two.
    @step(cache_config=CacheConfig(enable_caching=True, expire_after="PT10S"))
    def count(path):
        with open(path, "a") as f:
            f.write("x")
        return "done"

    pipeline = Pipeline("expiry-window", steps=[count(str(marker))])
    computed = pipeline.start()
    computed.wait()
    first_done = time.time()
    time.sleep(5.0)
    hit = pipeline.start()  # reused; its own record ends 5 s or more after the computing run
    hit.wait()
    assert hit.step("count").cached_from == computed.id
    time.sleep(max(0.0, first_done + 10.3 - time.time()))
    # 10.3 s after the run that computed, about 5 s after the hit: the result has expired.
    late = pipeline.start()
    late.wait()
    assert late.step("count").cached_from is None
    assert marker.read_text() == "xx"


def test_retry_then_success_records_every_attempt(tmp_path):
    counter = tmp_path / "attempts"

    @step(
        retry_policies=[
            RetryPolicy(
                exception_types=["ConnectionError"],
                interval_seconds=0.1,
                backoff_rate=1.0,
                max_attempts=3,
            )
        ]
    )
    def flaky(path):
        from pathlib import Path as P

        p = P(path)
        n = int(p.read_text()) + 1 if p.exists() else 1
        p.write_text(str(n))
        if n < 3:
            raise ConnectionError(f"attempt {n} could not connect")
        return n

    execution = Pipeline("flaky", steps=[flaky(str(counter))]).start()
    execution.wait()
    run = execution.step("flaky")
    assert run.status == "Succeeded" and run.attempts == 3
    assert execution.result("flaky") == 3
    failed = [e for e in execution.events() if e.kind == "AttemptFailed"]
    assert len(failed) == 2 and "could not connect" in failed[0].detail


def test_no_retry_for_other_exception_types():
    @step(
        retry_policies=[
            RetryPolicy(exception_types=["ConnectionError"], max_attempts=5, interval_seconds=0.1)
        ]
    )
    def bad():
        raise ValueError("bad input")

    execution = Pipeline("noretry", steps=[bad()]).start()
    with pytest.raises(ExecutionFailedError, match="ValueError: bad input"):
        execution.wait()
    assert execution.step("bad").attempts == 1


def test_logs_of_a_running_step_are_readable_before_it_ends(tmp_path):
    release = tmp_path / "release"

    @step
    def chatty(path):
        import time as t
        from pathlib import Path as P

        print("loaded 10000 rows", flush=True)
        while not P(path).exists():
            t.sleep(0.05)
        print("finished")

    execution = Pipeline("chatty", steps=[chatty(str(release))]).start()
    deadline = time.time() + 30

    def live_output() -> str:
        return execution.logs("chatty") if "chatty" in statuses(execution) else ""

    while "loaded 10000 rows" not in live_output():
        assert time.time() < deadline, "the running step's output never showed up"
        time.sleep(0.05)
    assert statuses(execution)["chatty"] == "Executing"
    release.touch()
    execution.wait()
    assert execution.logs("chatty") == "loaded 10000 rows\nfinished\n"


def test_stop_cancels_running_steps_and_skips_the_rest():
    @step
    def slow():
        import time as t

        t.sleep(60)

    @step
    def after(x):
        return x

    execution = Pipeline("stoppable", steps=[after(slow())]).start()
    deadline = time.time() + 20
    while statuses(execution).get("slow") != "Executing" and time.time() < deadline:
        time.sleep(0.05)
    started = time.time()
    execution.stop()
    record = execution.wait(raise_on_failure=False)
    assert record.status == "Stopped"
    assert time.time() - started < 45, "stop waited for the 60 s step instead of cancelling it"
    assert statuses(execution) == {"slow": "Stopped"}
