"""The execution routes of a server (``/api/v1/executions``): read an execution, its steps,
logs and event log; stop and retry it (the server drives a retried execution)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.engine.context import PICKLED
from rayline.engine.records import EventRecord, ExecutionRecord, StepRunRecord
from rayline.errors import UserInputError
from rayline.remote import records

if TYPE_CHECKING:
    from rayline.definition.policies import ParallelismConfiguration
    from rayline.remote.client import Client


def _path(execution_id: str, *rest: str) -> str:
    return "/".join(
        [f"/executions/{quote(execution_id, safe='')}", *(quote(r, safe="") for r in rest)]
    )


def describe(client: Client, execution_id: str) -> ExecutionRecord:
    return records.execution(client.get(_path(execution_id)))


def list_steps(client: Client, execution_id: str) -> list[StepRunRecord]:
    return [records.step_run(item) for item in client.get(_path(execution_id, "steps"))]


def step(client: Client, execution_id: str, name: str) -> StepRunRecord:
    return records.step_run(client.get(_path(execution_id, "steps", name)))


def logs(client: Client, execution_id: str, name: str) -> str:
    return client.request("GET", _path(execution_id, "steps", name, "logs")).text


def events(client: Client, execution_id: str, *, after_id: int = 0) -> list[EventRecord]:
    found = client.get(_path(execution_id, "events"), params={"after_id": after_id})
    return [records.event(item) for item in found]


def stop(client: Client, execution_id: str) -> ExecutionRecord:
    return records.execution(client.post(_path(execution_id, "stop")))


def retry(
    client: Client,
    execution_id: str,
    *,
    parallelism_config: ParallelismConfiguration | None = None,
) -> ExecutionRecord:
    """Run a Failed or Stopped execution again, driven by the server."""
    if parallelism_config is not None:
        raise UserInputError(
            f"execution {execution_id}: the server's retry takes no new step parallelism; "
            "retry it without one (or on the server's machine, without RAYLINE_SERVER_URL)"
        )
    return records.execution(client.post(_path(execution_id, "retry")))


def stored_value(value: Any, *, execution_id: str, step: str) -> Any:
    """A property as the step returned it, when the record holds it; one stored by reference
    (a pickle in the artifact store) cannot be read through the server."""
    if isinstance(value, dict) and set(value) == {PICKLED}:
        raise UserInputError(
            f"execution {execution_id}, step {step!r}: the value it returned is stored as a "
            f"pickle in the server's artifact store ({value[PICKLED]}), which a client of the "
            "server cannot read; read it on the server's machine, without RAYLINE_SERVER_URL"
        )
    return value


def list_executions(
    client: Client, pipeline_name: str | None = None, *, limit: int = 50
) -> list[ExecutionRecord]:
    """The latest executions (of one pipeline, or all), newest first."""
    found = client.items("/executions", params={"pipeline": pipeline_name}, limit=limit)
    return [records.execution(item) for item in found]
