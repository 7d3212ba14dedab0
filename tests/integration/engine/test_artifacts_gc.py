"""``rayline artifacts gc`` on the embedded file:// store: attempts never committed are collected,
committed ones (and their cache hits) are kept, and so is everything of a running execution."""

from __future__ import annotations

import json

import pytest

from rayline import CacheConfig, ExecutionFailedError, Pipeline, RetryPolicy, step
from rayline.cli.artifacts import parse_duration
from rayline.cli.main import main
from rayline.errors import UserInputError
from rayline.executions import collect_orphaned_artifacts
from rayline.store.artifacts import open_artifact_store

pytestmark = pytest.mark.ray


@pytest.fixture(autouse=True)
def _ray(ray_session, rayline_home):
    return ray_session


def test_gc_collects_failed_attempts_and_keeps_what_is_committed(tmp_path, capsys):
    counter = tmp_path / "attempts"

    @step(
        retry_policies=[
            RetryPolicy(exception_types=["ConnectionError"], interval_seconds=0.1, max_attempts=2)
        ],
        cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"),
    )
    def flaky(path):
        from pathlib import Path as P

        p = P(path)
        n = int(p.read_text()) + 1 if p.exists() else 1
        p.write_text(str(n))
        print(f"attempt {n}")
        if n < 2:
            raise ConnectionError("try again")
        return {"attempt": {n}}  # not JSON: pickled under the committed attempt

    pipeline = Pipeline("gc-flaky", steps=[flaky(str(counter))])
    first = pipeline.start()
    first.wait()
    hit = pipeline.start()  # a cache hit refers to the first execution's committed attempt
    hit.wait()
    assert hit.step("flaky").cached_from == first.id

    @step
    def broken():
        raise ValueError("no")

    failed = Pipeline("gc-broken", steps=[broken()]).start()
    with pytest.raises(ExecutionFailedError):
        failed.wait()

    store = open_artifact_store()
    attempt = lambda eid, name, n: store.uri_for("executions", eid, name, f"attempt-{n}")  # noqa: E731
    orphans = {attempt(first.id, "flaky", 1), attempt(failed.id, "broken", 1)}
    assert all(store.exists(u) for u in orphans)  # their live logs

    assert main(["artifacts", "gc", "--dry-run", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {o["uri"] for o in report["orphans"]} == orphans and not report["deleted"]
    assert all(store.exists(u) for u in orphans)

    assert main(["artifacts", "gc", "--older-than", "1h"]) == 0  # all too recent
    assert "deleted 0 orphaned prefix(es)" in capsys.readouterr().out

    collected = collect_orphaned_artifacts()
    assert {o.uri for o in collected.orphans} == orphans
    assert not any(store.exists(u) for u in orphans)
    assert not store.local_path(store.uri_for("executions", failed.id)).exists()
    assert store.exists(attempt(first.id, "flaky", 2))
    assert first.result("flaky") == hit.result("flaky") == {"attempt": {2}}
    assert collect_orphaned_artifacts().orphans == ()


def test_durations():
    assert [parse_duration(t) for t in ("90", "90s", "30m", "12h", "7d", "2w", "1.5h")] == [
        90,
        90,
        1800,
        43200,
        604800,
        1209600,
        5400,
    ]
    with pytest.raises(UserInputError, match="not a duration"):
        parse_duration("soon")
