"""The model registry through a rayline server (``/api/v1/model-package-groups`` and
``/api/v1/model-packages``): ``ModelRegistry``'s backend when ``RAYLINE_SERVER_URL`` is set.

The server applies the registry's rules (names, statuses, four eyes, a rejection's reason) and
records its token's identity as who acted; this client only translates. Registering uploads the
local files to the server; an ``s3://`` location is handed to the server to read.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from rayline.errors import NotFoundError, UserInputError
from rayline.registry import _files
from rayline.registry.entities import (
    ApprovalChange,
    ApprovalStatus,
    InferenceSpec,
    ModelPackage,
    ModelPackageGroup,
)
from rayline.remote.records import from_json
from rayline.store.locations import is_remote

if TYPE_CHECKING:
    from rayline.remote.client import Client

#: The route that sets each approval status through the server.
ACTIONS = {ApprovalStatus.APPROVED: "approve", ApprovalStatus.REJECTED: "reject"}

#: How each file of a version is found in a local directory, by its part's name.
FINDERS = {
    "model": _files.find_model,
    "preprocessor": _files.find_preprocessor,
    "metrics": _files.find_metrics,
}


class RemoteRegistry:
    """The registry of the server ``client`` calls, as its token's identity."""

    def __init__(self, client: Client) -> None:
        self.client = client

    # -- groups -----------------------------------------------------------------------------

    def create_group(
        self, name: str, *, description: str = "", exist_ok: bool = False
    ) -> ModelPackageGroup:
        body = {"name": name, "description": description, "exist_ok": exist_ok}
        return from_json(ModelPackageGroup, self.client.post("/model-package-groups", json=body))

    def describe_group(self, name: str) -> ModelPackageGroup:
        return from_json(ModelPackageGroup, self.client.get(_group_path(name)))

    def list_groups(self) -> list[ModelPackageGroup]:
        return [from_json(ModelPackageGroup, g) for g in self.client.items("/model-package-groups")]

    def delete_group(self, name: str, *, force: bool = False) -> int:
        answer = self.client.delete(_group_path(name), params={"force": force})
        return int(answer["deleted_versions"])

    # -- versions ---------------------------------------------------------------------------

    def register(
        self,
        group: str,
        *,
        model: str,
        preprocessor: str | None = None,
        metrics: str | dict[str, Any] | None = None,
        **options: Any,
    ) -> ModelPackage:
        """Upload the local files (found as the embedded registry finds them) and the options
        as one multipart request; the server registers the version."""
        options = {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()}
        if isinstance(metrics, dict):
            options["metrics"] = metrics
            metrics = None
        uploads: list[tuple[str, tuple[str, bytes, str]]] = []
        files = {"model": model, "preprocessor": preprocessor, "metrics": metrics}
        for role, location in files.items():
            if location is not None:
                _add_file(role, location, options, uploads)
        answer = self.client.post(
            f"{_group_path(group)}/versions",
            data={"options": json.dumps(options)},
            files=uploads,
        )
        return package(answer)

    def describe(self, group: str, version: int | None = None) -> ModelPackage:
        if version is None:
            newest = next(self.client.items(f"{_group_path(group)}/versions", limit=1), None)
            if newest is None:
                raise NotFoundError(f"model package group {group!r} has no versions yet")
            version = int(newest["version"])
        return package(self.client.get(_version_path(group, version)))

    def list_versions(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]:
        if group is None:
            items = self.client.items("/model-packages", params={"status": status})
        else:
            items = self.client.items(f"{_group_path(group)}/versions", params={"status": status})
        return [package(p) for p in items]

    def registered_by(self, execution_id: str) -> list[ModelPackage]:
        items = self.client.items("/model-packages", params={"execution_id": execution_id})
        return [package(p) for p in items]

    def update_status(
        self, group: str, version: int, status: str, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Approve or reject (the server's two status changes); any other status is refused."""
        parsed = ApprovalStatus.parse(status)
        if parsed not in ACTIONS:
            raise UserInputError(
                f"through the rayline server ({self.client.url}) a version can be approved or "
                f"rejected, not set to {parsed}; use approve/reject (rayline model approve or "
                "rayline model reject)"
            )
        return self._set_status(group, version, ACTIONS[parsed], reason=reason, by=by)

    def approve(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        return self._set_status(group, version, "approve", reason=reason, by=by)

    def reject(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        return self._set_status(group, version, "reject", reason=reason, by=by)

    def history(self, group: str, version: int) -> tuple[ApprovalChange, ...]:
        changes = self.client.get(f"{_version_path(group, version)}/history")
        return tuple(from_json(ApprovalChange, c) for c in changes)

    def delete_version(self, group: str, version: int) -> None:
        self.client.delete(_version_path(group, version))

    def _set_status(
        self, group: str, version: int, action: str, *, reason: str, by: str | None
    ) -> ModelPackage:
        if by is not None:
            raise UserInputError(
                f"by={by!r} does not apply through the rayline server ({self.client.url}): it "
                "records the identity of RAYLINE_TOKEN as who approved or rejected; leave it out "
                "(CLI: --by)"
            )
        answer = self.client.post(
            f"{_version_path(group, version)}/{action}", json={"reason": reason}
        )
        return package(answer)


def package(data: Any) -> ModelPackage:
    """A version from the JSON the server answers (``routes/models.package_dict``)."""
    if isinstance(data, dict):
        data = {
            **data,
            "inference_spec": InferenceSpec.from_dict(data.get("inference_spec") or {}),
            "history": tuple(from_json(ApprovalChange, h) for h in data.get("history") or ()),
        }
    return from_json(ModelPackage, data)


def _add_file(role: str, location: str, options: dict[str, Any], uploads: list[Any]) -> None:
    """An ``s3://`` location goes to the server as ``<role>_uri`` (it reads it); a local file,
    or the one file of a local directory, is uploaded as part ``role``."""
    if is_remote(location):
        options[f"{role}_uri"] = location
        return
    source = FINDERS[role](location)
    uploads.append((role, (source.name, source.data, "application/octet-stream")))


def _group_path(group: str) -> str:
    return f"/model-package-groups/{quote(group, safe='')}"


def _version_path(group: str, version: int) -> str:
    return f"{_group_path(group)}/versions/{int(version)}"
