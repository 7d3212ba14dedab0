"""Ray Tune over XGBoost: every strategy explores the declared space; the best trial is the
results table's best; top-k models are ranked and on disk; Hyperband stops trials early.

The data here is small enough for the in-process path (test_tuning_fast.py): these tests set
RAYLINE_TUNE_IN_PROCESS_MAX_CELLS=0 so that the Ray Tune path stays tested."""

from __future__ import annotations

import pytest
import xgboost as xgb

from rayline.ml import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    XGBoostTrainer,
    tune_xgboost,
)
from rayline.ml.tuning import write_results
from rayline.store.artifacts import to_path

pytestmark = pytest.mark.ray


@pytest.fixture(autouse=True)
def _force_ray_tune(monkeypatch):
    monkeypatch.setenv("RAYLINE_TUNE_IN_PROCESS_MAX_CELLS", "0")


RANGES = {
    "max_depth": IntegerParameter(1, 8),
    "eta": ContinuousParameter(0.2, 1),
    "min_child_weight": ContinuousParameter(0, 120),
    "subsample": ContinuousParameter(0.2, 1),
}


def _tune(splits, tmp_path, strategy, **kw):
    return tune_xgboost(
        splits["train"],
        splits["validation"],
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=kw.pop("rounds", 30)),
        hyperparameter_ranges=kw.pop("ranges", RANGES),
        strategy=strategy,
        max_jobs=kw.pop("max_jobs", 6),
        max_parallel_jobs=2,
        models_dir=tmp_path / strategy / "models",
        **kw,
    )


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_trials_explore_the_declared_space(splits, tmp_path, strategy):
    ended: list[dict] = []
    result = _tune(splits, tmp_path, strategy, on_trial=ended.append)
    assert result.path == "ray-tune" and "RAYLINE_TUNE_IN_PROCESS_MAX_CELLS" in result.path_reason
    df = result.results
    assert len(df) == 6 and set(df["status"]) == {"Completed"}
    # Each trial was reported once, as it ended, from Tune's callback.
    assert sorted(r["trial"] for r in ended) == sorted(df["trial"])
    for name, param in RANGES.items():
        assert all(param.contains(v) for v in df[name]), name
    assert df["max_depth"].map(float).map(float.is_integer).all()
    # Sampled, not constant: the trials differ.
    assert df["eta"].nunique() == 6
    # The best trial is the results table's minimum, and models are ranked best first.
    assert result.best_trial["objective"] == df["objective"].min()
    assert list(df["rank"]) == list(range(6))
    assert result.get_top_model_uri(0) == df.loc[df["objective"].idxmin(), "model_uri"]
    booster = xgb.Booster(model_file=str(to_path(result.get_top_model_uri(0)) / "model.ubj"))
    assert booster.num_boosted_rounds() == 30
    assert len(result.top_model_uris) == 6
    with pytest.raises(ValueError, match="out of range"):
        result.get_top_model_uri(6)
    written = write_results(result, tmp_path / "results")
    assert (written / "results.parquet").is_file() and (written / "results.csv").is_file()


def test_hyperband_stops_poor_trials_early(splits, tmp_path):
    result = _tune(splits, tmp_path, "Hyperband", max_jobs=8, rounds=30)
    df = result.results
    assert len(df) == 8
    stopped = df[df["status"] == "Stopped"]
    assert len(stopped) >= 1
    assert (stopped["boost_rounds"] < 30).all()
    assert stopped["model_uri"].isna().all()
    completed = df[df["status"] == "Completed"]
    assert result.best_trial["objective"] == completed["objective"].min()


def test_grid_covers_categorical_values_and_maximize(splits, tmp_path):
    ranges = {
        "max_depth": CategoricalParameter([2, 6]),
        "eta": ContinuousParameter(0.1, 0.9, scaling_type="Logarithmic"),
    }
    result = _tune(
        splits,
        tmp_path,
        "Grid",
        ranges=ranges,
        max_jobs=6,
        objective_metric="validation:rmse",
        objective_type="Maximize",
    )
    assert result.path == "ray-tune"
    df = result.results
    assert sorted(set(df["max_depth"])) == [2, 6]
    assert df["eta"].min() == pytest.approx(0.1) and df["eta"].max() == pytest.approx(0.9)
    assert len(df) == 6
    assert result.best_trial["objective"] == df["objective"].max()


def test_distributed_trials_run_on_ray_train(splits, tmp_path):
    trainer = XGBoostTrainer(label="PRICE", num_boost_round=10, num_workers=2, distributed=True)
    result = tune_xgboost(
        splits["train"],
        splits["validation"],
        trainer=trainer,
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 6)},
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
        models_dir=tmp_path / "models",
        work_dir=tmp_path / "work",
    )
    assert result.distributed and result.num_workers == 2
    assert result.reason.startswith("distributed=True")
    # Two 2-worker trials need 4.1 CPUs; the session's local Ray has 4: one at a time.
    assert result.max_concurrent_trials == 1
    df = result.results
    assert len(df) == 2 and set(df["status"]) == {"Completed"}
    booster = xgb.Booster(model_file=str(to_path(result.get_top_model_uri(0)) / "model.ubj"))
    assert booster.num_boosted_rounds() == 10
    # Each trial's Ray Train run kept its state in the trial's own folder.
    assert sorted(p.name for p in (tmp_path / "work" / "ray-train").iterdir()) == sorted(
        df["trial"]
    )


def test_default_trials_run_in_one_process(splits, tmp_path):
    trainer = XGBoostTrainer(label="PRICE", num_boost_round=10, num_workers=2)
    result = tune_xgboost(
        splits["train"],
        splits["validation"],
        trainer=trainer,
        hyperparameter_ranges={"max_depth": IntegerParameter(2, 6)},
        strategy="Random",
        max_jobs=2,
        models_dir=tmp_path / "models",
    )
    assert not result.distributed and result.num_workers == 1
    assert "cells <" in result.reason and result.max_concurrent_trials == 2
