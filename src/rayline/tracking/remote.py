"""The experiments backend over a server's REST API (``/api/v1/experiments``,
``/api/v1/executions/{id}/runs``): the server's MLflow store, read through it."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

from rayline.remote.records import from_json
from rayline.tracking.runs import RunDetail, RunSummary

if TYPE_CHECKING:
    from rayline.remote.client import Client


class RemoteExperiments:
    """The tracking store of the server at ``client.url``."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def list_runs(
        self,
        *,
        experiment: str | None = None,
        execution_id: str | None = None,
        max_results: int = 100,
    ) -> list[RunSummary]:
        params = {"experiment": experiment, "execution_id": execution_id}
        found = self.client.items("/experiments/runs", params=params, limit=max_results)
        return [from_json(RunSummary, item) for item in found]

    def list_experiments(self) -> list[tuple[str, str, int]]:
        return [(e["id"], e["name"], e["runs"]) for e in self.client.get("/experiments")]

    def describe_run(self, run_id: str) -> RunDetail:
        return from_json(RunDetail, self.client.get(f"/experiments/runs/{quote(run_id, safe='')}"))

    def tracking_uri(self) -> str:
        return self.client.get("/experiments/ui")["tracking_uri"]
