"""Executions survive their driver: kill -9 the driving process, then resume; and a pipeline
runs against an existing cluster started with ``ray start --head``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import wait_for

from rayline import Pipeline
from rayline.definition.steps import ProcessingInput, ProcessingOutput, ProcessingStep

pytestmark = pytest.mark.ray

STEP = """
import sys, time
from pathlib import Path
from rayline import processing_context
ctx = processing_context()
log = Path(sys.argv[1])
with log.open("a") as f:
    f.write(sys.argv[2] + "\\n")
if sys.argv[2] == "slow" and not (log.parent / "resume-now").exists():
    time.sleep(120)
for out in ctx.outputs.values():
    (out / "done.txt").write_text(sys.argv[2])
"""


def test_kill_driver_then_resume_keeps_succeeded_steps(
    ray_session, rayline_home, tmp_path, monkeypatch
):
    script = tmp_path / "step.py"
    script.write_text(STEP)
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
    last = ProcessingStep(
        "Last",
        code=str(script),
        arguments=[str(log), "last"],
        inputs=[ProcessingInput(source=slow.outputs["out"], destination="in")],
    )
    pipeline = Pipeline("durable", steps=[last])

    # The driver is a separate process on this session's Ray cluster.
    monkeypatch.setenv("RAY_ADDRESS", ray_session.get_runtime_context().gcs_address)
    execution = pipeline.start(detach=True)
    # Kill the driver once Slow really runs (its worker wrote to the log), not merely submitted.
    wait_for(lambda: log.is_file() and "slow" in log.read_text().split())
    driver = execution.describe().driver
    os.kill(int(driver.rsplit(":", 1)[1]), signal.SIGKILL)
    time.sleep(0.5)

    record = execution.describe()
    assert record.status == "Executing"  # nobody is left to say otherwise...
    (tmp_path / "resume-now").touch()
    execution.retry()  # ...but the dead driver is detected and the execution resumed here
    record = execution.wait()
    assert record.status == "Succeeded"
    runs = {r.step_name: r for r in execution.list_steps()}
    assert {n: r.status.value for n, r in runs.items()} == {
        "First": "Succeeded",
        "Slow": "Succeeded",
        "Last": "Succeeded",
    }
    lines = log.read_text().split()
    assert lines.count("first") == 1, "a succeeded step ran again after resume"
    assert lines.count("slow") == 2 and lines.count("last") == 1


def test_retry_refuses_a_live_or_succeeded_execution(ray_session, rayline_home):
    from rayline import ConflictError, step

    @step
    def quick():
        return 1

    execution = Pipeline("live", steps=[quick()]).start()
    execution.wait()
    with pytest.raises(ConflictError, match="succeeded"):
        execution.retry()


@pytest.mark.slow
def test_pipeline_runs_on_a_cluster_started_with_ray_start(rayline_home, tmp_path):
    ray_bin = Path(sys.executable).parent / "ray"
    port = 6390
    temp = Path("/tmp") / f"rl-{os.getpid()}"
    head = subprocess.Popen(
        [
            str(ray_bin),
            "start",
            "--head",
            "--block",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            f"--temp-dir={temp}",
            "--disable-usage-stats",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    program = (
        "from rayline import Pipeline, step\n"
        "@step\n"
        "def where():\n"
        "    import ray\n"
        "    return ray.get_runtime_context().gcs_address\n"
        "e = Pipeline('on-cluster', steps=[where()]).start()\n"
        "e.wait()\n"
        "print('RESULT', e.result('where'))\n"
    )
    try:
        env = {**os.environ, "RAY_ADDRESS": f"127.0.0.1:{port}"}
        result = None
        for _ in range(30):  # the head node needs a few seconds before it accepts drivers
            result = subprocess.run(
                [sys.executable, "-c", program],
                env=env,
                capture_output=True,
                text=True,
                timeout=180,
            )
            if result.returncode == 0:
                break
            time.sleep(2)
        assert result.returncode == 0, result.stderr[-3000:]
        assert f"RESULT {''}" in result.stdout and f":{port}" in result.stdout
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        head.wait(timeout=60)
        shutil.rmtree(temp, ignore_errors=True)
