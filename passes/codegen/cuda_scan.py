"""CUDA generator for `graph.cum_sum`: one thread per line along the axis, summing in
order, as the reference (np.cumsum) does: the same additions in the same order.

The input is viewed as (outer, L, inner); consecutive threads take consecutive `inner`
positions, so when the axis is not the last one every step's loads coalesce. Sums are
kept in float for f16/bf16 (rounded once, as the reference), in the type itself for
f32/f64, and for integers in the unsigned type of the same width, so that overflow wraps
as numpy's does (signed overflow is undefined in C).
"""

from __future__ import annotations

import math

from dialects.graph import CumSumOp
from dialects.graph.base import int_of
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.cuda_pool_common import BLOCK_SIZE, check_block, element_ctype, grid_stride_kernel
from passes.codegen.cuda_types import CType
from passes.codegen.generator import Generator, grid_stride_blocks


def _view(op: CumSumOp) -> tuple[int, int, int]:
    shape = op.input.type.get_shape()
    axis = int_of(op.axis) % len(shape)
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def _sum_type(ctype: CType) -> str:
    if ctype.is_float:
        return ctype.compute
    return ctype.storage if ctype.storage.startswith("unsigned") else f"unsigned {ctype.storage.replace('signed ', '')}"


def configure(kernel: FuncOp) -> LaunchAttr:
    outer, _, inner = _view(kernel.computation)
    return LaunchAttr([grid_stride_blocks(outer * inner, BLOCK_SIZE)], [BLOCK_SIZE])


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    op = kernel.computation
    check_block(kernel, launch, (BLOCK_SIZE, 1, 1))
    outer, length, inner = _view(op)
    ctype = element_ctype(kernel, op.input)
    acc = _sum_type(ctype)
    step = f"{length - 1}LL - j" if int_of(op.reverse) else "j"
    value = ctype.load("in0[at]") if ctype.is_float else f"({acc})in0[at]"
    result = ctype.store("sum") if ctype.is_float else f"({ctype.storage})sum"
    update = [f"sum += {value};", f"out0[at] = {result};"]
    if int_of(op.exclusive):
        update.reverse()
    base = f"i * {length}LL" if inner == 1 else f"(i / {inner}LL) * {length * inner}LL + i % {inner}LL"
    at = f"({step})" if inner == 1 else f"({step}) * {inner}LL"
    body = [
        f"const long long base = {base};",
        f"{acc} sum = 0;",
        f"for (long long j = 0; j < {length}LL; ++j) {{",
        f"    const long long at = base + {at};",
        *[f"    {line}" for line in update],
        "}",
    ]
    return grid_stride_kernel(kernel, outer * inner, body)


GENERATORS: dict[type, Generator] = {CumSumOp: Generator(configure, emit)}
