"""Which node of a plan waits for which, answered without walking the whole plan per question.

The plan (:mod:`.plan`) adds data edges one read at a time and must refuse a read that would
close a cycle ("``a`` reads ``b``, which runs after it"). Asking "is ``a`` an ancestor of
``b``?" by a walk over the plan for each read costs O(steps) per read, O(steps²) in all: 30 s
for 10,000 steps (issue 13). :class:`Reachability` instead keeps a topological order of the
"waits for" graph and updates it as edges are added (Pearce & Kelly, "A Dynamic Topological
Sort Algorithm for Directed Acyclic Graphs", ACM JEA 11, 2006): an edge that agrees with the
order (a step reading one that comes before it, the usual case) costs O(1); otherwise only the
nodes between the two positions are searched and reordered.

Ordering cycles (``needs`` loops, reported once by the plan) would leave no topological order,
so the graph is kept over their *condensation*: every strongly connected component counts as one
node (its representative), exactly as a walk through the cycle would see it.

Nothing here imports Dagster.
"""

from __future__ import annotations

import heapq
from typing import Iterable, Mapping, Sequence


class Reachability:
    """A topological order of a "waits for" graph that follows added edges.

    Args:
        upstream: node → the nodes it waits for (names outside ``upstream`` are ignored).
        components: groups of nodes on one ordering cycle (strongly connected components of
            more than one node); each group counts as one node.

    Edges go from the waited-for node to the waiting one; :meth:`position` grows along them.
    """

    def __init__(self, upstream: Mapping[str, Iterable[str]], components: Sequence[Sequence[str]] = ()):
        rep = {n: n for n in upstream}
        for component in components:
            for member in component:
                rep[member] = component[0]
        self._rep = rep
        down: dict[str, set[str]] = {r: set() for r in set(rep.values())}
        up: dict[str, set[str]] = {r: set() for r in down}
        for node, ups in upstream.items():
            r = rep[node]
            for u in ups:
                ru = rep.get(u)
                if ru is not None and ru != r:
                    down[ru].add(r)
                    up[r].add(ru)
        self._down, self._up = down, up
        # Kahn's algorithm, smallest file position first (the plan's order reads like the file)
        first = {}
        for i, node in enumerate(upstream):
            first.setdefault(rep[node], i)
        indeg = {r: len(up[r]) for r in down}
        ready = [(first[r], r) for r, d in indeg.items() if d == 0]
        heapq.heapify(ready)
        order: dict[str, int] = {}
        while ready:
            _, r = heapq.heappop(ready)
            order[r] = len(order)
            for d in down[r]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    heapq.heappush(ready, (first[d], d))
        if len(order) != len(down):  # pragma: no cover - the components cover every cycle
            raise ValueError("the graph has a cycle outside the given components")
        self._ord = order

    def position(self, node: str) -> int:
        """The node's place in the current topological order (equal for one cycle's members)."""
        return self._ord[self._rep[node]]

    def waits_for(self, waiter: str, target: str) -> bool:
        """True when ``waiter`` waits for ``target``, directly or not (also when both are on one
        ordering cycle)."""
        w, t = self._rep[waiter], self._rep[target]
        if w == t:
            return True
        if self._ord[t] > self._ord[w]:
            return False
        return w in self._forward(t, self._ord[w], stop=w)

    def _forward(self, start: str, bound: int, stop: str | None = None) -> set[str]:
        """Representatives downstream of ``start`` whose position is at most ``bound``; the walk
        ends early once it reaches ``stop``."""
        seen = {start}
        stack = [start]
        order, down = self._ord, self._down
        while stack:
            current = stack.pop()
            for d in down[current]:
                if d not in seen and order[d] <= bound:
                    seen.add(d)
                    if d == stop:
                        return seen
                    stack.append(d)
        return seen

    def _backward(self, start: str, bound: int) -> set[str]:
        """Representatives upstream of ``start`` whose position is at least ``bound``."""
        seen = {start}
        stack = [start]
        order, up = self._ord, self._up
        while stack:
            current = stack.pop()
            for u in up[current]:
                if u not in seen and order[u] >= bound:
                    seen.add(u)
                    stack.append(u)
        return seen

    def add(self, waiter: str, target: str) -> bool:
        """Record that ``waiter`` waits for ``target``; False (nothing recorded) when ``target``
        already waits for ``waiter``, which would close a cycle."""
        w, t = self._rep[waiter], self._rep[target]
        if w == t:
            return True  # one node, or one cycle already reported
        order = self._ord
        if order[t] > order[w]:  # the edge goes against the order: search between the two
            lower, upper = order[w], order[t]
            forward = self._forward(w, upper, stop=t)
            if t in forward:
                return False
            backward = self._backward(t, lower)
            moved = sorted(backward, key=order.get) + sorted(forward, key=order.get)
            for node, slot in zip(moved, sorted(order[n] for n in moved)):
                order[node] = slot
        self._down[t].add(w)
        self._up[w].add(t)
        return True

    def ancestors_among(self, members: Sequence[str], upstream: Mapping[str, Iterable[str]]) -> set[str]:
        """Every node some node of ``members`` waits for, directly or not, walking ``upstream``
        only over nodes placed at or after the earliest member (nothing earlier can be a member)."""
        if not members:
            return set()
        lowest = min(self.position(m) for m in members)
        covered: set[str] = set()
        stack = [u for m in members for u in upstream[m]]
        while stack:
            current = stack.pop()
            if current in covered or current not in upstream or self.position(current) < lowest:
                continue
            covered.add(current)
            stack.extend(upstream[current])
        return covered
