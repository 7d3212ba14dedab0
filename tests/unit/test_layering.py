"""The DSL is pure data: ``rayline.definition`` never imports Ray, storage or the engine."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import rayline

PACKAGE = Path(rayline.__file__).parent
FORBIDDEN = (
    "ray",
    "sqlalchemy",
    "alembic",
    "rayline.store",
    "rayline.engine",
    "rayline.ray_connection",
    "mlflow",
    "xgboost",
)


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_pipeline_package_imports_nothing_heavy_anywhere():
    files = sorted((PACKAGE / "definition").rglob("*.py"))
    assert files, "rayline.definition has no modules"
    offenders = {
        f"{f.relative_to(PACKAGE)}: {name}"
        for f in files
        for name in _imports(f)
        if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)
    }
    assert not offenders, f"rayline.definition must stay pure data: {sorted(offenders)}"


def test_step_kind_table_is_pure():
    assert not {
        n
        for n in _imports(PACKAGE / "step_kinds.py")
        if any(n == b or n.startswith(b + ".") for b in FORBIDDEN)
    }


def test_importing_and_using_the_dsl_loads_no_ray():
    code = (
        "import sys\n"
        "from rayline.definition import ParameterFloat, PipelineDefinition\n"
        "from rayline.definition.steps import step\n"
        "@step\n"
        "def f(x):\n    return x\n"
        "p = PipelineDefinition('p', parameters=[ParameterFloat('T', default_value=1.0)],"
        " steps=[f(1)])\n"
        "PipelineDefinition.from_definition(p.definition())\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('ray', 'sqlalchemy', 'mlflow')]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
