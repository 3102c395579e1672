"""CUDA generator for `graph.cum_sum`: one thread per line along the axis, summing in
order, as the reference (np.cumsum) does: the same additions in the same order.

The input is viewed as (outer, L, inner); consecutive threads take consecutive `inner`
positions, so when the axis is not the last one every step's loads coalesce. Along the
last axis, lines of at least `WARP_SCAN_LENGTH` get a warp each instead (a shuffle scan
per 32-element chunk, coalesced), the position-id cumsums of transformers for one. These
are the tactics `line_per_thread` and `line_per_warp` (along the last axis only, where
both are candidates). Sums are kept in float for f16/bf16 (rounded once, as the
reference), in the type itself for f32/f64, and for integers in the unsigned type of the
same width, so that overflow wraps as numpy's does (signed overflow is undefined in C).
"""

from __future__ import annotations

import math

from dialects.graph import CumSumOp
from dialects.graph.base import int_of
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import CType, kernel_signature, pointer_params
from passes.codegen.generator import Generator, grid_stride_blocks, refused_tactic
from passes.codegen.pool.support import BLOCK_SIZE, element_ctype, grid_stride_kernel, refuse, tactic_problem
from passes.codegen.target import DEFAULT, Target

TACTICS = ("line_per_thread", "line_per_warp")


def _view(op: CumSumOp) -> tuple[int, int, int]:
    shape = op.input.type.get_shape()
    axis = int_of(op.axis) % len(shape)
    return math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])


def _sum_type(ctype: CType) -> str:
    if ctype.is_float:
        return ctype.compute
    return ctype.storage if ctype.storage.startswith("unsigned") else f"unsigned {ctype.storage.replace('signed ', '')}"


WARP_SCAN_LENGTH = 64
"""Lines along the last axis at least this long are scanned by a warp each, not a thread."""


def _launch(kernel: FuncOp, tactic: str) -> LaunchAttr:
    outer, _, inner = _view(kernel.computation)
    lines_per_block = BLOCK_SIZE // 32 if tactic == "line_per_warp" else BLOCK_SIZE
    return LaunchAttr(tactic, [grid_stride_blocks(outer * inner, lines_per_block)], [BLOCK_SIZE])


def _tactics(kernel: FuncOp) -> tuple[str, ...]:
    """Along the last axis a warp may take a line; elsewhere a thread takes one."""
    _, _, inner = _view(kernel.computation)
    return TACTICS if inner == 1 else ("line_per_thread",)


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    """A thread per line, or along the last axis with long lines a warp per line."""
    _, length, inner = _view(kernel.computation)
    return _launch(kernel, "line_per_warp" if inner == 1 and length >= WARP_SCAN_LENGTH else "line_per_thread")


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    return [_launch(kernel, tactic) for tactic in _tactics(kernel)]


def _launch_problem(kernel: FuncOp, launch: LaunchAttr) -> str | None:
    why = tactic_problem(kernel, launch, TACTICS)
    if why is not None:
        return why
    if launch.tactic_name not in _tactics(kernel):
        return refused_tactic(launch.tactic_name, "a warp per line runs along the last axis only")
    if launch.block_dims != (BLOCK_SIZE, 1, 1):
        return f"the launch's block {list(launch.block_dims)} is not the {[BLOCK_SIZE, 1, 1]} the scan needs"
    return None


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    return _launch_problem(kernel, launch)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    op = kernel.computation
    why = _launch_problem(kernel, launch)
    if why is not None:
        raise refuse(kernel, op, why)
    if launch.tactic_name == "line_per_warp":
        return _emit_warp_scan(kernel, op)
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


def _emit_warp_scan(kernel: FuncOp, op: CumSumOp) -> str:
    """Each warp walks its line (the last axis) 32 elements at a time, coalesced: a
    shuffle scan within the chunk plus the carry from the chunks before. The additions
    are regrouped, so floats may differ from the sequential sum by rounding; integers are
    exact (they wrap the same)."""
    outer, length, inner = _view(op)
    ctype = element_ctype(kernel, op.input)
    acc = _shuffle_type(ctype)
    position = f"{length - 1}LL - j" if int_of(op.reverse) else "j"
    value = ctype.load("in0[at]") if ctype.is_float else f"({acc})in0[at]"
    result = "before" if int_of(op.exclusive) else "sum"
    stored = ctype.store(f"carry + {result}") if ctype.is_float else f"({ctype.storage})(carry + {result})"
    body = [
        "const int lane = threadIdx.x & 31;",
        "const long long warps = ((long long)gridDim.x * blockDim.x) >> 5;",
        f"for (long long line = i >> 5; line < {outer}LL; line += warps) {{",
        f"    {acc} carry = 0;",
        f"    for (long long j0 = 0; j0 < {length}LL; j0 += 32) {{",
        "        const long long j = j0 + lane;",
        f"        const long long at = line * {length}LL + ({position});",
        f"        {acc} sum = 0;",
        f"        if (j < {length}LL) sum = {value};",
        "        for (int d = 1; d < 32; d *= 2) {",
        f"            const {acc} t = __shfl_up_sync(0xffffffffu, sum, d);",
        "            if (lane >= d) sum += t;",
        "        }",
        f"        {acc} before = __shfl_up_sync(0xffffffffu, sum, 1);",
        "        if (lane == 0) before = 0;",
        f"        if (j < {length}LL) out0[at] = {stored};",
        "        carry += __shfl_sync(0xffffffffu, sum, 31);",
        "    }",
        "}",
    ]
    name = kernel.sym_name.data
    text = "\n".join(f"    {line}" for line in body)
    return (
        f"{kernel_signature(name, pointer_params(kernel), BLOCK_SIZE)}\n{{\n"
        "    const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;\n"
        f"{text}\n}}\n"
    )


def _shuffle_type(ctype: CType) -> str:
    """A type __shfl_sync moves: float/double, or for integers an unsigned type of 32 or 64
    bits (narrower sums wrap the same modulo their width once truncated)."""
    if ctype.is_float:
        return ctype.compute
    return "unsigned long long" if ctype.itemsize == 8 else "unsigned int"


GENERATORS: dict[type, Generator] = {CumSumOp: Generator(configure, emit, candidates, check)}
