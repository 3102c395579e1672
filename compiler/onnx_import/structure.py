"""The graph's structure, checked before anything is built: every value defined once
(onnxruntime's SSA rule), initializer dimensions that are sizes, and the nodes in an order
where each runs after the nodes it reads from.

ONNX requires the nodes of a graph to be sorted topologically, but onnxruntime sorts them
itself, so unsorted models exist in the wild; they import here too. A cycle is an error.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

import onnx

from compiler.onnx_import.context import describe
from dialects.errors import OptcError


def check_graph(graph: onnx.GraphProto) -> None:
    """Refuse what onnxruntime refuses when it loads the graph: a value defined twice (two
    inputs of one name, a node output that is also an input, an initializer or another
    node's output) and an initializer with a negative dimension."""
    for init in graph.initializer:
        if any(d < 0 for d in init.dims):
            raise OptcError(f"initializer '{init.name}' has negative dimensions {list(init.dims)}")
    initializers = {i.name for i in graph.initializer}
    defined: dict[str, str] = {name: f"initializer '{name}'" for name in initializers}
    for value in graph.input:
        if value.name in defined and value.name not in initializers:
            raise OptcError(f"graph input '{value.name}' is listed twice")
        defined[value.name] = f"graph input '{value.name}'"  # an initializer may be listed as an input (IR < 4)
    for node in graph.node:
        for name in filter(None, node.output):
            if name in defined:
                raise OptcError(f"{describe(node)} defines '{name}', which is already defined by {defined[name]}")
            defined[name] = describe(node)


def topological_order(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The nodes in an order where each follows the producers of its inputs; nodes already
    in order keep it (Kahn's algorithm, taking the earliest ready node first). Inputs that
    nothing produces are left for the importer to report."""
    nodes = list(graph.node)
    producer = {name: i for i, node in enumerate(nodes) for name in filter(None, node.output)}
    waits_on = [{producer[name] for name in node.input if name in producer} for node in nodes]
    readers: list[list[int]] = [[] for _ in nodes]
    for i, producers in enumerate(waits_on):
        for p in producers:
            readers[p].append(i)
    pending = [len(p) for p in waits_on]
    ready = [i for i, n in enumerate(pending) if n == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(i)
        for r in readers[i]:
            pending[r] -= 1
            if pending[r] == 0:
                heapq.heappush(ready, r)
    if len(order) < len(nodes):
        node = nodes[_on_cycle(waits_on, [i for i, n in enumerate(pending) if n > 0])]
        raise OptcError(f"the graph has a cycle through {describe(node)}: a node's inputs depend on its own outputs")
    return [nodes[i] for i in order]


def _on_cycle(waits_on: list[set[int]], blocked: Iterable[int]) -> int:
    """A node on a cycle: every blocked node waits on a blocked producer, so walking from
    one to a producer still blocked must come back to a node already seen."""
    blocked = set(blocked)
    seen: set[int] = set()
    i = min(blocked)
    while i not in seen:
        seen.add(i)
        i = min(p for p in waits_on[i] if p in blocked)
    return i
