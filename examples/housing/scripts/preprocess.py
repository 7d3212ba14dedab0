"""Preprocessing step of the housing workflow: feature group → train / validation / test.

In a pipeline (a ``ProcessingStep`` with outputs ``train``, ``validation``, ``test`` and
``preprocessor``)::

    ProcessingStep("PreprocessData", code="scripts/preprocess.py",
        arguments=["--train_size", "0.6", "--validation_size", "0.2", "--test_size", "0.2",
                   "--feature_group_name", feature_group],
        outputs=[ProcessingOutput(n) for n in ("train", "validation", "test", "preprocessor")])

Standalone::

    python preprocess.py --input path/to/parquet_dir --output_dir out/

It reads the feature group's latest non-deleted record per identifier (every stored version with
``--include_history``), or ``--input``, or the step's input ``raw`` (in this process when it is
small, with Ray Data when it is large: the last line's ``path`` says which), drops the store's
own columns, shuffles with ``--seed``, splits, fits a standard scaler on
the training split only (not on ``--label``), scales all three splits, and writes them as Parquet
(the features in a fixed order, then the label) plus ``preprocessor.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rayline.ml.preprocessing import feature_group_source, preprocess

OUTPUTS = ("train", "validation", "test", "preprocessor")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train_size", type=float, default=0.6)
    parser.add_argument("--validation_size", type=float, default=0.2)
    parser.add_argument("--test_size", type=float, default=0.2)
    parser.add_argument("--feature_group_name", help="read this feature group's offline store")
    parser.add_argument("--input", help="a Parquet file or directory (instead of a feature group)")
    parser.add_argument(
        "--include_history",
        action="store_true",
        help="read every stored version of a feature group's records, not only the latest",
    )
    parser.add_argument("--label", default="PRICE")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--output_dir", help="standalone: write the four outputs under here")
    args = parser.parse_args(argv)

    drop: tuple[str, ...] = ("record_id", "event_time")
    source: object
    if args.input:
        source = args.input
    elif os.environ.get("RAYLINE_INPUT_RAW"):
        source = os.environ["RAYLINE_INPUT_RAW"]
    elif args.feature_group_name:
        source, drop = feature_group_source(args.feature_group_name, history=args.include_history)
    else:
        parser.error("give --feature_group_name, --input, or a step input named 'raw'")

    outputs = {}
    for name in OUTPUTS:
        env = os.environ.get(f"RAYLINE_OUTPUT_{name.upper()}")
        if env:
            outputs[name] = Path(env)
        elif args.output_dir:
            outputs[name] = Path(args.output_dir) / name
        else:
            parser.error(f"no output directory for {name!r}: run as a step or give --output_dir")

    result = preprocess(
        source,
        label=args.label,
        output_dirs=outputs,
        train_size=args.train_size,
        validation_size=args.validation_size,
        test_size=args.test_size,
        seed=args.seed,
        drop_columns=drop,
    )
    print(
        json.dumps(
            {
                "rows": result.rows,
                "columns": list(result.columns),
                "distributed": result.distributed,
                "path": result.reason,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
