"""Cache entries without Ray: the runs a cache lookup may still match, listed per step and key
inside each step's window with their hits, and invalidated (recorded, history kept), through the
Python API and ``rayline cache list|invalidate``."""

from __future__ import annotations

import json
import time

import pytest

from rayline import CacheConfig, Pipeline, step
from rayline.cli.main import main
from rayline.engine.records import StepStatus
from rayline.engine.repository import open_repository
from rayline.errors import NotFoundError
from rayline.pipelines import cache_entries, invalidate_cache

HOUR = 3600.0


@pytest.fixture
def pipeline(rayline_home):
    @step(name="prep", cache_config=CacheConfig(enable_caching=True, expire_after="PT1H"))
    def prep():
        return 1

    @step(name="train", cache_config=CacheConfig(enable_caching=True))  # never expires
    def train(x):
        return x

    @step(name="report")  # does not cache
    def report(x):
        return x

    pipeline = Pipeline("cached", steps=[report(train(prep()))])
    pipeline.upsert()
    return pipeline


def _run(execution_id, step_name, *, key=None, ended_at, cached_from=None, status=None):
    """Record a finished step run as the scheduler would."""
    repo = open_repository()
    if repo.find_execution(execution_id) is None:
        repo.create_execution(execution_id, "cached", 1, {}, max_parallel_steps=None)
    repo.record_step(
        execution_id,
        step_name,
        status or StepStatus.SUCCEEDED,
        create={"pipeline_name": "cached", "step_type": "Function"},
        cache_key=key,
        cached_from=cached_from,
        ended_at=ended_at,
        outputs={"Return": f"file:///runs/{execution_id}/{step_name}"},
    )


@pytest.fixture
def history(pipeline):
    now = time.time()
    _run("e-old", "prep", key="k1" * 32, ended_at=now - 2 * HOUR)  # outside prep's window
    _run("e-new", "prep", key="k1" * 32, ended_at=now - 60)  # the latest computing run of k1
    _run("e-new", "train", key="t1" * 32, ended_at=now - 100 * HOUR)  # no window
    _run("e-new", "report", ended_at=now - 50)  # a step that does not cache
    _run("e-hit", "prep", key="k1" * 32, ended_at=now - 30, cached_from="e-new")
    _run("e-hit", "train", key="t1" * 32, ended_at=now - 30, cached_from="e-new")
    _run("e-hit2", "prep", key="k1" * 32, ended_at=now - 20, cached_from="e-new")
    _run("e-fail", "prep", key="k2" * 32, ended_at=now - 10, status=StepStatus.FAILED)
    return now


def test_entries_are_the_computing_runs_inside_each_steps_window(pipeline, history):
    entries = {e.step_name: e for e in pipeline.cache_entries()}
    assert set(entries) == {"prep", "train"}
    prep, train = entries["prep"], entries["train"]
    # The latest run that computed k1, not the expired one, nor the hits, nor the failed run.
    assert (prep.execution_id, prep.cache_key, prep.hits) == ("e-new", "k1" * 32, 2)
    assert prep.expires_at == pytest.approx(prep.computed_at + HOUR)
    assert prep.computed_at == pytest.approx(history - 60)
    assert (train.execution_id, train.hits, train.expires_at) == ("e-new", 1, None)
    assert [e.step_name for e in pipeline.cache_entries("train")] == ["train"]
    assert pipeline.cache_entries("report") == []
    assert cache_entries("cached") == pipeline.cache_entries()


def test_invalidate_drops_entries_and_the_lookup_skips_them(pipeline, history):
    repo = open_repository()
    dropped = invalidate_cache("cached", "prep")
    assert [(e.step_name, e.execution_id) for e in dropped] == [("prep", "e-new")]
    # No run of prep matches any more, not even the expired one under a wider window...
    assert repo.find_cached("cached", "prep", "k1" * 32, not_before=None) is None
    # ...train's entry is untouched...
    assert repo.find_cached("cached", "train", "t1" * 32, not_before=None).execution_id == "e-new"
    assert [e.step_name for e in pipeline.cache_entries()] == ["train"]
    # ...and the history stays: the run that computed is still there, as it was.
    run = repo.get_step_run("e-new", "prep")
    assert run.status == StepStatus.SUCCEEDED and run.outputs and run.cache_key == "k1" * 32

    assert [e.step_name for e in pipeline.invalidate_cache()] == ["train"]
    assert repo.find_cached("cached", "train", "t1" * 32, not_before=None) is None
    assert pipeline.invalidate_cache() == []


def test_a_run_computed_after_the_invalidation_is_an_entry(pipeline, history):
    invalidate_cache("cached")
    _run("e-later", "prep", key="k1" * 32, ended_at=time.time() + 1)
    assert [e.execution_id for e in cache_entries("cached")] == ["e-later"]


def test_unknown_pipeline_or_step_is_named_with_what_exists(pipeline):
    with pytest.raises(NotFoundError, match=r"'nope' does not exist; stored pipelines: cached"):
        cache_entries("nope")
    with pytest.raises(NotFoundError, match=r"no step 'nope'; its steps: .*prep.*train"):
        invalidate_cache("cached", "nope")
    with pytest.raises(NotFoundError, match="'never-stored' does not exist"):
        Pipeline("never-stored", steps=list(pipeline.graph.steps.values())).cache_entries()


def test_cli_lists_and_invalidates(history, capsys):
    assert main(["cache", "list", "cached"]) == 0
    out = capsys.readouterr().out
    assert "Cache entries of cached" in out
    assert "k1k1k1k1k1k1" in out and "k1" * 7 not in out  # a prefix of the key
    assert "never" in out  # train's entry does not expire
    assert "e-new" in out and "report" not in out

    assert main(["cache", "list", "cached", "prep", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert entry["step_name"] == "prep" and entry["cache_key"] == "k1" * 32
    assert entry["hits"] == 2 and entry["expires_at"] > entry["computed_at"]

    assert main(["cache", "invalidate", "cached", "prep", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["invalidated"], result["step"]) == (1, "prep")
    assert main(["cache", "invalidate", "cached"]) == 0
    assert "invalidated 1 cache entry of cached" in capsys.readouterr().out
    assert main(["cache", "list", "cached"]) == 0
    assert "no cache entries for cached" in capsys.readouterr().out


def test_cli_unknown_pipeline_or_step_fails_naming_it(pipeline, capsys):
    assert main(["cache", "list", "nope"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "'nope' does not exist" in err and "stored pipelines: cached" in err
    assert main(["cache", "invalidate", "cached", "nope"]) == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "no step 'nope'" in err and "prep" in err and "train" in err
