"""Housing data laid out like a feature group's offline store (hive partitions, store columns)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

HOUSING_CSV = (
    Path(__file__).resolve().parents[3] / "examples" / "housing" / "data" / "house_pricing.csv"
)
if not HOUSING_CSV.is_file():  # pragma: no cover - other checkouts
    HOUSING_CSV = Path(__file__).resolve().parents[4] / "shared" / "data" / "house_pricing.csv"
FEATURES = [
    "YEAR_BUILT",
    "SQUARE_FEET",
    "NUM_BEDROOMS",
    "NUM_BATHROOMS",
    "LOT_ACRES",
    "GARAGE_SPACES",
    "FRONT_PORCH",
    "DECK",
]


def write_offline_store(root: Path, table: pa.Table, *, deleted: int = 0) -> Path:
    """Write ``table`` as an offline store under ``root`` (two hourly partitions), with the
    last ``deleted`` rows marked ``is_deleted``; returns the data directory."""
    n = table.num_rows
    when = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
    full = table.append_column("record_id", pa.array(np.arange(n)))
    full = full.append_column("event_time", pa.array(np.full(n, when.timestamp())))
    full = full.append_column("write_time", pa.array([when] * n, pa.timestamp("us", tz="UTC")))
    full = full.append_column(
        "api_invocation_time", pa.array([when] * n, pa.timestamp("us", tz="UTC"))
    )
    full = full.append_column("is_deleted", pa.array([False] * (n - deleted) + [True] * deleted))
    data = root / "data"
    half = n // 2
    for hour, part in (("00", full.slice(0, half)), ("01", full.slice(half))):
        d = data / "year=2026" / "month=01" / "day=01" / f"hour={hour}"
        d.mkdir(parents=True, exist_ok=True)
        pq.write_table(part, d / "part.parquet")
    return data


@pytest.fixture(scope="session")
def store_writer():
    """:func:`write_offline_store`, for tests that need their own store."""
    return write_offline_store


@pytest.fixture(scope="session")
def housing_table() -> pa.Table:
    return pacsv.read_csv(HOUSING_CSV)


@pytest.fixture(scope="session")
def offline_store(tmp_path_factory, housing_table) -> Path:
    """The 10,000 housing rows as an offline store (no deleted rows)."""
    return write_offline_store(tmp_path_factory.mktemp("offline"), housing_table)


@pytest.fixture(scope="session")
def splits(tmp_path_factory, offline_store, ray_session) -> dict[str, Path]:
    """The offline store preprocessed once for the session (train/validation/test/preprocessor)."""
    from rayline.ml.preprocessing import preprocess

    root = tmp_path_factory.mktemp("splits")
    outputs = {n: root / n for n in ("train", "validation", "test", "preprocessor")}
    preprocess(offline_store, label="PRICE", output_dirs=outputs, seed=7)
    return outputs
