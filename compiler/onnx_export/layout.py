"""Channels-last values in an ONNX graph, which is channels first throughout.

graph-to-nhwc's ops (`layout = "NHWC"`) are written as their NCHW ONNX op, so what they
read must be channels first. `channels_first(ctx, value)` gives that form of a channels-last
value without a Transpose wherever one is known: the NCHW result an NHWC op was computed
as, the input of the `graph.transpose` that moved a value channels last, a constant
transposed at export time, or a dequantized constant (the int8 weight transposed, so that
DequantizeLinear feeds the Conv directly, the QDQ form runtimes fuse). Otherwise it is a
Transpose, written once per value. The channels-last forms nothing reads are dropped when
the graph is finished (`exporter._prune`). Elementwise ops (and per-tensor quantize and
dequantize) whose operands have channels-first forms are computed channels first too
(`write_elementwise`), so a region of NHWC ops exports as the NCHW graph it came from,
with Transposes only where the IR's layouts really meet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from xdsl.ir import Operation, SSAValue

from compiler.onnx_export.context import ExportContext
from dialects.graph.layout import channels_first_perm, channels_last_perm


def channels_first(ctx: ExportContext, value: SSAValue) -> str:
    """The name of `value` (a channels-last tensor) moved channels first."""
    if value not in ctx.channels_first:
        ctx.channels_first[value] = _moved(ctx, value, list(channels_first_perm(value.type.get_num_dims())))
    return ctx.channels_first[value]


MOVERS: dict[type, Callable[[ExportContext, Operation, list[int]], str | None]] = {}
"""Op → how its result is written channels first without a Transpose, where it can be
(None where it cannot): a dequantize of a constant (`quant.py`)."""


def mover(op_type: type):
    def register(fn):
        MOVERS[op_type] = fn
        return fn

    return register


def _moved(ctx: ExportContext, value: SSAValue, perm: list[int]) -> str:
    name, element_type = ctx.input(value), value.type.element_type
    known = ctx.known(value)
    if known is not None:
        return ctx.initializer(np.transpose(known, perm), element_type, f"{name}.nchw")
    move = MOVERS.get(type(value.owner))
    moved = move(ctx, value.owner, perm) if move is not None else None
    if moved is not None:
        return moved
    return ctx.unary("Transpose", name, element_type, f"{name}.nchw", perm=perm)


def _layout_free(value: SSAValue) -> bool:
    """A value that broadcasts the same against either layout: a scalar, or all ones."""
    return all(d == 1 for d in value.type.get_shape())


def channels_first_operands(ctx: ExportContext, operands, result: SSAValue) -> list[str] | None:
    """The names to compute an elementwise op channels first from: each operand's
    channels-first form, or the operand itself where it broadcasts alike in both layouts.
    None when some operand has no such form, or none has one (nothing to gain)."""
    rank = result.type.get_num_dims()
    names = []
    for value in operands:
        if value is not None and value in ctx.channels_first and value.type.get_num_dims() == rank:
            names.append(ctx.channels_first[value])
        elif value is None or _layout_free(value):
            names.append(ctx.input(value))
        else:
            return None
    moved = any(v is not None and v in ctx.channels_first for v in operands)
    return names if moved and rank > 2 else None


def moved_back(ctx: ExportContext, op, first: str) -> None:
    """`op`'s result was computed channels first as `first`: record that, and write the
    channels-last result as a Transpose (dropped when only channels-first readers remain)."""
    result = op.results[0]
    ctx.channels_first[result] = first
    perm = list(channels_last_perm(result.type.get_num_dims()))
    ctx.node("Transpose", [first], [ctx.result(op)], perm=perm)


def in_operands_layout(op, ctx: ExportContext, operands, write: Callable[[list[str], str], None]) -> None:
    """`write(inputs, out)` an elementwise op: channels first when its operands allow
    (`channels_first_operands`), its result then moved back (`moved_back`); else as is."""
    firsts = channels_first_operands(ctx, operands, op.results[0])
    if firsts is None:
        write([ctx.input(v) for v in operands], ctx.result(op))
        return
    first = ctx.temp(f"{op.name.split('.', 1)[1]}.nchw", op.results[0].type.element_type)
    write(firsts, first)
    moved_back(ctx, op, first)


def write_elementwise(op, ctx: ExportContext, onnx_type: str, operands, **attributes) -> None:
    """One `onnx_type` node, in its operands' layout (`in_operands_layout`)."""
    in_operands_layout(op, ctx, operands, lambda inputs, out: ctx.node(onnx_type, inputs, [out], **attributes))
