"""The engine with its artifact store on S3 (the local S3 server, over HTTP): steps run on the
node's disk and upload from there, outputs are committed with their manifests, cache keys use the
recorded hashes, failed attempts stay invisible until ``gc`` collects them, live logs go through
the store."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from rayline import CacheConfig, ExecutionFailedError, Pipeline, RetryPolicy, step
from rayline.definition import ConditionGreaterThan, JsonGet
from rayline.definition.steps import (
    ConditionStep,
    FailStep,
    ProcessingInput,
    ProcessingOutput,
    ProcessingStep,
    PropertyFile,
)
from rayline.store.artifacts import open_artifact_store

pytestmark = pytest.mark.ray


@pytest.fixture(autouse=True)
def _ray(ray_session, s3_artifacts):
    return ray_session


def statuses(execution) -> dict[str, str]:
    return {r.step_name: r.status.value for r in execution.list_steps()}


def assert_nothing_on_the_drivers_store_disk(rayline_home: Path) -> None:
    # With an s3:// store the driver creates no output folders under its RAYLINE_HOME.
    assert not (rayline_home / "artifacts" / "executions").exists()


SCRIPT = """
import argparse, json
from pathlib import Path
from rayline import processing_context

parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float)
args = parser.parse_args()
ctx = processing_context()
for name, path in ctx.inputs.items():
    assert Path(path).exists() and not str(path).startswith("s3:"), (name, path)
source = Path(ctx.inputs["raw"])
rows = (source / "rows.txt" if source.is_dir() else source).read_text().split()
lookup = Path(ctx.inputs["lookup"]).read_text().strip() if "lookup" in ctx.inputs else "-"
total = sum(float(r) for r in rows) * args.scale
print(f"read {len(rows)} rows, lookup {lookup}")
(ctx.outputs["evaluation"] / "evaluation.json").write_text(json.dumps(
    {"regression_metrics": {"rmse": {"value": total}}}))
(ctx.outputs["data"] / "rows.txt").write_text("\\n".join(rows))
"""


def _script_pipeline(tmp_path: Path, bucket_input: str, *, cache: bool = False) -> Pipeline:
    script = tmp_path / "process.py"
    script.write_text(SCRIPT)
    data = tmp_path / "data.txt"
    data.write_text("1\n2\n3\n")
    report = PropertyFile("Report", output_name="evaluation", path="evaluation.json")
    cache_config = CacheConfig(enable_caching=True, expire_after="PT1H") if cache else None
    process = ProcessingStep(
        "Process",
        code=str(script),
        arguments=["--scale", "1.5"],
        inputs=[
            ProcessingInput(source=str(data), destination="raw"),
            ProcessingInput(source=bucket_input, destination="lookup"),
        ],
        outputs=[ProcessingOutput("evaluation"), ProcessingOutput("data")],
        property_files=[report],
        cache_config=cache_config,
    )
    consume = ProcessingStep(
        "Consume",
        code=str(script),
        arguments=["--scale", "2"],
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
                right=100.0,
            )
        ],
        if_steps=[FailStep("TooBig", error_message="too big")],
        else_steps=[consume],
    )
    return Pipeline("s3-scripts", steps=[check])


@pytest.fixture
def bucket_input(s3_bucket):
    """A file in the bucket but outside the artifact store, as a user's own S3 input."""
    store = open_artifact_store(f"{s3_bucket}/inputs")
    return store.put_bytes(b"from-the-bucket\n", "lookup.txt")


def test_a_chain_of_steps_passes_values_and_pickles_through_s3(rayline_home, s3_artifacts):
    @step
    def make():
        return {"ids": {3, 1, 2}}

    @step
    def count(value):
        return len(value["ids"])

    @step
    def inc(x):
        return x + 1

    execution = Pipeline("s3-chain", steps=[inc(inc(count(make())))]).start()
    execution.wait()
    stored = execution.step("make").properties["Return"]["__pickle__"]
    assert stored.startswith(f"{s3_artifacts}/executions/{execution.id}/make/attempt-1/")
    assert execution.result("make")["ids"] == {1, 2, 3}
    assert execution.result("inc-2") == 5
    assert_nothing_on_the_drivers_store_disk(rayline_home)


def test_script_steps_read_and_write_s3_through_local_directories(
    tmp_path, rayline_home, s3_artifacts, bucket_input
):
    execution = _script_pipeline(tmp_path, bucket_input).start()
    execution.wait()
    assert statuses(execution) == {
        "Process": "Succeeded",
        "Check": "Succeeded",
        "Consume": "Succeeded",
    }
    process = execution.step("Process")
    assert "read 3 rows, lookup from-the-bucket" in process.logs
    store = open_artifact_store()
    for name in ("evaluation", "data"):
        uri = process.outputs[name]
        assert uri == f"{s3_artifacts}/executions/{execution.id}/Process/attempt-1/output/{name}"
        manifest = process.manifests[name]
        assert manifest["uri"] == uri and manifest["sha256"] == store.content_hash(uri)
        assert [e[0] for e in manifest["entries"]] == store.list_files(uri)
    evaluation = json.loads(store.get_bytes(process.outputs["evaluation"] + "/evaluation.json"))
    assert evaluation["regression_metrics"]["rmse"]["value"] == 9.0
    # JsonGet read the property file through the store: 9.0 <= 100, so Consume ran on Process's data
    consume = execution.step("Consume")
    consumed = json.loads(store.get_bytes(consume.outputs["evaluation"] + "/evaluation.json"))
    assert consumed["regression_metrics"]["rmse"]["value"] == 12.0
    assert_nothing_on_the_drivers_store_disk(rayline_home)


def test_a_cache_hit_on_s3_uses_the_recorded_hashes(tmp_path, bucket_input):
    from rayline.store.db import open_database
    from rayline.store.s3_artifacts import S3ArtifactStore

    pipeline = _script_pipeline(tmp_path, bucket_input, cache=True)
    first = pipeline.start()
    first.wait()

    # The driver may not hash or download any stored output to compute a cache key (the local
    # script and data file are hashed as always: they are the driver's own files; the
    # condition still reads its property file).
    def no_hashing(*args, **kwargs):
        raise AssertionError("a cache key hashed stored bytes instead of the recorded manifest")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(S3ArtifactStore, "content_hash", no_hashing)
        patch.setattr(S3ArtifactStore, "download", no_hashing)
        second = pipeline.start()
        second.wait()
    assert second.step("Process").cached_from == first.id
    assert second.step("Consume").cached_from == first.id
    assert second.step("Consume").manifests == first.step("Consume").manifests

    # Consume's key comes from Process's recorded hash: change the record, and it misses.
    from rayline.engine.schema import step_runs

    db = open_database()
    tampered = dict(first.step("Process").manifests)
    tampered["data"] = {**tampered["data"], "sha256": "0" * 64}
    with db.begin() as conn:
        conn.execute(
            step_runs.update()
            .where(step_runs.c.step_name == "Process")  # the run and the hit that copied it
            .values(manifests=tampered)
        )
    third = pipeline.start()
    third.wait()
    assert third.step("Process").cached_from == first.id
    assert third.step("Consume").cached_from is None


def test_a_failed_attempt_is_never_visible_and_gc_collects_it(rayline_home, s3_artifacts):
    from rayline.executions import collect_orphaned_artifacts

    @step(
        retry_policies=[
            RetryPolicy(exception_types=["ConnectionError"], interval_seconds=0.1, max_attempts=2)
        ]
    )
    def flaky():
        import os

        from rayline.store.artifacts import open_artifact_store as store_at

        store = store_at()
        parts = ("executions", os.environ["RAYLINE_EXECUTION_ID"], "flaky")
        if not store.exists(store.uri_for(*parts, "attempt-1", "properties")):
            # The first attempt dies halfway through writing: a partial object is left behind.
            store.put_bytes(b"partial", *parts, "attempt-1", "properties", "Return.pkl")
            print("attempt 1 gives up")
            raise ConnectionError("lost the connection mid-write")
        return {"rows": {1, 2}}

    @step
    def use(value):
        return sorted(value["rows"])

    execution = Pipeline("s3-flaky", steps=[use(flaky())]).start()
    execution.wait()
    run = execution.step("flaky")
    assert run.attempts == 2
    assert run.properties["Return"]["__pickle__"].endswith("/flaky/attempt-2/properties/Return.pkl")
    assert execution.result("use") == [1, 2]

    @step
    def broken():
        print("about to fail")
        raise ValueError("no")

    failed = Pipeline("s3-broken", steps=[broken()]).start()
    with pytest.raises(ExecutionFailedError):
        failed.wait()

    store = open_artifact_store()
    orphan_1 = store.uri_for("executions", execution.id, "flaky", "attempt-1")
    orphan_2 = store.uri_for("executions", failed.id, "broken", "attempt-1")
    assert store.exists(orphan_1) and store.exists(orphan_2)  # partial object, shipped log

    kept = collect_orphaned_artifacts(older_than_s=3600)  # too recent: nothing goes
    assert kept.orphans == ()
    dry = collect_orphaned_artifacts(dry_run=True)
    assert {o.uri for o in dry.orphans} == {orphan_1, orphan_2}
    assert store.exists(orphan_1)
    collected = collect_orphaned_artifacts()
    assert {o.uri for o in collected.orphans} == {orphan_1, orphan_2} and collected.deleted
    assert not store.exists(orphan_1) and not store.exists(orphan_2)
    # what was committed is still there and still resolves
    assert store.exists(run.properties["Return"]["__pickle__"])
    assert execution.result("flaky") == {"rows": {1, 2}}
    assert collect_orphaned_artifacts().orphans == ()


def test_live_logs_on_s3_are_read_through_the_store_and_gc_spares_a_running_step(
    tmp_path, rayline_home
):
    from rayline.engine.context import LIVE_LOG
    from rayline.executions import collect_orphaned_artifacts

    release = tmp_path / "release"

    @step
    def chatty(path):
        import time as t
        from pathlib import Path as P

        print("loaded 10000 rows", flush=True)
        while not P(path).exists():
            t.sleep(0.05)
        print("finished")

    execution = Pipeline("s3-chatty", steps=[chatty(str(release))]).start()
    deadline = time.time() + 30

    def live_output() -> str:
        return execution.logs("chatty") if "chatty" in statuses(execution) else ""

    while "loaded 10000 rows" not in live_output():
        assert time.time() < deadline, "the running step's output never showed up"
        time.sleep(0.1)
    assert statuses(execution)["chatty"] == "Executing"
    store = open_artifact_store()
    live = store.uri_for("executions", execution.id, "chatty", "attempt-1", LIVE_LOG)
    assert b"loaded 10000 rows" in store.get_bytes(live)
    # the execution is running: its attempt's objects are never collected
    assert collect_orphaned_artifacts().orphans == ()
    assert store.exists(live)
    release.touch()
    execution.wait()
    assert execution.logs("chatty") == "loaded 10000 rows\nfinished\n"
    assert b"finished" in store.get_bytes(live)  # the last copy holds the whole log
    assert_nothing_on_the_drivers_store_disk(rayline_home)


RESUMABLE = """
import os, sys, time
from pathlib import Path
from rayline import processing_context
from rayline.store.artifacts import open_artifact_store
ctx = processing_context()
log = Path(sys.argv[1])
with log.open("a") as f:
    f.write(sys.argv[2] + "\\n")
if sys.argv[2] == "slow" and not (log.parent / "resume-now").exists():
    # The first driver's run leaves an object under its attempt's prefix, then hangs.
    store = open_artifact_store()
    store.put_bytes(b"stale", "executions", ctx.execution_id, "Slow", "attempt-1", "stale.bin")
    time.sleep(120)
for out in ctx.outputs.values():
    (out / "done.txt").write_text(sys.argv[2])
"""


def test_a_resumed_step_on_s3_runs_as_its_next_attempt_under_a_new_prefix(
    ray_session, tmp_path, monkeypatch
):
    import os
    import signal

    script = tmp_path / "step.py"
    script.write_text(RESUMABLE)
    log = tmp_path / "runs.log"
    first = ProcessingStep(
        "First", code=str(script), arguments=[str(log), "first"], outputs=[ProcessingOutput("out")]
    )
    slow = ProcessingStep(
        "Slow",
        code=str(script),
        arguments=[str(log), "slow"],
        inputs=[ProcessingInput(source=first.outputs["out"], destination="in")],
        outputs=[ProcessingOutput("out")],
    )
    monkeypatch.setenv("RAY_ADDRESS", ray_session.get_runtime_context().gcs_address)
    execution = Pipeline("s3-durable", steps=[slow]).start(detach=True)
    store = open_artifact_store()
    stale = store.uri_for("executions", execution.id, "Slow", "attempt-1", "stale.bin")
    deadline = time.time() + 60
    while not store.exists(stale):
        assert time.time() < deadline, "the slow step never started"
        time.sleep(0.1)
    os.kill(int(execution.describe().driver.rsplit(":", 1)[1]), signal.SIGKILL)
    time.sleep(0.5)
    (tmp_path / "resume-now").touch()
    execution.retry()
    assert execution.wait().status == "Succeeded"
    # The interrupted step ran again as attempt 2, under a prefix of its own: the lost
    # attempt's task (had it still been running) could never write under the committed one.
    run = execution.step("Slow")
    assert run.attempts == 2
    assert run.outputs["out"].endswith("/Slow/attempt-2/output/out")
    assert store.get_bytes(run.outputs["out"] + "/done.txt") == b"slow"
    assert not store.exists(run.outputs["out"] + "/stale.bin")
    # What the lost attempt left is never committed: the artifact collector removes it.
    from rayline.executions import collect_orphaned_artifacts

    collected = collect_orphaned_artifacts()
    assert any("/Slow/attempt-1" in o.uri for o in collected.orphans), collected
    assert not store.exists(stale)
    assert store.exists(run.outputs["out"] + "/done.txt")
    assert log.read_text().split().count("first") == 1
