"""Collapsing a big DAG into groups for drawing.

A 50-step pipeline drawn box by box is a wall of boxes. Steps are grouped by the graph's own
shape, so a group stands for its steps exactly (its edges are theirs, no cycle can appear): a
*chain* (steps one after another, nothing joining or leaving in between) and *parallel* siblings
(the same upstream and the same downstream steps: a fan-out). Grouping repeats on the grouped
graph, so ten parallel chains become one group of ten chain groups; a group of more than
``CHUNK`` members is split into chunks of at most ``CHUNK``, so expanding one never floods the
view. A group is drawn as one box; expanding it shows its children.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from rayline.studio.layout import NODE_W, Layout, layout

MIN_CHAIN = 2
MIN_PARALLEL = 3
CHUNK = 10
#: How many boxes the default view may show: it expands whole levels of groups while they fit.
VISIBLE = 24
GROUP_KIND = "Group"


@dataclass(frozen=True)
class Group:
    """Steps drawn as one box: ``shape`` ("chain" or "parallel"), its ``children`` (step
    names or group ids, in order) and every step inside it (``members``, definition order).
    Its id (``first-member~count``) cannot be a step name (those have no ``~``)."""

    id: str
    shape: str
    children: tuple[str, ...]
    members: tuple[str, ...]

    @property
    def label(self) -> str:
        """Its steps' common name prefix (``fit-*``), else its first and last step."""
        prefix = _common_prefix(self.members)
        if len(prefix) >= 3:
            return f"{prefix}*"
        return f"{self.members[0]} … {self.members[-1]}"

    @property
    def detail(self) -> str:
        how = "parallel" if self.shape == "parallel" else "in a row"
        return f"{len(self.members)} steps · {len(self.children)} {how}"


@dataclass(frozen=True)
class Grouping:
    """The groups of a graph (by id) and what shows with every group collapsed (``top``)."""

    groups: dict[str, Group]
    top: tuple[str, ...]

    def visible(self, expanded: frozenset[str]) -> list[str]:
        """The boxes drawn when the groups in ``expanded`` are open (a group inside a closed
        one stays hidden whatever ``expanded`` says)."""
        out: list[str] = []

        def show(item: str) -> None:
            group = self.groups.get(item)
            if group is not None and item in expanded:
                for child in group.children:
                    show(child)
            else:
                out.append(item)

        for item in self.top:
            show(item)
        return out

    def auto_expanded(self, budget: int = VISIBLE) -> frozenset[str]:
        """The default view: open the top groups, then their child groups, a whole level at a
        time while the boxes shown stay within ``budget`` (a small graph opens completely)."""
        expanded: set[str] = set()
        shown = len(self.top)
        level = [g for g in self.top if g in self.groups]
        while level:
            cost = sum(len(self.groups[g].children) - 1 for g in level)
            if shown + cost > budget:
                break
            expanded.update(level)
            shown += cost
            level = [c for g in level for c in self.groups[g].children if c in self.groups]
        return frozenset(expanded)


def group_steps(upstream: Mapping[str, frozenset[str] | set[str]]) -> Grouping:
    """Group the steps of ``upstream`` (step -> its upstream steps) into chains and parallel
    siblings, repeatedly, as the module's comment above says."""
    order = {name: i for i, name in enumerate(upstream)}
    preds: dict[str, set[str]] = {
        n: {u for u in ups if u in upstream} for n, ups in upstream.items()
    }
    succs: dict[str, set[str]] = {n: set() for n in upstream}
    for name, ups in preds.items():
        for u in ups:
            succs[u].add(name)
    members: dict[str, tuple[str, ...]] = {n: (n,) for n in upstream}
    groups: dict[str, Group] = {}
    graph = _Graph(preds, succs, members, groups, order)
    changed = True
    while changed:
        changed = graph.contract_chains()
        changed = graph.contract_parallel() or changed
    top = tuple(sorted(preds, key=graph.position))
    return Grouping(groups, top)


@dataclass
class _Graph:
    """The graph being grouped: its nodes (steps and groups) with their edges."""

    preds: dict[str, set[str]]
    succs: dict[str, set[str]]
    members: dict[str, tuple[str, ...]]
    groups: dict[str, Group]
    order: dict[str, int]

    def position(self, node: str) -> int:
        return self.order[self.members[node][0]]

    def contract_chains(self) -> bool:
        def linked(a: str) -> str | None:
            (b,) = self.succs[a] if len(self.succs[a]) == 1 else (None,)
            return b if b is not None and len(self.preds[b]) == 1 else None

        heads = [
            n
            for n in sorted(self.preds, key=self.position)
            if not (len(self.preds[n]) == 1 and linked(next(iter(self.preds[n]))) == n)
        ]
        changed = False
        for head in heads:
            chain = [head]
            while (nxt := linked(chain[-1])) is not None:
                chain.append(nxt)
            if len(chain) >= MIN_CHAIN:
                changed = self.contract("chain", chain) or changed
        return changed

    def contract_parallel(self) -> bool:
        classes: dict[tuple[frozenset[str], frozenset[str]], list[str]] = {}
        for n in sorted(self.preds, key=self.position):
            key = (frozenset(self.preds[n]), frozenset(self.succs[n]))
            classes.setdefault(key, []).append(n)
        changed = False
        for siblings in classes.values():
            if len(siblings) >= MIN_PARALLEL:
                changed = self.contract("parallel", siblings) or changed
        return changed

    def contract(self, shape: str, nodes: list[str]) -> bool:
        """Replace ``nodes`` by one group node (its chunks, if they would be the whole graph:
        one box for everything shows nothing)."""
        whole = len(nodes) == len(self.preds)
        if whole and len(nodes) <= CHUNK:
            return False
        if whole:
            for part in _split(nodes):
                if len(part) > 1:
                    self._replace(part, self._make(shape, part))
            return True
        self._replace(nodes, self._make(shape, nodes))
        return True

    def _make(self, shape: str, children: list[str]) -> str:
        if len(children) > CHUNK:
            children = [
                part[0] if len(part) == 1 else self._make(shape, part) for part in _split(children)
            ]
        inside = tuple(sorted((m for c in children for m in self.members[c]), key=self.order.get))
        gid = f"{inside[0]}~{len(inside)}"
        self.groups[gid] = Group(gid, shape, tuple(children), inside)
        self.members[gid] = inside
        return gid

    def _replace(self, nodes: list[str], gid: str) -> None:
        inner = set(nodes)
        ups = {u for n in nodes for u in self.preds[n]} - inner
        downs = {d for n in nodes for d in self.succs[n]} - inner
        for n in nodes:
            del self.preds[n], self.succs[n]
        for u in ups:
            self.succs[u] = (self.succs[u] - inner) | {gid}
        for d in downs:
            self.preds[d] = (self.preds[d] - inner) | {gid}
        self.preds[gid], self.succs[gid] = ups, downs


def _split(items: list[str]) -> list[list[str]]:
    """``items`` in consecutive parts of at most ``CHUNK``, as even as can be."""
    parts = -(-len(items) // CHUNK)
    size, extra = divmod(len(items), parts)
    out, at = [], 0
    for i in range(parts):
        n = size + (1 if i < extra else 0)
        out.append(items[at : at + n])
        at += n
    return out


def _common_prefix(names: tuple[str, ...]) -> str:
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    return first[:n]


STATUS_ORDER = ("Succeeded", "Executing", "Starting", "Stopping", "Failed", "Stopped", "Pending")


@dataclass(frozen=True)
class DagView:
    """A graph as drawn: its ``layout`` (groups as one box each, kind ``Group``), the groups
    drawn (by id), the groups open, and ``expand``, the query value that draws it again."""

    layout: Layout
    groups: dict[str, Group]
    expanded: frozenset[str]
    expand: str
    grouped: bool  # whether the graph has groups at all (the expand/collapse tools show)
    collapsed_any: bool

    def summary(self, group_id: str, steps: Mapping[str, Mapping[str, object]]) -> dict:
        """A group's live state from its steps' (``state["steps"]``): counts per status, the
        status it is drawn with, and the bar's segments (x and width in the box's units)."""
        return group_summary(self.groups[group_id].members, steps)


def group_summary(members: tuple[str, ...], steps: Mapping[str, Mapping[str, object]]) -> dict:
    counts: dict[str, int] = {}
    for name in members:
        status = str(steps.get(name, {}).get("status", "Pending"))
        counts[status] = counts.get(status, 0) + 1
    if counts.get("Failed"):
        status = "Failed"
    elif any(counts.get(s) for s in ("Executing", "Starting", "Stopping")):
        status = "Executing"
    elif counts.get("Stopped"):
        status = "Stopped"
    elif set(counts) == {"Succeeded"}:
        status = "Succeeded"
    elif set(counts) == {"Pending"}:
        status = "Pending"
    else:
        status = "Partial"
    width, x, bar = NODE_W - 20, 0.0, []
    for s in sorted(counts, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else 99):
        w = width * counts[s] / len(members)
        bar.append({"status": s, "x": round(x, 1), "w": round(w, 1)})
        x += w
    words = {"Succeeded": "ok", "Executing": "run", "Starting": "run", "Failed": "fail"}
    words |= {"Stopped": "stop", "Stopping": "stop", "Pending": "wait"}
    text: dict[str, int] = {}
    for s, n in counts.items():
        text[words.get(s, s)] = text.get(words.get(s, s), 0) + n
    meta = " · ".join(f"{w} {text[w]}" for w in ("ok", "run", "fail", "stop", "wait") if w in text)
    return {"status": status, "counts": counts, "bar": bar, "meta": meta}


def dag_view(
    upstream: Mapping[str, frozenset[str] | set[str]],
    kinds: Mapping[str, str],
    *,
    expand: str | None = None,
) -> DagView:
    """The graph laid out with its groups open as ``expand`` says: None for the default view
    (``Grouping.auto_expanded``), ``"all"``, ``"none"``, or group ids separated by commas
    (ids it does not know are left out: a link from an older version still draws)."""
    grouping = group_steps(upstream)
    every = frozenset(grouping.groups)
    if expand is None:
        expanded = grouping.auto_expanded()
    elif expand.strip() == "all":
        expanded = every
    elif expand.strip() in ("", "none"):
        expanded = frozenset()
    else:
        expanded = frozenset(g.strip() for g in expand.split(",")) & every
    shown = grouping.visible(expanded)
    # Only the open groups whose box is gone from view matter to the next request.
    parents = {c: g.id for g in grouping.groups.values() for c in g.children}
    expanded = frozenset(g for g in expanded if _opened(parents, g, expanded))
    rep = {}
    for item in shown:
        group = grouping.groups.get(item)
        for member in group.members if group else (item,):
            rep[member] = item
    visible_up: dict[str, set[str]] = {item: set() for item in shown}
    for name, ups in upstream.items():
        for u in ups:
            if u in rep and name in rep and rep[u] != rep[name]:
                visible_up[rep[name]].add(rep[u])
    drawn = {g: grouping.groups[g] for g in shown if g in grouping.groups}
    shown_kinds = {item: GROUP_KIND if item in drawn else kinds.get(item, "") for item in shown}
    if expanded == every:
        value = "all"
    elif not expanded:
        value = "none"
    else:
        value = ",".join(sorted(expanded))
    return DagView(
        layout(visible_up, shown_kinds),
        drawn,
        expanded,
        value,
        grouped=bool(every),
        collapsed_any=bool(drawn),
    )


def _opened(parents: Mapping[str, str], group_id: str, expanded: frozenset[str]) -> bool:
    """Whether ``group_id`` is open and so are all the groups around it."""
    at: str | None = group_id
    while at is not None:
        if at not in expanded:
            return False
        at = parents.get(at)
    return True
