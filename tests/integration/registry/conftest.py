"""A tiny XGBoost model on 300 housing rows, with its preprocessor and evaluation report."""

from __future__ import annotations

import json

import pytest

DATA = "/work/shared/data/house_pricing.csv"


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
