"""The in-process tuning path: small inputs with Random, Bayesian or Grid run their trials in
threads of the tuning process (Optuna ask/tell), with Ray Tune's result shape, model layout and
``on_trial`` rows; Hyperband, distributed trials and ``RAYLINE_TUNE_IN_PROCESS_MAX_CELLS=0``
keep Ray Tune."""

from __future__ import annotations

import threading

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

RANGES = {
    "max_depth": IntegerParameter(1, 8),
    "eta": ContinuousParameter(0.2, 1),
    "min_child_weight": ContinuousParameter(0, 120),
    "subsample": ContinuousParameter(0.2, 1, scaling_type="Logarithmic"),
}


def _tune(splits, models_dir, strategy, **kw):
    return tune_xgboost(
        splits["train"],
        splits["validation"],
        trainer=XGBoostTrainer(label="PRICE", num_boost_round=kw.pop("rounds", 20)),
        hyperparameter_ranges=kw.pop("ranges", RANGES),
        strategy=strategy,
        max_jobs=kw.pop("max_jobs", 12),
        max_parallel_jobs=2,
        models_dir=models_dir,
        **kw,
    )


def test_bayesian_runs_in_process_with_ray_tunes_result_shape(splits, tmp_path):
    seen: list[tuple[dict, str]] = []
    result = _tune(
        splits,
        tmp_path / "models",
        "Bayesian",
        on_trial=lambda row: seen.append((dict(row), threading.current_thread().name)),
    )
    assert result.path == "in-process" and "cells <" in result.path_reason
    assert not result.distributed and result.max_concurrent_trials == 2
    df = result.results
    assert len(df) == 12 and set(df["status"]) == {"Completed"}
    for name, param in RANGES.items():
        assert all(param.contains(v) for v in df[name]), name
    assert df["max_depth"].map(float).map(float.is_integer).all()
    assert df["eta"].nunique() == 12
    assert df["trial"].is_unique
    assert list(df["rank"]) == list(range(12))
    assert result.best_trial["objective"] == df["objective"].min()
    assert result.best_trial["trial"] == df.iloc[0]["trial"]
    assert (df["started_at"] <= df["ended_at"]).all()
    # models_dir/<trial id>/model.ubj, as on Ray Tune.
    for trial, uri in zip(df["trial"], df["model_uri"], strict=True):
        assert to_path(uri) == (tmp_path / "models" / trial).resolve()
    booster = xgb.Booster(model_file=str(to_path(result.get_top_model_uri(0)) / "model.ubj"))
    assert booster.num_boosted_rounds() == 20
    assert len(result.top_model_uris) == 12
    # Every trial reached on_trial once, in the tuning thread, with its final row (no rank).
    assert sorted(r["trial"] for r, _ in seen) == sorted(df["trial"])
    assert {thread for _, thread in seen} == {threading.current_thread().name}
    final = df.set_index("trial")
    for row, _ in seen:
        assert "rank" not in row
        assert row["objective"] == final.loc[row["trial"], "objective"]
        assert set(row) == set(df.columns) - {"rank"}
    written = write_results(result, tmp_path / "results")
    assert (written / "results.parquet").is_file()


def test_on_trial_is_called_as_each_trial_ends(splits, tmp_path):
    ended_when_seen: list[int] = []
    models = tmp_path / "models"

    def on_trial(row):
        # The trials that have a model on disk when this one is reported.
        ended_when_seen.append(sum(1 for p in models.iterdir() if (p / "model.ubj").is_file()))

    _tune(splits, models, "Random", max_jobs=6, on_trial=on_trial)
    assert len(ended_when_seen) == 6
    # Reported while other trials were still to run, not all at the end.
    assert ended_when_seen[0] < 6


def test_seeded_bayesian_is_reproducible(splits, tmp_path):
    a = _tune(splits, tmp_path / "a", "Bayesian", seed=7, rounds=5)
    b = _tune(splits, tmp_path / "b", "Bayesian", seed=7, rounds=5)
    c = _tune(splits, tmp_path / "c", "Bayesian", seed=8, rounds=5)
    names = list(RANGES)

    def proposals(result):
        # Trial ids end in the trial's index: the proposals in the order they were asked.
        df = result.results.assign(index=result.results["trial"].str.rsplit("_", n=1).str[1])
        return df.sort_values("index")[names].to_dict("records")

    assert proposals(a) == proposals(b)
    assert proposals(a) != proposals(c)


def test_grid_runs_in_process(splits, tmp_path):
    ranges = {
        "max_depth": CategoricalParameter([2, 6]),
        "eta": ContinuousParameter(0.1, 0.9, scaling_type="Logarithmic"),
    }
    result = _tune(
        splits,
        tmp_path / "models",
        "Grid",
        ranges=ranges,
        max_jobs=6,
        objective_metric="validation:rmse",
        objective_type="Maximize",
    )
    assert result.path == "in-process"
    df = result.results
    assert len(df) == 6 and sorted(set(df["max_depth"])) == [2, 6]
    assert df["eta"].min() == pytest.approx(0.1) and df["eta"].max() == pytest.approx(0.9)
    assert result.best_trial["objective"] == df["objective"].max()


def test_a_failing_trial_is_a_failed_row(splits, tmp_path):
    # max_depth must be >= 0 for XGBoost: the negative half of the range fails.
    result = _tune(
        splits,
        tmp_path / "models",
        "Random",
        ranges={"max_depth": IntegerParameter(-3, 3)},
        max_jobs=8,
        seed=1,
    )
    df = result.results
    failed = df[df["status"] == "Failed"]
    assert len(failed) >= 1 and failed["model_uri"].isna().all()
    assert failed["error"].str.contains("failed").all()
    assert (df[df["status"] == "Completed"]["max_depth"] >= 0).all()


def test_threshold_zero_forces_ray_tune(splits, tmp_path, monkeypatch):
    monkeypatch.setenv("RAYLINE_TUNE_IN_PROCESS_MAX_CELLS", "0")
    result = _tune(splits, tmp_path / "models", "Random", max_jobs=2, rounds=5)
    assert result.path == "ray-tune"
    assert "RAYLINE_TUNE_IN_PROCESS_MAX_CELLS" in result.path_reason
    assert len(result.results) == 2 and set(result.results["status"]) == {"Completed"}


def test_hyperband_stays_on_ray_tune(splits, tmp_path):
    result = _tune(splits, tmp_path / "models", "Hyperband", max_jobs=3, rounds=10)
    assert result.path == "ray-tune" and "Hyperband" in result.path_reason
