"""Preprocessing on both paths (Ray Data, and in-process for small inputs): store columns
dropped, deleted rows left out, a fixed column order, the scaler fitted on the training split
only, and byte-identical outputs for the same seed; the path taken is chosen by size and
recorded."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from rayline.ml import preprocessing
from rayline.ml.preprocessing import preprocess
from rayline.ml.preprocessor import Preprocessor

pytestmark = pytest.mark.ray

PATHS = [pytest.param(False, id="in-process"), pytest.param(True, id="ray-data")]

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


@pytest.fixture(scope="module", params=PATHS)
def splits(request, tmp_path_factory, offline_store, ray_session):
    """The 10,000-row offline store preprocessed on each path."""
    root = tmp_path_factory.mktemp("splits")
    outputs = {n: root / n for n in ("train", "validation", "test", "preprocessor")}
    result = preprocess(
        offline_store, label="PRICE", output_dirs=outputs, seed=7, distributed=request.param
    )
    assert result.distributed is request.param
    return outputs


def test_the_path_is_chosen_by_size_and_recorded(tmp_path, offline_store, monkeypatch, capsys):
    def run(name):
        dirs = {n: tmp_path / name / n for n in ("train", "validation", "test", "preprocessor")}
        return preprocess(offline_store, label="PRICE", output_dirs=dirs, seed=7)

    small = run("small")
    assert small.distributed is False
    assert small.reason == f"10000 rows <= {preprocessing.LOCAL_MAX_ROWS}: in this process"
    assert "preprocessing path: 10000 rows <=" in capsys.readouterr().out
    monkeypatch.setattr(preprocessing, "LOCAL_MAX_ROWS", 5000)
    large = run("large")
    assert large.distributed is True and large.reason == "10000 rows > 5000: Ray Data"
    # Same sizes and columns either way (each path shuffles its own way).
    assert large.rows == small.rows == {"train": 6000, "validation": 2000, "test": 2000}
    assert large.columns == small.columns


def test_splits_have_fixed_columns_and_proportions(splits):
    tables = {n: pq.read_table(splits[n]) for n in ("train", "validation", "test")}
    for t in tables.values():
        assert t.column_names == [*FEATURES, "PRICE"]
    assert {n: t.num_rows for n, t in tables.items()} == {
        "train": 6000,
        "validation": 2000,
        "test": 2000,
    }
    # No row appears in two splits (PRICE with SQUARE_FEET identifies a row here).
    keys = [
        set(zip(t["PRICE"].to_pylist(), t["SQUARE_FEET"].to_pylist(), strict=True))
        for t in tables.values()
    ]
    assert not (keys[0] & keys[1]) and not (keys[0] & keys[2]) and not (keys[1] & keys[2])


def test_scaler_is_fitted_on_train_only(splits, housing_table):
    pre = Preprocessor.load(splits["preprocessor"])
    assert pre.columns == tuple(FEATURES) and pre.label == "PRICE"
    train = pq.read_table(splits["train"])
    validation = pq.read_table(splits["validation"])
    for col in FEATURES:
        scaled = train[col].to_numpy()
        # Train is standardised exactly (mean 0, std 1); validation only approximately.
        assert abs(scaled.mean()) < 1e-9
        assert scaled.std() == pytest.approx(1.0, rel=1e-6)
        mean, std = pre.scale_of(col)
        raw_train = scaled * std + mean
        assert raw_train.mean() == pytest.approx(mean, rel=1e-9)
    # The stats differ from the whole data set's: they saw only the training rows.
    whole = pc.mean(housing_table["SQUARE_FEET"]).as_py()
    assert pre.scale_of("SQUARE_FEET")[0] != pytest.approx(whole, rel=1e-9)
    assert abs(validation["SQUARE_FEET"].to_numpy().mean()) > 1e-9
    # The label is never scaled.
    raw_prices = set(housing_table["PRICE"].to_pylist())
    assert set(train["PRICE"].to_pylist()) <= raw_prices


@pytest.mark.parametrize("distributed", PATHS)
def test_deleted_rows_dropped_and_output_deterministic(
    tmp_path, housing_table, store_writer, ray_session, distributed
):
    store = store_writer(tmp_path / "store", housing_table.slice(0, 1000), deleted=100)
    outs = []
    for run in ("a", "b"):
        dirs = {n: tmp_path / run / n for n in ("train", "validation", "test", "preprocessor")}
        result = preprocess(
            store,
            label="PRICE",
            output_dirs=dirs,
            train_size=0.5,
            validation_size=0.25,
            test_size=0.25,
            seed=3,
            distributed=distributed,
        )
        assert sum(result.rows.values()) == 900
        outs.append(dirs)
    for name in ("train", "validation", "test"):
        a = sorted(p.read_bytes() for p in outs[0][name].glob("*.parquet"))
        b = sorted(p.read_bytes() for p in outs[1][name].glob("*.parquet"))
        assert a == b, name


def test_preprocessor_applies_to_raw_rows(splits, housing_table):
    pre = Preprocessor.load(splits["preprocessor"])
    row = {c: housing_table[c][0].as_py() for c in FEATURES}
    scaled = pre.transform_rows([row])
    expected = [(row[c] - m) / s for c, m, s in zip(FEATURES, pre.means, pre.stds, strict=True)]
    np.testing.assert_allclose(scaled[0], expected)
    np.testing.assert_allclose(pre.transform_rows([[row[c] for c in FEATURES]]), scaled)


def test_bad_sizes_are_rejected(tmp_path, offline_store):
    from rayline.errors import UserInputError

    dirs = {n: tmp_path / n for n in ("train", "validation", "test", "preprocessor")}
    with pytest.raises(UserInputError, match="sum to 1"):
        preprocess(offline_store, label="PRICE", output_dirs=dirs, train_size=0.7)


@pytest.mark.parametrize("distributed", PATHS)
def test_feature_group_reads_the_latest_record_once(
    tmp_path, rayline_home, ray_session, distributed
):
    """A re-ingested record (same id, newer event time) lands in exactly one split; a deleted
    one in none; ``history=True`` keeps every version of the live records."""
    import pyarrow as pa

    from rayline.featurestore import (
        FeatureGroup,
        FractionalFeatureDefinition,
        StringFeatureDefinition,
    )
    from rayline.ml.preprocessing import feature_group_source

    fg = FeatureGroup(
        "prices",
        [
            StringFeatureDefinition("record_id"),
            FractionalFeatureDefinition("event_time"),
            FractionalFeatureDefinition("sqft"),
            FractionalFeatureDefinition("price"),
        ],
    )
    fg.create(record_identifier_name="record_id", event_time_feature_name="event_time")
    n, again, deleted = 100, range(10), range(90, 95)

    def rows(ids, t, price):
        return pa.table(
            {
                "record_id": [f"r{i}" for i in ids],
                "event_time": [t + i for i in ids],
                "sqft": [1000.0 + i for i in ids],
                "price": [price(i) for i in ids],
            }
        )

    assert fg.ingest(rows(range(n), 1_700_000_000.0, lambda i: 10.0 * i)).ok
    assert fg.ingest(rows(again, 1_700_100_000.0, lambda i: 100_000.0 + i)).ok
    for i in deleted:
        fg.delete_record(f"r{i}", 1_700_200_000.0)

    def labels(history: bool) -> list[float]:
        source, drop = feature_group_source("prices", history=history)
        dirs = {
            name: tmp_path / str(history) / name
            for name in ("train", "validation", "test", "preprocessor")
        }
        result = preprocess(
            source, label="price", output_dirs=dirs, drop_columns=drop, distributed=distributed
        )
        assert result.columns == ("sqft", "price")
        out = []
        for name in ("train", "validation", "test"):
            out += pq.read_table(dirs[name])["price"].to_pylist()
        assert len(out) == sum(result.rows.values())
        return sorted(out)

    live = [i for i in range(n) if i not in deleted]
    latest = sorted(100_000.0 + i if i in again else 10.0 * i for i in live)
    assert labels(False) == latest
    assert labels(True) == sorted([10.0 * i for i in live] + [100_000.0 + i for i in again])
