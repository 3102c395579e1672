"""What one call of a model costs, counted on its imported graph: the FLOPs of its matrix
products and convolutions, and the weight bytes it must read at the run's precision.

Counted before fusion, so every model is counted the same way whatever optc fuses, and
the count is the model's, not optc's plan's. The side-by-side benchmark turns these into
the roofline floor (side_by_side_report.roofline).
"""

from __future__ import annotations

import math


def _shape(value) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _matmul_flops(op) -> int:
    """2 per multiply-add: the result's elements times the contracted length."""
    lhs = _shape(op.lhs)
    return 2 * math.prod(_shape(op.result)) * lhs[-1]


def _gemm_flops(op) -> int:
    a = _shape(op.a)
    k = a[0] if op.trans_a.value.data else a[1]
    return 2 * math.prod(_shape(op.result)) * k


def _conv_flops(op) -> int:
    """Every output element is a dot product over the weight's (C/group, *kernel)."""
    return 2 * math.prod(_shape(op.results[0])) * math.prod(_shape(op.operands[1])[1:])


def _conv_transpose_flops(op) -> int:
    """Every input element meets (C_out/group, *kernel) weights."""
    return 2 * math.prod(_shape(op.operands[0])) * math.prod(_shape(op.operands[1])[1:])


FLOPS = {
    "graph.matmul": _matmul_flops,
    "graph.gemm": _gemm_flops,
    "graph.conv": _conv_flops,
    "graph.conv_transpose": _conv_transpose_flops,
}
"""Graph op → FLOPs. Attention is its two matmuls at this level; elementwise work,
normalisation and softmax are left out (memory traffic, not arithmetic, bounds them)."""


def _stored_itemsize(element_type, precision: str) -> int:
    """Bytes per element on the device at `precision`: f32 becomes 2 bytes in fp16/bf16
    (graph-convert-precision converts f32 weights); everything else keeps its size."""
    from xdsl.dialects.builtin import Float32Type

    from passes.codegen.common.types import device_itemsize

    if isinstance(element_type, Float32Type) and precision in ("fp16", "bf16"):
        return 2
    return device_itemsize(element_type, "a weight")


def _read_elements(weight) -> int:
    """Elements of a weight one call reads: all of it, except a table used only as the
    data of gathers (embeddings), of which only the gathered rows are read."""
    total = math.prod(_shape(weight.result))
    uses = [use for use in weight.result.uses]
    if uses and all(use.operation.name == "graph.gather" and use.index == 0 for use in uses):
        gathered = sum(math.prod(_shape(use.operation.results[0])) for use in uses)
        return min(total, gathered)
    return total


def model_cost(module, precision: str = "fp16") -> tuple[float, float]:
    """(FLOPs, weight bytes) of one call of an imported (graph-level) module at `precision`."""
    from dialects.graph import WeightOp

    flops, weight_bytes = 0, 0
    for op in module.walk():
        if op.name in FLOPS:
            flops += FLOPS[op.name](op)
        elif isinstance(op, WeightOp):
            weight_bytes += _read_elements(op) * _stored_itemsize(op.result.type.element_type, precision)
    return float(flops), float(weight_bytes)
