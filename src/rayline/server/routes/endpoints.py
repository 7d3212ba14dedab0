"""/api/v1/endpoints: real-time endpoints on Ray Serve. List, describe, create from an Approved
model version, update to another, delete, and invoke.

Each route calls ``rayline.serving.Endpoints`` as an embedded user does, on the Ray this server
is connected to (``rayline up`` or ``RAY_ADDRESS``); create, update and delete return once Serve
has done it (``wait``, default true). Reads and invoke need the viewer role (an invocation
changes nothing; it is still audited, as every POST is); create, update and delete the operator
role.

``POST /endpoints/{name}/invocations`` is SageMaker's InvokeEndpoint: the body goes to the
endpoint with its ``Content-Type`` and ``Accept``, and the endpoint's answer comes back with its
content type. What the endpoint refuses (a malformed row) is a 400 with its message.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from rayline.auth.actions import Action
from rayline.errors import UserInputError
from rayline.server import uploads
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes import MAX_INT
from rayline.server.security import requires
from rayline.serving.entities import MAX_INVOCATION_BYTES

router = APIRouter(prefix="/endpoints", tags=["endpoints"])

VIEWER = [Depends(requires(Action.READ))]
MANAGE = [Depends(requires(Action.MANAGE_ENDPOINT))]

EndpointName = Annotated[str, Path(min_length=1, max_length=63)]
#: What places replicas: custom Ray resource names and positive amounts (checked by serving).
Resources = dict[Annotated[str, Field(min_length=1, max_length=256)], Annotated[float, Field(gt=0)]]
#: How long a change may wait for Serve, in seconds.
Timeout = Annotated[float, Field(gt=0, le=3600)]


class CreateBody(BaseModel):
    """``POST /endpoints``: serve ``model_package_group``/``version`` (it must be Approved) as
    endpoint ``name``, with ``replicas`` replicas of ``num_cpus`` CPUs each."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=63, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$")
    model_package_group: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1, le=MAX_INT)
    replicas: int = Field(default=1, ge=1, le=1000)
    num_cpus: float = Field(default=0.1, gt=0, le=1024)
    max_ongoing_requests: int = Field(default=64, ge=1, le=100_000)
    resources: Resources | None = Field(
        default=None, description='custom Ray resources per replica, like {"worker": 0.1}'
    )
    wait: bool = Field(default=True, description="answer once the endpoint is InService")
    timeout: Timeout = Field(default=120.0, description="seconds to wait for it (with wait)")


class UpdateBody(BaseModel):
    """``PUT /endpoints/{name}``: serve another Approved version (no request is dropped);
    ``replicas`` and ``resources`` change too when given (``resources`` ``{}``: anywhere)."""

    model_config = ConfigDict(extra="forbid")

    model_package_group: str = Field(min_length=1, max_length=200)
    version: int = Field(ge=1, le=MAX_INT)
    replicas: int | None = Field(default=None, ge=1, le=1000)
    resources: Resources | None = None
    wait: bool = True
    timeout: Timeout = 120.0


def _endpoints() -> Any:
    from rayline.serving import Endpoints

    return Endpoints()


def endpoint_dict(endpoint: Any) -> dict[str, Any]:
    """An endpoint as JSON: its fields, the version it serves and where to invoke it."""
    return {
        **dataclasses.asdict(endpoint),
        "model_version": endpoint.model_version,
        "invocation_url": endpoint.invocation_url,
    }


@router.get("", dependencies=VIEWER)
def list_endpoints(
    page: Annotated[PageRequest, Depends(page_request)],
    probe: Annotated[bool, Query(description="ask each whether it answers")] = False,
    model_package_group: Annotated[
        str | None, Query(min_length=1, max_length=200, description="only those serving it")
    ] = None,
    version: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
) -> dict[str, Any]:
    """Endpoints by name, as recorded (``probe``: asking each whether it answers); only those
    serving ``model_package_group`` (and ``version``) when given."""
    if model_package_group is not None:
        endpoints = _endpoints().serving(model_package_group, version)
    elif version is not None:
        raise UserInputError("version filters the endpoints of a model_package_group: give both")
    else:
        endpoints = _endpoints().list(probe=probe)
    return paginate_list(page, [endpoint_dict(e) for e in endpoints])


@router.get("/{name}", dependencies=VIEWER)
def describe_endpoint(
    name: EndpointName,
    probe: Annotated[bool, Query(description="ask it whether it answers")] = True,
) -> dict[str, Any]:
    """The endpoint's record and history; ``live`` says whether it answered just now (one
    recorded InService that does not answer is reported Failed, with why)."""
    return endpoint_dict(_endpoints().describe(name, probe=probe))


@router.post("", status_code=201, dependencies=MANAGE)
def create_endpoint(body: CreateBody) -> dict[str, Any]:
    """Deploy an Approved version (409 naming its status when it is not; 409 for a name taken
    already)."""
    endpoint = _endpoints().create(
        body.name,
        f"{body.model_package_group}/{body.version}",
        replicas=body.replicas,
        num_cpus=body.num_cpus,
        max_ongoing_requests=body.max_ongoing_requests,
        resources=body.resources,
        wait=body.wait,
        timeout=body.timeout,
    )
    return endpoint_dict(endpoint)


@router.put("/{name}", dependencies=MANAGE)
def update_endpoint(name: EndpointName, body: UpdateBody) -> dict[str, Any]:
    """Serve another Approved version (409 naming its status when it is not)."""
    endpoint = _endpoints().update(
        name,
        f"{body.model_package_group}/{body.version}",
        replicas=body.replicas,
        resources=body.resources,
        wait=body.wait,
        timeout=body.timeout,
    )
    return endpoint_dict(endpoint)


@router.delete("/{name}", status_code=204, dependencies=MANAGE)
def delete_endpoint(
    name: EndpointName,
    wait: Annotated[bool, Query(description="answer once its route is gone")] = True,
    timeout: Annotated[float, Query(gt=0, le=3600)] = 60.0,
) -> Response:
    """Stop serving and forget the endpoint (its history stays, for lineage)."""
    _endpoints().delete(name, wait=wait, timeout=timeout)
    return Response(status_code=204)


@router.post(
    "/{name}/invocations",
    dependencies=[Depends(requires(Action.INVOKE_ENDPOINT))],
    response_class=Response,
    responses={
        200: {
            "content": {"text/csv": {}, "application/json": {}},
            "description": "the endpoint's answer",
        }
    },
)
async def invoke_endpoint(name: EndpointName, request: Request) -> Response:
    """Send the raw body (``text/csv`` rows without a header, or ``application/json``
    instances) to the endpoint; answers what it answers, in the type ``Accept`` asks for."""
    # One byte more than an invocation may carry: the serving domain refuses a longer body.
    body = await uploads.read_at_most(request, MAX_INVOCATION_BYTES + 1)
    content_type = request.headers.get("content-type") or "text/csv"
    accept = request.headers.get("accept")
    if accept in ("*/*", ""):
        accept = None
    answer, media = await anyio.to_thread.run_sync(_invoke, name, body, content_type, accept)
    return Response(answer, media_type=media)


def _invoke(name: str, body: bytes, content_type: str, accept: str | None) -> tuple[bytes, str]:
    return _endpoints().invoke(name, body, content_type=content_type, accept=accept)
