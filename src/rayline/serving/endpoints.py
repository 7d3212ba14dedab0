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

:class:`Endpoints` is the API. Where the endpoints live is chosen once, when it is created:
this process's metadata DB and the Ray it connects to (:class:`EmbeddedEndpoints`), or, with
``RAYLINE_SERVER_URL`` set and no explicit database, a rayline server's REST API
(:class:`rayline.serving.remote.RemoteEndpoints`), which deploys on the server's Ray.

This module is the service; the record and its statuses are in :mod:`rayline.serving.entities`,
the SQL in :mod:`rayline.serving.repository`, the HTTP calls in :mod:`rayline.serving.client` and
Serve itself behind :mod:`rayline.serving.ray_serve`. Which version each endpoint serves is also
recorded in the registry (``EmbeddedRegistry.record_deployment``), which then refuses to delete it.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, Protocol

from rayline.errors import BackendError, ConflictError, UserInputError
from rayline.registry.entities import ApprovalStatus, ModelPackage, parse_version_ref
from rayline.registry.registry import EmbeddedRegistry
from rayline.serving import ray_serve
from rayline.serving.client import invoke_url, probe_version
from rayline.serving.entities import (
    Endpoint,
    EndpointStatus,
    check_endpoint_name,
    check_invocation_size,
)
from rayline.serving.repository import EndpointRepository
from rayline.store.db import Database, open_database


class EndpointsBackend(Protocol):
    """Where :class:`Endpoints` keeps and deploys its endpoints: this process's metadata DB and
    Ray (:class:`EmbeddedEndpoints`) or a rayline server
    (:class:`rayline.serving.remote.RemoteEndpoints`)."""

    def create(self, name: str, model: str | ModelPackage, **options: Any) -> Endpoint: ...

    def update(self, name: str, model: str | ModelPackage, **options: Any) -> Endpoint: ...

    def delete(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None: ...

    def redeploy_all(self, *, wait: bool = True, timeout: float = 120.0) -> list[str]: ...

    def describe(self, name: str, *, probe: bool = True) -> Endpoint: ...

    def replica_nodes(self, name: str) -> list[str]: ...

    def list(self, *, probe: bool = False) -> list[Endpoint]: ...

    def serving(self, group: str, version: int | None = None) -> list[Endpoint]: ...

    def invoke(
        self,
        name: str,
        body: bytes | str,
        *,
        content_type: str = "text/csv",
        accept: str | None = None,
        timeout: float = 30.0,
    ) -> tuple[bytes, str]: ...


class Endpoints:
    """Create, describe, update, invoke and delete endpoints.

    Embedded (this process's metadata DB and Ray) unless ``RAYLINE_SERVER_URL`` is set and
    neither ``db`` nor ``db_url`` is given: then every call goes to that server's REST API and
    the endpoints run on its Ray. ``allow_process_local=True`` lets embedded endpoints live on
    a Ray this process starts (they stop with it); by default rayline requires ``rayline up`` or
    ``RAY_ADDRESS`` unless this process is already connected to Ray.
    """

    def __init__(
        self,
        db: Database | None = None,
        *,
        db_url: str | None = None,
        allow_process_local: bool = False,
    ) -> None:
        from rayline.remote.client import server_client

        client = server_client(db_url) if db is None else None
        if client is not None:
            from rayline.serving.remote import RemoteEndpoints

            self._backend: EndpointsBackend = RemoteEndpoints(client)
        else:
            self._backend = EmbeddedEndpoints(
                db, db_url=db_url, allow_process_local=allow_process_local
            )

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
        """Deploy an Approved model version (``'group/version'``) as endpoint ``name``.

        ``resources`` places its replicas: custom Ray resources each replica takes, like
        ``{"worker": 0.1}`` for a node started with ``--resources='{"worker": 1}'`` (as a
        SageMaker endpoint names an instance type). It is recorded in the endpoint's config.
        """
        return self._backend.create(
            name,
            model,
            replicas=replicas,
            num_cpus=num_cpus,
            max_ongoing_requests=max_ongoing_requests,
            resources=resources,
            wait=wait,
            timeout=timeout,
        )

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
        """Serve another Approved version: no request is dropped (see
        :meth:`EmbeddedEndpoints.update` for how). ``resources`` moves the replicas (``{}``:
        anywhere)."""
        return self._backend.update(
            name, model, replicas=replicas, resources=resources, wait=wait, timeout=timeout
        )

    def delete(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Stop serving and forget the endpoint (its history stays in ``endpoint_events``)."""
        self._backend.delete(name, wait=wait, timeout=timeout)

    def redeploy_all(self, *, wait: bool = True, timeout: float = 120.0) -> list[str]:
        """Deploy every recorded endpoint again (after Ray restarted, e.g. by ``rayline up``);
        embedded only."""
        return self._backend.redeploy_all(wait=wait, timeout=timeout)

    def describe(self, name: str, *, probe: bool = True) -> Endpoint:
        """The endpoint's record and history; ``probe`` asks it over HTTP whether it answers
        (one recorded InService that does not answer is reported Failed, with why)."""
        return self._backend.describe(name, probe=probe)

    def replica_nodes(self, name: str) -> list[str]:
        """The Ray nodes (ids) the endpoint's replicas run on now; embedded only."""
        return self._backend.replica_nodes(name)

    def list(self, *, probe: bool = False) -> list[Endpoint]:
        """Every endpoint, by name (``probe``: asking each whether it answers)."""
        return self._backend.list(probe=probe)

    def serving(self, group: str, version: int | None = None) -> list[Endpoint]:
        """Endpoints that serve ``group`` (optionally that version) now."""
        return self._backend.serving(group, version)

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
        return self._backend.invoke(
            name, body, content_type=content_type, accept=accept, timeout=timeout
        )


class EmbeddedEndpoints:
    """Endpoints recorded in this process's metadata DB and deployed on the Ray it connects to
    (the server's own endpoints are these)."""

    def __init__(
        self,
        db: Database | None = None,
        *,
        db_url: str | None = None,
        registry: EmbeddedRegistry | None = None,
        allow_process_local: bool = False,
    ) -> None:
        self.db = db or open_database(db_url)
        self.registry = registry or EmbeddedRegistry(self.db)
        self.repository = EndpointRepository(self.db)
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
        resources: dict[str, float] | None = None,
        wait: bool = True,
        timeout: float = 120.0,
    ) -> Endpoint:
        """Deploy an Approved model version (``'group/version'``) as endpoint ``name``.

        ``resources`` places its replicas: custom Ray resources each replica takes, like
        ``{"worker": 0.1}`` for a node started with ``--resources='{"worker": 1}'`` (as a
        SageMaker endpoint names an instance type). It is recorded in the endpoint's config.
        """
        check_endpoint_name(name)
        package = self._approved(model)
        _check_replicas(replicas)
        config: dict[str, Any] = {
            "replicas": int(replicas),
            "num_cpus": float(num_cpus),
            "max_ongoing_requests": int(max_ongoing_requests),
        }
        if resources:
            config["resources"] = check_resources(resources)
        with self.repository.transaction() as conn:
            self.repository.insert(
                conn, name, package, config=config, url=ray_serve.endpoint_url(name)
            )
            self.registry.record_deployment(conn, name, package)
        return self._deploy(name, package, wait=wait, timeout=timeout)

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
        """Serve another Approved version: no request is dropped.

        Like SageMaker's blue/green update, the endpoint gets one replica more for the update:
        Serve starts it with the new version, then moves the others over one at a time while
        the rest answer, and the extra one goes once all serve the new version (the cluster
        needs room for one more replica meanwhile). ``resources`` moves the replicas (``{}``:
        anywhere). ``wait=False`` skips the extra replica: the replicas swap models in place,
        and a one-replica endpoint stops answering for the moment its replica reloads.
        """
        package = self._approved(model)
        placement = None if resources is None else check_resources(resources)
        with self.repository.transaction() as conn:
            current = self.repository.read(conn, name)
            if current.status == EndpointStatus.DELETING:
                raise ConflictError(f"endpoint {name!r} is being deleted")
            config = dict(current.config)
            if replicas is not None:
                _check_replicas(replicas)
                config["replicas"] = int(replicas)
            if placement is not None:
                config.pop("resources", None)
                if placement:
                    config["resources"] = placement
            self.repository.update(
                conn,
                name,
                model_package_group=package.group,
                model_package_version=package.version,
                status=EndpointStatus.UPDATING,
                config=config,
                failure_reason=None,
            )
            self.repository.add_event(
                conn,
                name,
                "update",
                package,
                EndpointStatus.UPDATING,
                detail=f"from {current.model_version}",
            )
            self.registry.record_deployment(conn, name, package)
        if wait:
            # Serve updates a deployment one replica at a time and routes only to RUNNING
            # replicas; with one replica, that one would stop answering while it reloads.
            self._deploy(name, package, wait=True, timeout=timeout, surge=True, record=False)
        return self._deploy(name, package, wait=wait, timeout=timeout)

    def delete(self, name: str, *, wait: bool = True, timeout: float = 60.0) -> None:
        """Stop serving and forget the endpoint (its history stays in ``endpoint_events``)."""
        with self.repository.transaction() as conn:
            current = self.repository.read(conn, name)
            self.repository.update(conn, name, status=EndpointStatus.DELETING)
            self.repository.add_event(
                conn,
                name,
                "delete",
                None,
                EndpointStatus.DELETING,
                detail=f"was serving {current.model_version}",
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
        with self.repository.transaction() as conn:
            self.repository.delete(conn, name)
            self.registry.release_deployment(conn, name)

    def redeploy_all(self, *, wait: bool = True, timeout: float = 120.0) -> list[str]:
        """Deploy every recorded endpoint again (after Ray restarted, e.g. by ``rayline up``)."""
        active = self.repository.active()
        if not active:
            return []
        ray_serve.connect(allow_process_local=self.allow_process_local)
        self._apply()
        for endpoint in active:
            package = self._package(endpoint)
            self._wait_ready(endpoint.name, package, wait=wait, timeout=timeout)
        return [endpoint.name for endpoint in active]

    # -- reading ----------------------------------------------------------------------------

    def describe(self, name: str, *, probe: bool = True) -> Endpoint:
        """The endpoint's record and history; ``probe`` asks it over HTTP whether it answers.

        A record that says InService but does not answer (Ray was stopped) is reported as
        Failed, with how to bring it back.
        """
        endpoint = self.repository.get(name, events=True)
        if not probe:
            return endpoint
        live = probe_version(endpoint.url) is not None
        status, reason = endpoint.status, endpoint.failure_reason
        if endpoint.status == EndpointStatus.IN_SERVICE and not live:
            status = EndpointStatus.FAILED
            reason = (
                f"not answering at {endpoint.url} (is its Ray running? `rayline up` "
                "starts Ray again and redeploys recorded endpoints)"
            )
        return replace(endpoint, status=status, failure_reason=reason, live=live)

    def replica_nodes(self, name: str) -> list[str]:
        """The Ray nodes (ids) the endpoint's replicas run on now."""
        self.repository.get(name)  # NotFoundError for an unknown endpoint
        ray_serve.connect(allow_process_local=self.allow_process_local)
        return ray_serve.replica_nodes(name)

    def list(self, *, probe: bool = False) -> list[Endpoint]:
        """Every endpoint, by name (``probe``: asking each whether it answers)."""
        return [self.describe(n, probe=probe) for n in self.repository.names()]

    def serving(self, group: str, version: int | None = None) -> list[Endpoint]:
        """Endpoints that serve ``group`` (optionally that version) now."""
        names = self.repository.names(group=group, version=version)
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

        A body over ``MAX_INVOCATION_BYTES`` raises ``TooLargeError``; a 4xx answer raises
        ``UserInputError`` with the endpoint's message.
        """
        check_invocation_size(name, len(body.encode() if isinstance(body, str) else body))
        return invoke_url(
            self.repository.get(name).invocation_url,
            body,
            content_type=content_type,
            accept=accept,
            timeout=timeout,
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

    def _package(self, endpoint: Endpoint) -> ModelPackage:
        return self.registry.describe(endpoint.model_package_group, endpoint.model_package_version)

    def _deploy(
        self,
        name: str,
        package: ModelPackage,
        *,
        wait: bool,
        timeout: float,
        surge: bool = False,
        record: bool = True,
    ) -> Endpoint:
        """Apply the endpoints' Serve config and wait until ``name`` serves ``package``;
        ``surge``: with one replica more than its record says."""
        try:
            ray_serve.connect(allow_process_local=self.allow_process_local)
            blocked = self._apply(surge=name if surge else None)
        except Exception as exc:
            self._fail(name, str(exc))
            raise
        if name in blocked:
            reason = (
                f"Ray Serve already runs an application named {name!r} (or at its route "
                f"{ray_serve.SERVE_APP_PREFIX}/{name}) that rayline did not deploy; rayline leaves "
                "other applications alone: delete this endpoint and create it under another name"
            )
            self._fail(name, reason)
            raise ConflictError(f"endpoint {name!r} cannot be deployed: {reason}")
        self._wait_ready(name, package, wait=wait, timeout=timeout, surge=surge, record=record)
        return self.describe(name, probe=False)

    def _apply(self, *, surge: str | None = None) -> set[str]:
        """Deploy rayline's applications (one per active endpoint), leaving others alone;
        returns the endpoints another application's name or route blocked. Endpoint ``surge``
        gets one replica more than its record says."""
        apps = []
        for e in self.repository.active():
            config = dict(e.config)
            if e.name == surge:
                config["replicas"] = int(config.get("replicas", 1)) + 1
            apps.append(
                ray_serve.app_config(e.name, config, _user_config(e.name, self._package(e)))
            )
        # Every recorded endpoint is rayline's to change, also one being deleted.
        return ray_serve.apply(apps, owned=set(self.repository.names()))

    def _wait_ready(
        self,
        name: str,
        package: ModelPackage,
        *,
        wait: bool,
        timeout: float,
        surge: bool = False,
        record: bool = True,
    ) -> None:
        """Wait until Serve runs ``name``'s replicas (one more with ``surge``), all at its
        config, and the endpoint answers with ``package``; ``record``: mark it InService."""
        if not wait:
            return
        replicas = int(self.repository.get(name).config.get("replicas", 1)) + int(surge)
        url = ray_serve.endpoint_url(name)
        deadline = time.monotonic() + timeout
        while True:
            status, message = ray_serve.app_statuses().get(name, ("NOT_STARTED", ""))
            if status in ("DEPLOY_FAILED", "UNHEALTHY"):
                self._fail(name, message or status)
                raise BackendError(f"endpoint {name!r} failed to deploy: {message or status}")
            # RUNNING alone may still be the state before the apply; the replica count and
            # the version answering tell the new config has been rolled out.
            if (
                status == "RUNNING"
                and probe_version(url) == package.ref
                and ray_serve.running_replicas(name) == replicas
            ):
                break
            if time.monotonic() > deadline:
                reason = f"not ready after {timeout:.0f} s (Serve status {status}: {message})"
                if surge:
                    reason += "; an update needs room on the cluster for one more replica"
                self._fail(name, reason)
                raise BackendError(f"endpoint {name!r} is {reason}")
            time.sleep(0.1)
        if not record:
            return
        with self.repository.transaction() as conn:
            self.repository.update(
                conn, name, status=EndpointStatus.IN_SERVICE, failure_reason=None
            )
            self.repository.add_event(conn, name, "ready", package, EndpointStatus.IN_SERVICE)

    def _fail(self, name: str, reason: str) -> None:
        with self.repository.transaction() as conn:
            self.repository.update(conn, name, status=EndpointStatus.FAILED, failure_reason=reason)
            self.repository.add_event(
                conn, name, "fail", None, EndpointStatus.FAILED, detail=reason
            )


#: Ray's built-in resources: a replica takes them through its own options, not ``resources``.
_BUILTIN_RESOURCES = {
    "CPU": "set a replica's CPUs with num_cpus= (CLI: --num-cpus)",
    "GPU": "rayline endpoints serve on CPUs; place replicas with a custom resource of the node",
    "memory": "a replica reserves no memory; place it with a custom resource of the node",
    "object_store_memory": "a replica reserves no memory; use a custom resource of the node",
}


def check_resources(resources: Any) -> dict[str, float]:
    """``resources`` as ``{name: amount}`` if it can place replicas: custom Ray resources with
    positive amounts (Ray's built-in ones are refused, with the option to use instead)."""
    if not isinstance(resources, dict):
        raise UserInputError(
            "resources must map custom Ray resource names to amounts, like {'worker': 0.1}, "
            f"not {type(resources).__name__}"
        )
    for key, amount in resources.items():
        if not isinstance(key, str) or not key:
            raise UserInputError(f"resource name {key!r} must be a non-empty string")
        if key in _BUILTIN_RESOURCES:
            raise UserInputError(
                f"{key!r} is a built-in Ray resource, not a custom one for resources=: "
                f"{_BUILTIN_RESOURCES[key]}"
            )
        if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
            raise UserInputError(
                f"resource {key!r} needs a positive amount (like 0.1), not {amount!r}"
            )
    return {k: float(v) for k, v in resources.items()}


def _check_replicas(replicas: int) -> None:
    if replicas < 1:
        raise UserInputError(f"replicas must be at least 1 (got {replicas})")


def _user_config(name: str, package: ModelPackage) -> dict[str, Any]:
    return {
        "endpoint": name,
        "model_package_group": package.group,
        "model_package_version": package.version,
        "model_uri": package.model_uri,
        "preprocessor_uri": package.preprocessor_uri,
        "columns": list(package.inference_spec.input_columns),
    }
