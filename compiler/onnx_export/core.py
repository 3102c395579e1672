"""Writers for constants, weights and identity: constants and weights become initializers."""

from __future__ import annotations

from compiler.onnx_export.context import ExportContext
from compiler.onnx_export.registry import writer
from dialects.graph import ConstantOp, IdentityOp, WeightOp


@writer(ConstantOp)
def constant(op: ConstantOp, ctx: ExportContext):
    t = op.result.type
    ctx.names[op.result] = ctx.initializer(op.to_array(), t.element_type, "const")


@writer(WeightOp)
def weight(op: WeightOp, ctx: ExportContext):
    ctx.names[op.result] = ctx.weight(op.sym.data, op.result.type.element_type)


@writer(IdentityOp)
def identity(op: IdentityOp, ctx: ExportContext):
    ctx.node("Identity", [ctx.input(op.input)], [ctx.result(op)])
