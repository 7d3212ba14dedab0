"""Build the lineage graph around a model version, endpoint or execution from the stores.

Reads the engine's records (``executions``, ``step_runs`` with their output URIs, and the
pipeline definition, whose ``{"Get": "Steps.X.Outputs['name']"}`` references say which output
each step consumed), the registry (which execution and step registered a version, from which
files) and the endpoints' history (which versions each endpoint served). Only the executions
connected to the focus are loaded.
"""

from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from rayline.errors import NotFoundError, UserInputError
from rayline.lineage.graph import Lineage, LineageGraph, Node, NodeKind
from rayline.registry.schema import model_packages
from rayline.serving.schema import endpoint_events, endpoints
from rayline.store.db import Database, open_database
from rayline.store.schema import executions, pipeline_versions, step_runs

_GET_OUTPUT = re.compile(r"^Steps\.([^.\[]+)\.Outputs\['([^']+)'\]$")
_GET_STEP = re.compile(r"^Steps\.([^.\[]+)\.(Properties|PropertyFiles)\.")
_DATA_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".ubj", ".txt", ".npz", ".npy")


def _looks_like_data(value: str) -> bool:
    if "\n" in value or len(value) > 2048:
        return False
    return value.startswith(("file://", "s3://", "gs://", "/")) or value.lower().endswith(
        _DATA_SUFFIXES
    )


class LineageBuilder:
    """Loads executions, model versions and endpoints into one :class:`LineageGraph`."""

    def __init__(self, db: Database | None = None, *, db_url: str | None = None) -> None:
        self.db = db or open_database(db_url)
        self.graph = LineageGraph()
        self._executions: set[str] = set()
        self._models: set[tuple[str, int]] = set()
        self._endpoints: set[str] = set()

    # -- entry points -----------------------------------------------------------------------

    def lineage(self, ref: str, *, max_depth: int | None = None) -> Lineage:
        """Lineage of ``ref``: ``GROUP/VERSION`` (or ``model:...``), ``endpoint:NAME`` (or a bare
        endpoint name), ``execution:ID`` (or a bare execution id)."""
        kind, key = self.resolve(ref)
        if kind == NodeKind.MODEL:
            group, _, version = key.rpartition("/")
            node_id = self.add_model(group, int(version))
        elif kind == NodeKind.ENDPOINT:
            node_id = self.add_endpoint(key)
        else:
            node_id = self.add_execution(key)
            members = [n for n in self.graph.nodes.values() if self._in_execution(n, key)]
            ids = [n.id for n in members]
            return Lineage(
                focus=self.graph.nodes[node_id],
                upstream=tuple(e for e in self.graph.walk(ids, upstream=True, max_depth=max_depth)),
                downstream=tuple(
                    e for e in self.graph.walk(ids, upstream=False, max_depth=max_depth)
                ),
                graph=self.graph,
                members=tuple(sorted(members, key=lambda n: (n.kind != NodeKind.STEP, n.key))),
            )
        return self.graph.lineage(node_id, max_depth=max_depth)

    def resolve(self, ref: str) -> tuple[str, str]:
        """``(kind, key)`` for a reference; bare names are tried as model, endpoint, execution."""
        kind, sep, rest = ref.partition(":")
        with self.db.connect() as conn:
            if sep and kind in (NodeKind.MODEL, NodeKind.ENDPOINT, NodeKind.EXECUTION):
                return kind, rest
            _, slash, version = ref.rpartition("/")
            if slash and version.isdigit():
                return NodeKind.MODEL, ref
            if (
                conn.execute(sa.select(endpoints.c.name).where(endpoints.c.name == ref)).first()
                or conn.execute(
                    sa.select(endpoint_events.c.id).where(endpoint_events.c.endpoint_name == ref)
                ).first()
            ):
                return NodeKind.ENDPOINT, ref
            if conn.execute(sa.select(executions.c.id).where(executions.c.id == ref)).first():
                return NodeKind.EXECUTION, ref
            like = conn.execute(
                sa.select(executions.c.id).where(executions.c.id.like(f"{ref}%"))
            ).all()
            if len(like) == 1:
                return NodeKind.EXECUTION, like[0].id
        raise UserInputError(
            f"{ref!r} names no model version, endpoint or execution; write GROUP/VERSION "
            "(e.g. housing/3), an endpoint name, or an execution id (a unique prefix will do)"
        )

    # -- loaders ----------------------------------------------------------------------------

    def add_execution(self, execution_id: str) -> str:
        node_id = f"{NodeKind.EXECUTION}:{execution_id}"
        if execution_id in self._executions:
            return node_id
        self._executions.add(execution_id)
        with self.db.connect() as conn:
            ex = conn.execute(sa.select(executions).where(executions.c.id == execution_id)).first()
            if ex is None:
                raise NotFoundError(f"execution {execution_id!r} does not exist")
            definition = conn.execute(
                sa.select(pipeline_versions.c.definition).where(
                    pipeline_versions.c.pipeline_name == ex.pipeline_name,
                    pipeline_versions.c.version == ex.pipeline_version,
                )
            ).scalar()
            runs = {
                r.step_name: r
                for r in conn.execute(
                    sa.select(step_runs).where(step_runs.c.execution_id == execution_id)
                )
            }
            registered = conn.execute(
                sa.select(model_packages.c.group_name, model_packages.c.version).where(
                    model_packages.c.execution_id == execution_id
                )
            ).all()
        self.graph.add(
            Node(
                NodeKind.EXECUTION,
                execution_id,
                f"{ex.pipeline_name} v{ex.pipeline_version}",
                f"{ex.status}, execution {execution_id}",
            )
        )
        for run in runs.values():
            step_id = self.graph.add(_step_node(run))
            for output, uri in (run.outputs or {}).items():
                art = self.graph.add(Node(NodeKind.ARTIFACT, uri, f"{run.step_name}.{output}", uri))
                self.graph.link(step_id, art, output)
        try:
            doc = json.loads(definition) if definition else {}
        except json.JSONDecodeError:
            doc = {}
        defaults = {p.get("Name"): p.get("DefaultValue") for p in doc.get("Parameters", [])}
        params = {**defaults, **(ex.parameters or {})}
        for request in _all_steps(doc.get("Steps", [])):
            self._link_step(execution_id, request, runs, params)
        for run in runs.values():
            if run.cached_from and run.cached_from != execution_id:
                self.add_execution(run.cached_from)
        for group, version in registered:
            self.add_model(group, version)
        return node_id

    def add_model(self, group: str, version: int) -> str:
        node_id = f"{NodeKind.MODEL}:{group}/{version}"
        if (group, version) in self._models:
            return node_id
        self._models.add((group, version))
        with self.db.connect() as conn:
            row = conn.execute(
                sa.select(model_packages).where(
                    model_packages.c.group_name == group, model_packages.c.version == version
                )
            ).first()
            served = conn.execute(
                sa.select(endpoint_events.c.endpoint_name)
                .where(
                    endpoint_events.c.model_package_group == group,
                    endpoint_events.c.model_package_version == version,
                )
                .distinct()
            ).all()
        if row is None:
            raise NotFoundError(f"model version {group}/{version} does not exist")
        rmse = _metric(row.metrics, "rmse")
        detail = row.status + (f", rmse {rmse:,.1f}" if rmse is not None else "")
        self.graph.add(Node(NodeKind.MODEL, f"{group}/{version}", f"{group}/{version}", detail))
        if row.execution_id:
            self.add_execution(row.execution_id)
            if row.step_name:
                self.graph.link(
                    f"{NodeKind.STEP}:{row.execution_id}/{row.step_name}", node_id, "registered"
                )
        outputs = [n for n in self.graph.nodes.values() if n.kind == NodeKind.ARTIFACT]
        for role, uri in (row.sources or {}).items():
            # A source file inside a step's output directory is that output.
            owner = next(
                (n for n in outputs if uri == n.key or uri.startswith(n.key.rstrip("/") + "/")),
                None,
            )
            art = (
                owner.id
                if owner
                else self.graph.add(Node(NodeKind.ARTIFACT, uri, uri.rsplit("/", 1)[-1], uri))
            )
            self.graph.link(art, node_id, role)
        for (name,) in served:
            self.add_endpoint(name)
        return node_id

    def add_endpoint(self, name: str) -> str:
        node_id = f"{NodeKind.ENDPOINT}:{name}"
        if name in self._endpoints:
            return node_id
        self._endpoints.add(name)
        with self.db.connect() as conn:
            row = conn.execute(sa.select(endpoints).where(endpoints.c.name == name)).first()
            served = conn.execute(
                sa.select(
                    endpoint_events.c.model_package_group, endpoint_events.c.model_package_version
                )
                .where(
                    endpoint_events.c.endpoint_name == name,
                    endpoint_events.c.model_package_group.is_not(None),
                )
                .order_by(endpoint_events.c.id)
            ).all()
        if row is None and not served:
            raise NotFoundError(f"endpoint {name!r} does not exist and never did")
        current = (row.model_package_group, row.model_package_version) if row else None
        detail = f"{row.status}, serving {current[0]}/{current[1]}" if row else "deleted"
        self.graph.add(Node(NodeKind.ENDPOINT, name, name, detail))
        for group, version in dict.fromkeys((g, v) for g, v in served):
            try:
                model_id = self.add_model(group, version)
            except NotFoundError:
                continue  # the version was deleted since; the endpoint's history remains
            relation = "serves" if (group, version) == current else "served before"
            self.graph.link(model_id, node_id, relation)
        return node_id

    # -- internals --------------------------------------------------------------------------

    def _link_step(
        self,
        execution_id: str,
        request: dict[str, Any],
        runs: dict[str, Any],
        params: dict[str, Any],
    ) -> None:
        name = request.get("Name")
        if name not in runs:
            return  # never ran (a branch not taken): not part of what happened
        step_id = f"{NodeKind.STEP}:{execution_id}/{name}"
        for dep in request.get("DependsOn", []):
            if dep in runs:
                self.graph.link(f"{NodeKind.STEP}:{execution_id}/{dep}", step_id, "depends on")
        args = request.get("Arguments", {})
        for nested in ("IfSteps", "ElseSteps"):
            for branch in args.get(nested, []):
                if branch.get("Name") in runs:
                    self.graph.link(
                        step_id,
                        f"{NodeKind.STEP}:{execution_id}/{branch['Name']}",
                        "if true" if nested == "IfSteps" else "if false",
                    )
        for key, value in _references(args):
            if isinstance(value, dict) and "Get" in value:
                ref = value["Get"]
                if m := _GET_OUTPUT.match(ref):
                    producer, output = m.groups()
                    uri = (runs[producer].outputs or {}).get(output) if producer in runs else None
                    if uri:
                        self.graph.link(f"{NodeKind.ARTIFACT}:{uri}", step_id, key)
                elif m := _GET_STEP.match(ref):
                    if m.group(1) in runs:
                        self.graph.link(
                            f"{NodeKind.STEP}:{execution_id}/{m.group(1)}",
                            step_id,
                            "reads " + m.group(2).lower().replace("files", " file"),
                        )
                elif ref.startswith("Parameters."):
                    value = params.get(ref.removeprefix("Parameters."))
                    if isinstance(value, str) and _looks_like_data(value):
                        art = self.graph.add(Node(NodeKind.ARTIFACT, value, value, "parameter"))
                        self.graph.link(art, step_id, key)
            elif key == "code" and isinstance(value, dict):
                sha = value.get("Sha256", "")
                path = value.get("Path", "")
                code = self.graph.add(
                    Node(
                        NodeKind.CODE,
                        sha,
                        path.rsplit("/", 1)[-1] or sha[:12],
                        f"{path} (sha256 {sha[:12]})",
                    )
                )
                self.graph.link(code, step_id, "code")
            elif isinstance(value, str) and _looks_like_data(value):
                art = self.graph.add(
                    Node(NodeKind.ARTIFACT, value, value.rsplit("/", 1)[-1], value)
                )
                self.graph.link(art, step_id, key)

    @staticmethod
    def _in_execution(node: Node, execution_id: str) -> bool:
        return (node.kind == NodeKind.STEP and node.key.startswith(f"{execution_id}/")) or (
            node.kind == NodeKind.EXECUTION and node.key == execution_id
        )


def lineage(ref: str, *, db_url: str | None = None, max_depth: int | None = None) -> Lineage:
    """What is upstream and downstream of a model version (``housing/3``), an endpoint, or an
    execution: data → steps → model → endpoint.

    >>> result = lineage("housing/3")                                  # doctest: +SKIP
    >>> [(e.node.kind, e.node.label) for e in result.upstream]         # doctest: +SKIP
    [('step', 'RegisterTrainedModel'), ('artifact', 'HPTuning.model'), ...]
    """
    return LineageBuilder(db_url=db_url).lineage(ref, max_depth=max_depth)


def _step_node(run) -> Node:
    detail = f"{run.status} {run.step_type} step"
    if run.cached_from:
        detail += f", cached from {run.cached_from[:12]}"
    return Node(NodeKind.STEP, f"{run.execution_id}/{run.step_name}", run.step_name, detail)


def _all_steps(requests: list[dict[str, Any]]):
    for request in requests:
        yield request
        args = request.get("Arguments", {})
        yield from _all_steps(args.get("IfSteps", []))
        yield from _all_steps(args.get("ElseSteps", []))


def _references(args: Any, key: str = ""):
    """``(relation, value)`` for every reference, code ref and literal string in ``args``.

    The relation is the nearest meaningful name: an input's destination, an argument's key.
    Nested steps (a condition's branches) are skipped: they are steps of their own.
    """
    if isinstance(args, dict):
        if "Get" in args and len(args) == 1:
            yield key, args
            return
        if "Sha256" in args and "Path" in args:
            yield "code", args
            return
        label = args.get("Destination") or args.get("OutputName")
        for k, v in args.items():
            if k in ("IfSteps", "ElseSteps", "Sha256", "SourceSha256"):
                continue
            yield from _references(v, label or (k if k not in ("Source", "Values") else key))
    elif isinstance(args, list):
        for v in args:
            yield from _references(v, key)
    elif isinstance(args, str):
        yield key, args


def _metric(metrics: Any, name: str) -> float | None:
    try:
        return float(metrics["regression_metrics"][name]["value"])
    except (KeyError, TypeError, ValueError):
        return None
