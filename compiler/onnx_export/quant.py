"""Writers for the quant dialect: QuantizeLinear / DequantizeLinear (the QDQ form every
runtime reads), MatMulInteger / ConvInteger for the integer contractions, and requantize
as the float64 arithmetic the reference does.

- quantize: ONNX divides in x's type, optc in the scale's (`dialects/quant.py`): x is
  cast to the scale's type first when they differ. Without a zero point ONNX quantizes to
  uint8, so a quantize to another type gets an explicit zero one (what QDQ exporters write;
  `output_dtype` would need opset 21).
- dequantize: written as is when the result has the scale's type; otherwise computed in
  f32 and cast, as the reference does.
- requantize: `saturate(round(acc * scale) + zero_point)` in float64 (Cast, Mul, Round,
  Add, Clip, Cast), bit for bit the reference's: QuantizeLinear would divide by a scale
  in float32, which rounds differently on some values.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import Float64Type, IntegerType, Signedness, f32

from compiler.onnx_export.context import ExportContext, onnx_elem
from compiler.onnx_export.layout import in_operands_layout, mover
from compiler.onnx_export.registry import writer
from dialects.dtypes import numpy_dtype
from dialects.graph.base import int_of, ints
from dialects.quant import ConvOp, DequantizeOp, MatmulOp, QuantizeOp, RequantizeOp

f64 = Float64Type()
UINT8 = IntegerType(8, Signedness.UNSIGNED)
"""What ONNX quantizes to without a zero point."""


def _granularity(op) -> dict:
    return {name: int_of(op.properties[name]) for name in ("axis", "block_size", "saturate") if name in op.properties}


def cast(ctx: ExportContext, name: str, to, hint: str) -> str:
    return ctx.unary("Cast", name, to, hint, to=onnx_elem(to, hint))


def _zero_point(op: QuantizeOp, ctx: ExportContext) -> str:
    """The op's zero point, or zeros of its type where ONNX's default (uint8) is not it."""
    if op.zero_point is not None:
        return ctx.input(op.zero_point)
    element_type = op.result.type.element_type
    if element_type == UINT8:
        return ""
    zeros = np.zeros(op.scale.type.get_shape(), dtype=numpy_dtype(element_type))
    return ctx.initializer(zeros, element_type, "zero_point")


def write_quantize(op: QuantizeOp, ctx: ExportContext, x: str, out: str) -> None:
    """`op` as QuantizeLinear of `x` (its input, or that input channels first) into `out`."""
    scale_type = op.scale.type.element_type
    if op.input.type.element_type != scale_type:
        x = cast(ctx, x, scale_type, "x")
    inputs = [x, ctx.input(op.scale), _zero_point(op, ctx)]
    ctx.node("QuantizeLinear", inputs, [out], **_granularity(op))


@writer(QuantizeOp)
def quantize(op: QuantizeOp, ctx: ExportContext):
    """Per tensor, in its input's layout (`layout.py`); per axis or blocked, as written."""
    if op.axis is None:
        in_operands_layout(op, ctx, [op.input], lambda inputs, out: write_quantize(op, ctx, inputs[0], out))
    else:
        write_quantize(op, ctx, ctx.input(op.input), ctx.result(op))


def write_dequantize(op: DequantizeOp, ctx: ExportContext, x: str, out: str) -> None:
    """`op` as DequantizeLinear of `x` (its input, or that input transposed) into `out`."""
    scale, scale_type, result_type = ctx.input(op.scale), op.scale.type.element_type, op.result.type.element_type
    inputs = [x, scale, ctx.input(op.zero_point)]
    if scale_type == result_type:
        ctx.node("DequantizeLinear", inputs, [out], **_granularity(op))
        return
    if scale_type != f32:
        inputs[1] = cast(ctx, scale, f32, "scale")
    real = out if result_type == f32 else ctx.temp("dequantized", f32)
    ctx.node("DequantizeLinear", inputs, [real], **_granularity(op))
    if real != out:
        ctx.node("Cast", [real], [out], to=onnx_elem(result_type, op.name))


@writer(DequantizeOp)
def dequantize(op: DequantizeOp, ctx: ExportContext):
    """Per tensor, in its input's layout (`layout.py`); per axis or blocked, as written."""
    if op.axis is None:
        in_operands_layout(op, ctx, [op.input], lambda inputs, out: write_dequantize(op, ctx, inputs[0], out))
    else:
        write_dequantize(op, ctx, ctx.input(op.input), ctx.result(op))


@mover(DequantizeOp)
def dequantized_channels_first(ctx: ExportContext, op: DequantizeOp, perm: list[int]) -> str | None:
    """A dequantized constant, per tensor or per output channel (axis 0 stays 0), moved
    channels first by transposing the constant itself, so that DequantizeLinear feeds the
    Conv directly: the QDQ form runtimes fuse into an integer convolution."""
    quantized = ctx.known(op.input)
    if quantized is None or op.block_size is not None or (op.axis is not None and op.axis.value.data != 0):
        return None
    moved = ctx.initializer(np.transpose(quantized, perm), op.input.type.element_type, f"{ctx.input(op.input)}.nchw")
    out = ctx.temp(f"{ctx.input(op.result)}.nchw", op.result.type.element_type)
    write_dequantize(op, ctx, moved, out)
    return out


def _along(op: RequantizeOp, ctx: ExportContext, value, hint: str) -> str:
    """`value` (a scale or zero point) in float64, shaped to broadcast along the op's axis
    when it is a vector."""
    name = cast(ctx, ctx.input(value), f64, hint)
    if value.type.get_num_dims() == 0:
        return name
    rank, axis = op.input.type.get_num_dims(), int_of(op.axis)
    shape = [value.type.get_shape()[0] if i == axis else 1 for i in range(rank)]
    (shaped,) = ctx.node("Reshape", [name, ctx.ints(shape, "shape")], [ctx.temp(hint, f64)])
    return shaped


@writer(RequantizeOp)
def requantize(op: RequantizeOp, ctx: ExportContext):
    target = op.result.type.element_type
    acc = cast(ctx, ctx.input(op.input), f64, "acc")
    scaled = ctx.temp("scaled", f64)
    ctx.node("Mul", [acc, _along(op, ctx, op.scale, "scale")], [scaled])
    if not isinstance(target, IntegerType):
        ctx.node("Cast", [scaled], [ctx.result(op)], to=onnx_elem(target, op.name))
        return
    rounded = ctx.unary("Round", scaled, f64, "rounded")
    if op.zero_point is not None:
        shifted = ctx.temp("shifted", f64)
        ctx.node("Add", [rounded, _along(op, ctx, op.zero_point, "zero_point")], [shifted])
        rounded = shifted
    info = np.iinfo(numpy_dtype(target))
    bounds = [ctx.scalar(float(info.min), f64, "min"), ctx.scalar(float(info.max), f64, "max")]
    (clipped,) = ctx.node("Clip", [rounded, *bounds], [ctx.temp("saturated", f64)])
    ctx.node("Cast", [clipped], [ctx.result(op)], to=onnx_elem(target, op.name))


@writer(MatmulOp)
def matmul(op: MatmulOp, ctx: ExportContext):
    operands = [ctx.input(v) for v in (op.lhs, op.rhs, op.lhs_zero_point, op.rhs_zero_point)]
    ctx.node("MatMulInteger", operands, [ctx.result(op)])


def _weight_zero_point(op: ConvOp, ctx: ExportContext) -> str:
    """The weight's zero point; one per output channel that are all equal (the zeros of a
    symmetric QLinearConv) as one 0-d value: onnxruntime's ConvInteger takes no other
    vector (ONNX allows it; a varying one is written so and onnxruntime refuses it)."""
    zero_point = op.weight_zero_point
    if zero_point is None or zero_point.type.get_num_dims() == 0:
        return ctx.input(zero_point)
    known = ctx.known(zero_point)
    if known is None or not np.all(known == known.flat[0]):
        return ctx.input(zero_point)
    return ctx.scalar(known.flat[0], zero_point.type.element_type, "weight_zero_point")


@writer(ConvOp)
def conv(op: ConvOp, ctx: ExportContext):
    operands = [ctx.input(op.input), ctx.input(op.weight), ctx.input(op.input_zero_point), _weight_zero_point(op, ctx)]
    geometry = {name: list(ints(op.properties[name])) for name in ("strides", "pads", "dilations")}
    ctx.node("ConvInteger", operands, [ctx.result(op)], **geometry, group=int_of(op.group))
