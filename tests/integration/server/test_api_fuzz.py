"""Property-based fuzzing of the whole REST API from its own OpenAPI document (schemathesis on
Hypothesis): for every operation, requests generated from the schema — and requests that break
it — never get a 5xx. What the caller gets wrong is a 4xx problem document.

Twice: against an empty server with authentication off (each operation a few dozen examples),
and as an admin with authentication on against a populated one on PostgreSQL and Redis (a
finished execution that registered a version, an approved version, an endpoint, a feature group
with records, a schedule, a webhook), where half the examples name what exists, so the handlers
get past their lookups. Streams are asked with a short timeout.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server, pytest.mark.slow]

#: Examples per operation and mode: enough to reach every parameter's edge cases, small enough
#: that the whole API is fuzzed in well under a minute.
EXAMPLES = 25

#: uvicorn's answer to bytes that are no HTTP request (its own text, not the API's).
INVALID_HTTP = "Invalid HTTP request received."


def _fuzz(
    operation,
    mode,
    base_url: str,
    failures: list[str],
    *,
    examples: int = EXAMPLES,
    headers: dict[str, str] | None = None,
    existing: Callable[[Any, random.Random], None] | None = None,
) -> None:
    """Fuzz ``operation``; ``existing(case, rng)``, when given, makes half the cases name
    what exists on the server."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(
        case=operation.as_strategy(generation_mode=mode),
        rng=st.randoms(use_true_random=False),
    )
    def fuzz(case, rng) -> None:
        if existing is not None and rng.random() < 0.5:
            existing(case, rng)
        response = case.call(base_url=base_url, headers=headers, timeout=15)
        where = f"{case.method} {case.formatted_path} ({mode.value})"
        if response.status_code >= 500:
            failures.append(f"{where}: {response.status_code} {response.text[:300]}")
        elif response.text == INVALID_HTTP:
            # A negative case the HTTP client serialised into a malformed request line: uvicorn
            # refuses it before any of rayline's code runs (a 400, never a 5xx).
            assert response.status_code == 400, where
        elif response.status_code >= 400:  # every error is a problem document
            kind = (response.headers.get("content-type") or [""])[0]  # header values are lists
            assert kind.startswith("application/problem+json"), f"{where}: {response.text[:200]}"

    try:
        fuzz()
    except Unsatisfiable:
        # An operation with no parameters and no body has nothing to break.
        assert mode == GenerationMode.NEGATIVE, f"no valid request for {operation.label}"


def test_no_operation_answers_a_server_error(api_server):
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{api_server.url}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(result.ok(), mode, api_server.url, failures)
    assert operations >= 30, f"only {operations} operations in the OpenAPI document"
    assert not failures, "server errors:\n" + "\n".join(sorted(set(failures))[:20])


#: Examples per operation and mode against the populated server (its every request gets past
#: authentication and most get past their lookups, so each costs more).
POPULATED_EXAMPLES = 10

YEARLY = "0 0 1 1 *"


@dataclass(frozen=True)
class Populated:
    """A server with authentication on and something of every kind on it."""

    url: str
    admin_token: str
    #: path parameter values that name what exists, by the path's resource (its first segment)
    existing: dict[str, dict[str, list[Any]]]

    def name_existing(self, case: Any, rng: random.Random) -> None:
        """Point ``case``'s path parameters at things that exist."""
        resource = case.path.removeprefix("/api/v1/").split("/")[0]
        if (case.method.upper(), case.path) in NEVER_EXISTING:
            return
        for key, values in self.existing.get(resource, {}).items():
            if key in case.path_parameters:
                case.path_parameters[key] = rng.choice(values)


#: Operations fuzzed with generated names only: with an existing one they start work that
#: outlives the request (an execution of the registering pipeline per example).
NEVER_EXISTING = frozenset({("POST", "/api/v1/pipelines/{name}/executions")})


@pytest.fixture
def redis_online_store() -> Iterator[str]:
    """An online store URI in the machine's Redis under a key prefix of its own (its keys are
    deleted afterwards)."""
    import uuid

    import redis
    from tests.conftest import REDIS_URL

    prefix = f"rayline-fuzz-{uuid.uuid4().hex[:8]}:"
    yield f"{REDIS_URL}?prefix={prefix}"
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def populated(
    rayline_home,
    postgres_url,
    redis_online_store,
    ray_session,
    serve_port,
    tiny_models,
    tmp_path,
    monkeypatch,
) -> Iterator[Populated]:
    from tests.conftest import serve_in_thread
    from tests.integration.registering import registering_pipeline
    from tests.integration.server.conftest import wait_healthy

    from rayline.auth import Role, create_token
    from rayline.registry import ModelRegistry
    from rayline.schedules.api import create_schedule
    from rayline.server.app import create_app
    from rayline.webhooks.api import create_webhook

    # As a team runs it: metadata on PostgreSQL (whose text refuses what SQLite's takes), the
    # online store in Redis.
    monkeypatch.setenv("RAYLINE_DB_URL", postgres_url)
    monkeypatch.setenv("RAYLINE_ONLINE_STORE_URI", redis_online_store)
    monkeypatch.setenv("RAYLINE_SERVER_AUTH", "on")
    monkeypatch.setenv("RAYLINE_SQL_TIMEOUT_S", "5")
    monkeypatch.delenv("RAYLINE_SERVER_URL", raising=False)
    _, admin = create_token(name="fuzz-admin", role=Role.ADMIN)
    other, _ = create_token(name="fuzz-viewer", role=Role.VIEWER)

    # housing/1, registered by a finished execution that alice started; housing/2, approved.
    monkeypatch.setenv("RAYLINE_USER", "alice")
    pipeline = registering_pipeline(tiny_models[0], tmp_path, name="fuzz-registering")
    execution = pipeline.start()
    assert execution.wait().status == "Succeeded"
    monkeypatch.delenv("RAYLINE_USER")
    registry = ModelRegistry()
    model = tiny_models[1]
    registry.register(
        "housing",
        model=str(model / "model.ubj"),
        preprocessor=str(model / "preprocessor.json"),
        metrics=str(model / "evaluation"),
    )
    registry.approve("housing", 2, reason="for the fuzz")
    create_schedule("fuzz-yearly", pipeline="fuzz-registering", cron=YEARLY)
    # Nothing listens on port 9 of loopback: a delivery fails at once (no dispatcher runs here).
    webhook, _ = create_webhook("http://127.0.0.1:9/hook")

    with serve_in_thread(create_app(services=False)) as url:
        wait_healthy(url)
        import httpx

        api = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {admin}"}, timeout=120
        )
        endpoint = {"name": "fuzz-ep", "model_package_group": "housing", "version": 2}
        made = api.post("/endpoints", json=endpoint)
        assert made.status_code == 201, made.text
        group = {
            "name": "fuzz-houses",
            "record_identifier_name": "house_id",
            "event_time_feature_name": "event_time",
            "feature_definitions": [
                {"FeatureName": "house_id", "FeatureType": "Integral"},
                {"FeatureName": "event_time", "FeatureType": "Fractional"},
                {"FeatureName": "city", "FeatureType": "String"},
            ],
        }
        assert api.post("/feature-groups", json=group).status_code == 201
        rows = "house_id,event_time,city\n1,1.0,Paris\n2,2.0,Oslo\n3,3.0,Lima\n"
        ingested = api.post("/feature-groups/fuzz-houses/ingest", files={"file": ("r.csv", rows)})
        assert ingested.status_code == 200, ingested.text
        try:
            yield Populated(
                url=url,
                admin_token=admin,
                existing={
                    "pipelines": {"name": ["fuzz-registering"]},
                    "executions": {
                        "execution_id": [execution.id],
                        "step_name": ["Train", "RegisterTrainedModel"],
                    },
                    "model-package-groups": {"group": ["housing"], "version": [1, 2]},
                    "endpoints": {"name": ["fuzz-ep"]},
                    "feature-groups": {"name": ["fuzz-houses"], "record_id": ["1", "2", "3"]},
                    "schedules": {"name": ["fuzz-yearly"]},
                    "webhooks": {"webhook_id": [webhook.id]},
                    "tokens": {"token_id": [other.id]},
                },
            )
        finally:
            from rayline.serving import Endpoints

            endpoints = Endpoints()
            for running in endpoints.list():
                endpoints.delete(running.name)
            api.close()


def test_no_operation_answers_a_server_error_on_a_populated_server(populated):
    import schemathesis
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_url(f"{populated.url}/openapi.json")
    # Deletions last: until then, what exists is there to be found.
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()),
        key=lambda operation: operation.method.upper() == "DELETE",
    )
    failures: list[str] = []
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(
                operation,
                mode,
                populated.url,
                failures,
                examples=POPULATED_EXAMPLES,
                headers={"Authorization": f"Bearer {populated.admin_token}"},
                existing=populated.name_existing,
            )
    assert len(operations) >= 30, f"only {len(operations)} operations in the OpenAPI document"
    assert not failures, "server errors:\n" + "\n".join(sorted(set(failures))[:20])
