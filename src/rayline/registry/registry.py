"""The model registry: groups, auto-numbered versions, and an approval workflow with history.

>>> registry = ModelRegistry()                                        # doctest: +SKIP
>>> mp = registry.register("housing", model="file:///.../model.ubj",
...                        preprocessor="file:///.../preprocessor.json",
...                        metrics="file:///.../evaluation/")         # doctest: +SKIP
>>> registry.approve("housing", mp.version, reason="RMSE ok")          # doctest: +SKIP

Registering copies the model, preprocessor and metrics files into the artifact store under
``registry/GROUP/VERSION/``, so a version stays servable after the pipeline run that produced
it is cleaned up. MLflow's open-source registry has no approval workflow; this one records every
status change (from, to, when, by whom, why), and enforces the approval rules itself, under
every front end: four eyes, and a reason for a rejection (``update_status``).

:class:`ModelRegistry` is the API. Where the registry lives is chosen once, when it is created:
this process's metadata DB and artifact store (:class:`EmbeddedRegistry`, which holds the rules),
or, with ``RAYLINE_SERVER_URL`` set and no explicit database, a rayline server's REST API
(``rayline.registry.remote.RemoteRegistry``), whose embedded registry applies them on its side.
"""

from __future__ import annotations

import time
from typing import Any, Protocol

import sqlalchemy as sa

from rayline.config import settings
from rayline.errors import NotFoundError, PermissionDeniedError, SchemaError
from rayline.ml.preprocessor import Preprocessor
from rayline.registry import _files
from rayline.registry.entities import (
    ApprovalChange,
    ApprovalStatus,
    InferenceSpec,
    ModelPackage,
    ModelPackageGroup,
    check_content_types,
    check_name,
    current_user,
    rejection_reason,
)
from rayline.registry.repository import RegistryRepository
from rayline.store.artifacts import ArtifactStore, open_artifact_store
from rayline.store.db import Database, open_database

_GROUP = "model package group"


class RegistryBackend(Protocol):
    """Where a :class:`ModelRegistry` keeps its groups and versions: this process's metadata DB
    and artifact store (:class:`EmbeddedRegistry`) or a rayline server
    (``rayline.registry.remote.RemoteRegistry``)."""

    def create_group(
        self, name: str, *, description: str = "", exist_ok: bool = False
    ) -> ModelPackageGroup: ...

    def describe_group(self, name: str) -> ModelPackageGroup: ...

    def list_groups(self) -> list[ModelPackageGroup]: ...

    def delete_group(self, name: str, *, force: bool = False) -> int: ...

    def register(self, group: str, *, model: str, **options: Any) -> ModelPackage: ...

    def describe(self, group: str, version: int | None = None) -> ModelPackage: ...

    def list_versions(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]: ...

    def registered_by(self, execution_id: str) -> list[ModelPackage]: ...

    def update_status(
        self, group: str, version: int, status: str, *, reason: str = "", by: str | None = None
    ) -> ModelPackage: ...

    def approve(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage: ...

    def reject(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage: ...

    def history(self, group: str, version: int) -> tuple[ApprovalChange, ...]: ...

    def delete_version(self, group: str, version: int) -> None: ...


class ModelRegistry:
    """Model package groups, their versions and the approval workflow.

    Embedded (this process's metadata DB and artifact store) unless ``RAYLINE_SERVER_URL`` is
    set and neither ``db`` nor ``db_url`` is given: then every call goes to that server's REST
    API (as ``RAYLINE_TOKEN``'s identity) and nothing is read or written on this machine.
    """

    def __init__(
        self,
        db: Database | None = None,
        artifacts: ArtifactStore | None = None,
        *,
        db_url: str | None = None,
        artifact_uri: str | None = None,
    ) -> None:
        from rayline.remote.client import server_client

        client = server_client(db_url) if db is None else None
        if client is not None:
            from rayline.registry.remote import RemoteRegistry

            self._backend: RegistryBackend = RemoteRegistry(client)
        else:
            self._backend = EmbeddedRegistry(
                db, artifacts, db_url=db_url, artifact_uri=artifact_uri
            )

    # -- groups -----------------------------------------------------------------------------

    def create_group(
        self, name: str, *, description: str = "", exist_ok: bool = False
    ) -> ModelPackageGroup:
        """Create a model package group (``exist_ok``: return the existing one instead)."""
        return self._backend.create_group(name, description=description, exist_ok=exist_ok)

    def describe_group(self, name: str) -> ModelPackageGroup:
        """Group ``name`` with its version count and latest version."""
        return self._backend.describe_group(name)

    def list_groups(self) -> list[ModelPackageGroup]:
        """Every group, by name, with its version count and latest version."""
        return self._backend.list_groups()

    def delete_group(self, name: str, *, force: bool = False) -> int:
        """Delete a group. With versions in it, ``force=True`` deletes them too (returns how
        many); a version an endpoint serves is never deleted."""
        return self._backend.delete_group(name, force=force)

    # -- versions ---------------------------------------------------------------------------

    def register(
        self,
        group: str,
        *,
        model: str,
        preprocessor: str | None = None,
        metrics: str | dict[str, Any] | None = None,
        input_columns: list[str] | tuple[str, ...] | None = None,
        label: str | None = None,
        content_types: tuple[str, ...] | list[str] = ("text/csv", "application/json"),
        response_types: tuple[str, ...] | list[str] = ("text/csv", "application/json"),
        approval_status: str = ApprovalStatus.PENDING,
        description: str = "",
        mlflow_run_id: str | None = None,
        execution_id: str | None = None,
        step_name: str | None = None,
        reason: str = "registered",
        create_group: bool = True,
    ) -> ModelPackage:
        """Register a new version in ``group`` (created if missing); its number is the next free.

        ``model`` is a model file (XGBoost UBJSON/JSON) or a directory holding one;
        ``preprocessor`` the fitted scaler's JSON (file or directory); ``metrics`` the
        evaluation report (file, directory with ``evaluation.json``, or the parsed dict).
        ``input_columns`` default to the preprocessor's columns. Through a server, local files
        are uploaded to it and ``s3://`` locations are read by the server.
        """
        return self._backend.register(
            group,
            model=model,
            preprocessor=preprocessor,
            metrics=metrics,
            input_columns=input_columns,
            label=label,
            content_types=content_types,
            response_types=response_types,
            approval_status=approval_status,
            description=description,
            mlflow_run_id=mlflow_run_id,
            execution_id=execution_id,
            step_name=step_name,
            reason=reason,
            create_group=create_group,
        )

    def describe(self, group: str, version: int | None = None) -> ModelPackage:
        """A version with its approval history (``version=None``: the latest)."""
        return self._backend.describe(group, version)

    def list_versions(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]:
        """Versions of ``group`` (or of every group), newest first, optionally by status."""
        return self._backend.list_versions(group, status=status)

    def registered_by(self, execution_id: str) -> list[ModelPackage]:
        """The versions that pipeline execution ``execution_id`` registered."""
        return self._backend.registered_by(execution_id)

    def latest(self, group: str, *, status: str | None = ApprovalStatus.APPROVED) -> ModelPackage:
        """The newest version of ``group`` with ``status`` (default: the newest Approved)."""
        versions = self.list_versions(group, status=status)
        if not versions:
            raise NotFoundError(
                f"model package group {group!r} has no {status or ''} version".replace("  ", " ")
                + (
                    f"; approve one with `rayline model approve {group}/VERSION`"
                    if status == ApprovalStatus.APPROVED
                    else ""
                )
            )
        return self.describe(group, versions[0].version)

    def update_status(
        self, group: str, version: int, status: str, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Change a version's approval status, recording from/to, when, by whom and why."""
        return self._backend.update_status(group, version, status, reason=reason, by=by)

    def approve(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Approve a version (it may deploy); recorded with why and by whom."""
        return self._backend.approve(group, version, reason=reason, by=by)

    def reject(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Reject a version, saying why."""
        return self._backend.reject(group, version, reason=reason, by=by)

    def history(self, group: str, version: int) -> tuple[ApprovalChange, ...]:
        """Every approval change of ``group/version``, oldest first."""
        return self._backend.history(group, version)

    def delete_version(self, group: str, version: int) -> None:
        """Delete a version and its artifacts; refused while an endpoint serves it."""
        self._backend.delete_version(group, version)


class EmbeddedRegistry:
    """Model package groups and versions in the metadata DB, artifacts in the artifact store:
    the registry's rules, applied in this process (the server's own registry is this one)."""

    def __init__(
        self,
        db: Database | None = None,
        artifacts: ArtifactStore | None = None,
        *,
        db_url: str | None = None,
        artifact_uri: str | None = None,
    ) -> None:
        self.db = db or open_database(db_url)
        self.repository = RegistryRepository(self.db)
        self._artifacts = artifacts
        self._artifact_uri = artifact_uri

    @property
    def artifacts(self) -> ArtifactStore:
        """The artifact store the registered copies live in (opened on first use)."""
        if self._artifacts is None:
            self._artifacts = open_artifact_store(self._artifact_uri)
        return self._artifacts

    # -- groups -----------------------------------------------------------------------------

    def create_group(
        self, name: str, *, description: str = "", exist_ok: bool = False
    ) -> ModelPackageGroup:
        """Create a model package group (``exist_ok``: return the existing one instead)."""
        check_name(name, what=_GROUP)
        self.repository.insert_group(
            name, description=description, user=current_user(), exist_ok=exist_ok
        )
        return self.describe_group(name)

    def describe_group(self, name: str) -> ModelPackageGroup:
        """Group ``name`` with its version count and latest version."""
        return self.repository.group(name)

    def list_groups(self) -> list[ModelPackageGroup]:
        """Every group, by name, with its version count and latest version."""
        return self.repository.groups()

    def delete_group(self, name: str, *, force: bool = False) -> int:
        """Delete a group. With versions in it, ``force=True`` deletes them too (returns how
        many); a version an endpoint serves is never deleted."""
        deleted = self.repository.delete_group(name, force=force)
        self.artifacts.delete(self.artifacts.uri_for(*_files.version_location(name)))
        return deleted

    # -- versions ---------------------------------------------------------------------------

    def register(
        self,
        group: str,
        *,
        model: str,
        preprocessor: str | None = None,
        metrics: str | dict[str, Any] | None = None,
        input_columns: list[str] | tuple[str, ...] | None = None,
        label: str | None = None,
        content_types: tuple[str, ...] | list[str] = ("text/csv", "application/json"),
        response_types: tuple[str, ...] | list[str] = ("text/csv", "application/json"),
        approval_status: str = ApprovalStatus.PENDING,
        description: str = "",
        mlflow_run_id: str | None = None,
        execution_id: str | None = None,
        step_name: str | None = None,
        reason: str = "registered",
        create_group: bool = True,
    ) -> ModelPackage:
        """Register a new version in ``group`` (created if missing); its number is the next free.

        ``model`` is a model file (XGBoost UBJSON/JSON) or a directory holding one;
        ``preprocessor`` the fitted scaler's JSON (file or directory); ``metrics`` the
        evaluation report (file, directory with ``evaluation.json``, or the parsed dict).
        ``input_columns`` default to the preprocessor's columns.
        """
        check_name(group, what=_GROUP)
        status = ApprovalStatus.parse(approval_status)
        check_content_types((*content_types, *response_types))
        model_file = _files.find_model(model)
        pre_file = _files.find_preprocessor(preprocessor) if preprocessor else None
        if pre_file is not None:
            parsed = Preprocessor.from_dict(
                _files.read_json(pre_file, what="preprocessor"), source=str(preprocessor)
            )
            if input_columns is not None and tuple(input_columns) != parsed.columns:
                raise SchemaError(
                    f"input_columns {list(input_columns)} differ from the preprocessor's "
                    f"columns {list(parsed.columns)}; they must match in order"
                )
            input_columns = parsed.columns
            label = label or parsed.label
        if not input_columns:
            input_columns = _booster_columns(model_file)
        if not input_columns:
            raise SchemaError(
                f"cannot tell the input columns of model {model}: register it with a "
                "preprocessor, or pass input_columns=[...] in the order the model expects"
            )
        metrics_file, metrics_data = _metrics(metrics)
        spec = InferenceSpec(
            input_columns=tuple(input_columns),
            content_types=tuple(content_types),
            response_types=tuple(response_types),
            label=label,
        )
        files = _files.VersionFiles(model=model_file, preprocessor=pre_file, metrics=metrics_file)
        values = {
            "status": status,
            "description": description,
            "metrics": metrics_data,
            "inference_spec": spec.to_dict(),
            "sources": files.sources(),
            "mlflow_run_id": mlflow_run_id,
            "execution_id": execution_id,
            "step_name": step_name,
        }
        user = current_user()
        # Two writers may read the same latest version; the unique constraint turns the loser's
        # insert into an IntegrityError, and it simply takes the next number.
        for attempt in range(20):
            try:
                version = self.repository.insert_version(
                    group,
                    create_group=create_group,
                    user=user,
                    values=values,
                    reason=reason,
                    uris=lambda v: files.uris(self.artifacts, group, v),
                    store_files=lambda v: files.copy(self.artifacts, group, v),
                )
                break
            except sa.exc.IntegrityError:
                if attempt == 19:
                    raise
                time.sleep(0.01 * (attempt + 1))
        return self.describe(group, version)

    def describe(self, group: str, version: int | None = None) -> ModelPackage:
        """A version with its approval history (``version=None``: the latest)."""
        return self.repository.package(group, version)

    def list_versions(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]:
        """Versions of ``group`` (or of every group), newest first, optionally by status."""
        return self.repository.packages(
            group, status=ApprovalStatus.parse(status) if status is not None else None
        )

    def registered_by(self, execution_id: str) -> list[ModelPackage]:
        """The versions that pipeline execution ``execution_id`` registered."""
        return self.repository.packages(execution_id=execution_id)

    def update_status(
        self, group: str, version: int, status: str, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Change a version's approval status, recording from/to, when, by whom and why.

        ``by`` is who acts (default: the acting identity, ``settings().user``, which the server
        sets to the request's). The approval rules hold whatever the front end: a rejection
        needs a reason (``UserInputError``), and four eyes: whoever started the execution that
        registered a version may not approve it (``PermissionDeniedError``) unless
        ``RAYLINE_ALLOW_SELF_APPROVAL`` is true. A version registered outside an execution, or
        by one that records no starter, has no such restriction; rejecting one's own version
        is always allowed: it ships nothing.
        """
        parsed = ApprovalStatus.parse(status)
        by = by or current_user()
        package = self.describe(group, version)
        # The rules judge a change; an unchanged status is the repository's ConflictError.
        if package.status != parsed and parsed == ApprovalStatus.REJECTED:
            reason = rejection_reason(reason, ref=package.ref)
        elif package.status != parsed and parsed == ApprovalStatus.APPROVED:
            self._check_four_eyes(package, by)
        self.repository.set_status(group, version, parsed, reason=reason, by=by)
        return self.describe(group, version)

    def approve(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Approve a version (four eyes: see ``update_status``)."""
        return self.update_status(group, version, ApprovalStatus.APPROVED, reason=reason, by=by)

    def reject(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Reject a version, saying why (``reason`` is required)."""
        return self.update_status(group, version, ApprovalStatus.REJECTED, reason=reason, by=by)

    def _check_four_eyes(self, package: ModelPackage, by: str) -> None:
        """Refuse ``by`` when it started the execution which registered ``package``."""
        if not package.execution_id or settings().allow_self_approval:
            return
        from rayline.engine.repository import PipelineRepository

        execution = PipelineRepository(self.db).find_execution(package.execution_id)
        started_by = execution.started_by if execution is not None else None
        if started_by and started_by == by:
            raise PermissionDeniedError(
                f"{by!r} started execution {package.execution_id}, which registered "
                f"{package.ref}: another approver must approve it (four eyes). To let an "
                "identity approve what it registered, set RAYLINE_ALLOW_SELF_APPROVAL=true (on "
                "the server, when approving through one)"
            )

    def history(self, group: str, version: int) -> tuple[ApprovalChange, ...]:
        """Every approval change of ``group/version``, oldest first."""
        return self.describe(group, version).history

    def delete_version(self, group: str, version: int) -> None:
        """Delete a version and its artifacts; refused while an endpoint serves it."""
        self.repository.delete_version(group, version)
        self.artifacts.delete(self.artifacts.uri_for(*_files.version_location(group, version)))

    # -- deployments (written by serving, in its own transaction) ----------------------------

    def record_deployment(self, conn: sa.Connection, endpoint: str, package: ModelPackage) -> None:
        """Endpoint ``endpoint`` serves ``package`` now: it cannot be deleted until released.

        ``conn`` is the caller's transaction, so the endpoint's record and this change commit
        together.
        """
        self.repository.record_deployment(conn, endpoint, package.group, package.version)

    def release_deployment(self, conn: sa.Connection, endpoint: str) -> None:
        """Endpoint ``endpoint`` is gone: the version it served may be deleted again."""
        self.repository.release_deployment(conn, endpoint)


def _metrics(
    metrics: str | dict[str, Any] | None,
) -> tuple[_files.SourceFile | None, dict[str, Any] | None]:
    """The metrics report's file (None for a dict or nothing) and its parsed content."""
    if metrics is None or isinstance(metrics, dict):
        return None, metrics
    source = _files.find_metrics(metrics)
    data = _files.read_json(source, what="metrics report")
    if not isinstance(data, dict):
        raise SchemaError(f"metrics report {source.uri} must hold a JSON object")
    return source, data


def _booster_columns(model: _files.SourceFile) -> tuple[str, ...] | None:
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(model.data))
    except xgb.core.XGBoostError as exc:
        raise SchemaError(f"{model.uri} is not an XGBoost model file: {exc}") from exc
    except UnicodeDecodeError:
        # XGBoost quotes the file's bytes in its error and fails to decode them itself.
        raise SchemaError(
            f"{model.uri} is not an XGBoost model file (save one with Booster.save_model, "
            "as .json or .ubj)"
        ) from None
    return tuple(booster.feature_names) if booster.feature_names else None
