"""The reference workflow as a team member runs it from a second machine: only
``RAYLINE_SERVER_URL`` and a token, an empty ``RAYLINE_HOME``, no database or S3 settings.

Run by ``tests/integration/server/test_remote_workflow.py`` as a process of its own::

    python remote_workflow_client.py STATE.json

``STATE.json`` (written by the test) names the data's ``s3://`` URI, the tokens of two approvers
(the first starts the pipeline, the second approves: four eyes) and the names to use. Every call
goes through the public Python API; the script prints one JSON object of what it saw on its last
line, which the test checks.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(ROOT / "examples" / "housing"), str(ROOT)]

from pipeline import DATA, get_pipeline  # noqa: E402
from tests.integration.gated import gated_pipeline  # noqa: E402

import rayline  # noqa: E402
from rayline import (  # noqa: E402
    Endpoints,
    Execution,
    FeatureGroup,
    ModelRegistry,
    PermissionDeniedError,
)
from rayline.lineage import lineage  # noqa: E402


def as_token(token: str) -> None:
    """Act as the identity of ``token`` in the handles made from now on."""
    os.environ["RAYLINE_TOKEN"] = token


def wait_status(execution: Execution, wanted: set[str], timeout: float = 240.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = execution.describe().status.value
        if status in wanted:
            return status
        time.sleep(0.2)
    raise TimeoutError(f"execution {execution.id} never reached {wanted}")


def main() -> None:
    state = json.loads(Path(sys.argv[1]).read_text())
    seen: dict[str, object] = {}
    first, second = state["approver_tokens"]
    as_token(first)

    # 1. The feature group, and the CSV ingested into it through the server.
    frame = pd.read_csv(DATA)
    frame["record_id"] = range(len(frame))
    frame["event_time"] = 1_700_000_000.0
    group = FeatureGroup(state["feature_group"])
    group.load_feature_definitions(frame)
    group.create(record_identifier_name="record_id", event_time_feature_name="event_time")
    report = group.ingest(frame)
    seen["ingested_rows"] = report.offline_rows_written
    seen["record_5"] = group.get_record("5")

    # 2. The pipeline: upserted and started here, run by the server; its event stream followed.
    pipeline = get_pipeline(data=state["data_uri"], max_jobs=2, max_parallel_jobs=1)
    seen["version"] = pipeline.upsert()
    execution = pipeline.start(parameters={"FeatureGroupName": state["feature_group"]})
    events: list[str] = []
    follower = threading.Thread(
        target=lambda: events.extend(
            f"{e.step_name or 'execution'}:{e.status}" for e in execution.follow_events()
        ),
        daemon=True,
    )
    follower.start()
    # A running step's logs, followed until the step ends.
    wait_step_running(execution, "PreprocessData")
    seen["followed_log_chars"] = sum(len(c) for c in execution.follow_logs("PreprocessData"))
    record = execution.wait(raise_on_failure=False)
    follower.join(60)
    seen["status"] = record.status.value
    seen["failure"] = record.failure_reason
    seen["events"] = events

    # 3. Stop an execution while its step runs, then retry it to the end.
    gate = Path(state["gate"])
    gated = gated_pipeline(f"{state['prefix']}-gated", gate)
    stopped = gated.start()
    wait_step_running(stopped, "wait")
    stopped.stop()
    seen["stopped"] = wait_status(stopped, {"Stopped", "Failed", "Succeeded"})
    gate.touch()
    stopped.retry()
    seen["retried"] = stopped.wait(raise_on_failure=False).status.value

    # 4. Approve: the identity that started the execution is refused (four eyes), another not.
    registry = ModelRegistry()
    package = registry.registered_by(execution.id)[0]
    try:
        registry.approve(package.group, package.version, reason="looks good")
        seen["four_eyes"] = "allowed"
    except PermissionDeniedError as exc:
        seen["four_eyes"] = str(exc)
    as_token(second)
    registry = ModelRegistry()  # a handle keeps the token it was made with
    approved = registry.approve(package.group, package.version, reason="RMSE within bounds")
    seen["approved_by"] = registry.history(package.group, package.version)[-1].by
    seen["approval_status"] = str(approved.status)

    # 5. Deploy, invoke with a raw CSV row.
    endpoints = Endpoints()
    endpoints.create(state["endpoint"], f"{package.group}/{package.version}")
    row = frame.drop(columns=["PRICE", "record_id", "event_time"]).iloc[-1]
    body, _ = endpoints.invoke(state["endpoint"], ",".join(str(v) for v in row.tolist()))
    seen["prediction"] = float(body.decode().strip().split()[0].strip("[],"))
    seen["price"] = float(frame["PRICE"].iloc[-1])

    # 6. Lineage of the version and a SQL query over the feature group.
    found = lineage(f"{package.group}/{package.version}")
    seen["lineage_kinds"] = sorted({str(entry.node.kind) for entry in found.upstream})
    # The pipeline ingested the CSV again at another event time: two versions of each record.
    counted = rayline.query(
        f'SELECT COUNT(DISTINCT record_id) AS n FROM "{state["feature_group"]}"'
    )
    seen["sql_count"] = int(counted["n"].iloc[0])

    # 7. Delete everything.
    endpoints.delete(state["endpoint"])
    registry.delete_group(package.group, force=True)
    rayline.delete_pipeline(pipeline.name)
    rayline.delete_pipeline(gated.name)
    group.delete()
    seen["left"] = {
        "pipelines": [p.name for p in rayline.list_pipelines()],
        "feature_groups": [g.name for g in rayline.list_feature_groups()],
        "endpoints": [e.name for e in endpoints.list()],
    }
    print(json.dumps(seen, default=str))


def wait_step_running(execution: Execution, name: str, timeout: float = 240.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if execution.step(name).status.value in ("Executing", "Succeeded", "Failed"):
                return
        except rayline.NotFoundError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"step {name} of {execution.id} never started")


if __name__ == "__main__":
    main()
