"""``rayline.featurestore`` exports its API lazily: the metadata table loads without DuckDB or
Arrow, and every exported name is the function or class, whatever was imported first."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import subprocess
import sys

import rayline.featurestore as fs


def test_the_table_module_loads_without_the_query_engine():
    code = (
        "import json, sys\n"
        "import rayline.featurestore._tables, rayline.featurestore.online\n"
        "print(json.dumps([m for m in ('duckdb', 'pyarrow', 'pandas') if m in sys.modules]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == []


def test_exports_are_the_api_not_submodules():
    for info in pkgutil.iter_modules(fs.__path__):
        if not info.name.startswith("_"):  # the private ones include the Ray ingestion actors
            importlib.import_module(f"{fs.__name__}.{info.name}")
    for name in fs.__all__:
        value = getattr(fs, name)
        assert not inspect.ismodule(value), name
        assert value.__doc__, f"{name} has no docstring"
