"""Endpoints through a rayline server (``/api/v1/endpoints``): ``Endpoints``' backend when
``RAYLINE_SERVER_URL`` is set. The endpoints run on the server's Ray; invocations go through the
server's ``POST /endpoints/{name}/invocations`` (its Serve address may not be reachable from
here)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.errors import UserInputError
from rayline.registry.entities import ModelPackage, parse_version_ref
from rayline.remote.records import from_json
from rayline.serving.entities import Endpoint, EndpointEvent

if TYPE_CHECKING:
    from rayline.remote.client import Client

#: Seconds an answer may take beyond the server's own wait (the HTTP round trip).
_SLACK_S = 30.0


class RemoteEndpoints:
    """The endpoints of the server ``client`` calls, as its token's identity."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def create(
        self,
        name: str,
        model: str | ModelPackage,
        *,
        replicas: int = 1,
        num_cpus: float = 0.1,
        max_ongoing_requests: int = 64,
        resources: dict[str, float] | None = None,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        body = {
            "name": name,
            **_model(model),
            "replicas": replicas,
            "num_cpus": num_cpus,
            "max_ongoing_requests": max_ongoing_requests,
            "resources": resources,
            "wait": wait,
            "timeout": timeout,
        }
        return endpoint(self.client.post("/endpoints", json=body, timeout=timeout + _SLACK_S))

    def update(
        self,
        name: str,
        model: str | ModelPackage,
        *,
        replicas: int | None = None,
        resources: dict[str, float] | None = None,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        body = {
            **_model(model),
            "replicas": replicas,
            "resources": resources,
            "wait": wait,
            "timeout": timeout,
        }
        answer = self.client.put(_path(name), json=body, timeout=timeout + _SLACK_S)
        return endpoint(answer)

    def delete(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        params = {"wait": wait, "timeout": timeout}
        self.client.delete(_path(name), params=params, timeout=timeout + _SLACK_S)

    def redeploy_all(self, *, wait: bool = True, timeout: float = 120.0) -> list[str]:
        raise self._local_only(
            "redeploying every recorded endpoint",
            "the server's `rayline up` redeploys them on its own Ray",
        )

    def describe(self, name: str, *, probe: bool = True) -> Endpoint:
        return endpoint(self.client.get(_path(name), params={"probe": probe}))

    def replica_nodes(self, name: str) -> list[str]:
        raise self._local_only(
            "the Ray nodes of an endpoint's replicas",
            "ask on the server's machine, without RAYLINE_SERVER_URL",
        )

    def list(self, *, probe: bool = False) -> list[Endpoint]:
        return [endpoint(e) for e in self.client.items("/endpoints", params={"probe": probe})]

    def serving(self, group: str, version: int | None = None) -> list[Endpoint]:
        params = {"model_package_group": group, "version": version}
        return [endpoint(e) for e in self.client.items("/endpoints", params=params)]

    def invoke(
        self,
        name: str,
        body: bytes | str,
        *,
        content_type: str = "text/csv",
        accept: str | None = None,
        timeout: float = 30.0,
    ) -> tuple[bytes, str]:
        headers = {"Content-Type": content_type}
        if accept:
            headers["Accept"] = accept
        response = self.client.request(
            "POST",
            f"{_path(name)}/invocations",
            content=body.encode() if isinstance(body, str) else body,
            headers=headers,
            timeout=timeout + _SLACK_S,
        )
        media = response.headers.get("content-type", "text/plain")
        return response.content, media.split(";", 1)[0].strip().lower()

    def _local_only(self, what: str, instead: str) -> UserInputError:
        return UserInputError(
            f"{what} is about the Ray cluster the endpoints run on, which the rayline server "
            f"({self.client.url}) does not expose over its REST API; {instead}"
        )


def endpoint(data: Any) -> Endpoint:
    """An endpoint from the JSON the server answers (``routes/endpoints.endpoint_dict``)."""
    if isinstance(data, dict):
        events = tuple(from_json(EndpointEvent, e) for e in data.get("events") or ())
        data = {**data, "events": events}
    return from_json(Endpoint, data)


def _model(model: str | ModelPackage) -> dict[str, Any]:
    if isinstance(model, ModelPackage):
        group, version = model.group, model.version
    else:
        group, version = parse_version_ref(model)
    return {"model_package_group": group, "version": version}


def _path(name: str) -> str:
    return f"/endpoints/{quote(name, safe='')}"
