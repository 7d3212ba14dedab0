"""The housing workflow's ingestion script, run as the pipeline engine runs it (in-process with
``sys.argv``, inputs and outputs in environment variables) on the shared Ray."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from rayline.featurestore import FeatureGroup

pytestmark = pytest.mark.ray

SCRIPT = Path(__file__).resolve().parents[3] / "examples/housing/scripts/ingest.py"
CSV = str(
    Path(__file__).resolve().parents[3] / "examples" / "housing" / "data" / "house_pricing.csv"
)


def _run(argv, monkeypatch):
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), *argv])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(SCRIPT), run_name="__main__")
    return exit_info.value.code


def test_ingest_script_as_a_step_and_again(rayline_home, ray_session, tmp_path, monkeypatch):
    out = tmp_path / "out"
    monkeypatch.setenv("RAYLINE_INPUT_RAW", CSV)
    monkeypatch.setenv("RAYLINE_OUTPUTS", "summary")
    monkeypatch.setenv("RAYLINE_OUTPUT_SUMMARY", str(out))
    args = ["--feature_group_name", "fs-ray-synthetic-housing-data", "--num_actors", "4"]
    assert _run(args, monkeypatch) == 0
    summary = json.loads((out / "ingestion.json").read_text())
    assert summary["rows_received"] == 10_000 and summary["rows_rejected"] == 0
    assert summary["offline_rows_written"] == 10_000 and summary["workers"] == 4

    fg = FeatureGroup("fs-ray-synthetic-housing-data")
    record = fg.get_record(0)
    assert record["PRICE"] == 490098 and record["YEAR_BUILT"] == 2008

    # Running again on the same file is a no-op: same event time, same values.
    assert _run(args, monkeypatch) == 0
    again = json.loads((out / "ingestion.json").read_text())
    assert again["offline_rows_written"] == 0 and again["offline_duplicates_skipped"] == 10_000
    assert fg.describe().offline_record_count == 10_000

    df = (
        ray_session.data.read_parquet(summary["offline_store_uri"])
        .drop_columns(
            [
                "record_id",
                "event_time",
                "write_time",
                "api_invocation_time",
                "is_deleted",
                "year",
                "month",
                "day",
                "hour",
            ]
        )
        .to_pandas()
    )
    assert sorted(df.columns) == sorted(
        [
            "YEAR_BUILT",
            "SQUARE_FEET",
            "NUM_BEDROOMS",
            "NUM_BATHROOMS",
            "LOT_ACRES",
            "GARAGE_SPACES",
            "FRONT_PORCH",
            "DECK",
            "PRICE",
        ]
    )
    assert len(df) == 10_000


def test_ingest_script_fails_on_rejected_rows(rayline_home, ray_session, tmp_path, monkeypatch):
    bad = tmp_path / "bad.csv"
    lines = Path(CSV).read_text().splitlines()[:21]
    lines[3] = lines[3].replace(",2,", ",two,", 1)
    bad.write_text("\n".join(lines) + "\n")
    args = ["--csv", str(bad), "--feature_group_name", "houses", "--num_actors", "2"]
    assert _run(args, monkeypatch) == 1
    assert _run([*args, "--allow_rejected"], monkeypatch) == 0
    assert FeatureGroup("houses").describe().offline_record_count == 19
