"""The execution backend over a server's REST API (``/api/v1/executions``): read an execution,
its steps, logs and event log (followed as they grow), stop and retry it (the server drives a
retried execution). ``rayline.executions.Execution`` holds one when ``RAYLINE_SERVER_URL`` is
set; the embedded backend beside it reads the metadata DB."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.engine.context import PICKLED
from rayline.engine.records import EventRecord, ExecutionRecord, StepRunRecord
from rayline.errors import UserInputError
from rayline.remote import records

if TYPE_CHECKING:
    from rayline.definition.policies import ParallelismConfiguration
    from rayline.remote.client import Client

#: How long an ended execution may go without an MLflow run before ``wait(tracked=True)``
#: takes it that tracking made none (tracking records the run when the execution starts).
UNTRACKED_GRACE_S = 10.0


def _path(execution_id: str, *rest: str) -> str:
    return "/".join(
        [f"/executions/{quote(execution_id, safe='')}", *(quote(r, safe="") for r in rest)]
    )


class RemoteExecutions:
    """Executions as the server at ``client.url`` has them."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def describe(self, execution_id: str) -> ExecutionRecord:
        return records.execution(self.client.get(_path(execution_id)))

    def list_steps(self, execution_id: str) -> list[StepRunRecord]:
        return [records.step_run(item) for item in self.client.get(_path(execution_id, "steps"))]

    def step(self, execution_id: str, name: str) -> StepRunRecord:
        return records.step_run(self.client.get(_path(execution_id, "steps", name)))

    def logs(self, execution_id: str, step_name: str) -> str:
        return self.client.request("GET", _path(execution_id, "steps", step_name, "logs")).text

    def follow_logs(self, execution_id: str, step_name: str) -> Iterator[str]:
        path = _path(execution_id, "steps", step_name, "logs")
        with self.client.stream("GET", path, params={"follow": "true"}) as answer:
            yield from answer.iter_text()

    def events(self, execution_id: str, *, after_id: int = 0) -> list[EventRecord]:
        found = self.client.get(_path(execution_id, "events"), params={"after_id": after_id})
        return [records.event(item) for item in found]

    def follow_events(self, execution_id: str, *, after_id: int = 0) -> Iterator[EventRecord]:
        """The server's Server-Sent Events (``/events/stream``) until its ``end`` event."""
        path = _path(execution_id, "events", "stream")
        with self.client.stream("GET", path, params={"after_id": after_id}) as answer:
            kind = data = None
            for line in answer.iter_lines():
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data = line.partition(":")[2].strip()
                elif not line and kind is not None:
                    if kind == "end":
                        return
                    yield records.event(json.loads(data or "null"))
                    kind = data = None

    def stored_value(self, value: Any, *, execution_id: str, step: str) -> Any:
        """A property as the step returned it, when the record holds it; one stored by
        reference (a pickle in the artifact store) cannot be read through the server."""
        if isinstance(value, dict) and set(value) == {PICKLED}:
            raise UserInputError(
                f"execution {execution_id}, step {step!r}: the value it returned is stored as a "
                f"pickle in the server's artifact store ({value[PICKLED]}), which a client of "
                "the server cannot read; return a JSON value from the step, or read it on the "
                "server's machine, without RAYLINE_SERVER_URL"
            )
        return value

    def wait_tracked(self, execution_id: str, *, timeout: float | None) -> ExecutionRecord:
        """Wait until the server's MLflow run of the ended execution has ended (its runs'
        route says so)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            record = self.describe(execution_id)
            if record.mlflow_run_id:
                runs = self.client.items(_path(execution_id, "runs"))
                status = next(
                    (r.get("status") for r in runs if r.get("run_id") == record.mlflow_run_id),
                    None,
                )
                if status is not None and status != "RUNNING":
                    return record
            elif record.ended_at and time.time() - record.ended_at > UNTRACKED_GRACE_S:
                return record  # tracking made no run
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(
                    f"the MLflow runs of execution {execution_id} were not complete after "
                    f"{timeout:g} s; `rayline execution events {execution_id}` shows tracking's "
                    "failures"
                )
            time.sleep(0.2)

    def stop(self, execution_id: str) -> None:
        self.client.post(_path(execution_id, "stop"))

    def retry(
        self,
        record: ExecutionRecord,
        *,
        detach: bool,
        parallelism_config: ParallelismConfiguration | None,
    ) -> None:
        """Run a Failed or Stopped execution again, driven by the server (``detach`` does not
        apply: it outlives this process anyway)."""
        body = (
            {"max_parallel_steps": parallelism_config.max_parallel_execution_steps}
            if parallelism_config is not None
            else {}
        )
        self.client.post(_path(record.id, "retry"), json=body)

    def list_executions(
        self, pipeline_name: str | None = None, *, limit: int = 50
    ) -> list[ExecutionRecord]:
        """The latest executions (of one pipeline, or all), newest first."""
        found = self.client.items("/executions", params={"pipeline": pipeline_name}, limit=limit)
        return [records.execution(item) for item in found]
