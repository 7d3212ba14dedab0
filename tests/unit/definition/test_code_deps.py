"""A function step's cache key follows the user code it depends on (``definition.code_deps``):
a helper two calls deep counts, an unrelated function in the same module does not, library
code is not followed, and ``dependencies=`` adds what the code does not name."""

from __future__ import annotations

import importlib
import sys
import uuid

import pytest

from rayline import step
from rayline.definition.code_deps import dependency_source
from rayline.errors import PipelineDefinitionError

HELPERS = """
import json

SCALE = {scale}


def inner(x):
    return x + {inner_delta}


def outer(x):
    return json.dumps(inner(x) * SCALE)


def unrelated():
    return {unrelated}
"""

STEPS = """
import {helpers} as helpers


def train(x):
    return helpers.outer(x)


def train_direct(x):
    from {helpers} import outer

    return outer(x)
"""


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """Write a helpers module and a steps module using it; ``modules(**values)`` (re)writes the
    helpers and returns the freshly imported steps module."""
    tag = uuid.uuid4().hex[:8]
    helpers, steps_name = f"helpers_{tag}", f"steps_{tag}"
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / f"{steps_name}.py").write_text(STEPS.format(helpers=helpers))

    def write(*, inner_delta=1, unrelated=0, scale=2):
        (tmp_path / f"{helpers}.py").write_text(
            HELPERS.format(inner_delta=inner_delta, unrelated=unrelated, scale=scale)
        )
        importlib.invalidate_caches()
        for name in (helpers, steps_name):
            sys.modules.pop(name, None)
        return importlib.import_module(steps_name)

    yield write
    for name in (helpers, steps_name):
        sys.modules.pop(name, None)


def cache_hash(func, **options) -> str:
    return step(**options)(func)(1).function_ref.cache_identity


def test_a_helper_two_calls_deep_is_part_of_the_cache_key(modules):
    before = cache_hash(modules().train)
    assert cache_hash(modules().train) == before  # stable
    assert cache_hash(modules(inner_delta=5).train) != before


def test_an_unrelated_function_in_the_same_module_is_not(modules):
    assert cache_hash(modules(unrelated=0).train) == cache_hash(modules(unrelated=7).train)


def test_a_module_constant_the_code_reads_counts(modules):
    assert cache_hash(modules(scale=2).train) != cache_hash(modules(scale=3).train)


def test_a_helper_imported_inside_the_function_counts(modules):
    before = cache_hash(modules().train_direct)
    assert cache_hash(modules(inner_delta=9).train_direct) != before


def test_library_code_is_not_followed(modules):
    source = dependency_source(modules().train)
    assert "def inner" in source and "def outer" in source
    assert "def dumps" not in source  # json is the standard library's
    assert "def unrelated" not in source


def test_explicit_dependencies_count(modules, tmp_path):
    data = tmp_path / "lookup.csv"
    data.write_text("a,1\n")
    train = modules().train
    before = cache_hash(train, dependencies=(data,))
    data.write_text("a,2\n")
    assert cache_hash(train, dependencies=(data,)) != before
    with pytest.raises(PipelineDefinitionError, match="does not exist"):
        cache_hash(train, dependencies=(tmp_path / "missing.csv",))
    with pytest.raises(PipelineDefinitionError, match="takes functions, classes, modules"):
        cache_hash(train, dependencies=(42,))


def test_a_step_defined_here_still_keys_on_its_own_source():
    def local(x):
        return x * 2

    def other(x):
        return x * 3

    assert cache_hash(local) != cache_hash(other)
    assert "return x * 2" in dependency_source(local)
