"""Real-time endpoints: an Approved model version served over HTTP by Ray Serve.

>>> endpoints = Endpoints()                                              # doctest: +SKIP
>>> endpoints.create("housing-prod", "housing/3")                        # doctest: +SKIP
>>> endpoints.invoke("housing-prod", b"2008,3063.6,2,1.0,1.37,2,0,0\\n")  # doctest: +SKIP
(b'489512.4\\n', 'text/csv')
>>> endpoints.update("housing-prod", "housing/4")   # in place, no request dropped  # doctest: +SKIP
>>> endpoints.delete("housing-prod")                                     # doctest: +SKIP

Each endpoint is a record in the metadata DB (status ``Creating``, ``InService``, ``Updating``,
``Failed``, ``Deleting``, plus a history of which version it served when) and a Serve
application at ``/endpoints/NAME``; ``POST /endpoints/NAME/invocations`` with ``text/csv`` (raw
feature rows, no header) or ``application/json`` answers in the type the ``Accept`` header asks
for. Endpoints live on a long-lived Ray (``rayline up`` or ``RAY_ADDRESS``), not on the process
that created them.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from rayline.errors import BackendError, ConflictError, NotFoundError, UserInputError
from rayline.registry.entities import ApprovalStatus, ModelPackage, current_user, parse_version_ref
from rayline.registry.registry import ModelRegistry
from rayline.serving import ray_serve
from rayline.serving.schema import endpoint_events, endpoints
from rayline.store.db import Database, open_database


class EndpointStatus:
    """SageMaker's endpoint statuses."""

    CREATING = "Creating"
    IN_SERVICE = "InService"
    UPDATING = "Updating"
    FAILED = "Failed"
    DELETING = "Deleting"


@dataclass(frozen=True)
class EndpointEvent:
    """One change of an endpoint: created, updated (to which version), failed, deleted."""

    action: str
    model_version: str | None
    status: str
    at: float
    by: str
    detail: str | None


@dataclass(frozen=True)
class Endpoint:
    """An endpoint's record; ``live`` is whether it answered a probe just now (None: not asked)."""

    name: str
    model_package_group: str
    model_package_version: int
    status: str
    url: str
    config: dict[str, Any]
    failure_reason: str | None
    created_at: float
    updated_at: float
    live: bool | None = None
    events: tuple[EndpointEvent, ...] = field(default=())

    @property
    def model_version(self) -> str:
        return f"{self.model_package_group}/{self.model_package_version}"

    @property
    def invocation_url(self) -> str:
        return f"{self.url}/invocations"

    def to_dict(self) -> dict[str, Any]:
        return {
            "EndpointName": self.name,
            "EndpointStatus": self.status,
            "ModelVersion": self.model_version,
            "Url": self.invocation_url,
            "Config": self.config,
            "FailureReason": self.failure_reason,
            "CreatedAt": self.created_at,
            "UpdatedAt": self.updated_at,
            "Live": self.live,
            "Events": [
                {
                    "Action": e.action,
                    "ModelVersion": e.model_version,
                    "Status": e.status,
                    "At": e.at,
                    "By": e.by,
                    "Detail": e.detail,
                }
                for e in self.events
            ],
        }


_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")


def _check_name(name: str) -> str:
    if not name or len(name) > 63 or not set(name) <= _NAME_CHARS or name[0] == "-":
        raise UserInputError(
            f"endpoint name {name!r} is not valid: use 1-63 letters, digits and '-', starting "
            "with a letter or digit (it becomes part of the URL)"
        )
    return name


class Endpoints:
    """Create, describe, update, invoke and delete endpoints.

    ``allow_process_local=True`` lets the endpoints live on a Ray this process starts (they stop
    with it); by default rayline requires ``rayline up`` or ``RAY_ADDRESS`` unless this process
    is already connected to Ray.
    """

    def __init__(
        self,
        db: Database | None = None,
        *,
        db_url: str | None = None,
        registry: ModelRegistry | None = None,
        allow_process_local: bool = False,
    ) -> None:
        self.db = db or open_database(db_url)
        self.registry = registry or ModelRegistry(self.db)
        self.allow_process_local = allow_process_local

    # -- lifecycle --------------------------------------------------------------------------

    def create(
        self,
        name: str,
        model: str | ModelPackage,
        *,
        replicas: int = 1,
        num_cpus: float = 0.1,
        max_ongoing_requests: int = 64,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        """Deploy an Approved model version (``'group/version'``) as endpoint ``name``."""
        _check_name(name)
        package = self._approved(model)
        if replicas < 1:
            raise UserInputError(f"replicas must be at least 1 (got {replicas})")
        config = {
            "replicas": int(replicas),
            "num_cpus": float(num_cpus),
            "max_ongoing_requests": int(max_ongoing_requests),
        }
        now = time.time()
        with self.db.begin() as conn:
            existing = conn.execute(
                sa.select(endpoints.c.status).where(endpoints.c.name == name)
            ).first()
            if existing is not None:
                raise ConflictError(
                    f"endpoint {name!r} exists already ({existing.status}); update it with "
                    f"`rayline endpoint update {name} GROUP/VERSION` or delete it first"
                )
            conn.execute(
                endpoints.insert().values(
                    name=name,
                    model_package_group=package.group,
                    model_package_version=package.version,
                    status=EndpointStatus.CREATING,
                    config=config,
                    url=ray_serve.endpoint_url(name),
                    failure_reason=None,
                    created_at=now,
                    updated_at=now,
                )
            )
            self._event(conn, name, "create", package, EndpointStatus.CREATING)
        return self._deploy(name, package, wait=wait, timeout=timeout)

    def update(
        self,
        name: str,
        model: str | ModelPackage,
        *,
        replicas: int | None = None,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        """Serve another Approved version: replicas load it and swap, no request is dropped."""
        package = self._approved(model)
        with self.db.begin() as conn:
            row = self._row(conn, name)
            if row.status == EndpointStatus.DELETING:
                raise ConflictError(f"endpoint {name!r} is being deleted")
            config = dict(row.config)
            if replicas is not None:
                if replicas < 1:
                    raise UserInputError(f"replicas must be at least 1 (got {replicas})")
                config["replicas"] = int(replicas)
            conn.execute(
                endpoints.update()
                .where(endpoints.c.name == name)
                .values(
                    model_package_group=package.group,
                    model_package_version=package.version,
                    status=EndpointStatus.UPDATING,
                    config=config,
                    failure_reason=None,
                    updated_at=time.time(),
                )
            )
            self._event(
                conn,
                name,
                "update",
                package,
                EndpointStatus.UPDATING,
                detail=f"from {row.model_package_group}/{row.model_package_version}",
            )
        return self._deploy(name, package, wait=wait, timeout=timeout)

    def delete(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Stop serving and forget the endpoint (its history stays in ``endpoint_events``)."""
        with self.db.begin() as conn:
            row = self._row(conn, name)
            conn.execute(
                endpoints.update()
                .where(endpoints.c.name == name)
                .values(status=EndpointStatus.DELETING, updated_at=time.time())
            )
            self._event(
                conn,
                name,
                "delete",
                None,
                EndpointStatus.DELETING,
                detail=f"was serving {row.model_package_group}/{row.model_package_version}",
            )
        ray_serve.connect(allow_process_local=self.allow_process_local)
        self._apply()
        # Done once the route is gone; Serve drains the replica in the background.
        url = ray_serve.endpoint_url(name)
        deadline = time.monotonic() + timeout
        while wait and probe_version(url, timeout=1.0) is not None:
            if time.monotonic() > deadline:
                raise BackendError(
                    f"endpoint {name!r} still answered after {timeout:.0f} s; it is marked "
                    "Deleting and will be removed at the next endpoint change"
                )
            time.sleep(0.1)
        with self.db.begin() as conn:
            conn.execute(endpoints.delete().where(endpoints.c.name == name))

    def redeploy_all(self, *, wait: bool = True, timeout: float = 120.0) -> list[str]:
        """Deploy every recorded endpoint again (after Ray restarted, e.g. by ``rayline up``)."""
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(endpoints).where(endpoints.c.status != EndpointStatus.DELETING)
            ).all()
        if not rows:
            return []
        ray_serve.connect(allow_process_local=self.allow_process_local)
        self._apply()
        names = []
        for row in rows:
            package = self.registry.describe(row.model_package_group, row.model_package_version)
            self._wait_ready(row.name, package, wait=wait, timeout=timeout)
            names.append(row.name)
        return names

    # -- reading ----------------------------------------------------------------------------

    def describe(self, name: str, *, probe: bool = True) -> Endpoint:
        """The endpoint's record and history; ``probe`` asks it over HTTP whether it answers.

        A record that says InService but does not answer (Ray was stopped) is reported as
        Failed, with how to bring it back.
        """
        with self.db.connect() as conn:
            row = self._row(conn, name)
            events = conn.execute(
                sa.select(endpoint_events)
                .where(endpoint_events.c.endpoint_name == name)
                .order_by(endpoint_events.c.id)
            ).all()
        endpoint = _endpoint(row, events)
        if not probe:
            return endpoint
        served = probe_version(endpoint.url)
        live = served is not None
        status, reason = endpoint.status, endpoint.failure_reason
        if endpoint.status == EndpointStatus.IN_SERVICE and not live:
            status = EndpointStatus.FAILED
            reason = (
                f"not answering at {endpoint.url} (is its Ray running? `rayline up` "
                "starts Ray again and redeploys recorded endpoints)"
            )
        return _replace(endpoint, status=status, failure_reason=reason, live=live)

    def list(self, *, probe: bool = False) -> list[Endpoint]:
        with self.db.connect() as conn:
            names = [
                r.name for r in conn.execute(sa.select(endpoints.c.name).order_by(endpoints.c.name))
            ]
        return [self.describe(n, probe=probe) for n in names]

    def serving(self, group: str, version: int | None = None) -> list[Endpoint]:
        """Endpoints that serve ``group`` (optionally that version) now."""
        query = sa.select(endpoints.c.name).where(endpoints.c.model_package_group == group)
        if version is not None:
            query = query.where(endpoints.c.model_package_version == version)
        with self.db.connect() as conn:
            names = [r.name for r in conn.execute(query.order_by(endpoints.c.name))]
        return [self.describe(n, probe=False) for n in names]

    # -- invoking ---------------------------------------------------------------------------

    def invoke(
        self,
        name: str,
        body: bytes | str,
        *,
        content_type: str = "text/csv",
        accept: str | None = None,
        timeout: float = 30.0,
    ) -> tuple[bytes, str]:
        """POST ``body`` to the endpoint; returns ``(response body, content type)``.

        A 4xx answer raises ``UserInputError`` with the endpoint's message.
        """
        with self.db.connect() as conn:
            url = self._row(conn, name).url
        return invoke_url(
            f"{url}/invocations", body, content_type=content_type, accept=accept, timeout=timeout
        )

    # -- internals --------------------------------------------------------------------------

    def _approved(self, model: str | ModelPackage) -> ModelPackage:
        if isinstance(model, ModelPackage):
            group, version = model.group, model.version
        else:
            group, version = parse_version_ref(model)
        package = self.registry.describe(group, version)
        if package.status != ApprovalStatus.APPROVED:
            raise ConflictError(
                f"model version {package.ref} is {package.status}; only Approved versions can "
                f"be deployed. Approve it first: `rayline model approve {package.ref} --reason "
                f'"..."` (Python: ModelRegistry().approve({group!r}, {version}))'
            )
        return package

    def _deploy(self, name: str, package: ModelPackage, *, wait: bool, timeout: float) -> Endpoint:
        try:
            ray_serve.connect(allow_process_local=self.allow_process_local)
            self._apply()
        except Exception as exc:
            self._fail(name, str(exc))
            raise
        self._wait_ready(name, package, wait=wait, timeout=timeout)
        return self.describe(name, probe=False)

    def _apply(self) -> None:
        with self.db.connect() as conn:
            rows = conn.execute(
                sa.select(endpoints)
                .where(endpoints.c.status != EndpointStatus.DELETING)
                .order_by(endpoints.c.name)
            ).all()
        apps = []
        for row in rows:
            package = self.registry.describe(row.model_package_group, row.model_package_version)
            apps.append(ray_serve.app_config(row.name, row.config, _user_config(row.name, package)))
        ray_serve.apply(apps)

    def _wait_ready(self, name: str, package: ModelPackage, *, wait: bool, timeout: float) -> None:
        if not wait:
            return
        url = ray_serve.endpoint_url(name)
        deadline = time.monotonic() + timeout
        while True:
            status, message = ray_serve.app_statuses().get(name, ("NOT_STARTED", ""))
            if status in ("DEPLOY_FAILED", "UNHEALTHY"):
                self._fail(name, message or status)
                raise BackendError(f"endpoint {name!r} failed to deploy: {message or status}")
            if status == "RUNNING" and probe_version(url) == package.ref:
                break
            if time.monotonic() > deadline:
                reason = f"not ready after {timeout:.0f} s (Serve status {status}: {message})"
                self._fail(name, reason)
                raise BackendError(f"endpoint {name!r} is {reason}")
            time.sleep(0.1)
        with self.db.begin() as conn:
            conn.execute(
                endpoints.update()
                .where(endpoints.c.name == name)
                .values(
                    status=EndpointStatus.IN_SERVICE, failure_reason=None, updated_at=time.time()
                )
            )
            self._event(conn, name, "ready", package, EndpointStatus.IN_SERVICE)

    def _fail(self, name: str, reason: str) -> None:
        with self.db.begin() as conn:
            conn.execute(
                endpoints.update()
                .where(endpoints.c.name == name)
                .values(status=EndpointStatus.FAILED, failure_reason=reason, updated_at=time.time())
            )
            self._event(conn, name, "fail", None, EndpointStatus.FAILED, detail=reason)

    @staticmethod
    def _event(
        conn,
        name: str,
        action: str,
        package: ModelPackage | None,
        status: str,
        detail: str | None = None,
    ) -> None:
        conn.execute(
            endpoint_events.insert().values(
                endpoint_name=name,
                action=action,
                model_package_group=package.group if package else None,
                model_package_version=package.version if package else None,
                status=status,
                at=time.time(),
                by=current_user(),
                detail=detail,
            )
        )

    @staticmethod
    def _row(conn, name: str):
        row = conn.execute(sa.select(endpoints).where(endpoints.c.name == name)).first()
        if row is None:
            names = [
                r.name for r in conn.execute(sa.select(endpoints.c.name).order_by(endpoints.c.name))
            ]
            known = ", ".join(repr(n) for n in names[:20]) if names else "none"
            raise NotFoundError(f"endpoint {name!r} does not exist (endpoints: {known})")
        return row


def _user_config(name: str, package: ModelPackage) -> dict[str, Any]:
    return {
        "endpoint": name,
        "model_package_group": package.group,
        "model_package_version": package.version,
        "model_uri": package.model_uri,
        "preprocessor_uri": package.preprocessor_uri,
        "columns": list(package.inference_spec.input_columns),
    }


def probe_version(url: str, *, timeout: float = 2.0) -> str | None:
    """The model version an endpoint at ``url`` serves, or None if it does not answer."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return json.loads(resp.read()).get("model_version")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def invoke_url(
    url: str,
    body: bytes | str,
    *,
    content_type: str = "text/csv",
    accept: str | None = None,
    timeout: float = 30.0,
) -> tuple[bytes, str]:
    """POST to an endpoint URL.

    A 4xx answer raises ``UserInputError``; a 5xx or no answer raises ``BackendError``.
    """
    data = body.encode() if isinstance(body, str) else body
    headers = {"Content-Type": content_type}
    if accept:
        headers["Accept"] = accept
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:
            return resp.read(), resp.headers.get_content_type()
    except urllib.error.HTTPError as exc:
        message = exc.read().decode(errors="replace").strip()
        if 400 <= exc.code < 500:
            raise UserInputError(
                f"the endpoint refused the request ({exc.code}): {message}"
            ) from None
        raise BackendError(f"the endpoint failed ({exc.code}): {message}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise BackendError(
            f"no answer from {url}: {exc}. Is its Ray running (`rayline up`)?"
        ) from exc


def _endpoint(row, events) -> Endpoint:
    return Endpoint(
        name=row.name,
        model_package_group=row.model_package_group,
        model_package_version=row.model_package_version,
        status=row.status,
        url=row.url,
        config=dict(row.config or {}),
        failure_reason=row.failure_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
        events=tuple(
            EndpointEvent(
                action=e.action,
                model_version=(
                    f"{e.model_package_group}/{e.model_package_version}"
                    if e.model_package_group
                    else None
                ),
                status=e.status,
                at=e.at,
                by=e.by,
                detail=e.detail,
            )
            for e in events
        ),
    )


def _replace(endpoint: Endpoint, **changes: Any) -> Endpoint:
    from dataclasses import replace

    return replace(endpoint, **changes)
