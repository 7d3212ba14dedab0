"""Unit tests need no Ray: a unit test that imports Ray (directly or through rayline) fails.

The root conftest runs tests/unit first, so in a full ``pytest tests`` run Ray is not loaded yet
when they run, and the check below sees every import a unit test causes.
"""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(autouse=True)
def _no_ray(request):
    loaded_before = "ray" in sys.modules
    yield
    if not loaded_before and "ray" in sys.modules:
        pytest.fail(
            f"{request.node.nodeid} imported Ray; unit tests must run without it. Import the "
            "Ray-free module it tests, or move the test to tests/integration.",
            pytrace=False,
        )
