"""Endpoints: the list, the deploy form, and one endpoint's status, history, invoke form, update
to another Approved version and delete.

Every read and change goes through ``rayline.serving.Endpoints``, as the REST API's
``/api/v1/endpoints`` routes do: create, update and delete wait until Serve has done it, act as
the signed-in identity (operators only) and are audited. Invoking (viewers too, as in the API) is
a fetch from the page's script, with the session's CSRF token in ``X-CSRF-Token``; the answer
comes back as JSON with the latency measured here, around the call to the endpoint.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from rayline.auth.actions import Action
from rayline.errors import NotFoundError, PermissionDeniedError, RaylineError, UserInputError
from rayline.server import uploads
from rayline.server.problems import status_of
from rayline.studio.actions import audited, guarded, guarded_json
from rayline.studio.pages.registry import registry
from rayline.studio.web import (
    PREFIX,
    Ctx,
    error_page,
    fetch,
    json_response,
    page,
    render,
    script_json,
    studio_page,
)

router = APIRouter(prefix=PREFIX, include_in_schema=False)

PageCtx = Annotated[Ctx, Depends(page)]
FetchCtx = Annotated[Ctx, Depends(fetch)]

#: What a change of an endpoint needs, named in the refusal a viewer gets.
DOING = "deploying, updating and deleting endpoints"
#: The content types the invoke form offers (those every endpoint accepts).
CONTENT_TYPES = ("text/csv", "application/json")
#: Statuses an endpoint passes through; the page watches those until they settle.
TRANSITIONAL = ("Creating", "Updating", "Deleting")
#: The deploy form's fields and their defaults (the REST API's).
DEFAULTS = {"name": "", "model": "", "replicas": "1", "num_cpus": "0.1"}


def endpoints() -> Any:
    """The serving service (what the REST API's endpoint routes call)."""
    from rayline.serving import Endpoints

    return Endpoints()


def approved_versions(group: str | None = None) -> list[Any]:
    """Approved model versions (of ``group``, else of every group), by group then newest first:
    the only ones an endpoint may serve."""
    from rayline.registry.entities import ApprovalStatus

    versions = registry().list_versions(group, status=ApprovalStatus.APPROVED)
    return sorted(versions, key=lambda p: (p.group, -p.version))


# -- the list ----------------------------------------------------------------------------------


@router.get("/endpoints")
@studio_page
def endpoint_list(ctx: PageCtx) -> Response:
    # As recorded (the API's list does not probe either); an endpoint's page asks it.
    return render(ctx, "endpoints.html", endpoints=endpoints().list(probe=False))


# -- deploying ---------------------------------------------------------------------------------


@router.get("/endpoints/new")
@studio_page
def new_endpoint(
    ctx: PageCtx,
    group: Annotated[str | None, Query(max_length=200)] = None,
    version: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> Response:
    chosen = f"{group}/{version}" if group and version else ""
    return _new_page(ctx, {"model": chosen}, notice=_not_deployable(group, version))


def _not_deployable(group: str | None, version: int | None) -> str | None:
    """Why the version the link asked for cannot be chosen (None: it can, or none was asked)."""
    if not group or not version:
        return None
    try:
        package = registry().describe(group, version)
    except NotFoundError as exc:
        return str(exc)
    if package.status != "Approved":
        return (
            f"model version {package.ref} is {package.status}; only Approved versions can be "
            "deployed (an approver approves it on its model version page)"
        )
    return None


def _new_page(
    ctx: Ctx,
    values: dict[str, str],
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    return render(
        ctx,
        "endpoint_new.html",
        status=status,
        values={**DEFAULTS, **{k: v for k, v in values.items() if v}},
        versions=approved_versions(),
        error=error,
        notice=notice,
    )


@router.post("/endpoints")
async def create(request: Request) -> Response:
    """Deploy an Approved version from the form (operators only); 303 to its page once it is
    InService."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    # An empty field means its default (as an API body that leaves it out).
    values = {k: str(form.get(k) or "").strip() or d for k, d in DEFAULTS.items()}

    def run() -> Response:
        try:
            audited(
                ctx,
                target=f"name={values['name']}",
                csrf=str(form.get("csrf") or ""),
                action=lambda: _create(values),
                needs=Action.MANAGE_ENDPOINT,
                doing=DOING,
            )
        except PermissionDeniedError as exc:
            return error_page(ctx, exc)
        except RaylineError as exc:
            return _new_page(ctx, values, error=str(exc), status=status_of(exc))
        return RedirectResponse(_endpoint_url(values["name"]), status_code=303)

    return await run_in_threadpool(guarded, ctx, run)


def _create(values: dict[str, str]) -> Any:
    if not values["model"]:
        raise UserInputError("choose the model version to serve (an Approved one)")
    return endpoints().create(
        values["name"],
        values["model"],
        replicas=_whole(values["replicas"], what="replicas", low=1, high=1000),
        num_cpus=_cpus(values["num_cpus"]),
    )


def _whole(text: str, *, what: str, low: int, high: int) -> int:
    """``text`` as a whole number from ``low`` to ``high`` (else a message saying so)."""
    if not text.isdigit() or not low <= int(text) <= high:
        raise UserInputError(f"{what} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def _cpus(text: str) -> float:
    """CPUs per replica: a positive number up to 1024 (as the API's ``num_cpus``)."""
    try:
        cpus = float(text)
    except ValueError:
        cpus = -1.0
    if not 0 < cpus <= 1024:  # also refuses nan
        raise UserInputError(
            f"CPUs per replica must be a number above 0 and at most 1024 (like 0.1), not {text!r}"
        )
    return cpus


# -- one endpoint ------------------------------------------------------------------------------


def _endpoint_url(name: str) -> str:
    from urllib.parse import quote

    return f"{PREFIX}/endpoints/{quote(name, safe='')}"


@router.get("/endpoints/{name}")
@studio_page
def endpoint_page(name: str, ctx: PageCtx) -> Response:
    return _endpoint_page(ctx, name)


def _endpoint_page(ctx: Ctx, name: str, *, error: str | None = None, status: int = 200) -> Response:
    service = endpoints()
    endpoint = service.describe(name)  # asks it whether it answers
    try:
        serving = registry().describe(endpoint.model_package_group, endpoint.model_package_version)
        columns = list(serving.inference_spec.input_columns)
    except NotFoundError:
        columns = []
    others = [
        p
        for p in approved_versions(endpoint.model_package_group)
        if p.version != endpoint.model_package_version
    ]
    return render(
        ctx,
        "endpoint.html",
        status=status,
        endpoint=endpoint,
        events=list(reversed(endpoint.events)),
        columns=columns,
        others=others,
        content_types=CONTENT_TYPES,
        state_json=script_json(_state(endpoint)),
        error=error,
    )


def _state(endpoint: Any) -> dict[str, Any]:
    """What the page's script watches while the endpoint is changing."""
    return {
        "name": endpoint.name,
        "status": endpoint.status,
        "live": endpoint.live,
        "model_version": endpoint.model_version,
        "settling": endpoint.status in TRANSITIONAL,
    }


@router.get("/endpoints/{name}/state")
def endpoint_state(name: str, ctx: FetchCtx) -> Response:
    """The endpoint's status now (the page reloads when it changes)."""
    return guarded_json(ctx, lambda: json_response(ctx, _state(endpoints().describe(name))))


@router.post("/endpoints/{name}/invoke")
async def invoke(name: str, request: Request, ctx: FetchCtx) -> Response:
    """Send the page's request body to the endpoint, as ``POST /api/v1/endpoints/{name}/
    invocations`` does; answers ``{"prediction", "content_type", "latency_ms"}``, or
    ``{"detail"}`` with the status of what went wrong (the endpoint's 400 for a malformed row).
    """
    from rayline.serving.entities import MAX_INVOCATION_BYTES

    # One byte more than an invocation may carry: the serving domain refuses a longer body.
    body = await uploads.read_at_most(request, MAX_INVOCATION_BYTES + 1)
    csrf = request.headers.get("x-csrf-token") or ""
    content_type = (request.headers.get("content-type") or "text/csv").split(";")[0].strip()

    def run() -> Response:
        answer = audited(
            ctx,
            target=f"name={name}",
            csrf=csrf,
            action=lambda: _invoke(name, body, content_type),
            needs=Action.INVOKE_ENDPOINT,
            doing="invoking endpoints",
        )
        return json_response(ctx, answer)

    return await run_in_threadpool(guarded_json, ctx, run)


def _invoke(name: str, body: bytes, content_type: str) -> dict[str, Any]:
    if content_type not in CONTENT_TYPES:
        raise UserInputError(
            f"content type {content_type!r} is not one an endpoint takes; use "
            f"{' or '.join(CONTENT_TYPES)}"
        )
    if not body.strip():
        raise UserInputError("type the rows to send (CSV without a header, or JSON instances)")
    service = endpoints()
    service.describe(name, probe=False)  # 404 for an unknown endpoint, before timing the call
    started = time.perf_counter()
    answer, media = service.invoke(name, body, content_type=content_type)
    latency_ms = (time.perf_counter() - started) * 1000.0
    return {
        "prediction": answer.decode("utf-8", errors="replace"),
        "content_type": media,
        "latency_ms": round(latency_ms, 1),
    }


@router.post("/endpoints/{name}/update")
async def update(name: str, request: Request) -> Response:
    """Serve another Approved version of the endpoint's group (operators only)."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    chosen = str(form.get("version") or "").strip()

    def run() -> Response:
        def act() -> Any:
            service = endpoints()
            current = service.describe(name, probe=False)  # 404 for an unknown endpoint
            version = _whole(chosen, what="the version", low=1, high=2**62)
            return service.update(name, f"{current.model_package_group}/{version}")

        return _change(ctx, name, form, act, done=_endpoint_url(name))

    return await run_in_threadpool(guarded, ctx, run)


@router.post("/endpoints/{name}/delete")
async def delete(name: str, request: Request) -> Response:
    """Stop serving and forget the endpoint (operators only; the form's ``confirm`` must name
    it: the page's second step)."""
    form = await request.form()
    ctx = await run_in_threadpool(page, request)
    confirmed = str(form.get("confirm") or "")

    def run() -> Response:
        def act() -> None:
            if confirmed != name:
                raise UserInputError(
                    f"confirm deleting endpoint {name!r}: press Delete, then Yes, delete it"
                )
            endpoints().delete(name)

        return _change(ctx, name, form, act, done=f"{PREFIX}/endpoints")

    return await run_in_threadpool(guarded, ctx, run)


def _change(ctx: Ctx, name: str, form: Any, act: Any, *, done: str) -> Response:
    """Run an operator's change of endpoint ``name`` (audited); its refusal as the error page,
    any other error on the endpoint's page, else 303 to ``done``."""
    try:
        audited(
            ctx,
            target=f"name={name}",
            csrf=str(form.get("csrf") or ""),
            action=act,
            needs=Action.MANAGE_ENDPOINT,
            doing=DOING,
        )
    except (PermissionDeniedError, NotFoundError) as exc:  # no endpoint page to show it on
        return error_page(ctx, exc)
    except RaylineError as exc:
        return _endpoint_page(ctx, name, error=str(exc), status=status_of(exc))
    return RedirectResponse(done, status_code=303)
