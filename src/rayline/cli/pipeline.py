"""``rayline pipeline``: upsert, list, describe, definition, graph, start, delete."""

from __future__ import annotations

import contextlib
import json
import runpy
import traceback
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from rayline.cli.arguments import add_group, arg, command, parallelism, parse_pairs
from rayline.cli.pipeline_import import register_import
from rayline.cli.render import console, placement, print_json, table, when
from rayline.errors import ParameterError, PipelineDefinitionError, UserInputError


def register(sub: Any) -> None:
    cmds = add_group(sub, "pipeline", "Define, store and start pipelines.")
    name = arg("name")
    command(
        cmds,
        "upsert",
        cmd_upsert,
        "Store a pipeline from a Python file or a JSON definition.",
        arg("file", help="a .py module that builds a Pipeline, or a .json definition"),
        arg(
            "--name",
            help="which pipeline, when the module builds several (or to rename a JSON definition)",
        ),
        json="print the result as JSON",
    )
    register_import(cmds)
    command(cmds, "list", cmd_list, "List stored pipelines.", json=True)
    command(
        cmds,
        "describe",
        cmd_describe,
        "Show a pipeline: versions, parameters, steps.",
        name,
        json=True,
    )
    command(
        cmds,
        "definition",
        cmd_definition,
        "Print a pipeline's JSON definition.",
        name,
        arg("--version", type=int),
    )
    command(cmds, "graph", cmd_graph, "Draw a pipeline's steps and their dependencies.", name)
    command(
        cmds,
        "start",
        cmd_start,
        "Start an execution (detached; --wait to follow it).",
        name,
        arg(
            "-p",
            "--parameter",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a parameter value (repeatable)",
        ),
        arg("--version", type=int, help="run this stored version (default: the latest)"),
        arg(
            "--max-parallel",
            type=int,
            metavar="N",
            help="at most N steps at once in this execution (overrides the pipeline's)",
        ),
        arg(
            "--select",
            action="append",
            default=[],
            metavar="STEP",
            help="run only this step (repeatable): a selective execution; the selected steps' "
            "upstream steps are taken from --source-execution",
        ),
        arg(
            "--source-execution",
            metavar="ID",
            help="with --select: the execution to take upstream steps from (default: the latest)",
        ),
        arg("--wait", action="store_true", help="show live progress until it ends"),
        json=True,
    )
    command(cmds, "delete", cmd_delete, "Delete a pipeline, its versions and executions.", name)


def load_pipeline_file(path: str, name: str | None = None) -> Any:
    """The Pipeline a .py module builds (module globals, or ``get_pipeline()``) or a JSON file.
    A module that does not compile or raises is a ``PipelineDefinitionError`` naming the file
    and the line, not a traceback from inside the loader."""
    from rayline.pipelines import Pipeline

    file = Path(path)
    if not file.is_file():
        what = "is a directory" if file.is_dir() else "does not exist"
        raise UserInputError(
            f"pipeline file {path} {what}; give a .py module that builds a Pipeline, or a "
            ".json definition"
        )
    if file.suffix == ".json":
        try:
            return Pipeline.from_definition(file.read_text(), name=name)
        except PipelineDefinitionError as exc:
            raise PipelineDefinitionError(f"{path}: {exc}") from None
    if file.suffix != ".py":
        raise UserInputError(f"{path}: expected a .py module or a .json definition")
    with _user_code(file):
        namespace = runpy.run_path(str(file), run_name="__rayline_load__")
        found = [v for v in namespace.values() if isinstance(v, Pipeline)]
        if not found and callable(namespace.get("get_pipeline")):
            found = [namespace["get_pipeline"]()]
    if name:
        found = [p for p in found if p.name == name]
    if len(found) != 1:
        names = ", ".join(repr(p.name) for p in found) or "none"
        raise PipelineDefinitionError(
            f"{path} must define exactly one Pipeline (found: {names}); define one at module "
            "level or in get_pipeline(), or pick one with --name"
        )
    return found[0]


@contextlib.contextmanager
def _user_code(file: Path) -> Iterator[None]:
    """Errors of the user's module (it does not compile, or raises) as one
    ``PipelineDefinitionError`` with the file and the line."""
    try:
        yield
    except SyntaxError as exc:
        raise PipelineDefinitionError(
            f"{file}, line {exc.lineno}: {exc.msg} (a syntax error); fix the module"
        ) from None
    except Exception as exc:
        line = _last_line_in(file, exc.__traceback__)
        at = f", line {line}" if line is not None else ""
        raise PipelineDefinitionError(
            f"{file}{at}: the module raised {type(exc).__name__}: {exc} while building its "
            "pipeline; fix the module (run it with python to see the whole traceback)"
        ) from None


def _last_line_in(file: Path, tb: TracebackType | None) -> int | None:
    """The line of ``file`` deepest in the traceback (where the user's code called what
    raised, or raised itself)."""
    target = file.resolve()
    line = None
    for frame, lineno in traceback.walk_tb(tb):
        if Path(frame.f_code.co_filename).resolve() == target:
            line = lineno
    return line


def cmd_upsert(args: Any) -> int:
    pipeline = load_pipeline_file(args.file, args.name)
    version = pipeline.upsert()
    if args.json:
        print_json({"name": pipeline.name, "version": version})
    else:
        console().print(
            f"pipeline [bold]{pipeline.name}[/] stored as version {version} "
            f"({len(pipeline.graph.steps)} steps)"
        )
    return 0


def cmd_list(args: Any) -> int:
    from rayline.pipelines import list_pipelines

    records = list_pipelines()
    if args.json:
        print_json([vars(r) for r in records])
        return 0
    console().print(
        table(
            "Pipelines",
            ["name", "version", "updated", "description"],
            [(r.name, r.latest_version, when(r.updated_at), r.description) for r in records],
        )
    )
    return 0


def cmd_describe(args: Any) -> int:
    from rayline.executions import list_executions
    from rayline.pipelines import Pipeline

    pipeline = Pipeline.load(args.name)
    record = pipeline.describe()
    execs = list_executions(args.name, limit=5)
    if args.json:
        print_json(
            {
                **vars(record),
                "parameters": [p.definition() for p in pipeline.parameters],
                "steps": [
                    {
                        "name": s.name,
                        "type": s.kind,
                        "resources": s.resources,
                        "runtime_env": s.runtime_env,
                        "source_dir": getattr(s, "source_dir", None),
                    }
                    for s in pipeline.graph.steps.values()
                ],
                "recent_executions": [{"id": e.id, "status": e.status.value} for e in execs],
            }
        )
        return 0
    out = console()
    out.print(
        f"[bold]{record.name}[/]  version {record.latest_version}  "
        f"(created {when(record.created_at)}, updated {when(record.updated_at)})"
    )
    out.print(
        table(
            "Parameters",
            ["name", "type", "default", "allowed"],
            [
                (
                    p.name,
                    p.type_name,
                    p.default_value if p.default_value is not None else "(required)",
                    p.enum_values or "",
                )
                for p in pipeline.parameters
            ],
        )
    )
    out.print(
        table(
            "Steps",
            ["step", "type", "after", "cache", "placement", "environment"],
            [
                (
                    s.name,
                    s.kind,
                    ", ".join(sorted(pipeline.graph.upstream[s.name])),
                    s.cache_config.expire_after
                    if s.cache_config and s.cache_config.enable_caching
                    else "",
                    placement(s.resources),
                    _environment(s),
                )
                for s in pipeline.graph.steps.values()
            ],
        )
    )
    out.print(
        table(
            "Recent executions",
            ["id", "status", "started"],
            [(e.id, e.status.value, when(e.created_at)) for e in execs],
        )
    )
    return 0


def cmd_definition(args: Any) -> int:
    from rayline.pipelines import stored_definition

    print(json.dumps(json.loads(stored_definition(args.name, args.version)), indent=2))
    return 0


def cmd_graph(args: Any) -> int:
    from rayline.cli.progress import dag_lines
    from rayline.pipelines import Pipeline

    for line in dag_lines(Pipeline.load(args.name)):
        console().print(line)
    return 0


def cmd_start(args: Any) -> int:
    from rayline.cli.progress import follow
    from rayline.engine.records import ExecutionStatus
    from rayline.pipelines import Pipeline

    pipeline = Pipeline.load(args.name, version=args.version)
    parameters = dict(parse_pairs(args.parameter, option="-p", error=ParameterError))
    execution = pipeline.start(
        parameters,
        version=args.version,
        parallelism_config=parallelism(args.max_parallel),
        selective_execution_config=_selection(args),
        detach=True,
    )
    if args.json and not args.wait:
        print_json({"execution_id": execution.id, "status": ExecutionStatus.EXECUTING.value})
        return 0
    if not args.json:
        console().print(f"started execution [bold]{execution.id}[/] of {pipeline.name}")
    if not args.wait:
        console().print(f"follow it with: rayline execution wait {execution.id}")
        return 0
    return follow(execution, as_json=args.json)


def _selection(args: Any) -> Any:
    if not args.select:
        if args.source_execution:
            raise UserInputError("--source-execution goes with --select STEP (the steps to run)")
        return None
    from rayline.definition.selective import SelectiveExecutionConfig

    return SelectiveExecutionConfig(
        selected_steps=args.select, source_pipeline_execution_id=args.source_execution
    )


def cmd_delete(args: Any) -> int:
    from rayline.pipelines import delete_pipeline

    delete_pipeline(args.name)
    console().print(f"deleted pipeline {args.name}")
    return 0


def _environment(step: Any) -> str:
    """A step's code directory and Ray runtime env, in brief: ``source_dir src; pip tabulate;
    env MODE``."""
    parts = [f"source_dir {step.source_dir}"] if getattr(step, "source_dir", None) else []
    pip = step.runtime_env.get("pip")
    if pip:
        parts.append("pip " + ", ".join(pip["packages"] if isinstance(pip, dict) else pip))
    if step.runtime_env.get("env_vars"):
        parts.append("env " + ", ".join(sorted(step.runtime_env["env_vars"])))
    return "; ".join(parts)
