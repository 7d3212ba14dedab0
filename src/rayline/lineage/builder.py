"""Build the lineage graph around a model version, endpoint or execution from the domains' APIs.

Reads the engine's records through its repository (executions, step runs with their output
URIs, and the pipeline definition, parsed by the DSL itself: a step's ``Outputs``,
``Properties`` and ``PropertyFiles`` references say what it consumed, ``branches()`` which
steps a condition controls), the registry (which execution and step registered a version, from
which files) and the endpoints' history (which versions each endpoint served). Only the
executions connected to the focus are loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from rayline.definition.expressions import (
    Expression,
    JsonGet,
    StepOutput,
    StepProperty,
    from_request,
)
from rayline.definition.parameters import Parameter
from rayline.definition.pipeline import PipelineDefinition
from rayline.definition.steps.base import Step
from rayline.engine.records import StepRunRecord
from rayline.engine.repository import PipelineRepository
from rayline.errors import NotFoundError, PipelineDefinitionError, UserInputError
from rayline.lineage.graph import Lineage, LineageGraph, Neighbourhood, Node, NodeKind
from rayline.registry.entities import parse_version_ref
from rayline.registry.registry import ModelRegistry
from rayline.serving.repository import EndpointRepository
from rayline.store.db import Database, open_database

_DATA_SUFFIXES = (".csv", ".parquet", ".json", ".jsonl", ".ubj", ".txt", ".npz", ".npy")
# The serialised forms of expressions: parsed by the DSL, not here.
_EXPRESSION_KEYS = ("Get", "Std:Join", "Std:JsonGet")
#: Keys of a step's arguments that hold no reference: hashes, and container paths (where
#: SageMaker would put an input, an output or the script, not data the step reads).
_NOT_REFERENCES = ("Sha256", "SourceSha256", "LocalPath", "ContainerEntrypoint")
#: Keys between a name and its value (``ProcessingInputs[].S3Input.S3Uri``): the relation is
#: the name above them.
_PASS_KEY_THROUGH = ("Source", "Values", "S3Input", "S3Uri", "DataSource", "S3DataSource")


def _looks_like_data(value: str) -> bool:
    if "\n" in value or len(value) > 2048:
        return False
    return value.startswith(("file://", "s3://", "gs://", "/")) or value.lower().endswith(
        _DATA_SUFFIXES
    )


#: The kinds of node :meth:`LineageBuilder.around` takes as its focus, and what names each.
FOCUS_KINDS = {
    "feature_group": "a feature group's name",
    "dataset": "a data location (URI) a step wrote or read, or a model version came from",
    "step_run": "EXECUTION_ID/STEP_NAME",
    "execution": "an execution id",
    "model_version": "GROUP/VERSION",
    "endpoint": "an endpoint name",
}

#: The focus kind of each kind a reference resolves to (``LineageBuilder.resolve``).
_FOCUS_OF = {
    NodeKind.MODEL: "model_version",
    NodeKind.ENDPOINT: "endpoint",
    NodeKind.EXECUTION: "execution",
}

#: How many of each pipeline's newest executions a feature group's or dataset's lineage
#: searches for the steps that name it (their definitions are parsed, one per version).
REFERENCE_SCAN_EXECUTIONS = 200


def _within(value: str, base: str) -> bool:
    """Whether location ``value`` is ``base`` or inside it (trailing slashes aside)."""
    value, base = value.rstrip("/"), base.rstrip("/")
    return bool(base) and (value == base or value.startswith(base + "/"))


class LineageBuilder:
    """Loads executions, model versions and endpoints into one :class:`LineageGraph`."""

    def __init__(self, db: Database | None = None, *, db_url: str | None = None) -> None:
        self.db = db or open_database(db_url)
        self.pipelines = PipelineRepository(self.db)
        self.registry = ModelRegistry(self.db)
        self.endpoints = EndpointRepository(self.db)
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
        if sep and kind in (NodeKind.MODEL, NodeKind.ENDPOINT, NodeKind.EXECUTION):
            return kind, rest
        _, slash, version = ref.rpartition("/")
        if slash and version.isdigit():
            return NodeKind.MODEL, ref
        if self.endpoints.find(ref) is not None or self.endpoints.events(ref):
            return NodeKind.ENDPOINT, ref
        if self.pipelines.find_execution(ref) is not None:
            return NodeKind.EXECUTION, ref
        like = self.pipelines.execution_ids_starting_with(ref)
        if len(like) == 1:
            return NodeKind.EXECUTION, like[0]
        raise UserInputError(
            f"{ref!r} names no model version, endpoint or execution; write GROUP/VERSION "
            "(e.g. housing/3), an endpoint name, or an execution id (a unique prefix will do)"
        )

    def resolve_focus(self, ref: str) -> tuple[str, str]:
        """``(focus kind, key)`` for a reference ``lineage()`` takes: what ``around()`` (and
        the server's ``GET /lineage``) take for the same node."""
        kind, key = self.resolve(ref)
        return _FOCUS_OF[kind], key

    # -- loaders ----------------------------------------------------------------------------

    def add_execution(self, execution_id: str) -> str:
        """Add an execution, its step runs and their outputs, and what it registered."""
        node_id = f"{NodeKind.EXECUTION}:{execution_id}"
        if execution_id in self._executions:
            return node_id
        self._executions.add(execution_id)
        ex = self.pipelines.find_execution(execution_id)
        if ex is None:
            raise NotFoundError(f"execution {execution_id!r} does not exist")
        # By step name, so that the graph (and the order lineage lists what it reached through
        # the same number of edges) does not depend on the order the steps ran in.
        runs = {
            r.step_name: r
            for r in sorted(self.pipelines.list_step_runs(execution_id), key=_step_name)
        }
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
            for output, uri in run.outputs.items():
                art = self.graph.add(Node(NodeKind.ARTIFACT, uri, f"{run.step_name}.{output}", uri))
                self.graph.link(step_id, art, output)
        pipeline = self._pipeline(ex.pipeline_name, ex.pipeline_version)
        if pipeline is not None:
            parameters = {p.name: p for p in pipeline.parameters}
            values = {
                **{p.name: p.default_value for p in pipeline.parameters},
                **(ex.parameters or {}),
            }
            for step in _all_steps(pipeline.steps):
                self._link_step(execution_id, step, runs, parameters, values)
        for run in runs.values():
            if run.cached_from and run.cached_from != execution_id:
                self.add_execution(run.cached_from)
        for package in sorted(self.registry.registered_by(execution_id), key=_registered_order):
            self.add_model(package.group, package.version)
        return node_id

    def add_model(self, group: str, version: int) -> str:
        """Add a model version, the step and files it was registered from, and its endpoints."""
        node_id = f"{NodeKind.MODEL}:{group}/{version}"
        if (group, version) in self._models:
            return node_id
        self._models.add((group, version))
        try:
            package = self.registry.describe(group, version)
        except NotFoundError:
            raise NotFoundError(f"model version {group}/{version} does not exist") from None
        rmse = package.metric("rmse")
        detail = package.status + (f", rmse {rmse:,.1f}" if rmse is not None else "")
        self.graph.add(Node(NodeKind.MODEL, f"{group}/{version}", f"{group}/{version}", detail))
        if package.execution_id:
            self.add_execution(package.execution_id)
            if package.step_name:
                self.graph.link(
                    f"{NodeKind.STEP}:{package.execution_id}/{package.step_name}",
                    node_id,
                    "registered",
                )
        outputs = [n for n in self.graph.nodes.values() if n.kind == NodeKind.ARTIFACT]
        for role, uri in package.sources.items():
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
        for name in self.endpoints.served_by(group, version):
            self.add_endpoint(name)
        return node_id

    def add_endpoint(self, name: str) -> str:
        """Add an endpoint (or a deleted one's history) and every version it served."""
        node_id = f"{NodeKind.ENDPOINT}:{name}"
        if name in self._endpoints:
            return node_id
        self._endpoints.add(name)
        endpoint = self.endpoints.find(name)
        served = [e.model_version for e in self.endpoints.events(name) if e.model_version]
        if endpoint is None and not served:
            raise NotFoundError(f"endpoint {name!r} does not exist and never did")
        current = endpoint.model_version if endpoint else None
        detail = f"{endpoint.status}, serving {current}" if endpoint else "deleted"
        self.graph.add(Node(NodeKind.ENDPOINT, name, name, detail))
        for ref in dict.fromkeys(served):
            group, _, version = ref.rpartition("/")
            try:
                model_id = self.add_model(group, int(version))
            except NotFoundError:
                continue  # the version was deleted since; the endpoint's history remains
            relation = "serves" if ref == current else "served before"
            self.graph.link(model_id, node_id, relation)
        return node_id

    # -- internals --------------------------------------------------------------------------

    def _pipeline(self, name: str, version: int) -> PipelineDefinition | None:
        """The pipeline version an execution ran, parsed; None if it is gone or unreadable
        (the execution's runs still show, without the links between them)."""
        try:
            _, definition = self.pipelines.get_definition(name, version)
            return PipelineDefinition.from_definition(definition)
        except (NotFoundError, PipelineDefinitionError):
            return None

    def _link_step(
        self,
        execution_id: str,
        step: Step,
        runs: dict[str, StepRunRecord],
        parameters: dict[str, Parameter],
        values: dict[str, Any],
    ) -> None:
        if step.name not in runs:
            return  # never ran (a branch not taken): not part of what happened
        step_id = f"{NodeKind.STEP}:{execution_id}/{step.name}"
        for dep in step.depends_on_names():
            if dep in runs:
                self.graph.link(f"{NodeKind.STEP}:{execution_id}/{dep}", step_id, "depends on")
        for label, branch in step.branches().items():
            for target in branch:
                if target.name in runs:
                    self.graph.link(step_id, f"{NodeKind.STEP}:{execution_id}/{target.name}", label)
        # The relation of each input is the nearest name the definition gives it (an input's
        # destination, an argument's key), so the arguments are read in their serialised form.
        for key, value in _references(step.to_request().get("Arguments", {})):
            if key == "code" and isinstance(value, dict):
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
                continue
            try:
                parsed = from_request(value, parameters)
            except PipelineDefinitionError:
                continue  # a reference this rayline cannot read links nothing
            for item in _expressions(parsed):
                self._link_reference(execution_id, step_id, key, item, runs, values)

    def _link_reference(
        self,
        execution_id: str,
        step_id: str,
        key: str,
        item: Any,
        runs: dict[str, StepRunRecord],
        values: dict[str, Any],
    ) -> None:
        """Link what one parsed reference, or a literal string, says the step consumed."""
        if isinstance(item, StepOutput):
            uri = runs[item.step].outputs.get(item.output) if item.step in runs else None
            if uri:
                self.graph.link(f"{NodeKind.ARTIFACT}:{uri}", step_id, key)
        elif isinstance(item, (StepProperty, JsonGet)):
            (producer,) = item.step_names()
            if producer in runs:
                relation = (
                    "reads properties"
                    if isinstance(item, StepProperty)
                    else ("reads property file")
                )
                self.graph.link(f"{NodeKind.STEP}:{execution_id}/{producer}", step_id, relation)
        elif isinstance(item, Parameter):
            value = values.get(item.name)
            if isinstance(value, str) and _looks_like_data(value):
                art = self.graph.add(Node(NodeKind.ARTIFACT, value, value, "parameter"))
                self.graph.link(art, step_id, key)
        elif isinstance(item, str) and _looks_like_data(item):
            art = self.graph.add(Node(NodeKind.ARTIFACT, item, item.rsplit("/", 1)[-1], item))
            self.graph.link(art, step_id, key)

    @staticmethod
    def _in_execution(node: Node, execution_id: str) -> bool:
        return (node.kind == NodeKind.STEP and node.key.startswith(f"{execution_id}/")) or (
            node.kind == NodeKind.EXECUTION and node.key == execution_id
        )

    # -- any node as the focus (the server's GET /lineage) ----------------------------------

    def around(
        self,
        kind: str,
        key: str,
        *,
        direction: str = "both",
        max_depth: int | None = None,
    ) -> Neighbourhood:
        """The nodes and edges around one node of ``kind`` (one of :data:`FOCUS_KINDS`) named
        ``key``; :class:`NotFoundError` when it does not exist (or, for a dataset, nothing
        recorded read, wrote or registered it)."""
        members: tuple[str, ...] = ()
        if kind == "model_version":
            group, version = parse_version_ref(key)
            focus = self.add_model(group, version)
        elif kind == "endpoint":
            focus = self.add_endpoint(key)
        elif kind == "execution":
            focus = self.add_execution(key)
            members = tuple(
                sorted(n.id for n in self.graph.nodes.values() if self._in_execution(n, key))
            )
        elif kind == "step_run":
            focus = self.add_step_run(key)
        elif kind == "feature_group":
            focus = self.add_feature_group(key)
        elif kind == "dataset":
            focus = self.add_dataset(key)
        else:
            raise UserInputError(f"lineage kind {kind!r} is not one of {', '.join(FOCUS_KINDS)}")
        self._link_feature_groups()
        return self.graph.neighbourhood(
            focus, members=members, direction=direction, max_depth=max_depth
        )

    def add_step_run(self, ref: str) -> str:
        """Add the execution of step run ``EXECUTION_ID/STEP_NAME``; returns the step's node."""
        execution_id, sep, step_name = ref.partition("/")
        if not sep or not execution_id or not step_name:
            raise UserInputError(f"{ref!r} does not name a step run; write EXECUTION_ID/STEP_NAME")
        self.add_execution(execution_id)
        node_id = f"{NodeKind.STEP}:{execution_id}/{step_name}"
        if node_id not in self.graph.nodes:
            steps = sorted(
                n.label
                for n in self.graph.nodes.values()
                if self._in_execution(n, execution_id) and n.kind == NodeKind.STEP
            )
            raise NotFoundError(
                f"execution {execution_id} has no run of step {step_name!r} (its step runs: "
                f"{', '.join(steps) or 'none'})"
            )
        return node_id

    def add_feature_group(self, name: str) -> str:
        """Add feature group ``name``, the recorded steps whose arguments name it (its name or
        a location in its offline store) and their executions.

        rayline does not record whether such a step wrote the group or read it (an ingestion
        and a preprocessing step both take the name), so each is linked as reading it.
        """
        from rayline.featurestore import FeatureGroup

        desc = FeatureGroup(name, db_url=self.db.url).description
        node_id = self._feature_group_node(desc)
        offline = desc.offline_store_uri

        def names_it(value: str) -> bool:
            return value == name or (offline is not None and _within(value, offline))

        for execution_id, step_name, relation, value in self._references_to(names_it):
            self.add_execution(execution_id)
            step_id = f"{NodeKind.STEP}:{execution_id}/{step_name}"
            if step_id not in self.graph.nodes:
                continue  # a step the execution never ran
            if value == name:
                self.graph.link(node_id, step_id, relation)
            else:
                art = self.graph.add(Node(NodeKind.ARTIFACT, value, value, "offline store"))
                self.graph.link(node_id, art, "offline store")
                self.graph.link(art, step_id, relation)
        return node_id

    def add_dataset(self, uri: str) -> str:
        """Add a data location (a file or directory URI): the steps that wrote it (their
        outputs hold it) or read it (their arguments name it, or a location inside or around
        it), the model versions registered from it and the feature group whose offline store
        holds it."""
        uri = uri.strip()
        if not uri:
            raise UserInputError("name a dataset by its location (a URI or path)")
        node_id = f"{NodeKind.ARTIFACT}:{uri}"
        known = node_id in self.graph.nodes
        self.graph.add(Node(NodeKind.ARTIFACT, uri, uri.rstrip("/").rsplit("/", 1)[-1], uri))

        def related(value: str) -> bool:
            return _within(value, uri) or _within(uri, value)

        for run in self.pipelines.committed_artifacts():
            for out_uri in (run.outputs or {}).values():
                if not related(out_uri):
                    continue
                self.add_execution(run.execution_id)
                if out_uri != uri:
                    relation = "contains" if _within(uri, out_uri) else "part of"
                    self.graph.link(f"{NodeKind.ARTIFACT}:{out_uri}", node_id, relation)
        for execution_id, step_name, relation, _ in self._references_to(related):
            self.add_execution(execution_id)
            step_id = f"{NodeKind.STEP}:{execution_id}/{step_name}"
            if step_id in self.graph.nodes:
                self.graph.link(node_id, step_id, relation)
        for package in sorted(self.registry.list_versions(), key=_registered_order):
            for role, source in package.sources.items():
                if _within(source, uri):
                    self.graph.link(node_id, self.add_model(package.group, package.version), role)
        from rayline.featurestore import list_feature_groups

        for desc in list_feature_groups(db_url=self.db.url):
            if desc.offline_store_uri and _within(uri, desc.offline_store_uri):
                self.graph.link(self._feature_group_node(desc), node_id, "offline store")
        if not known and not any(node_id in (e.src, e.dst) for e in self.graph.edges):
            del self.graph.nodes[node_id]
            raise NotFoundError(
                f"no recorded step read or wrote {uri!r}, no model version was registered from "
                "it and no feature group stores it; name a dataset by the exact location a "
                "step's output or argument holds (GET /executions/ID/steps lists the outputs)"
            )
        return node_id

    def _feature_group_node(self, desc: Any) -> str:
        where = f", offline store {desc.offline_store_uri}" if desc.offline_store_uri else ""
        return self.graph.add(
            Node(NodeKind.FEATURE_GROUP, desc.name, desc.name, f"{desc.status}{where}")
        )

    def _references_to(
        self, matches: Any, *, per_pipeline: int = REFERENCE_SCAN_EXECUTIONS
    ) -> list[tuple[str, str, str, str]]:
        """``(execution id, step name, relation, value)`` for each step of the recorded
        executions (the newest ``per_pipeline`` of each pipeline) whose arguments hold a value
        that ``matches(value)`` accepts: a literal, or a parameter's value in that execution."""
        found: list[tuple[str, str, str, str]] = []
        for record in self.pipelines.list_pipelines():
            by_version: dict[int, list[Any]] = {}
            for ex in self.pipelines.list_executions(record.name, limit=per_pipeline):
                by_version.setdefault(ex.pipeline_version, []).append(ex)
            for version, executions in sorted(by_version.items()):
                pipeline = self._pipeline(record.name, version)
                if pipeline is None:
                    continue
                uses = [
                    (step_name, key, item)
                    for step_name, key, item in _argument_values(pipeline)
                    if isinstance(item, Parameter) or matches(item)
                ]
                for ex in executions:
                    values = _parameter_values(pipeline, ex.parameters)
                    for step_name, key, item in uses:
                        value = values.get(item.name) if isinstance(item, Parameter) else item
                        if isinstance(value, str) and matches(value):
                            found.append((ex.id, step_name, key, value))
        return found

    def _link_feature_groups(self) -> None:
        """Link each feature group to the loaded steps whose arguments name it (or a location
        in its offline store), so that lineage from a step, model or endpoint reaches it."""
        from rayline.featurestore import list_feature_groups

        groups = list_feature_groups(db_url=self.db.url)
        if not groups:
            return
        for execution_id in sorted(self._executions):
            ex = self.pipelines.find_execution(execution_id)
            pipeline = self._pipeline(ex.pipeline_name, ex.pipeline_version) if ex else None
            if pipeline is None:
                continue
            values = _parameter_values(pipeline, ex.parameters)
            for step_name, key, item in _argument_values(pipeline):
                step_id = f"{NodeKind.STEP}:{execution_id}/{step_name}"
                value = values.get(item.name) if isinstance(item, Parameter) else item
                if step_id not in self.graph.nodes or not isinstance(value, str):
                    continue
                for desc in groups:
                    offline = desc.offline_store_uri
                    if value == desc.name:
                        self.graph.link(self._feature_group_node(desc), step_id, key)
                    elif offline and _within(value, offline):
                        art = self.graph.add(Node(NodeKind.ARTIFACT, value, value, "offline store"))
                        self.graph.link(self._feature_group_node(desc), art, "offline store")
                        self.graph.link(art, step_id, key)


class LineageBackend(Protocol):
    """What ``lineage()``, ``around()`` and the ``rayline lineage`` command need."""

    def lineage(self, ref: str, *, max_depth: int | None = None) -> Lineage: ...

    def around(
        self, kind: str, key: str, *, direction: str = "both", max_depth: int | None = None
    ) -> Neighbourhood: ...


def lineage_backend(db_url: str | None = None) -> LineageBackend:
    """The server's lineage (``RAYLINE_SERVER_URL`` set, no ``db_url``), else a builder over the
    metadata DB at ``db_url`` (default: the configured one)."""
    from rayline.remote.client import server_client

    client = server_client(db_url)
    if client is not None:
        from rayline.lineage.remote import RemoteLineage

        return RemoteLineage(client)
    return LineageBuilder(db_url=db_url)


def lineage(ref: str, *, db_url: str | None = None, max_depth: int | None = None) -> Lineage:
    """What is upstream and downstream of a model version (``housing/3``), an endpoint, or an
    execution: data → steps → model → endpoint.

    >>> result = lineage("housing/3")                                  # doctest: +SKIP
    >>> [(e.node.kind, e.node.label) for e in result.upstream]         # doctest: +SKIP
    [('step', 'RegisterTrainedModel'), ('artifact', 'HPTuning.model'), ...]
    """
    return lineage_backend(db_url).lineage(ref, max_depth=max_depth)


def around(
    kind: str,
    key: str,
    *,
    direction: str = "both",
    max_depth: int | None = None,
    db_url: str | None = None,
) -> Neighbourhood:
    """The nodes and edges around one node (``LineageBuilder.around``): ``kind`` one of
    :data:`FOCUS_KINDS`, ``key`` what names it."""
    return lineage_backend(db_url).around(kind, key, direction=direction, max_depth=max_depth)


def _argument_values(pipeline: PipelineDefinition) -> list[tuple[str, str, Any]]:
    """``(step name, relation, item)`` for every parameter and literal string in the steps'
    arguments (code references left out), as the definition's parser reads them."""
    parameters = {p.name: p for p in pipeline.parameters}
    out: list[tuple[str, str, Any]] = []
    for step in _all_steps(pipeline.steps):
        for key, value in _references(step.to_request().get("Arguments", {})):
            if key == "code" and isinstance(value, dict):
                continue
            try:
                parsed = from_request(value, parameters)
            except PipelineDefinitionError:
                continue
            out.extend(
                (step.name, key, item)
                for item in _expressions(parsed)
                if isinstance(item, (Parameter, str))
            )
    return out


def _parameter_values(pipeline: PipelineDefinition, given: dict[str, Any] | None) -> dict[str, Any]:
    """An execution's parameter values: the defaults, overridden by those it was given."""
    return {**{p.name: p.default_value for p in pipeline.parameters}, **(given or {})}


def _step_node(run: StepRunRecord) -> Node:
    detail = f"{run.status} {run.step_type} step"
    if run.cached_from:
        detail += f", cached from {run.cached_from[:12]}"
    return Node(NodeKind.STEP, f"{run.execution_id}/{run.step_name}", run.step_name, detail)


def _step_name(run: StepRunRecord) -> str:
    return run.step_name


def _registered_order(package: Any) -> tuple[float, str, int]:
    return package.created_at, package.group, package.version


def _all_steps(steps: Iterable[Step]) -> Iterator[Step]:
    """Every step, each followed by the steps of its branches (depth first)."""
    for step in steps:
        yield step
        yield from _all_steps(step.branch_steps())


def _expressions(value: Any) -> Iterator[Any]:
    """An expression, the expressions inside it, and the literals they combine (a ``Join``'s)."""
    if isinstance(value, Expression):
        yield value
        for child in value.children():
            yield from _expressions(child)
    elif isinstance(value, str):
        yield value


def _references(args: Any, key: str = ""):
    """``(relation, value)`` for every expression, code ref and literal string in ``args``.

    The relation is the nearest meaningful name: an input's destination, an argument's key.
    A step's request nested in the arguments (a branch of a step that branches: it has a
    ``Name`` and ``Arguments`` of its own) is skipped: it is a step of its own.
    """
    if isinstance(args, dict):
        if "Name" in args and "Arguments" in args:
            return
        if len(args) == 1 and next(iter(args)) in _EXPRESSION_KEYS:
            yield key, args
            return
        if "Sha256" in args and "Path" in args:
            yield "code", args
            return
        # An input's name: SageMaker's InputName or ChannelName, or the Destination rayline
        # wrote before.
        label = (
            args.get("InputName")
            or args.get("ChannelName")
            or args.get("Destination")
            or args.get("OutputName")
        )
        for k, v in args.items():
            if k in _NOT_REFERENCES:
                continue
            yield from _references(v, label or (k if k not in _PASS_KEY_THROUGH else key))
    elif isinstance(args, list):
        for v in args:
            yield from _references(v, key)
    elif isinstance(args, str):
        yield key, args
