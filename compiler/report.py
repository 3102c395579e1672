"""The fusion report: ONNX nodes in, kernels out, per kind (`optc --fusion-report`).

A kernel is a launch the runtime will make: every op at the top level of `@main` except
constants, weights and the free views (a reshape of a contiguous tensor moves no data).
Before fusion every remaining graph op counts as one kernel, so the report also shows
what fusing saved.
"""

from __future__ import annotations

from collections import Counter

from xdsl.dialects.builtin import IntegerAttr, ModuleOp

from dialects.kernel import kernel_ops

SOURCE_NODES_ATTR = "optc.onnx_nodes"
"""Module attribute the importer sets: how many nodes the ONNX graph had."""


def kernel_counts(module: ModuleOp) -> Counter[str]:
    """Kernels of `@main` by op name."""
    return Counter(op.name for op in kernel_ops(module))


def fusion_report(module: ModuleOp) -> str:
    counts = kernel_counts(module)
    nodes = module.attributes.get(SOURCE_NODES_ATTR)
    source = f"{nodes.value.data} ONNX nodes -> " if isinstance(nodes, IntegerAttr) else ""
    lines = [f"fusion report: {source}{sum(counts.values())} kernels"]
    width = max((len(name) for name in counts), default=0)
    lines += [f"  {name:<{width}}  {n:>4}" for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return "\n".join(lines)
