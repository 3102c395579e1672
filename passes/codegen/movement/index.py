"""The indexed movement ops: gather, gather_elements, gather_nd, scatter_nd, one_hot.

Indices arrive as i32/i64 (one_hot: any number) pointers, read with their real C type.
A negative index counts from the end, as in the reference. An index outside [-dim, dim)
is an error in the reference (numpy raises); a kernel cannot raise, so it clamps to the
nearest valid position instead of reading out of bounds: such inputs are undefined
behaviour in ONNX, and the clamp only keeps memory safe.

ScatterND is a copy then a scatter, in one kernel without a grid-wide barrier: the
elements of the result are dealt out to threads, and each thread first copies its own
elements from `data`, then walks *all* index rows in order and applies the ones that
address its elements. Every element is thus written by exactly one thread, in index
order: duplicates follow the reference (`none`: the last row wins; `add`/`mul`/`max`/
`min`: applied one after the other, in index order, as `ufunc.at`). Thread (c, s) owns
the elements at suffix position s of the slices p with p % chunks == c; `chunks` is a
tile parameter (more threads, more rows scanned per element owned).
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import BFloat16Type

from dialects import graph
from dialects.graph.base import int_of, str_of
from dialects.kernel import FuncOp
from passes.codegen.common.types import ctype_of
from passes.codegen.movement.skeleton import Context, Plan, Spec, shape_of, strides
from passes.codegen.target import Target


def resolve(ctx: Context, name: str, expr: str, dim: int) -> list[str]:
    """`long long name` = the index `expr` along a dimension of `dim`, negatives counted
    from the end and clamped into range (see the module docstring)."""
    return [
        f"long long {name} = (long long)({expr});",
        f"{name} = {name} < 0 ? {name} + {dim}LL : {name};",
        f"{name} = {name} < 0 ? 0LL : ({name} >= {dim}LL ? {dim - 1}LL : {name});",
    ]


def _index_load(kernel: FuncOp, operand: int, at: str) -> str:
    t = kernel.function_type.inputs.data[operand].element_type
    return ctype_of(t, f"@{kernel.sym_name.data}").load(f"in{operand}[{at}]")


# --- gather ---------------------------------------------------------------------------


def _gather_view(op: graph.GatherOp) -> tuple[int, int, int, int]:
    """(outer, axis size, index count, inner) of data [outer, dim, inner] gathered along dim."""
    data, axis = shape_of(op.data), int_of(op.axis)
    return math.prod(data[:axis]), data[axis], math.prod(shape_of(op.indices)), math.prod(data[axis + 1 :])


def _gather_plan(ctx: Context) -> Plan:
    outer, dim, count, inner = _gather_view(ctx.op)
    inner //= ctx.vector
    lit = ctx.lit
    lines = [
        ctx.split3(outer, count, inner),
        *resolve(ctx, "q", _index_load(ctx.kernel, 1, "a"), dim),
        f"out0[i] = in0[{ctx.linear((f'(o * {lit(dim)} + ({ctx.index})q)', inner), ('s', 1))}];",
    ]
    return Plan(outer * count * inner, lines)


GATHER = Spec(_gather_plan, lambda k, v: _gather_view(k.computation)[3] % v == 0, typed=lambda k: {"in1"})


def _gather_elements_plan(ctx: Context) -> Plan:
    op = ctx.op
    data, out, axis = shape_of(op.data), shape_of(op.result), int_of(op.axis)
    lines, names = ctx.coords("i", out, "c", needed=[k for k in range(len(out)) if k != axis])  # q replaces c<axis>
    data_strides = strides(data)
    rest = ctx.dot([n for k, n in enumerate(names) if k != axis], [s for k, s in enumerate(data_strides) if k != axis])
    lines += resolve(ctx, "q", _index_load(ctx.kernel, 1, "i"), data[axis])
    lines.append(f"out0[i] = in0[{rest} + ({ctx.index})q * {ctx.lit(data_strides[axis])}];")
    return Plan(math.prod(out), lines)


GATHER_ELEMENTS = Spec(_gather_elements_plan, typed=lambda k: {"in1"})


def _gather_nd_view(op: graph.GatherNDOp) -> tuple[int, int, int, int]:
    """(batch B, rows R per batch, depth k, slice size S): result [B, R, S]."""
    data, indices, b = shape_of(op.data), shape_of(op.indices), int_of(op.batch_dims)
    depth = indices[-1]
    return math.prod(data[:b]), math.prod(indices[b:-1]), depth, math.prod(data[b + depth :])


def _gather_nd_plan(ctx: Context) -> Plan:
    op = ctx.op
    data, b = shape_of(op.data), int_of(op.batch_dims)
    batch, rows, depth, size = _gather_nd_view(op)
    v, lit = ctx.vector, ctx.lit
    size //= v
    data_strides = [s // v for s in strides(data)]
    lines = [
        f"const {ctx.index} s = i % {lit(size)}, r = (i / {lit(size)}) % {lit(rows)}, bb = i / {lit(size * rows)};",
        f"const {ctx.index} row = (bb * {lit(rows)} + r) * {lit(depth)};",
        f"{ctx.index} at = bb * {lit(math.prod(data[b:]) // v)} + s;",
    ]
    for t in range(depth):
        lines += resolve(ctx, f"q{t}", _index_load(ctx.kernel, 1, f"row + {lit(t)}"), data[b + t])
        lines.append(f"at += ({ctx.index})q{t} * {lit(data_strides[b + t])};")
    lines.append("out0[i] = in0[at];")
    return Plan(batch * rows * size, lines)


GATHER_ND = Spec(_gather_nd_plan, lambda k, v: _gather_nd_view(k.computation)[3] % v == 0, typed=lambda k: {"in1"})

# --- scatter_nd -------------------------------------------------------------------------

_COMBINE = {
    "add": ("({a} + {b})", "({a} || {b})"),
    "mul": ("({a} * {b})", "({a} && {b})"),
    "max": ("(({a} != {a} || {a} > {b}) ? {a} : {b})", "({a} || {b})"),
    "min": ("(({a} != {a} || {a} < {b}) ? {a} : {b})", "({a} && {b})"),
}
"""reduction -> (C of combining a with b, the same for bool). max/min keep NaN, as numpy's."""


def _scatter_view(op: graph.ScatterNDOp) -> tuple[int, int, int, int]:
    """(slices P addressed by a row, slice size S, rows R, depth k)."""
    data, indices = shape_of(op.data), shape_of(op.indices)
    depth = indices[-1]
    return math.prod(data[:depth]), math.prod(data[depth:]), math.prod(indices[:-1]), depth


def _scatter_typed(kernel: FuncOp) -> set[str]:
    return {"in1"} if str_of(kernel.computation.reduction) == "none" else {"in0", "in1", "in2", "out0"}


def _scatter_tile(kernel: FuncOp, target: Target) -> dict[str, int]:
    """`chunks` to fill the target's resident threads (the whole device at full occupancy)."""
    op = kernel.computation
    slices, size, _, _ = _scatter_view(op)
    resident = target.sm_count * target.threads_per_sm
    chunks = max(1, min(slices, -(-resident // max(size, 1))))
    if _bf16_accumulates(op):
        chunks = max(slices, 1)  # bf16 accumulates in float, rounded once: one element per thread
    return {"chunks": chunks}


def _bf16_accumulates(op: graph.ScatterNDOp) -> bool:
    return str_of(op.reduction) != "none" and isinstance(op.data.type.element_type, BFloat16Type)


def _scatter_tile_problem(kernel: FuncOp, tile: dict[str, int]) -> str | None:
    op = kernel.computation
    slices = _scatter_view(op)[0]
    chunks = tile.get("chunks")
    if chunks is None:
        return "needs the tile parameter chunks"
    if not 1 <= chunks <= max(slices, 1):
        return f"cannot deal {slices} slices to {chunks} chunks (tile chunks)"
    if _bf16_accumulates(op) and chunks != max(slices, 1):
        return f"accumulates bf16 in float, one element per thread: chunks must be {max(slices, 1)}, got {chunks}"
    return None


def _scatter_plan(ctx: Context) -> Plan:
    op = ctx.op
    slices, size, rows, depth = _scatter_view(op)
    data = shape_of(op.data)
    chunks = ctx.tile["chunks"]
    size //= ctx.vector
    lit, t = ctx.lit, ctx.index
    reduction = str_of(op.reduction)
    slice_strides = strides(data[:depth])
    lines = [f"const {t} s = i % {lit(size)}, c = i / {lit(size)};"]
    owns = "true" if chunks == 1 else f"p % {lit(chunks)} == c"
    row_lines = []
    for k in range(depth):
        row_lines += resolve(ctx, f"q{k}", _index_load(ctx.kernel, 1, f"r * {lit(depth)} + {lit(k)}"), data[k])
    flat = " + ".join(f"({t})q{k} * {lit(st)}" for k, st in enumerate(slice_strides))
    row_lines.append(f"const {t} p = {flat};")
    if reduction == "none":
        apply = [f"if ({owns}) out0[p * {lit(size)} + s] = in2[r * {lit(size)} + s];"]
        register = False
    else:
        ctype = ctype_of(op.data.type.element_type, f"@{ctx.kernel.sym_name.data}")
        combine = _COMBINE[reduction][1 if ctype.compute == "bool" else 0]
        register = chunks == slices  # one element per thread: accumulate in a register
        if register:
            update = combine.format(a="acc", b=ctype.load(f"in2[r * {lit(size)} + s]"))
            apply = [f"if (p == c) acc = {update};"]
        else:
            at = f"out0[p * {lit(size)} + s]"
            update = ctype.store(combine.format(a=ctype.load(at), b=ctype.load(f"in2[r * {lit(size)} + s]")))
            apply = [f"if ({owns}) {at} = {update};"]
    if register:
        lines.append(f"{ctype.compute} acc = {ctype.load(f'in0[c * {lit(size)} + s]')};")
    else:
        lines.append(f"for ({t} p = c; p < {lit(slices)}; p += {lit(chunks)}) out0[p * {lit(size)} + s] = in0[p * {lit(size)} + s];")
    lines.append(f"for ({t} r = 0; r < {lit(rows)}; ++r) {{")
    lines += [f"    {line}" for line in [*row_lines, *apply]]
    lines.append("}")
    if register:
        lines.append(f"out0[c * {lit(size)} + s] = {ctype.store('acc')};")
    return Plan(chunks * size, lines)


SCATTER_ND = Spec(
    _scatter_plan,
    lambda k, v: str_of(k.computation.reduction) == "none" and _scatter_view(k.computation)[1] % v == 0,
    typed=_scatter_typed,
    tile=_scatter_tile,
    tile_problem=_scatter_tile_problem,
)

# --- one_hot ----------------------------------------------------------------------------


def _one_hot_plan(ctx: Context) -> Plan:
    """Indices truncate toward zero (float indices are allowed), negatives count from depth;
    anything else outside [0, depth) matches no class and reads `off`."""
    op = ctx.op
    out, axis, depth = shape_of(op.result), int_of(op.axis), int_of(op.depth)
    inner = math.prod(out[axis + 1 :])
    lit = ctx.lit
    index = ctx.kernel.function_type.inputs.data[0].element_type
    load = ctype_of(index, f"@{ctx.kernel.sym_name.data}").load("in0[j]")
    lines = [
        f"const {ctx.index} s = i % {lit(inner)}, c = (i / {lit(inner)}) % {lit(depth)}, "
        f"j = (i / {lit(inner * depth)}) * {lit(inner)} + s;",
        f"long long q = (long long)({load});",
        f"q = q < 0 ? q + {depth}LL : q;",
        f"out0[i] = q == (long long)c ? in1[1] : in1[0];",
    ]
    return Plan(math.prod(out), lines)


ONE_HOT = Spec(_one_hot_plan, typed=lambda k: {"in0"})


SPECS = {
    graph.GatherOp: GATHER,
    graph.GatherElementsOp: GATHER_ELEMENTS,
    graph.GatherNDOp: GATHER_ND,
    graph.ScatterNDOp: SCATTER_ND,
    graph.OneHotOp: ONE_HOT,
}
