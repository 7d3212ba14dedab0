"""Training, evaluation and the preprocessor in one process (no Ray needed for these paths)."""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rayline.errors import NotFoundError, SchemaError
from rayline.ml import Preprocessor, XGBoostTrainer, evaluate_model, regression_metrics
from rayline.ml.training import choose_distributed, train_xgboost


def _housing(n: int, seed: int) -> pa.Table:
    r = np.random.default_rng(seed)
    sf = r.uniform(1000, 4000, n)
    beds = r.integers(1, 6, n)
    year = r.integers(1950, 2020, n)
    noise = r.integers(0, 2, n)
    price = (150 * sf + 10000 * beds - 5000 * (2019 - year)).astype(np.int64)
    return pa.table({"SQUARE_FEET": sf, "NUM_BEDROOMS": beds, "YEAR_BUILT": year,
                     "DECK": noise, "PRICE": price})  # fmt: skip


@pytest.fixture
def data(tmp_path):
    paths = {}
    for name, n, seed in (("train", 3000, 1), ("validation", 1000, 2), ("test", 1000, 3)):
        paths[name] = tmp_path / name
        paths[name].mkdir()
        pq.write_table(_housing(n, seed), paths[name] / "part-00000.parquet")
    return paths


def test_single_process_training_learns_the_formula(data, tmp_path):
    trainer = XGBoostTrainer(label="PRICE", params={"max_depth": 4}, num_boost_round=80)
    result = train_xgboost(
        data["train"], data["validation"], trainer=trainer, output_dir=tmp_path / "m"
    )
    assert not result.distributed and result.num_rows == 3000
    report = evaluate_model(tmp_path / "m", data["test"], label="PRICE", output_dir=tmp_path / "e")
    written = json.loads((tmp_path / "e" / "evaluation.json").read_text())
    assert written == report
    test_prices = pq.read_table(data["test"])["PRICE"].to_numpy()
    constant = float(np.std(test_prices))
    assert report["regression_metrics"]["rmse"]["value"] < constant / 5
    assert report["regression_metrics"]["r2"]["value"] > 0.95


def test_missing_label_and_model_are_clear_errors(data, tmp_path):
    with pytest.raises(SchemaError, match="label column 'COST'"):
        train_xgboost(
            data["train"], None, trainer=XGBoostTrainer(label="COST"), output_dir=tmp_path / "m"
        )
    with pytest.raises(NotFoundError, match="no XGBoost model"):
        evaluate_model(tmp_path, data["test"], label="PRICE")


def test_auto_choice_of_distributed_path(monkeypatch):
    small = XGBoostTrainer(label="y", num_workers=2)
    assert not choose_distributed(small, cells=80_000)
    assert choose_distributed(small, cells=10**9)
    assert not choose_distributed(XGBoostTrainer(label="y", num_workers=1), cells=10**9)
    forced = XGBoostTrainer(label="y", num_workers=2, distributed=True)
    assert choose_distributed(forced, cells=10)
    monkeypatch.setenv("RAYLINE_DISTRIBUTED_MIN_CELLS", "100")
    assert choose_distributed(small, cells=100)


def test_regression_metrics_match_definitions():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.0, 2.0, 3.0, 6.0])
    m = regression_metrics(y, p)
    assert m["mae"]["value"] == pytest.approx(0.5)
    assert m["rmse"]["value"] == pytest.approx(1.0)
    assert m["r2"]["value"] == pytest.approx(1 - 4 / 5)
    assert m["mae"]["standard_deviation"] == pytest.approx(np.std([0, 0, 0, 2]))
    assert m["rmse"]["standard_deviation"] == pytest.approx(np.std([0, 0, 0, -2]))
    assert m["r2"]["standard_deviation"] >= 0


def test_preprocessor_transform_and_schema_checks(tmp_path):
    pre = Preprocessor(columns=("a", "b"), means=(1.0, 10.0), stds=(2.0, 0.0), label="y")
    table = pa.table({"b": [10, 12], "y": [5, 6], "a": [3.0, 1.0]})
    out = pre.transform_arrow(table)
    assert out.column_names == ["a", "b", "y"]
    assert out["a"].to_pylist() == [1.0, 0.0]
    assert out["b"].to_pylist() == [0.0, 2.0]  # std 0: centred, not divided
    assert out["y"].to_pylist() == [5, 6]
    assert Preprocessor.load(pre.save(tmp_path)) == pre
    with pytest.raises(SchemaError, match="2 features"):
        pre.transform_rows([[1.0, 2.0, 3.0]])
    with pytest.raises(SchemaError, match="lacks feature"):
        pre.transform_arrow(pa.table({"a": [1.0]}))
    assert math.isclose(pre.transform_rows([{"a": 5, "b": 10}])[0][0], 2.0)
