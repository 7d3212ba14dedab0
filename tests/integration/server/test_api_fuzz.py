"""Property-based fuzzing of the whole REST API from its own OpenAPI document (schemathesis on
Hypothesis): for every operation, requests generated from the schema — and requests that break
it — never get a 5xx. What the caller gets wrong is a 4xx problem document.

Each operation gets a few dozen examples against a real server over HTTP; streams are asked
with a short timeout (a generated id names no execution, so they answer 404 at once).
"""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.ray, pytest.mark.server, pytest.mark.slow]

#: Examples per operation and mode: enough to reach every parameter's edge cases, small enough
#: that the whole API is fuzzed in well under a minute.
EXAMPLES = 25

#: uvicorn's answer to bytes that are no HTTP request (its own text, not the API's).
INVALID_HTTP = "Invalid HTTP request received."


def _fuzz(operation, mode, base_url: str, failures: list[str]) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case) -> None:
        response = case.call(base_url=base_url, timeout=15)
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
