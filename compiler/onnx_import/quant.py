"""Importers for ONNX's quantization ops, into the `quant` dialect.

- QuantizeLinear / DequantizeLinear (opsets 10 to the newest): per tensor, per axis and
  blocked (`block_size`, opset 21), to and from int8/uint8, int16/uint16, int4/uint4,
  int2/uint2, the float8 types and float4, `saturate` (opset 19), `output_dtype` (21/23)
  and `precision` (23: x and the scale are cast to it, so the division happens in it).
  A one-element scale or zero point is per tensor whatever its rank, as onnx's reference
  reads it, and is imported as rank 0. Scales and zero points may be weights or values
  computed at run time (graph inputs included).
- MatMulInteger / ConvInteger: `quant.matmul` / `quant.conv` (i32 accumulators).
- QLinearMatMul / QLinearConv: the contraction, the bias added in i32 (QLinearConv's B),
  then `quant.requantize` by `a_scale * b_scale / y_scale` (computed with graph ops in the
  scales' type, so known scales fold to one constant multiplier): see `dialects/quant.py`
  for why these are three ops.
- DynamicQuantizeLinear: its scale and zero point computed with graph ops as ONNX defines
  them (from min(x) and max(x) with 0 included, to uint8; a scale of 1/255 when x is all
  zeros, where the formula divides by zero, as onnx's reference takes it: onnxruntime
  takes 1.0), then `quant.quantize`.

What optc does not do is refused by name: a float8 QLinearMatMul, an int32 QuantizeLinear
input, float8 E8M0 scales, zero points of other shapes than these ops define.
"""

from __future__ import annotations

import math

import numpy as np
from onnx import TensorProto
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue

from compiler.onnx_import.context import Node
from compiler.onnx_import.nn import conv_properties
from compiler.onnx_import.registry import importer
from dialects.dtypes import onnx_elem_to_mlir
from dialects.graph import (
    AddOp,
    CastOp,
    ClipOp,
    DivOp,
    EqualOp,
    MaxOp,
    MinOp,
    MulOp,
    ReduceMaxOp,
    ReduceMinOp,
    ReshapeOp,
    RoundOp,
    SubOp,
    WhereOp,
)
from dialects.graph.base import float_attr, i64_array, int_attr
from dialects.quant import CONTRACTED, QUANTIZED, REAL, ConvOp, DequantizeOp, MatmulOp, QuantizeOp, RequantizeOp, i32


def _names(types) -> str:
    return ", ".join(str(t) for t in types)


def _expect_type(node: Node, what: str, value: SSAValue, allowed, kind: str) -> None:
    if value.type.element_type not in allowed:
        node.fail(f"{what} of type {value.type} is not supported ({kind}: {_names(allowed)})")


def _reshaped(node: Node, value: SSAValue, shape: list[int]) -> SSAValue:
    """`value` viewed as `shape` (a known value folds to a constant)."""
    if list(value.type.get_shape()) == shape:
        return value
    return node.emit(ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, shape)]))


def _parameter(node: Node, index: int) -> SSAValue | None:
    """Input `index`, a scale or zero point, as rank 0 when it has one element (ONNX reads
    any one-element scale as per tensor); None when absent."""
    value = node.optional_input(index)
    if value is None or math.prod(value.type.get_shape()) != 1:
        return value
    return _reshaped(node, value, [])


def _axis(node: Node, rank: int) -> int:
    axis = node.attr("axis", 1)
    if not -rank <= axis < rank:
        node.fail(f"attribute 'axis' {axis} is out of range for an input of rank {rank}")
    return axis % rank


def _granularity(node: Node, x: SSAValue, scale: SSAValue) -> tuple[int | None, int | None]:
    """(axis, block_size) from the scale's rank and the node's `axis` and `block_size`."""
    block_size = node.attr("block_size", 0)
    if block_size < 0:
        node.fail(f"attribute 'block_size' must be positive, got {block_size}")
    rank = scale.type.get_num_dims()
    if rank == 0:
        return None, None
    if block_size:
        return _axis(node, x.type.get_num_dims()), block_size
    if rank != 1:
        node.fail(f"a scale of shape {list(scale.type.get_shape())} needs 'block_size' (blocked quantization); per axis it is 1-D")
    return _axis(node, x.type.get_num_dims()), None


def _expect_zero_point_shape(node: Node, zero_point: SSAValue | None, scale: SSAValue) -> None:
    if zero_point is not None and zero_point.type.get_shape() != scale.type.get_shape():
        node.fail(
            f"the zero point's shape {list(zero_point.type.get_shape())} differs from the scale's "
            f"{list(scale.type.get_shape())}"
        )


def _scale(node: Node, index: int, what: str) -> SSAValue:
    scale = _parameter(node, index)
    _expect_type(node, what, scale, REAL, "scales are")
    return scale


def _dtype_attribute(node: Node, name: str) -> Attribute | None:
    """A type attribute (`output_dtype`, `precision`) as an element type; None when unset (0)."""
    code = node.attr(name, 0)
    return onnx_elem_to_mlir(code, f"{node.where()}: attribute '{name}': ") if code else None


def _quantized_type(node: Node, zero_point: SSAValue | None) -> Attribute:
    """QuantizeLinear's output type: the zero point's, else `output_dtype`, else uint8."""
    output_dtype = _dtype_attribute(node, "output_dtype")
    if zero_point is None:
        return output_dtype or onnx_elem_to_mlir(TensorProto.UINT8)
    if output_dtype is not None and output_dtype != zero_point.type.element_type:
        node.fail(f"attribute 'output_dtype' ({output_dtype}) differs from the zero point's type ({zero_point.type.element_type})")
    return zero_point.type.element_type


def _with_precision(node: Node, x: SSAValue, scale: SSAValue) -> tuple[SSAValue, SSAValue]:
    """x and the scale cast to `precision` (opset 23) when given: the division's type."""
    precision = _dtype_attribute(node, "precision")
    if precision is None:
        return x, scale
    if precision not in REAL:
        node.fail(f"attribute 'precision' {precision} is not supported (it may be {_names(REAL)})")
    cast = [v if v.type.element_type == precision else node.emit(CastOp.to(v, precision)) for v in (x, scale)]
    return cast[0], cast[1]


@importer("QuantizeLinear")
def quantize_linear(node: Node):
    x, scale, zero_point = node.input(0), _scale(node, 1, "y_scale"), _parameter(node, 2)
    _expect_type(node, "input x", x, REAL, "QuantizeLinear's inputs may be")
    element_type = _quantized_type(node, zero_point)
    if element_type not in QUANTIZED:
        node.fail(f"quantizing to {element_type} is not supported (optc quantizes to {_names(QUANTIZED)})")
    saturate = node.attr("saturate", 1)
    if saturate not in (0, 1):
        node.fail(f"attribute 'saturate' must be 0 or 1, got {saturate}")
    axis, block_size = _granularity(node, x, scale)
    _expect_zero_point_shape(node, zero_point, scale)
    x, scale = _with_precision(node, x, scale)
    return node.emit(QuantizeOp.make(x, scale, zero_point, element_type, axis, block_size, bool(saturate)))


@importer("DequantizeLinear")
def dequantize_linear(node: Node):
    x, scale, zero_point = node.input(0), _scale(node, 1, "x_scale"), _parameter(node, 2)
    _expect_type(node, "input x", x, (*QUANTIZED, i32), "DequantizeLinear's inputs may be")
    if zero_point is not None and zero_point.type.element_type != x.type.element_type:
        node.fail(f"the zero point's type {zero_point.type.element_type} differs from x's {x.type.element_type}")
    axis, block_size = _granularity(node, x, scale)
    _expect_zero_point_shape(node, zero_point, scale)
    element_type = _dtype_attribute(node, "output_dtype") or scale.type.element_type
    if element_type not in REAL:
        node.fail(f"attribute 'output_dtype' {element_type} is not supported (it may be {_names(REAL)})")
    return node.emit(DequantizeOp.make(x, scale, zero_point, element_type, axis, block_size))


# --- DynamicQuantizeLinear -----------------------------------------------------------------


def _scalar(node: Node, value: float) -> SSAValue:
    return node.ctx.constant(np.asarray(value, dtype=np.float32), node.name)


def _reduce(node: Node, op_type, x: SSAValue) -> SSAValue:
    props = {"axes": i64_array(range(x.type.get_num_dims())), "keepdims": int_attr(0)}
    return node.emit(op_type.make([x], props))


@importer("DynamicQuantizeLinear")
def dynamic_quantize_linear(node: Node):
    x = node.input(0)
    if x.type.element_type != REAL[0]:
        node.fail(f"input x of type {x.type} is not supported (DynamicQuantizeLinear takes f32)")
    zero, qmax = _scalar(node, 0.0), 255.0
    low = node.emit(MinOp.make([_reduce(node, ReduceMinOp, x), zero]))
    high = node.emit(MaxOp.make([_reduce(node, ReduceMaxOp, x), zero]))
    spread = node.emit(SubOp.make([high, low]))
    nothing = node.emit(EqualOp.make([spread, zero]))  # x is all zeros: scale 1/255
    spread = node.emit(WhereOp.make([nothing, _scalar(node, 1.0), spread]))
    scale = node.emit(DivOp.make([spread, _scalar(node, qmax)]))
    initial = node.emit(SubOp.make([zero, node.emit(DivOp.make([low, scale]))]))
    clipped = node.emit(ClipOp.make([initial, None, None], {"min": float_attr(0.0), "max": float_attr(qmax)}))
    zero_point = node.emit(CastOp.to(node.emit(RoundOp.make([clipped])), onnx_elem_to_mlir(TensorProto.UINT8)))
    y = node.emit(QuantizeOp.make(x, scale, zero_point, zero_point.type.element_type))
    return [y, scale, zero_point]


# --- integer contractions ------------------------------------------------------------------


def _operand(node: Node, index: int, what: str) -> SSAValue:
    value = node.input(index)
    _expect_type(node, what, value, CONTRACTED, f"{node.op_type} multiplies")
    return value


def _contraction_zero_point(node: Node, index: int, what: str, size: int | None, of: str = "") -> SSAValue | None:
    """A zero point of a contraction operand: per tensor, or (where `size` is given) 1-D of
    that size, one value per what `of` says."""
    zero_point = _parameter(node, index)
    if zero_point is not None and zero_point.type.get_num_dims() != 0:
        _expect_per_tensor_or_vector(node, what, zero_point, size, of)
    return zero_point


def _expect_per_tensor_or_vector(node: Node, what: str, value: SSAValue, size: int | None, of: str) -> None:
    """`value` (a scale or zero point, rank 0 already when it has one element) is rank 0,
    or 1-D of `size` when that is given."""
    shape = value.type.get_shape()
    if shape == () or (size is not None and shape == (size,)):
        return
    takes = f"a scalar or 1-D [{size}] ({of})" if size is not None else "a scalar (per tensor)"
    node.fail(f"{what} of shape {list(shape)} is not supported: optc takes {takes}")


def _matmul(node: Node, a_index: int, b_index: int, a_zero: int, b_zero: int) -> SSAValue:
    a, b = _operand(node, a_index, "input A"), _operand(node, b_index, "input B")
    for what, t in (("A", a.type), ("B", b.type)):
        if t.get_num_dims() < 2:
            node.fail(f"input {what} of rank {t.get_num_dims()} is not supported: optc multiplies matrices (rank 2 or more)")
    m, n = a.type.get_shape()[-2], b.type.get_shape()[-1]
    a_zp = _contraction_zero_point(node, a_zero, "a_zero_point", m, "one per row of A")
    b_zp = _contraction_zero_point(node, b_zero, "b_zero_point", n, "one per column of B")
    return node.emit(MatmulOp.make(a, b, a_zp, b_zp))


def _conv(node: Node, x_index: int, w_index: int, x_zero: int, w_zero: int) -> SSAValue:
    x, w = _operand(node, x_index, "input x"), _operand(node, w_index, "input w")
    if x.type.get_num_dims() < 3:
        node.fail(f"input x of rank {x.type.get_num_dims()} is not supported: ONNX convolves (N, C, spatial...) tensors")
    x_zp = _contraction_zero_point(node, x_zero, "x_zero_point", None)
    w_zp = _contraction_zero_point(node, w_zero, "w_zero_point", w.type.get_shape()[0], "one per output channel")
    return node.emit(ConvOp.make(x, w, x_zp, w_zp, conv_properties(node, x, w)))


@importer("MatMulInteger")
def matmul_integer(node: Node):
    return _matmul(node, 0, 1, 2, 3)


@importer("ConvInteger")
def conv_integer(node: Node):
    return _conv(node, 0, 1, 2, 3)


def _requantize(node: Node, acc: SSAValue, scales: dict[str, int], channels: int, axis: int) -> SSAValue:
    """`acc` requantized to the output zero point's type (input 7) by in * weight / out,
    the three `scales` (name -> input), per tensor but for the weight's (the second), which
    may hold one scale per output channel (`channels` of them along `axis`)."""
    (a, a_index), (b, b_index), (y, y_index) = scales.items()
    a_scale, b_scale, y_scale = _scale(node, a_index, a), _scale(node, b_index, b), _scale(node, y_index, y)
    for name, scale in ((a, a_scale), (y, y_scale)):
        _expect_per_tensor_or_vector(node, name, scale, None, "")
    _expect_per_tensor_or_vector(node, b, b_scale, channels, "one per output channel")
    if len({t.type.element_type for t in (a_scale, b_scale, y_scale)}) != 1:
        node.fail(f"scales of types {a_scale.type}, {b_scale.type} and {y_scale.type} differ; ONNX gives them one type")
    multiplier = node.emit(DivOp.make([node.emit(MulOp.make([a_scale, b_scale])), y_scale]))
    y_zero = _parameter(node, 7)
    if y_zero is None:
        node.fail("expects input 7 (y_zero_point)")
    _expect_per_tensor_or_vector(node, "y_zero_point", y_zero, None, "")
    _expect_type(node, "y_zero_point", y_zero, CONTRACTED, "outputs may be")
    per_axis = multiplier.type.get_num_dims() == 1
    return node.emit(RequantizeOp.make(acc, multiplier, y_zero, y_zero.type.element_type, axis if per_axis else None))


@importer("QLinearMatMul")
def qlinear_matmul(node: Node):
    acc = _matmul(node, 0, 3, 2, 5)
    rank = acc.type.get_num_dims()
    return _requantize(node, acc, {"a_scale": 1, "b_scale": 4, "y_scale": 6}, acc.type.get_shape()[-1], axis=rank - 1)


@importer("QLinearConv")
def qlinear_conv(node: Node):
    acc = _conv(node, 0, 3, 2, 5)
    channels = acc.type.get_shape()[1]
    bias = node.optional_input(8)
    if bias is not None:
        if bias.type.element_type != i32 or bias.type.get_shape() != (channels,):
            node.fail(f"bias B of type {bias.type} is not supported (ONNX gives it as i32 of shape [{channels}])")
        rank = acc.type.get_num_dims()
        acc = node.emit(AddOp.make([acc, _reshaped(node, bias, [channels] + [1] * (rank - 2))]))
    return _requantize(node, acc, {"x_scale": 1, "w_scale": 4, "y_scale": 6}, channels, axis=1)
