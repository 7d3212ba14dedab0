"""Fixtures shared by the integration tests: tiny XGBoost models on housing rows, each with its
preprocessor and evaluation report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parents[2] / "examples" / "housing" / "data" / "house_pricing.csv"


def train_tiny_model(out, *, rows: int = 300, rounds: int = 20, seed: int = 0):
    """Write model.ubj, preprocessor.json and evaluation/evaluation.json under ``out``."""
    import numpy as np
    import pandas as pd
    import xgboost as xgb

    df = pd.read_csv(DATA).sample(n=rows, random_state=seed)
    columns = [c for c in df.columns if c != "PRICE"]
    x = df[columns].to_numpy(float)
    y = df["PRICE"].to_numpy(float)
    means, stds = x.mean(0), x.std(0)
    stds[stds == 0] = 1.0
    booster = xgb.train(
        {"objective": "reg:squarederror", "max_depth": 3, "seed": seed},
        xgb.DMatrix((x - means) / stds, label=y),
        rounds,
    )
    out.mkdir(parents=True, exist_ok=True)
    booster.save_model(str(out / "model.ubj"))
    (out / "preprocessor.json").write_text(
        json.dumps(
            {"columns": columns, "means": means.tolist(), "stds": stds.tolist(), "label": "PRICE"}
        )
    )
    err = booster.inplace_predict((x - means) / stds) - y
    (out / "evaluation").mkdir(exist_ok=True)
    (out / "evaluation" / "evaluation.json").write_text(
        json.dumps(
            {
                "regression_metrics": {
                    "mae": {
                        "value": float(np.abs(err).mean()),
                        "standard_deviation": float(np.abs(err).std()),
                    },
                    "rmse": {"value": float(np.sqrt((err**2).mean())), "standard_deviation": 0.0},
                }
            }
        )
    )
    return out


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    return train_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory):
    """Two different models (different rows and rounds) with the same schema."""
    return (
        train_tiny_model(tmp_path_factory.mktemp("tiny-v1"), seed=0),
        train_tiny_model(tmp_path_factory.mktemp("tiny-v2"), seed=1, rounds=5),
    )
