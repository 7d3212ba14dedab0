"""``rayline pipeline import``: store a pipeline definition the SageMaker Python SDK wrote."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rayline.cli.arguments import arg, command, parse_pairs
from rayline.cli.render import console, print_json
from rayline.errors import UserInputError


def register_import(cmds: Any) -> None:
    """Add ``import`` to the ``pipeline`` group's subcommands."""
    command(
        cmds,
        "import",
        cmd_import,
        "Store a pipeline from a SageMaker SDK definition (Pipeline(...).definition()).",
        arg("file", help="the definition's JSON file"),
        arg("--name", help="the pipeline's name (default: the file's name without .json)"),
        arg(
            "--map",
            action="append",
            default=[],
            metavar="s3://BUCKET/PREFIX=DIR",
            help="read code and inputs under this S3 prefix from a local directory (repeatable)",
        ),
        json="print the result as JSON",
    )


def cmd_import(args: Any) -> int:
    from rayline.pipelines import Pipeline

    path = Path(args.file)
    if not path.is_file():
        raise UserInputError(f"{args.file}: no such file; give the definition's JSON file")
    mappings = dict(
        parse_pairs(
            args.map,
            option="--map",
            form="s3://BUCKET/PREFIX=DIR",
            example="--map s3://my-bucket/code=./src",
        )
    )
    pipeline = Pipeline.from_sagemaker_definition(
        path.read_text(), name=args.name or path.stem, mappings=mappings
    )
    version = pipeline.upsert()
    not_applied = list(pipeline.sagemaker_not_applied)
    if args.json:
        print_json(
            {
                "name": pipeline.name,
                "version": version,
                "steps": list(pipeline.graph.steps),
                "not_applied": not_applied,
            }
        )
        return 0
    out = console()
    out.print(
        f"imported [bold]{pipeline.name}[/] as version {version}: "
        f"{len(pipeline.graph.steps)} steps ({', '.join(pipeline.graph.steps)})"
    )
    if not_applied:
        out.print(f"recorded but not applied ({len(not_applied)}):")
        for line in not_applied:
            out.print(f"  - {line}", markup=False)
    return 0
