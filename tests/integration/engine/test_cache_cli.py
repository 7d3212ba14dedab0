"""``rayline cache`` on real executions: the entries two runs leave, and an invalidated step
computed again by the next execution while the other step is still reused."""

from __future__ import annotations

import json

import pytest

from rayline import CacheConfig, Pipeline, step
from rayline.cli.main import main

pytestmark = pytest.mark.ray


def _json(capsys, *argv: str):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_invalidated_step_is_computed_by_the_next_execution(
    ray_session, rayline_home, tmp_path, capsys
):
    marker = tmp_path / "runs.txt"

    @step(name="prep", cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"))
    def prep(path):
        with open(path, "a") as f:
            f.write("p")
        return 1

    @step(name="train", cache_config=CacheConfig(enable_caching=True))
    def train(x, path):
        with open(path, "a") as f:
            f.write("t")
        return x + 1

    pipeline = Pipeline("cache-cli", steps=[train(prep(str(marker)), str(marker))])
    first = pipeline.start()
    first.wait()
    second = pipeline.start()
    second.wait()
    assert second.step("prep").cached_from == first.id

    entries = _json(capsys, "cache", "list", "cache-cli")
    assert {(e["step_name"], e["execution_id"], e["hits"]) for e in entries} == {
        ("prep", first.id, 1),
        ("train", first.id, 1),
    }
    assert _json(capsys, "cache", "invalidate", "cache-cli", "prep")["invalidated"] == 1

    third = pipeline.start()
    third.wait()
    assert third.step("prep").cached_from is None  # computed again
    # prep returned the same value, so train's inputs have the same content: still reused.
    assert third.step("train").cached_from == first.id
    assert marker.read_text() == "ptp"
    assert first.result("prep") == 1  # the invalidated run stays in the history
    entries = _json(capsys, "cache", "list", "cache-cli", "prep")
    assert [(e["execution_id"], e["hits"]) for e in entries] == [(third.id, 0)]
