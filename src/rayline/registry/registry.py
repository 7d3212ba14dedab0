"""The model registry: groups, auto-numbered versions, and an approval workflow with history.

>>> registry = ModelRegistry()                                        # doctest: +SKIP
>>> mp = registry.register("housing", model="file:///.../model.ubj",
...                        preprocessor="file:///.../preprocessor.json",
...                        metrics="file:///.../evaluation/")         # doctest: +SKIP
>>> registry.update_status("housing", mp.version, "Approved", reason="RMSE ok")  # doctest: +SKIP

Registering copies the model, preprocessor and metrics files into the artifact store under
``registry/GROUP/VERSION/``, so a version stays servable after the pipeline run that produced
it is cleaned up. MLflow's open-source registry has no approval workflow; this one records every
status change (from, to, when, by whom, why).
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from rayline.errors import ConflictError, NotFoundError, SchemaError, UserInputError
from rayline.registry import _files
from rayline.registry.entities import (
    ApprovalChange,
    ApprovalStatus,
    InferenceSpec,
    ModelPackage,
    ModelPackageGroup,
    current_user,
)
from rayline.registry.schema import model_approval_history, model_package_groups, model_packages
from rayline.store.artifacts import ArtifactStore, open_artifact_store
from rayline.store.db import Database, open_database

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def _check_name(name: str, what: str) -> str:
    if not name or len(name) > 200 or not set(name) <= _NAME_CHARS or name[0] in "-.":
        raise UserInputError(
            f"{what} name {name!r} is not valid: use 1-200 letters, digits, '-', '_' or '.', "
            "starting with a letter or digit"
        )
    return name


class ModelRegistry:
    """Model package groups and versions in the metadata DB, artifacts in the artifact store."""

    def __init__(
        self,
        db: Database | None = None,
        artifacts: ArtifactStore | None = None,
        *,
        db_url: str | None = None,
        artifact_uri: str | None = None,
    ) -> None:
        self.db = db or open_database(db_url)
        self._artifacts = artifacts
        self._artifact_uri = artifact_uri

    @property
    def artifacts(self) -> ArtifactStore:
        if self._artifacts is None:
            self._artifacts = open_artifact_store(self._artifact_uri)
        return self._artifacts

    # -- groups -----------------------------------------------------------------------------

    def create_group(
        self, name: str, *, description: str = "", exist_ok: bool = False
    ) -> ModelPackageGroup:
        """Create a model package group (``exist_ok``: return the existing one instead)."""
        _check_name(name, "model package group")
        with self.db.begin() as conn:
            if self._group_row(conn, name) is None:
                conn.execute(
                    model_package_groups.insert().values(
                        name=name,
                        description=description,
                        created_at=time.time(),
                        created_by=current_user(),
                    )
                )
            elif not exist_ok:
                raise ConflictError(
                    f"model package group {name!r} exists already; register a new version in "
                    "it, or delete it first"
                )
        return self.describe_group(name)

    def describe_group(self, name: str) -> ModelPackageGroup:
        with self.db.connect() as conn:
            row = self._group_row(conn, name)
            if row is None:
                raise NotFoundError(self._no_group(conn, name))
            count, latest = conn.execute(
                sa.select(sa.func.count(), sa.func.max(model_packages.c.version)).where(
                    model_packages.c.group_name == name
                )
            ).one()
        return ModelPackageGroup(
            name=row.name,
            description=row.description,
            created_at=row.created_at,
            created_by=row.created_by,
            version_count=count,
            latest_version=latest,
        )

    def list_groups(self) -> list[ModelPackageGroup]:
        """Every group, by name, with its version count and latest version."""
        counts = (
            sa.select(
                model_packages.c.group_name,
                sa.func.count().label("n"),
                sa.func.max(model_packages.c.version).label("latest"),
            )
            .group_by(model_packages.c.group_name)
            .subquery()
        )
        query = (
            sa.select(model_package_groups, counts.c.n, counts.c.latest)
            .select_from(
                model_package_groups.outerjoin(
                    counts, counts.c.group_name == model_package_groups.c.name
                )
            )
            .order_by(model_package_groups.c.name)
        )
        with self.db.connect() as conn:
            return [
                ModelPackageGroup(
                    name=r.name,
                    description=r.description,
                    created_at=r.created_at,
                    created_by=r.created_by,
                    version_count=r.n or 0,
                    latest_version=r.latest,
                )
                for r in conn.execute(query)
            ]

    def delete_group(self, name: str, *, force: bool = False) -> int:
        """Delete a group. With versions in it, ``force=True`` deletes them too (returns how
        many); a version an endpoint serves is never deleted."""
        with self.db.begin() as conn:
            if self._group_row(conn, name) is None:
                raise NotFoundError(self._no_group(conn, name))
            versions = [
                r.version
                for r in conn.execute(
                    sa.select(model_packages.c.version).where(model_packages.c.group_name == name)
                )
            ]
            if versions and not force:
                raise ConflictError(
                    f"model package group {name!r} still holds {len(versions)} version(s) "
                    f"({', '.join(map(str, sorted(versions)))}); delete them first or pass "
                    "force=True (CLI: --force)"
                )
            self._refuse_if_served(conn, name, None)
            conn.execute(model_package_groups.delete().where(model_package_groups.c.name == name))
        self.artifacts.delete(self.artifacts.uri_for("registry", name))
        return len(versions)

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
        _check_name(group, "model package group")
        status = ApprovalStatus.parse(approval_status)
        for ctype in (*content_types, *response_types):
            if ctype not in ("text/csv", "application/json"):
                raise UserInputError(
                    f"content type {ctype!r} is not supported; use 'text/csv' and/or "
                    "'application/json'"
                )
        model_file = _files.find_model(model)
        pre_file = _files.find_preprocessor(preprocessor) if preprocessor else None
        pre_data = _files.read_json(pre_file, what="preprocessor") if pre_file else None
        if pre_data is not None:
            from rayline.serving.predictor import Preprocessor

            parsed = Preprocessor.from_dict(pre_data, source=str(preprocessor))
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
        metrics_file = None
        metrics_data: dict[str, Any] | None
        if metrics is None or isinstance(metrics, dict):
            metrics_data = metrics
        else:
            metrics_file = _files.find_metrics(metrics)
            metrics_data = _files.read_json(metrics_file, what="metrics report")
            if not isinstance(metrics_data, dict):
                raise SchemaError(f"metrics report {metrics_file} must hold a JSON object")
        spec = InferenceSpec(
            input_columns=tuple(input_columns),
            content_types=tuple(content_types),
            response_types=tuple(response_types),
            label=label,
        )
        sources = {"model": model_file.as_uri()}
        if pre_file:
            sources["preprocessor"] = pre_file.as_uri()
        if metrics_file:
            sources["metrics"] = metrics_file.as_uri()
        user = current_user()
        # Two writers may read the same latest version; the unique constraint turns the loser's
        # insert into an IntegrityError, and it simply takes the next number.
        for attempt in range(20):
            try:
                version = self._insert_version(
                    group,
                    create_group=create_group,
                    user=user,
                    status=status,
                    description=description,
                    spec=spec,
                    sources=sources,
                    model_file=model_file,
                    pre_file=pre_file,
                    metrics_file=metrics_file,
                    metrics_data=metrics_data,
                    mlflow_run_id=mlflow_run_id,
                    execution_id=execution_id,
                    step_name=step_name,
                    reason=reason,
                )
                break
            except sa.exc.IntegrityError:
                if attempt == 19:
                    raise
                time.sleep(0.01 * (attempt + 1))
        return self.describe(group, version)

    def describe(self, group: str, version: int | None = None) -> ModelPackage:
        """A version with its approval history (``version=None``: the latest)."""
        with self.db.connect() as conn:
            row = self._version_row(conn, group, version)
            history = conn.execute(
                sa.select(model_approval_history)
                .where(model_approval_history.c.package_id == row.id)
                .order_by(model_approval_history.c.id)
            ).all()
        return _package(row, history)

    def list_versions(
        self, group: str | None = None, *, status: str | None = None
    ) -> list[ModelPackage]:
        """Versions of ``group`` (or of every group), newest first, optionally by status."""
        query = sa.select(model_packages)
        if group is not None:
            query = query.where(model_packages.c.group_name == group)
        if status is not None:
            query = query.where(model_packages.c.status == ApprovalStatus.parse(status))
        query = query.order_by(model_packages.c.group_name, model_packages.c.version.desc())
        with self.db.connect() as conn:
            if group is not None and self._group_row(conn, group) is None:
                raise NotFoundError(self._no_group(conn, group))
            return [_package(r, ()) for r in conn.execute(query)]

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
        status = ApprovalStatus.parse(status)
        with self.db.begin() as conn:
            row = self._version_row(conn, group, version)
            if row.status == status:
                raise ConflictError(
                    f"model version {group}/{version} is {status} already; nothing to change"
                )
            now = time.time()
            conn.execute(
                model_packages.update()
                .where(model_packages.c.id == row.id)
                .values(status=status, updated_at=now)
            )
            conn.execute(
                model_approval_history.insert().values(
                    package_id=row.id,
                    from_status=row.status,
                    to_status=status,
                    at=now,
                    by=by or current_user(),
                    reason=reason,
                )
            )
        return self.describe(group, version)

    def approve(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Shorthand for ``update_status(group, version, 'Approved', ...)``."""
        return self.update_status(group, version, ApprovalStatus.APPROVED, reason=reason, by=by)

    def reject(
        self, group: str, version: int, *, reason: str = "", by: str | None = None
    ) -> ModelPackage:
        """Shorthand for ``update_status(group, version, 'Rejected', ...)``."""
        return self.update_status(group, version, ApprovalStatus.REJECTED, reason=reason, by=by)

    def history(self, group: str, version: int) -> tuple[ApprovalChange, ...]:
        return self.describe(group, version).history

    def delete_version(self, group: str, version: int) -> None:
        """Delete a version and its artifacts; refused while an endpoint serves it."""
        with self.db.begin() as conn:
            row = self._version_row(conn, group, version)
            self._refuse_if_served(conn, group, version)
            conn.execute(model_packages.delete().where(model_packages.c.id == row.id))
        self.artifacts.delete(self.artifacts.uri_for("registry", group, str(version)))

    def _insert_version(
        self,
        group,
        *,
        create_group,
        user,
        status,
        description,
        spec,
        sources,
        model_file,
        pre_file,
        metrics_file,
        metrics_data,
        mlflow_run_id,
        execution_id,
        step_name,
        reason,
    ) -> int:
        with self.db.begin() as conn:
            if self._group_row(conn, group) is None:
                if not create_group:
                    raise NotFoundError(self._no_group(conn, group))
                conn.execute(
                    model_package_groups.insert().values(
                        name=group, description="", created_at=time.time(), created_by=user
                    )
                )
            version = self._next_version(conn, group)
            base = ("registry", group, str(version))
            files = {"model": (model_file, model_file.name)}
            if pre_file:
                files["preprocessor"] = (pre_file, "preprocessor.json")
            if metrics_file:
                files["metrics"] = (metrics_file, "evaluation.json")
            uris = {k: self.artifacts.uri_for(*base, name) for k, (_, name) in files.items()}
            model_uri = uris["model"]
            pre_uri = uris.get("preprocessor")
            metrics_uri = uris.get("metrics")
            now = time.time()
            package_id = conn.execute(
                model_packages.insert().values(
                    group_name=group,
                    version=version,
                    status=status,
                    description=description,
                    model_uri=model_uri,
                    preprocessor_uri=pre_uri,
                    metrics_uri=metrics_uri,
                    metrics=metrics_data,
                    inference_spec=spec.to_dict(),
                    sources=sources,
                    mlflow_run_id=mlflow_run_id,
                    execution_id=execution_id,
                    step_name=step_name,
                    created_at=now,
                    created_by=user,
                    updated_at=now,
                )
            ).inserted_primary_key[0]
            conn.execute(
                model_approval_history.insert().values(
                    package_id=package_id,
                    from_status=None,
                    to_status=status,
                    at=now,
                    by=user,
                    reason=reason,
                )
            )
            # Written only once the insert holds the number, inside the transaction: a writer
            # that lost the race never touches the winner's files.
            for source, name in files.values():
                self.artifacts.put_bytes(source.read_bytes(), *base, name)
        return version

    # -- internals --------------------------------------------------------------------------

    @staticmethod
    def _group_row(conn, name: str):
        return conn.execute(
            sa.select(model_package_groups).where(model_package_groups.c.name == name)
        ).first()

    def _version_row(self, conn, group: str, version: int | None):
        query = sa.select(model_packages).where(model_packages.c.group_name == group)
        if version is None:
            query = query.order_by(model_packages.c.version.desc()).limit(1)
        else:
            query = query.where(model_packages.c.version == int(version))
        row = conn.execute(query).first()
        if row is None:
            if self._group_row(conn, group) is None:
                raise NotFoundError(self._no_group(conn, group))
            existing = [
                r.version
                for r in conn.execute(
                    sa.select(model_packages.c.version)
                    .where(model_packages.c.group_name == group)
                    .order_by(model_packages.c.version)
                )
            ]
            raise NotFoundError(
                f"model package group {group!r} has no version {version}; it has "
                + (", ".join(map(str, existing)) if existing else "no versions yet")
            )
        return row

    @staticmethod
    def _next_version(conn, group: str) -> int:
        # Lock the group row so concurrent registrations get distinct numbers (PostgreSQL);
        # SQLite serialises writers anyway.
        if conn.dialect.name == "postgresql":
            conn.execute(
                sa.select(model_package_groups.c.name)
                .where(model_package_groups.c.name == group)
                .with_for_update()
            )
        latest = conn.execute(
            sa.select(sa.func.max(model_packages.c.version)).where(
                model_packages.c.group_name == group
            )
        ).scalar()
        return (latest or 0) + 1

    @staticmethod
    def _refuse_if_served(conn, group: str, version: int | None) -> None:
        from rayline.serving.schema import endpoints

        query = sa.select(endpoints.c.name, endpoints.c.model_package_version).where(
            endpoints.c.model_package_group == group
        )
        if version is not None:
            query = query.where(endpoints.c.model_package_version == version)
        served = conn.execute(query).all()
        if served:
            names = ", ".join(
                f"{r.name} (serves {group}/{r.model_package_version})" for r in served
            )
            raise ConflictError(
                f"endpoint(s) {names} still serve this model; update them to another version "
                "or delete them first (`rayline endpoint delete NAME`)"
            )

    @staticmethod
    def _no_group(conn, name: str) -> str:
        names = [
            r.name
            for r in conn.execute(
                sa.select(model_package_groups.c.name).order_by(model_package_groups.c.name)
            )
        ]
        known = ", ".join(repr(n) for n in names[:20]) if names else "none yet"
        return f"model package group {name!r} does not exist (groups: {known})"


def _booster_columns(path) -> tuple[str, ...] | None:
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(str(path))
    except xgb.core.XGBoostError as exc:
        raise SchemaError(f"{path} is not an XGBoost model file: {exc}") from exc
    return tuple(booster.feature_names) if booster.feature_names else None


def _package(row, history) -> ModelPackage:
    return ModelPackage(
        group=row.group_name,
        version=row.version,
        status=row.status,
        model_uri=row.model_uri,
        preprocessor_uri=row.preprocessor_uri,
        metrics_uri=row.metrics_uri,
        metrics=row.metrics,
        inference_spec=InferenceSpec.from_dict(row.inference_spec or {}),
        mlflow_run_id=row.mlflow_run_id,
        execution_id=row.execution_id,
        step_name=row.step_name,
        description=row.description,
        created_at=row.created_at,
        created_by=row.created_by,
        updated_at=row.updated_at,
        sources=dict(row.sources or {}),
        history=tuple(
            ApprovalChange(
                from_status=h.from_status, to_status=h.to_status, at=h.at, by=h.by, reason=h.reason
            )
            for h in history
        ),
    )
