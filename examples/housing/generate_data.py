"""Generate synthetic housing data shaped like the reference workflow's CSV.

Columns and ranges follow ``house_pricing.csv`` (10,000 rows): YEAR_BUILT ~ N(1994.5, 10)
capped at 2019; SQUARE_FEET ~ N(3000, 750), at least 100; NUM_BEDROOMS 2-6; NUM_BATHROOMS
1-3 in halves; LOT_ACRES ~ N(1, 0.25) to two decimals, at least 0.05; GARAGE_SPACES 0-3;
FRONT_PORCH and DECK 0/1. PRICE follows the reference formula exactly (FRONT_PORCH and DECK
have no effect)::

    PRICE = int(150*SQUARE_FEET + 10000*NUM_BEDROOMS + 15000*NUM_BATHROOMS
                + 15000*LOT_ACRES + 15000*GARAGE_SPACES - 5000*(2019 - YEAR_BUILT))

Usage: ``python generate_data.py --rows 1000000 --seed 0 --out houses.csv`` (``.parquet`` too).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import pandas as pd

COLUMNS = (
    "YEAR_BUILT",
    "SQUARE_FEET",
    "NUM_BEDROOMS",
    "NUM_BATHROOMS",
    "LOT_ACRES",
    "GARAGE_SPACES",
    "FRONT_PORCH",
    "DECK",
    "PRICE",
)


def price(df: pd.DataFrame) -> np.ndarray:
    """The reference workflow's PRICE formula."""
    raw = (
        150 * df["SQUARE_FEET"]
        + 10000 * df["NUM_BEDROOMS"]
        + 15000 * df["NUM_BATHROOMS"]
        + 15000 * df["LOT_ACRES"]
        + 15000 * df["GARAGE_SPACES"]
        - 5000 * (2019 - df["YEAR_BUILT"])
    )
    return raw.astype(np.int64).to_numpy()  # int() truncates toward zero, as astype does


def generate(rows: int, *, seed: int = 0) -> pd.DataFrame:
    """``rows`` houses, deterministic for a given ``seed``."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "YEAR_BUILT": np.minimum(np.rint(rng.normal(1994.5, 10, rows)), 2019).astype(np.int64),
            "SQUARE_FEET": np.maximum(rng.normal(3000, 750, rows), 100.0),
            "NUM_BEDROOMS": rng.integers(2, 7, rows),
            "NUM_BATHROOMS": rng.integers(2, 7, rows) / 2.0,
            "LOT_ACRES": np.maximum(np.round(rng.normal(1.0, 0.25, rows), 2), 0.05),
            "GARAGE_SPACES": rng.integers(0, 4, rows),
            "FRONT_PORCH": rng.integers(0, 2, rows),
            "DECK": rng.integers(0, 2, rows),
        }
    )
    df["PRICE"] = price(df)
    return df[list(COLUMNS)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate synthetic housing data.")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="a .csv or .parquet path")
    args = parser.parse_args(argv)
    df = generate(args.rows, seed=args.seed)
    if args.out.endswith(".parquet"):
        df.to_parquet(args.out, index=False)
    else:
        df.to_csv(args.out, index=False)
    print(f"wrote {len(df)} rows to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
