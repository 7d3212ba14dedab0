"""Evaluation step of the housing workflow: score the model on the test split.

In a pipeline (inputs ``model`` and ``test``, output ``evaluation``)::

    report = PropertyFile("EvaluationReport", output_name="evaluation", path="evaluation.json")
    ProcessingStep("EvaluateModel", code="scripts/evaluate.py",
        inputs=[ProcessingInput(source=tune.get_top_model_uri(top_k=0), destination="model"),
                ProcessingInput(source=prep.outputs["test"], destination="test")],
        outputs=[ProcessingOutput("evaluation")], property_files=[report])

Standalone::

    python evaluate.py --model out/model --test out/test --output_dir out/evaluation

Writes ``evaluation.json``: ``{"regression_metrics": {"mae": {"value", "standard_deviation"},
"rmse": {...}, "r2": {...}}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from rayline.ml.evaluation import evaluate_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=os.environ.get("RAYLINE_INPUT_MODEL"))
    parser.add_argument("--test", default=os.environ.get("RAYLINE_INPUT_TEST"))
    parser.add_argument("--label", default="PRICE")
    parser.add_argument("--output_dir", default=os.environ.get("RAYLINE_OUTPUT_EVALUATION"))
    args = parser.parse_args(argv)
    for name in ("model", "test", "output_dir"):
        if not getattr(args, name):
            parser.error(f"--{name} is required outside a pipeline step")
    report = evaluate_model(args.model, args.test, label=args.label, output_dir=args.output_dir)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
