"""The housing data generator: the reference formula, the reference ranges, determinism."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd

HOUSING_CSV = (
    Path(__file__).resolve().parents[3] / "examples" / "housing" / "data" / "house_pricing.csv"
)

ROOT = Path(__file__).resolve().parents[3]


def _generator():
    spec = importlib.util.spec_from_file_location(
        "housing_generate_data", ROOT / "examples/housing/generate_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_formula_matches_the_reference_csv():
    gen = _generator()
    ref = pd.read_csv(HOUSING_CSV)
    assert (gen.price(ref) == ref["PRICE"].to_numpy()).all()


def test_generated_data_follows_the_reference():
    gen = _generator()
    df = gen.generate(20_000, seed=3)
    ref = pd.read_csv(HOUSING_CSV)
    assert list(df.columns) == list(ref.columns)
    assert (df.dtypes == ref.dtypes).all()
    assert (df["PRICE"].to_numpy() == gen.price(df)).all()
    for col in ("NUM_BEDROOMS", "NUM_BATHROOMS", "GARAGE_SPACES", "FRONT_PORCH", "DECK"):
        assert set(df[col].unique()) == set(ref[col].unique()), col
    assert df["YEAR_BUILT"].max() == 2019
    for col in ("YEAR_BUILT", "SQUARE_FEET", "LOT_ACRES", "PRICE"):
        assert abs(df[col].mean() - ref[col].mean()) < 0.05 * ref[col].std(), col
        assert abs(df[col].std() / ref[col].std() - 1) < 0.05, col


def test_deterministic_per_seed():
    gen = _generator()
    pd.testing.assert_frame_equal(gen.generate(100, seed=7), gen.generate(100, seed=7))
    assert not np.array_equal(
        gen.generate(100, seed=7)["PRICE"], gen.generate(100, seed=8)["PRICE"]
    )
