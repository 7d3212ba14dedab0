"""Malformed input through the embedded Python API and ``rayline ingest``: each CSV is a
``UserInputError`` naming the file and the line, and nothing is written (no rows online or
offline, no committed ingestion, no file left offline); inferring definitions from a column of
mixed objects names the column and the value."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from tests.malformed_csv import CASES, FEATURES

from rayline.cli.main import main
from rayline.errors import SchemaError, UserInputError
from rayline.featurestore import FeatureGroup, _input, ingestion, load_feature_definitions
from rayline.store.artifacts import to_path


@pytest.fixture
def group(rayline_home) -> FeatureGroup:
    fg = FeatureGroup("houses", FEATURES)
    fg.create(record_identifier_name="id", event_time_feature_name="event_time")
    return fg


def _assert_nothing_written(fg: FeatureGroup) -> None:
    described = fg.describe()
    assert (described.online_record_count, described.offline_record_count) == (0, 0)
    offline = to_path(described.offline_store_uri)
    assert not offline.exists() or not list(offline.rglob("*.parquet"))


@pytest.mark.parametrize(("content", "error"), CASES)
def test_python_api(group, tmp_path, content, error):
    path = tmp_path / "houses.csv"
    path.write_bytes(content)
    with pytest.raises(UserInputError, match=re.escape(str(path)) + error):
        group.ingest(str(path), max_workers=1)
    _assert_nothing_written(group)


@pytest.mark.parametrize(("content", "error"), CASES)
def test_cli(group, tmp_path, capsys, content, error):
    path = tmp_path / "houses.csv"
    path.write_bytes(content)
    assert main(["ingest", "houses", str(path)]) == 1
    err = " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    assert re.search(re.escape(str(path)) + error, err), err
    assert "Traceback" not in err
    _assert_nothing_written(group)


def test_a_bad_line_after_written_batches_leaves_nothing(group, tmp_path, monkeypatch):
    # Small blocks and batches: the first rows are validated and written offline before the
    # reader meets the ragged line; the failed ingestion removes them.
    monkeypatch.setattr(_input, "_CSV_BLOCK_BYTES", 64)
    monkeypatch.setattr(ingestion, "MAX_BATCH_ROWS", 2)
    rows = b"".join(b"%d,Oslo,%d.5,%d\n" % (i, i, 100 + i) for i in range(20))
    path = tmp_path / "late.csv"
    path.write_bytes(b"id,city,price,event_time\n" + rows + b"21,Rome\n")
    with pytest.raises(UserInputError, match=r"late\.csv, line 22: 2 fields"):
        group.ingest(str(path), max_workers=1)
    _assert_nothing_written(group)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        (
            [1, "two", 3],
            r"column 'x' mixes values of type int \(first: 1\) and str \('two' at row 1\)",
        ),
        (
            [1.5, {"a": 1}],
            r"column 'x' mixes values of type float .* and dict \(\{'a': 1\} at row 1\)",
        ),
    ],
)
def test_definitions_from_mixed_objects_name_the_column_and_value(values, error):
    frame = pd.DataFrame({"id": range(len(values)), "x": pd.Series(values, dtype=object)})
    with pytest.raises(SchemaError, match=error):
        load_feature_definitions(frame)
    with pytest.raises(SchemaError, match=error):
        FeatureGroup("mixed").load_feature_definitions(frame)
