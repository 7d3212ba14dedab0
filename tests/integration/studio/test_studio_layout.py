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


# -- collapsing: chains and parallel steps as one box each --------------------------------------

from rayline.studio.grouping import CHUNK, VISIBLE, dag_view, group_steps, group_summary  # noqa: E402


def _fan(n: int) -> dict[str, set[str]]:
    up: dict[str, set[str]] = {"root": set(), **{f"fit-{i:02d}": {"root"} for i in range(n)}}
    up["join"] = {f"fit-{i:02d}" for i in range(n)}
    return up


def _edges(view) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in view.layout.edges}


def test_fifty_parallel_steps_collapse_into_chunks_of_ten():
    view = dag_view(_fan(48), {})
    names = [n.name for n in view.layout.nodes]
    # root, five chunks of the fan-out (48 = 10+10+10+9+9), join: readable at once.
    assert names[0] == "root" and names[-1] == "join" and len(names) == 7
    assert all(len(view.groups[g].members) in (9, 10) for g in names[1:-1])
    assert view.groups[names[1]].label == "fit-0*" and view.groups[names[1]].shape == "parallel"
    assert _edges(view) == {("root", g) for g in names[1:-1]} | {(g, "join") for g in names[1:-1]}
    # Everything open: every step, every edge of the definition.
    full = dag_view(_fan(48), {}, expand="all")
    assert len(full.layout.nodes) == 50 and len(full.layout.edges) == 96 and full.expand == "all"
    # Everything closed: the fan-out is one box of 48.
    closed = dag_view(_fan(48), {}, expand="none")
    assert [n.name for n in closed.layout.nodes] == ["root", "fit-00~48", "join"]
    assert closed.groups["fit-00~48"].detail == "48 steps · 5 parallel"
    # One chunk opened: its ten steps, the other chunks stay boxes.
    one = dag_view(_fan(48), {}, expand="fit-00~48,fit-00~10")
    assert len(one.layout.nodes) == 2 + 10 + 4 and one.expand == "fit-00~10,fit-00~48"


def test_a_fifty_step_chain_is_five_segments_and_mixed_graphs_nest():
    chain = {f"s{i}": ({f"s{i - 1}"} if i else set()) for i in range(50)}
    view = dag_view(chain, {})
    assert [n.name for n in view.layout.nodes] == ["s0~10", "s10~10", "s20~10", "s30~10", "s40~10"]
    assert _edges(view) == {
        ("s0~10", "s10~10"),
        ("s10~10", "s20~10"),
        ("s20~10", "s30~10"),
        ("s30~10", "s40~10"),
    }
    assert view.groups["s0~10"].shape == "chain" and view.groups["s0~10"].label == "s0 … s9"
    # Ten chains of five between a root and a join: one box per chain by default.
    up: dict[str, set[str]] = {"root": set()}
    for c in range(10):
        for i in range(5):
            up[f"s{c}-{i}"] = {f"s{c}-{i - 1}" if i else "root"}
    up["join"] = {f"s{c}-4" for c in range(10)}
    grouping = group_steps(up)
    assert grouping.top == ("root", "s0-0~50", "join")
    assert grouping.groups["s0-0~50"].children[0] == "s0-0~5"
    shown = [n.name for n in dag_view(up, {}).layout.nodes]
    assert len(shown) == 12 and "s3-0~5" in shown
    # Whatever is open, a box stands for its steps exactly: every drawn edge is a real one.
    for expand in (None, "all", "none", "s0-0~50,s2-0~5"):
        v = dag_view(up, {}, expand=expand)
        rep = {
            m: n.name
            for n in v.layout.nodes
            for m in (v.groups[n.name].members if n.name in v.groups else (n.name,))
        }
        assert set(rep) == set(up)
        real = {(rep[u], rep[t]) for t, ups in up.items() for u in ups if rep[u] != rep[t]}
        assert _edges(v) == real


def test_small_graphs_are_not_grouped_and_unknown_groups_are_ignored():
    small = {"prepare": set(), "train": {"prepare"}, "report": {"prepare"}}
    view = dag_view(small, {"train": "Function"})
    assert not view.grouped and [n.name for n in view.layout.nodes] == [
        "prepare",
        "train",
        "report",
    ]
    assert dag_view(_fan(30), {}, expand="nope~3,fit-00~30").expand == "fit-00~30"
    # The default view opens whole levels while at most VISIBLE boxes show.
    assert len(dag_view(_fan(VISIBLE - 2), {}).layout.nodes) == VISIBLE
    # Two more would not fit: the fan-out's chunks (3 of 8) stay closed.
    assert len(dag_view(_fan(VISIBLE), {}).layout.nodes) == 2 + -(-VISIBLE // CHUNK)


def test_a_group_counts_its_steps_per_status():
    steps = {"a": {"status": "Succeeded"}, "b": {"status": "Executing"}, "c": {"status": "Pending"}}
    summary = group_summary(("a", "b", "c", "d"), steps)
    assert summary["counts"] == {"Succeeded": 1, "Executing": 1, "Pending": 2}
    assert summary["status"] == "Executing" and summary["meta"] == "ok 1 · run 1 · wait 2"
    assert [s["status"] for s in summary["bar"]] == ["Succeeded", "Executing", "Pending"]
    assert group_summary(("a",), steps)["status"] == "Succeeded"
    assert group_summary(("a", "c"), steps)["status"] == "Partial"
    assert group_summary(("a", "x"), {"x": {"status": "Failed"}})["status"] == "Failed"
