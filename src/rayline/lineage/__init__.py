"""Lineage: every artifact, step run, model version and endpoint as a node; data → steps → model →
endpoint as edges. ``lineage(ref)`` answers what is upstream and downstream of a model version,
an endpoint or an execution."""

from rayline.lineage.builder import LineageBuilder, lineage
from rayline.lineage.graph import Edge, Lineage, LineageEntry, LineageGraph, Node, NodeKind

__all__ = [
    "Edge",
    "Lineage",
    "LineageBuilder",
    "LineageEntry",
    "LineageGraph",
    "Node",
    "NodeKind",
    "lineage",
]
