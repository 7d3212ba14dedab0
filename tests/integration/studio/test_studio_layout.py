"""The DAG layout Studio draws: layers left to right along every edge, no two boxes overlap,
and the barycenter pass undoes a crossing the definition's order would draw (50 steps too)."""

from __future__ import annotations

from rayline.studio.layout import layout


def _boxes_overlap(a, b) -> bool:
    return a.x < b.x + b.w and b.x < a.x + a.w and a.y < b.y + b.h and b.y < a.y + a.h


def test_layers_follow_edges_and_crossings_are_undone():
    # a and b first; then d (from b) listed before c (from a): drawn in that order, they cross.
    upstream = {"a": set(), "b": set(), "d": {"b"}, "c": {"a"}}
    drawn = {n.name: n for n in layout(upstream, {}).nodes}
    assert drawn["a"].x == drawn["b"].x < drawn["c"].x == drawn["d"].x
    assert (drawn["a"].y < drawn["b"].y) == (drawn["c"].y < drawn["d"].y)


def test_fifty_steps():
    # Ten chains of five, each chain's first step fed by one root, all joined at the end.
    upstream: dict[str, set[str]] = {"root": set()}
    for chain in range(10):
        for i in range(5):
            upstream[f"s{chain}-{i}"] = {f"s{chain}-{i - 1}" if i else "root"}
    upstream["join"] = {f"s{c}-4" for c in range(10)}
    result = layout(upstream, {n: "Function" for n in upstream})
    nodes = {n.name: n for n in result.nodes}
    assert len(nodes) == 52 and len(result.edges) == 60
    for target, ups in upstream.items():
        for source in ups:
            assert nodes[source].x < nodes[target].x
    values = list(nodes.values())
    for i, a in enumerate(values):
        for b in values[i + 1 :]:
            assert not _boxes_overlap(a, b), (a, b)
    assert all(n.x >= 0 and n.x + n.w <= result.width for n in values)
    assert all(n.y >= 0 and n.y + n.h <= result.height for n in values)
    # Each chain stays on one row: the sweeps keep a chain's steps level with each other.
    for chain in range(10):
        assert len({nodes[f"s{chain}-{i}"].y for i in range(5)}) == 1
