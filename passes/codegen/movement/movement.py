"""CUDA generators for the movement family: ops that move elements without computing on
them (transpose, concat, split, slice, pad, tile, expand, gathers, scatter, resize) and
the generated tensors (range, constant_of_shape, one_hot, trilu's masking).

Each op is an index map on the skeleton of `movement/skeleton.py`: a grid-stride loop
over output items, each item's source index printed from baked-in shapes, moved as raw
words of the element size (so every dtype of a size shares one kernel) and as 16-byte
vectors where the innermost contiguous run allows. Transpose (`transpose.py`),
the indexed ops (`index.py`) and resize (`resize.py`) live beside
this file; the ops here are the plain shape-driven ones.

`graph.identity` and `graph.where` are pointwise (`elementwise.elementwise.TEMPLATES`), and the
free views (reshape, flatten, squeeze, unsqueeze) never become kernels.
"""

from __future__ import annotations

import math

from xdsl.ir import Operation

from dialects import graph
from dialects.graph.base import float_of, int_of, ints, str_of
from dialects.kernel import FuncOp
from passes.codegen.movement import index, resize, transpose
from passes.codegen.movement.skeleton import (
    Context,
    Plan,
    Spec,
    element_bits,
    itemsize,
    make_generator,
    shape_of,
    strides,
    vector_shape,
    word_literal,
)
from passes.codegen.common.types import ctype_of
from passes.codegen.generator import Generator

# --- concat and split: a [outer, axis, inner] view --------------------------------------


def _joined(shapes: list[list[int]], axis: int) -> tuple[int, list[int], int]:
    """(outer, the sizes along axis, inner) of tensors joined along `axis`."""
    return math.prod(shapes[0][:axis]), [s[axis] for s in shapes], math.prod(shapes[0][axis + 1 :])


def _joined_vector_ok(shapes: list[list[int]], axis: int, vector: int) -> bool:
    _, sizes, inner = _joined(shapes, axis)
    return inner % vector == 0 if inner > 1 else all(s % vector == 0 for s in sizes)


def _joined_units(shapes: list[list[int]], axis: int, vector: int) -> tuple[int, list[int], int]:
    """The [outer, axis, inner] view counted in vectors (the inner run, or the axis sizes
    when the axis is innermost, divided by the vector width)."""
    outer, sizes, inner = _joined(shapes, axis)
    if inner % vector == 0:
        return outer, sizes, inner // vector
    return outer, [s // vector for s in sizes], 1


def _concat_shapes(kernel: FuncOp) -> list[list[int]]:
    return [shape_of(v) for v in kernel.computation.inputs]


def _pieces_plan(ctx: Context, shapes: list[list[int]], statement) -> Plan:
    """One item per element of the joined tensor, its axis position choosing the piece:
    `statement(j, index)` moves the item between the joined tensor (at `i`) and piece `j`
    (at `index`)."""
    outer, sizes, inner = _joined_units(shapes, int_of(ctx.op.axis), ctx.vector)
    total = sum(sizes)
    lines = [ctx.split3(outer, total, inner)]
    start = 0
    branches = []
    for j, size in enumerate(sizes):
        if size == 0:
            continue
        shift = f" - {ctx.lit(start)}" if start else ""
        index = ctx.linear((f"(o * {ctx.lit(size)} + a{shift})", inner), ("s", 1))
        branches.append((start + size, statement(j, index)))
        start += size
    for k, (end, move) in enumerate(branches):
        condition = "" if k == len(branches) - 1 else f"if (a < {ctx.lit(end)}) "
        lines.append(("else " if k else "") + condition + move)
    return Plan(outer * total * inner, lines)


def _concat_plan(ctx: Context) -> Plan:
    return _pieces_plan(ctx, _concat_shapes(ctx.kernel), lambda j, index: f"out0[i] = in{j}[{index}];")


CONCAT = Spec(
    _concat_plan,
    lambda kernel, v: _joined_vector_ok(_concat_shapes(kernel), int_of(kernel.computation.axis), v),
)


def _split_shapes(kernel: FuncOp) -> list[list[int]]:
    return [shape_of(v) for v in kernel.computation.outputs]


def _split_plan(ctx: Context) -> Plan:
    """One item per input element, stored into the result its axis position falls in."""
    return _pieces_plan(ctx, _split_shapes(ctx.kernel), lambda r, index: f"out{r}[{index}] = in0[i];")


SPLIT = Spec(
    _split_plan,
    lambda kernel, v: _joined_vector_ok(_split_shapes(kernel), int_of(kernel.computation.axis), v),
)

# --- slice, pad, tile, expand: per-dimension source coordinates -------------------------


def _slice_vector_ok(kernel: FuncOp, vector: int) -> bool:
    op = kernel.computation
    src, dst = shape_of(op.input), shape_of(op.result)
    if vector == 1:
        return True
    start, step = ints(op.starts)[-1], ints(op.steps)[-1]
    return bool(src) and step == 1 and start % vector == 0 and src[-1] % vector == 0 and dst[-1] % vector == 0


def _slice_plan(ctx: Context) -> Plan:
    op = ctx.op
    src, dst = vector_shape(shape_of(op.input), ctx.vector), vector_shape(shape_of(op.result), ctx.vector)
    starts = list(ints(op.starts))
    if starts:
        starts[-1] //= ctx.vector
    in_strides = strides(src)
    lines, names = ctx.coords("i", dst, "c")
    base = sum(s * st for s, st in zip(starts, in_strides))
    source = ctx.dot(names, [step * st for step, st in zip(ints(op.steps), in_strides)])
    return Plan(math.prod(dst), [*lines, f"out0[i] = in0[{ctx.lit(base)} + {source}];"])


SLICE = Spec(_slice_plan, _slice_vector_ok)


def _pad_geometry(op: graph.PadOp) -> list[tuple[int, int, int, int]]:
    """Per dimension: (crop_lo, cropped size, begin pad >= 0, end pad >= 0) as the
    reference applies them: negative pads crop first, then the rest pads."""
    shape, pads = shape_of(op.input), ints(op.pads)
    rank = len(shape)
    result = []
    for d, size in enumerate(shape):
        b, e = pads[d], pads[rank + d]
        result.append((-min(b, 0), size + min(b, 0) + min(e, 0), max(b, 0), max(e, 0)))
    return result


def _pad_vector_ok(kernel: FuncOp, vector: int) -> bool:
    op = kernel.computation
    if not shape_of(op.input):
        return vector == 1
    lo, size, b, e = _pad_geometry(op)[-1]
    full = shape_of(op.input)[-1]
    plain = b == 0 and e == 0 or str_of(op.mode) == "constant"
    return plain and all(x % vector == 0 for x in (lo, size, b, e, full))


def _pad_plan(ctx: Context) -> Plan:
    op = ctx.op
    v, mode = ctx.vector, str_of(op.mode)
    geometry = [list(g) for g in _pad_geometry(op)]
    src = vector_shape(shape_of(op.input), v)
    dst = vector_shape(shape_of(op.result), v)
    if geometry and v > 1:
        geometry[-1] = [x // v for x in geometry[-1]]
    in_strides = strides(src)
    lines, names = ctx.coords("i", dst, "c")
    inside = []
    terms = []
    for d, ((lo, size, b, e), name) in enumerate(zip(geometry, names)):
        if b == 0 and e == 0:
            terms.append((f"{name}", lo))
            continue
        p = f"p{d}"
        lines.append(f"{ctx.signed} {p} = ({ctx.signed}){name} - {ctx.slit(b)};")
        if mode == "constant":
            inside.append(f"{p} >= 0 && {p} < {ctx.slit(size)}")
        elif mode == "edge":
            lines.append(f"{p} = {p} < 0 ? 0 : ({p} >= {ctx.slit(size)} ? {ctx.slit(size - 1)} : {p});")
        elif mode == "reflect":
            lines.append(f"{p} = {p} < 0 ? -{p} : ({p} >= {ctx.slit(size)} ? {ctx.slit(2 * size - 2)} - {p} : {p});")
        else:  # wrap: pads may exceed the size, numpy repeats
            lines.append(f"{p} = (({p} % {ctx.slit(size)}) + {ctx.slit(size)}) % {ctx.slit(size)};")
        terms.append((f"({ctx.index}){p}", lo))
    base = sum(lo * st for (_, lo), st in zip(terms, in_strides))
    source = ctx.dot([t for t, _ in terms], in_strides)
    read = f"in0[{ctx.lit(base)} + {source}]"
    if inside:
        size = itemsize(op.input.type.element_type, ctx.kernel)
        fill = word_literal(element_bits(float_of(op.value), op.input.type.element_type), size, v)
        read = f"({' && '.join(inside)}) ? {read} : {fill}"
    return Plan(math.prod(dst), [*lines, f"out0[i] = {read};"])


PAD = Spec(_pad_plan, _pad_vector_ok)


def _tile_plan(ctx: Context) -> Plan:
    op = ctx.op
    src, dst = vector_shape(shape_of(op.input), ctx.vector), vector_shape(shape_of(op.result), ctx.vector)
    lines, names = ctx.coords("i", dst, "c")
    wrapped = [n if n == "0" or s == d else f"({n} % {ctx.lit(s)})" for n, s, d in zip(names, src, dst)]
    return Plan(math.prod(dst), [*lines, f"out0[i] = in0[{ctx.dot(wrapped, strides(src))}];"])


TILE = Spec(_tile_plan, lambda k, v: not shape_of(k.computation.input) or shape_of(k.computation.input)[-1] % v == 0)


def _expand_vector_ok(kernel: FuncOp, vector: int) -> bool:
    src, dst = shape_of(kernel.computation.input), shape_of(kernel.computation.result)
    return vector == 1 or bool(src) and src[-1] == dst[-1] and src[-1] % vector == 0


def _expand_plan(ctx: Context) -> Plan:
    op = ctx.op
    src, dst = vector_shape(shape_of(op.input), ctx.vector), vector_shape(shape_of(op.result), ctx.vector)
    offset = len(dst) - len(src)
    lines, names = ctx.coords("i", dst, "c", [k + offset for k, s in enumerate(src) if s != 1])
    used = [n if s != 1 else "0" for n, s in zip(names[offset:], src)]
    return Plan(math.prod(dst), [*lines, f"out0[i] = in0[{ctx.dot(used, strides(src))}];"])


EXPAND = Spec(_expand_plan, _expand_vector_ok)

# --- generated: trilu's mask, constant_of_shape, range -----------------------------------


def _trilu_plan(ctx: Context) -> Plan:
    op = ctx.op
    shape = shape_of(op.result)
    rows, cols = shape[-2], shape[-1]
    k = int_of(op.k)
    s = ctx.signed
    keep = ">=" if int_of(op.upper) else "<="
    lines = [
        f"const {s} col = ({s})(i % {ctx.lit(cols)}), row = ({s})((i / {ctx.lit(cols)}) % {ctx.lit(rows)});",
        f"out0[i] = (col - row {keep} {ctx.slit(k)}) ? in0[i] : 0;",
    ]
    return Plan(math.prod(shape), lines)


TRILU = Spec(_trilu_plan)


def _constant_of_shape_plan(ctx: Context) -> Plan:
    op = ctx.op
    t = op.result.type.element_type
    fill = word_literal(element_bits(op.value.value.data, t), itemsize(t, ctx.kernel), ctx.vector)
    return Plan(math.prod(shape_of(op.result)) // ctx.vector, [f"out0[i] = {fill};"])


CONSTANT_OF_SHAPE = Spec(_constant_of_shape_plan, lambda k, v: math.prod(shape_of(k.computation.result)) % v == 0)


def _range_plan(ctx: Context) -> Plan:
    """Integers: start + i * delta. Floats: the reference adds delta step by step (as
    onnxruntime does), so each thread repeats those i additions in the result type (f16
    rounds after each; bf16, held in float32 by the reference, rounds once)."""
    op = ctx.op
    t = op.result.type.element_type
    ctype = ctype_of(t, f"@{ctx.kernel.sym_name.data}")
    load = ctype.load
    if not ctype.is_float:
        expr = f"({ctype.compute})({load('in0[0]')} + ({ctype.compute})i * {load('in2[0]')})"
        return Plan(shape_of(op.result)[0], [f"out0[i] = {expr};"])
    step = "v = v + d;"
    if ctype.storage == "optc_half":
        step = "v = optc_widen(optc_to_half(v + d));"
    lines = [
        f"{ctype.compute} v = {load('in0[0]')};",
        f"const {ctype.compute} d = {load('in2[0]')};",
        f"for ({ctx.index} k = 0; k < i; ++k) {step}",
        f"out0[i] = {ctype.store('v')};",
    ]
    return Plan(shape_of(op.result)[0], lines)


RANGE = Spec(_range_plan, typed=lambda k: {"in0", "in1", "in2", "out0"})


_SPECS: dict[type[Operation], Spec] = {
    graph.ConcatOp: CONCAT,
    graph.SplitOp: SPLIT,
    graph.SliceOp: SLICE,
    graph.PadOp: PAD,
    graph.TileOp: TILE,
    graph.ExpandOp: EXPAND,
    graph.TriluOp: TRILU,
    graph.ConstantOfShapeOp: CONSTANT_OF_SHAPE,
    graph.RangeOp: RANGE,
    **index.SPECS,
    **resize.SPECS,
}

GENERATORS: dict[type[Operation], Generator] = {
    **{op_class: make_generator(spec) for op_class, spec in _SPECS.items()},
    **transpose.GENERATORS,
}
