"""/api/v1/model-package-groups: the model registry. Groups and their versions (with metrics
and approval history), registering a version from uploaded files, approving or rejecting one,
and deleting versions and groups.

Reads need the viewer role; creating groups, registering and deleting the operator role;
approve and reject the approver role. The registry records the authenticated identity (the
token's name, which the request acts as) as who made a change, never text the caller sends, and
applies its approval rules (``ModelRegistry.update_status``): four eyes (403) and a reason for a
rejection.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from rayline.auth.actions import Action
from rayline.errors import ParameterError, UserInputError
from rayline.server import uploads
from rayline.server.pagination import PageRequest, page_request, paginate_list
from rayline.server.routes import MAX_INT
from rayline.server.security import requires

router = APIRouter(prefix="/model-package-groups", tags=["model registry"])

VIEWER = [Depends(requires(Action.READ))]
MANAGE = [Depends(requires(Action.MANAGE_MODELS))]

GroupName = Annotated[str, Path(min_length=1, max_length=200)]
Version = Annotated[int, Path(ge=1, le=MAX_INT)]


class ApproveBody(BaseModel):
    """``POST .../approve``: why (optional)."""

    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(default=None, max_length=10_000)


class RejectBody(BaseModel):
    """``POST .../reject``: why (required: whoever registered it needs to know)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=10_000)

    @field_validator("reason")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        # The registry's own rule, so a blank reason is refused in the request's schema (422).
        from rayline.registry.entities import rejection_reason

        rejection_reason(value)
        return value


def _registry() -> Any:
    from rayline.registry import ModelRegistry

    return ModelRegistry()


def package_dict(package: Any) -> dict[str, Any]:
    """A version as JSON: its fields, ``ref`` (``group/version``) and ``arn``."""
    return {**dataclasses.asdict(package), "ref": package.ref, "arn": package.arn}


@router.get("", dependencies=VIEWER)
def list_groups(page: Annotated[PageRequest, Depends(page_request)]) -> dict[str, Any]:
    """Model package groups by name, each with its version count and latest version."""
    return paginate_list(page, [dataclasses.asdict(g) for g in _registry().list_groups()])


class CreateGroupBody(BaseModel):
    """``POST /model-package-groups``: a new group (``exist_ok``: answer the existing one)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=10_000)
    exist_ok: bool = False


@router.post("", status_code=201, dependencies=MANAGE)
def create_group(body: CreateGroupBody) -> dict[str, Any]:
    """Create a group (409 when the name is taken, unless ``exist_ok``)."""
    group = _registry().create_group(
        body.name, description=body.description, exist_ok=body.exist_ok
    )
    return dataclasses.asdict(group)


@router.get("/{group}", dependencies=VIEWER)
def describe_group(group: GroupName) -> dict[str, Any]:
    return dataclasses.asdict(_registry().describe_group(group))


@router.delete("/{group}", dependencies=MANAGE)
def delete_group(group: GroupName, force: bool = False) -> dict[str, int]:
    """Delete the group; with versions in it only with ``force`` (409 otherwise, and for a
    version an endpoint serves). Answers how many versions went."""
    return {"deleted_versions": _registry().delete_group(group, force=force)}


@router.get("/{group}/versions", dependencies=VIEWER)
def list_versions(
    group: GroupName,
    page: Annotated[PageRequest, Depends(page_request)],
    status: Annotated[
        str | None,
        Query(max_length=64, description="PendingManualApproval (or pending), Approved, Rejected"),
    ] = None,
) -> dict[str, Any]:
    """The group's versions, newest first (only those in ``status``), with their metrics."""
    versions = _registry().list_versions(group, status=status)
    return paginate_list(page, [package_dict(v) for v in versions])


@router.get("/{group}/versions/{version}", dependencies=VIEWER)
def describe_version(group: GroupName, version: Version) -> dict[str, Any]:
    """A version: its files, metrics (the evaluation report), inference spec, where it was
    registered from and its approval history."""
    return package_dict(_registry().describe(group, version))


@router.delete("/{group}/versions/{version}", status_code=204, dependencies=MANAGE)
def delete_version(group: GroupName, version: Version) -> Response:
    """Delete the version and its files (409 while an endpoint serves it)."""
    _registry().delete_version(group, version)
    return Response(status_code=204)


@router.get("/{group}/versions/{version}/history", dependencies=VIEWER)
def version_history(group: GroupName, version: Version) -> list[dict[str, Any]]:
    """Every approval change of the version, oldest first: from, to, when, by whom, why."""
    return [dataclasses.asdict(h) for h in _registry().history(group, version)]


class RegisterOptions(BaseModel):
    """The ``options`` part of ``POST .../versions``: ``ModelRegistry.register``'s options,
    and ``s3://`` locations the server reads instead of an uploaded file."""

    model_config = ConfigDict(extra="forbid")

    model_uri: str | None = Field(default=None, max_length=2048)
    preprocessor_uri: str | None = Field(default=None, max_length=2048)
    metrics_uri: str | None = Field(default=None, max_length=2048)
    metrics: dict[str, Any] | None = Field(default=None, description="the evaluation report")
    input_columns: list[Annotated[str, Field(max_length=256)]] | None = Field(
        default=None, max_length=100_000
    )
    label: str | None = Field(default=None, max_length=256)
    content_types: list[Annotated[str, Field(max_length=64)]] = Field(
        default=["text/csv", "application/json"], max_length=8
    )
    response_types: list[Annotated[str, Field(max_length=64)]] = Field(
        default=["text/csv", "application/json"], max_length=8
    )
    approval_status: str = Field(default="PendingManualApproval", max_length=64)
    description: str = Field(default="", max_length=10_000)
    mlflow_run_id: str | None = Field(default=None, max_length=256)
    execution_id: str | None = Field(default=None, max_length=256)
    step_name: str | None = Field(default=None, max_length=256)
    reason: str = Field(default="registered", max_length=10_000)
    create_group: bool = True


#: The files of a version, by part name, as ``ModelRegistry.register`` names them.
FILE_PARTS = ("model", "preprocessor", "metrics")
_REGISTER_BODY = uploads.multipart_body(
    {
        "model": uploads.file_part("the XGBoost model file"),
        "preprocessor": uploads.file_part("the preprocessor's JSON"),
        "metrics": uploads.file_part("the evaluation report (JSON)"),
        "options": {
            "type": "string",
            "description": "JSON: "
            + ", ".join(RegisterOptions.model_fields)
            + " (model_uri etc.: an s3:// location instead of a file)",
        },
    }
)


@router.post(
    "/{group}/versions", status_code=201, dependencies=MANAGE, openapi_extra=_REGISTER_BODY
)
async def register_version(group: GroupName, request: Request) -> dict[str, Any]:
    """Register a new version from the uploaded files (``multipart/form-data``: part ``model``,
    optionally ``preprocessor`` and ``metrics``, and ``options`` as JSON); 413 over
    ``RAYLINE_SERVER_MAX_UPLOAD_MB``."""
    form = await _bounded_form(request, limit=uploads.upload_limit())
    try:
        options = _register_options(form.get("options"))
        with tempfile.TemporaryDirectory(prefix="register-") as tmp:
            files = {role: await _file(form, options, role, FilePath(tmp)) for role in FILE_PARTS}
            values = options.model_dump(exclude={f"{role}_uri" for role in FILE_PARTS})
            if files["metrics"] is not None:
                if values["metrics"] is not None:
                    raise UserInputError("give the metrics as a file or in options, not both")
                values["metrics"] = files["metrics"]
            if files["model"] is None:
                raise UserInputError(
                    "the registration has no model: upload it as part 'model' (or give an "
                    "s3:// model_uri in options)"
                )
            package = await run_in_threadpool(
                lambda: _registry().register(
                    group, model=files["model"], preprocessor=files["preprocessor"], **values
                )
            )
    finally:
        await form.close()
    return package_dict(package)


async def _bounded_form(request: Request, *, limit: int) -> Any:
    """The multipart form of ``request``, refused (413) once its body passes ``limit`` bytes."""
    uploads.check_declared(request, what=REGISTRATION, fix=REGISTRATION_FIX)
    received = 0

    async def receive() -> Any:
        nonlocal received
        message = await request.receive()
        received += len(message.get("body", b""))
        if received > limit:  # no (or a false) Content-Length: stop reading
            raise uploads.too_large(REGISTRATION, received, fix=REGISTRATION_FIX)
        return message

    return await Request(request.scope, receive).form(max_files=len(FILE_PARTS), max_fields=1)


def _register_options(raw: Any) -> RegisterOptions:
    if raw is not None and not isinstance(raw, str):
        raise UserInputError("send 'options' as a form field holding JSON, not as a file")
    try:
        return RegisterOptions.model_validate_json(raw or "{}")
    except ValidationError as exc:
        raise ParameterError(f"the registration's options are not valid: {exc}") from None


async def _file(form: Any, options: RegisterOptions, role: str, tmp: FilePath) -> str | None:
    """Where the registry reads ``role`` from: the uploaded part, saved under ``tmp`` with its
    name (it names the stored copy), or the ``s3://`` location in ``options``."""
    part = form.get(role)
    uri = getattr(options, f"{role}_uri")
    if part is None:
        if uri is not None and uri.startswith("s3://"):
            return uri
        if uri is not None:
            raise UserInputError(
                f"{role}_uri {uri!r} is not an s3:// location this server can read; upload the "
                f"file as part {role!r} instead"
            )
        return None
    if not isinstance(part, UploadFile) or uri is not None:
        raise UserInputError(
            f"give the {role} as one uploaded file (part {role!r}) or as {role}_uri, not both"
        )
    name = FilePath(part.filename or "").name
    if name in ("", ".", "..") or "\x00" in name or len(name.encode()) > 200:
        raise UserInputError(
            f"the uploaded {role} needs a file name of at most 200 bytes (like model.ubj); "
            f"got {part.filename!r}"
        )
    path = tmp / role / name
    path.parent.mkdir()
    path.write_bytes(await part.read())
    return str(path)


#: How a refused registration is named, and what to do instead.
REGISTRATION = "the registration"
REGISTRATION_FIX = "register from an s3:// location instead"


@router.post(
    "/{group}/versions/{version}/approve", dependencies=[Depends(requires(Action.APPROVE))]
)
def approve_version(
    group: GroupName, version: Version, body: ApproveBody | None = None
) -> dict[str, Any]:
    """Approve the version as the caller (409 when it is Approved already; 403 when the caller
    started the execution that registered it: the registry's four-eyes rule)."""
    reason = (body.reason if body else None) or ""
    return package_dict(_registry().approve(group, version, reason=reason))


@router.post("/{group}/versions/{version}/reject", dependencies=[Depends(requires(Action.APPROVE))])
def reject_version(group: GroupName, version: Version, body: RejectBody) -> dict[str, Any]:
    """Reject the version as the caller, saying why (409 when it is Rejected already)."""
    return package_dict(_registry().reject(group, version, reason=body.reason))
