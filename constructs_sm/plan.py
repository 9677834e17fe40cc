"""Scheduling (pure): which steps run one after another and which run at once.

A plan is a step name, ``("seq", [...])`` (one after another) or ``("par", [...])``
(at once). Steps without a data dependency run in parallel; for series-parallel graphs
the wall time equals the critical path.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TypeAlias

#: A schedule: a step name, ("seq", [...]) run one after another, ("par", [...]) at once.
Plan: TypeAlias = str | tuple[str, list["Plan"]]


def _topological(deps: Mapping[str, Sequence[str]]) -> list[str]:
    unknown = sorted({d for ds in deps.values() for d in ds if d not in deps})
    if unknown:
        raise ValueError(f"steps depend on unknown steps: {', '.join(unknown)}")
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        if state.get(node) == 1:
            cycle = [*trail[trail.index(node) :], node]
            raise ValueError(f"steps form a dependency cycle: {' -> '.join(cycle)}")
        state[node] = 1
        for dep in deps[node]:
            visit(dep, [*trail, node])
        state[node] = 2
        order.append(node)

    for node in deps:
        visit(node, [])
    return order


def plan(deps: Mapping[str, Sequence[str]]) -> Plan | None:
    """Schedule steps so that those without a data dependency run in parallel.

    Independent groups become parallel branches; inside a group, the steps with no
    pending dependency run first (in parallel), then the rest is planned again. The
    wall time equals the critical path for series-parallel graphs; for other graphs the
    schedule is still correct, and a step may wait for an unrelated sibling.
    Raises ``ValueError`` on a cycle or an unknown step.
    """
    order = _topological(deps)
    if not order:
        return None
    index = {name: position for position, name in enumerate(order)}
    return _plan(set(deps), deps, index)


def _components(nodes: set[str], deps: Mapping[str, Sequence[str]]) -> list[set[str]]:
    neighbours: dict[str, set[str]] = {n: set() for n in nodes}
    for node in nodes:
        for dep in deps[node]:
            if dep in nodes:
                neighbours[node].add(dep)
                neighbours[dep].add(node)
    groups: list[set[str]] = []
    seen: set[str] = set()
    for node in nodes:
        if node in seen:
            continue
        group, todo = set(), [node]
        while todo:
            current = todo.pop()
            if current not in group:
                group.add(current)
                todo.extend(neighbours[current] - group)
        seen |= group
        groups.append(group)
    return groups


def _closure(start: str, edges: Mapping[str, Sequence[str]], nodes: set[str]) -> set[str]:
    found: set[str] = set()
    todo = [start]
    while todo:
        for other in edges.get(todo.pop(), ()):
            if other in nodes and other not in found:
                found.add(other)
                todo.append(other)
    return found


def _plan(nodes: set[str], deps: Mapping[str, Sequence[str]], index: Mapping[str, int]) -> Plan:
    def ordered(items: set[str]) -> list[str]:
        return sorted(items, key=index.__getitem__)

    def sub(items: set[str]) -> list[Plan]:
        if not items:
            return []
        part = _plan(items, deps, index)
        return list(part[1]) if isinstance(part, tuple) and part[0] == "seq" else [part]

    if len(nodes) == 1:
        return next(iter(nodes))
    groups = _components(nodes, deps)
    if len(groups) > 1:
        groups.sort(key=lambda g: min(index[n] for n in g))
        return ("par", [_plan(g, deps, index) for g in groups])
    dependents: dict[str, list[str]] = {n: [] for n in nodes}
    for node in nodes:
        for dep in deps[node]:
            if dep in nodes:
                dependents[dep].append(node)
    before = {n: _closure(n, deps, nodes) for n in nodes}
    after = {n: _closure(n, dependents, nodes) for n in nodes}
    # A bottleneck is ordered against every other step: the graph is a series there.
    bottlenecks = [n for n in ordered(nodes) if before[n] | after[n] | {n} == nodes]
    if bottlenecks:
        parts: list[Plan] = [*sub(before[bottlenecks[0]]), bottlenecks[0]]
        for previous, current in itertools.pairwise(bottlenecks):
            parts += [*sub(after[previous] & before[current]), current]
        parts += sub(after[bottlenecks[-1]])
        return ("seq", parts)
    # No series split (e.g. a->c, b->c, b->d): start the sources together, then the rest.
    first = {n for n in nodes if not before[n]}
    head: Plan = ordered(first)[0] if len(first) == 1 else ("par", list(ordered(first)))
    return ("seq", [head, *sub(nodes - first)])


def critical_path_steps(plan_: Plan | None) -> list[list[str]]:
    """The plan as stages of steps that run together (for reports)."""
    if plan_ is None:
        return []
    if isinstance(plan_, str):
        return [[plan_]]
    kind, parts = plan_
    if kind == "seq":
        return [stage for part in parts for stage in critical_path_steps(part)]
    return [[s for part in parts for stage in critical_path_steps(part) for s in stage]]
