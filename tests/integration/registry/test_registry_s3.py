"""The registry and the predictor with an ``s3://`` artifact store (the local S3 server): a
version registered from files in the bucket is copied into ``registry/GROUP/VERSION`` there, and
a predictor loads it straight from the bucket."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rayline.errors import UserInputError
from rayline.registry import ModelRegistry
from rayline.serving.predictor import Predictor
from rayline.store.artifacts import open_artifact_store


@pytest.fixture
def stored_model(s3_artifacts, tiny_model):
    """The tiny model's directory uploaded as if it were a step's outputs in the bucket."""
    store = open_artifact_store()
    uri = store.uri_for("executions", "e1", "Train", "attempt-1", "output")
    store.upload(tiny_model, uri)
    return uri


def test_register_from_s3_outputs_and_serve_from_the_bucket(stored_model, tiny_model):
    store = open_artifact_store()
    registry = ModelRegistry()
    package = registry.register(
        "housing",
        model=stored_model,  # a directory: the model file is found inside it
        preprocessor=f"{stored_model}/preprocessor.json",
        metrics=f"{stored_model}/evaluation",
    )
    assert package.sources == {
        "model": f"{stored_model}/model.ubj",
        "preprocessor": f"{stored_model}/preprocessor.json",
        "metrics": f"{stored_model}/evaluation/evaluation.json",
    }
    prefix = store.uri_for("registry", "housing", "1")
    assert package.model_uri == f"{prefix}/model.ubj"
    assert store.get_bytes(package.model_uri) == (tiny_model / "model.ubj").read_bytes()
    assert store.exists(package.preprocessor_uri) and store.exists(package.metrics_uri)
    report = json.loads((tiny_model / "evaluation" / "evaluation.json").read_text())
    assert package.metric("rmse") == pytest.approx(report["regression_metrics"]["rmse"]["value"])
    assert package.inference_spec.input_columns[0] == "YEAR_BUILT"

    predictor = Predictor.load(package.model_uri, package.preprocessor_uri)
    local = Predictor.load(str(tiny_model / "model.ubj"), str(tiny_model / "preprocessor.json"))
    rows = np.array([[2008, 3063.66, 2, 1.0, 1.37, 2, 0, 0]], dtype=float)
    assert predictor.predict(rows) == pytest.approx(local.predict(rows))

    registry.delete_version("housing", 1)
    assert not store.list_files(prefix)


def test_missing_s3_model_is_a_clear_error(s3_artifacts):
    store = open_artifact_store()
    with pytest.raises(UserInputError, match="does not exist"):
        ModelRegistry().register("housing", model=store.uri_for("no", "model"))
