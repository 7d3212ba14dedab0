"""Feature store ingestion step of the housing workflow: CSV -> feature group, via Ray actors.

In a pipeline (a ``ProcessingStep`` with input destination ``raw``)::

    ProcessingStep("FeatureStoreIngestion", code="scripts/ingest.py",
                   inputs=[ProcessingInput(source="data/house_pricing.csv", destination="raw")],
                   arguments=["--feature_group_name", feature_group, "--num_actors", "4"])

Standalone::

    python ingest.py --csv data/house_pricing.csv --feature_group_name houses --num_actors 4

It adds ``record_id`` (the row number) and ``event_time`` (Unix seconds: by default the CSV's
modification time, so running again on the same file changes nothing), creates the feature
group if it is missing, ingests through ``--num_actors`` Ray actors of 0.5 CPU each (``auto``,
the default: actors for a large input on a multi-node cluster, this process for a small one,
where starting actors would cost more than the work), prints the report, and writes
``ingestion.json`` into its output directory when the step declares one (``--output_dir``
standalone). Rejected rows fail the step unless ``--allow_rejected``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from rayline.featurestore import (
    FeatureGroup,
    FractionalFeatureDefinition,
    IntegralFeatureDefinition,
)
from rayline.ray_connection import ensure_ray

HOUSING_FEATURES = [
    IntegralFeatureDefinition("YEAR_BUILT"),
    FractionalFeatureDefinition("SQUARE_FEET"),
    IntegralFeatureDefinition("NUM_BEDROOMS"),
    FractionalFeatureDefinition("NUM_BATHROOMS"),
    FractionalFeatureDefinition("LOT_ACRES"),
    IntegralFeatureDefinition("GARAGE_SPACES"),
    IntegralFeatureDefinition("FRONT_PORCH"),
    IntegralFeatureDefinition("DECK"),
    IntegralFeatureDefinition("PRICE"),
    IntegralFeatureDefinition("record_id"),
    FractionalFeatureDefinition("event_time"),
]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ingest the housing CSV into a feature group.")
    parser.add_argument("--feature_group_name", required=True)
    parser.add_argument(
        "--num_actors",
        type=_num_actors,
        default=None,
        help="Ray actors (0.5 CPU each) that ingest in parallel, or 'auto' (the default): "
        "rayline chooses, actors for a large input on a multi-node cluster and this process "
        "otherwise (the report says which ran)",
    )
    parser.add_argument(
        "--csv",
        default=os.environ.get("RAYLINE_INPUT_RAW"),
        help="the CSV (default: the step's input 'raw')",
    )
    parser.add_argument(
        "--event_time",
        default="file",
        help="Unix seconds for every row, 'now', or 'file' (the CSV's "
        "modification time; the default)",
    )
    parser.add_argument(
        "--output_dir",
        default=_declared_output(),
        help="where to write ingestion.json (default: the step's first output)",
    )
    parser.add_argument(
        "--allow_rejected",
        action="store_true",
        help="succeed even when rows were rejected (they are still listed)",
    )
    args = parser.parse_args(argv)
    if not args.csv:
        parser.error("no CSV: pass --csv PATH or declare a ProcessingInput with destination 'raw'")
    return args


def _num_actors(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number >= 1, not {value!r}")
    return count


def _declared_output() -> str | None:
    names = [n for n in os.environ.get("RAYLINE_OUTPUTS", "").split(",") if n]
    return os.environ.get(f"RAYLINE_OUTPUT_{names[0].upper()}") if names else None


def _event_time(spec: str, csv: Path) -> float:
    if spec == "file":
        return float(int(csv.stat().st_mtime))
    if spec == "now":
        return time.time()
    return float(spec)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    csv = Path(args.csv)
    if csv.is_dir():  # an input directory holding the CSV
        found = sorted(csv.glob("*.csv"))
        if not found:
            print(f"no .csv file in {csv}", file=sys.stderr)
            return 2
        csv = found[0]
    ensure_ray()

    df = pd.read_csv(csv)
    df["record_id"] = np.arange(len(df), dtype=np.int64)
    df["event_time"] = _event_time(args.event_time, csv)

    group = FeatureGroup(args.feature_group_name, HOUSING_FEATURES)
    group.create(
        record_identifier_name="record_id",
        event_time_feature_name="event_time",
        description="Synthetic housing data (reference workflow)",
        exist_ok=True,
    )
    report = group.ingest(df, max_workers=args.num_actors)
    print(report.summary())
    for row in report.rejected:
        print(f"rejected row {row.row} (record_id={row.record_identifier}): {row.reason}")

    summary = {
        "feature_group": group.name,
        "offline_store_uri": group.offline_store_uri,
        "rows_received": report.rows_received,
        "rows_rejected": len(report.rejected),
        "online_rows_written": report.online_rows_written,
        "offline_rows_written": report.offline_rows_written,
        "offline_duplicates_skipped": report.offline_duplicates_skipped,
        "mode": report.mode,
        "workers": report.workers,
        "nodes": list(report.nodes),
        "duration_s": round(report.duration_s, 3),
    }
    print(json.dumps(summary))
    if args.output_dir:
        out = Path(args.output_dir)
        out.mkdir(parents=True, exist_ok=True)
        (out / "ingestion.json").write_text(json.dumps(summary, indent=2) + "\n")
    if report.rejected and not args.allow_rejected:
        print(
            f"{len(report.rejected)} rows were rejected; fix the CSV or pass --allow_rejected",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
