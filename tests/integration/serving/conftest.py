"""Two tiny XGBoost model versions on 300 housing rows, and Serve on a free port."""

from __future__ import annotations

import json
import os

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
def tiny_models(tmp_path_factory):
    """Two different models (different rows and rounds) with the same schema."""
    return (
        train_tiny_model(tmp_path_factory.mktemp("tiny-v1"), seed=0),
        train_tiny_model(tmp_path_factory.mktemp("tiny-v2"), seed=1, rounds=5),
    )


def free_port_block() -> int:
    """A port P with P, P+404 and P+1101 free (Serve's frontend, HAProxy stats and metrics)."""
    import socket

    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > 60000:
            continue
        try:
            for p in (port, port + 404, port + 1101):
                with socket.socket() as s:
                    s.bind(("0.0.0.0", p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port block")


@pytest.fixture(scope="session")
def serve_port(ray_session):
    """Serve's port for this test session (Serve is started once, by the first endpoint)."""
    port = int(os.environ.setdefault("RAYLINE_SERVE_PORT", str(free_port_block())))
    yield port
