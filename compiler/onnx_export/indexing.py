"""Writers for N-d gathers and scatters, one-hot encodings, Trilu and CumSum."""

from __future__ import annotations

from compiler.onnx_export.context import ExportContext
from compiler.onnx_export.registry import writer
from dialects.graph import CumSumOp, GatherNDOp, OneHotOp, ScatterNDOp, TriluOp
from dialects.graph.base import int_of, str_of

SCATTER_REDUCTION_OPSETS = {"max": 18, "min": 18}
"""ScatterND reductions newer than the `reduction` attribute itself (16)."""


@writer(GatherNDOp)
def gather_nd(op: GatherNDOp, ctx: ExportContext):
    ctx.node("GatherND", [ctx.input(op.data), ctx.input(op.indices)], [ctx.result(op)], batch_dims=int_of(op.batch_dims))


@writer(ScatterNDOp)
def scatter_nd(op: ScatterNDOp, ctx: ExportContext):
    """`reduction` is written only when it is not "none", so plain scatters stay at any opset."""
    reduction = str_of(op.reduction)
    if reduction in SCATTER_REDUCTION_OPSETS:
        ctx.require(SCATTER_REDUCTION_OPSETS[reduction], f"ScatterND reduction '{reduction}'")
    operands = [ctx.input(v) for v in op.operands]
    ctx.node("ScatterND", operands, [ctx.result(op)], reduction=reduction if reduction != "none" else None)


@writer(OneHotOp)
def one_hot(op: OneHotOp, ctx: ExportContext):
    indices, values = (ctx.input(v) for v in op.operands)
    depth = ctx.ints([int_of(op.depth)], "depth", scalar=True)
    ctx.node("OneHot", [indices, depth, values], [ctx.result(op)], axis=int_of(op.axis))


@writer(TriluOp)
def trilu(op: TriluOp, ctx: ExportContext):
    k = ctx.ints([int_of(op.k)], "k", scalar=True)
    ctx.node("Trilu", [ctx.input(op.operands[0]), k], [ctx.result(op)], upper=int_of(op.upper))


@writer(CumSumOp)
def cum_sum(op: CumSumOp, ctx: ExportContext):
    axis = ctx.ints([int_of(op.axis)], "axis", scalar=True)
    flags = {name: int_of(op.properties[name]) for name in ("exclusive", "reverse")}
    ctx.node("CumSum", [ctx.input(op.operands[0]), axis], [ctx.result(op)], **flags)
