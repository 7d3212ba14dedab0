"""Defining a pipeline loads nothing but the definition layer.

``make lint`` checks the layers with import-linter (``.importlinter``), but import-linter only
sees the imports a module names: a module loaded implicitly through a parent package's
``__init__`` escapes it (import-linter#203). These tests define real pipelines in a fresh
interpreter and look at what actually got loaded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What merely defining a pipeline must never load: Ray, the storage layer, the query engine, the
# tracking server's client, the ML libraries.
HEAVY = ("ray", "sqlalchemy", "alembic", "duckdb", "mlflow", "xgboost", "rayline.store")


def _loaded_after(code: str) -> list[str]:
    report = (
        "\nimport json, sys\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules"
        " if any(m == h or m.startswith(h + '.') for h in heavy))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code + report], capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_defining_the_reference_pipeline_loads_no_engine_or_storage():
    loaded = _loaded_after(
        "import importlib.util, json\n"
        "spec = importlib.util.spec_from_file_location("
        "'housing_pipeline', 'examples/housing/pipeline.py')\n"
        "module = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(module)\n"
        "pipeline = module.get_pipeline()\n"
        "definition = pipeline.definition()\n"
        "assert json.loads(definition)['Steps'], definition\n"
        "type(pipeline).from_definition(definition)\n"
    )
    assert loaded == [], f"defining the reference pipeline loaded {loaded}"


def test_a_function_step_pipeline_round_trips_without_the_engine():
    loaded = _loaded_after(
        "from rayline import ParameterFloat, Pipeline, step\n"
        "@step\n"
        "def f(x):\n    return x\n"
        "p = Pipeline('p', parameters=[ParameterFloat('T', default_value=1.0)], steps=[f(1)])\n"
        "Pipeline.from_definition(p.definition())\n"
    )
    assert loaded == [], f"defining a function-step pipeline loaded {loaded}"


@pytest.mark.parametrize(
    "module", ["rayline", "rayline.steps", "rayline.conditions", "rayline.functions", "rayline.ml"]
)
def test_public_facades_import_light(module):
    loaded = _loaded_after(f"import {module}\n")
    assert loaded == [], f"import {module} loaded {loaded}"
