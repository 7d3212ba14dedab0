"""How the registry and serving packages are put together: lazy facades, one Preprocessor,
records built from rows by the store's one mapper."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass

HEAVY = ("sqlalchemy", "alembic", "ray", "rayline.store", "xgboost", "numpy")


def test_the_model_step_and_the_facades_load_no_storage():
    """Defining a pipeline imports ``rayline.registry.steps``; naming the facades' exports must
    not load the metadata store either."""
    code = (
        "import sys\n"
        "import rayline.registry.steps, rayline.registry, rayline.serving\n"
        "print(sorted(rayline.registry.__all__), sorted(rayline.serving.__all__))\n"
        f"heavy = {HEAVY!r}\n"
        "print([m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy)])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_public_records_are_exported():
    import rayline.registry as registry
    import rayline.serving as serving
    from rayline.registry.entities import ModelPackage
    from rayline.serving.entities import Endpoint

    assert registry.ModelPackage is ModelPackage
    assert serving.Endpoint is Endpoint
    assert {"ModelPackageGroup", "ApprovalChange", "InferenceSpec"} <= set(registry.__all__)
    assert {"EndpointEvent", "EndpointStatus", "probe_version"} <= set(serving.__all__)


def test_one_preprocessor_for_training_and_serving(tmp_path):
    from rayline.ml.preprocessor import Preprocessor
    from rayline.serving import predictor

    assert predictor.Preprocessor is Preprocessor
    pre = Preprocessor(columns=("a", "b"), means=(1.0, 2.0), stds=(0.5, 0.0), label="y")
    # What training saves is what the registry and endpoints read back.
    assert Preprocessor.load(pre.save(tmp_path).as_uri()) == pre
    assert Preprocessor.from_dict(pre.to_dict()) == pre


def test_rows_become_records_by_field_name():
    from rayline.store.rows import from_row

    @dataclass(frozen=True)
    class Record:
        name: str
        size: int
        tags: tuple[str, ...] = ()

    class Row:
        _mapping = {"id": 7, "name": "x", "size": 3, "tags_json": ["a"]}

    assert from_row(Record, Row()) == Record("x", 3)
    assert from_row(Record, Row(), tags=("a",)) == Record("x", 3, ("a",))
