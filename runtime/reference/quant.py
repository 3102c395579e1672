"""Reference semantics of the `quant` dialect, as onnx's reference implementation computes
QuantizeLinear, DequantizeLinear, QLinearMatMul/QLinearConv and MatMulInteger/ConvInteger.

- quantize: the quotient x / scale is computed in float32, in f16 when x and the scale
  are both f16 (bf16 when both are bf16): numpy's promotion, as onnx's reference divides.
  Integers: rounded half to even (`np.rint`), the zero point added, saturated to the
  type's range. The sum is formed and clamped in float64, so a quotient beyond int32
  saturates as the spec says (onnx's reference converts it to int32 first, which wraps);
  NaN, which the spec leaves undefined, counts as 0 (it becomes the zero point).
  float8 and float4: the quotient is cast as `graph.cast` casts (`low_precision.cast_to`:
  round half to even, `saturate` clamping to the largest finite value, or overflowing to
  inf/NaN when 0; float4 always clamps). Their zero point must be zero and is not added,
  as onnx's reference ignores it (adding +0 would turn -0 into +0).
- dequantize: `(x - zero_point) * scale` with x widened to float32 (numpy's promotion
  after that, as onnx's reference), rounded once to the result's type.
- requantize: `acc * scale` in float64 (onnx's reference multiplies the int32 accumulator
  by the float scale, which numpy promotes to float64); for integers then rounded half to
  even, the zero point added and saturated; for floats rounded once to the result type.
  onnxruntime multiplies in float32, which can differ by one at a tie.
- matmul and conv: the zero points subtracted, products summed exactly (in float64,
  exact while K·2^16 < 2^53, i.e. for any K below 2^37) and wrapped to int32 as int32
  accumulation would.

Scales and zero points reach every op per tensor, per axis or in blocks (`dialects/quant.py`);
`per_element` shapes them to broadcast against the tensor.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float16Type, IntegerType
from xdsl.ir import Operation

from dialects.dtypes import round_to_bf16
from dialects.errors import OptcError
from dialects.graph.base import int_of
from dialects.graph.layout import spatial_shape
from dialects.quant import ConvOp, DequantizeOp, MatmulOp, QuantizeOp, RequantizeOp
from runtime.reference import low_precision
from runtime.reference.nn import convolve
from runtime.reference.registry import reference, result_dtype


def per_element(param: np.ndarray, shape: tuple[int, ...], axis: int | None, block_size: int | None) -> np.ndarray:
    """A scale or zero point shaped to broadcast against a tensor of `shape`: as it is per
    tensor, along `axis` per axis, and repeated `block_size` times along `axis` (the last
    block cut short) when blocked."""
    if axis is None:
        return param
    if block_size is None:
        return param.reshape([-1 if i == axis else 1 for i in range(len(shape))])
    return np.repeat(param, block_size, axis=axis).take(range(shape[axis]), axis=axis)


def _granularity(op: Operation) -> tuple[int | None, int | None]:
    """(axis, block_size) of a quantize, dequantize or requantize; None where absent."""
    props = op.properties
    return (
        int_of(props["axis"]) if "axis" in props else None,
        int_of(props["block_size"]) if "block_size" in props else None,
    )


def _expect_zero(op: Operation, zero_point: np.ndarray) -> None:
    if np.any(low_precision.widen(zero_point) != 0):
        raise OptcError(f"'{op.name}': the zero point of a {zero_point.dtype} quantization must be 0 (ONNX's rule)")


def _quotient(op: QuantizeOp, x: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """x / scale in float32, rounded to f16 or bf16 when x and the scale are both of it."""
    quotient = x.astype(np.float32) / scale.astype(np.float32)
    types = {type(op.input.type.element_type), type(op.scale.type.element_type)}
    if types == {Float16Type}:
        return quotient.astype(np.float16)
    if types == {BFloat16Type}:
        return round_to_bf16(quotient)
    return quotient


def saturate_integer(value: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Whole numbers (float64) clamped to the range of the integer `dtype` (ml_dtypes' int4
    and int2 included)."""
    info = ml_dtypes.iinfo(dtype)
    return np.clip(value, info.min, info.max).astype(dtype)


def quantize(op: QuantizeOp, x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None) -> np.ndarray:
    axis, block_size = _granularity(op)
    quotient = _quotient(op, x, per_element(scale, x.shape, axis, block_size))
    dtype = result_dtype(op)
    if not isinstance(op.result.type.element_type, IntegerType):
        if zero_point is not None:
            _expect_zero(op, zero_point)
        return low_precision.cast_to(quotient, dtype, saturate=int_of(op.saturate, 1) == 1)
    quotient = quotient.astype(np.float64)
    rounded = np.rint(np.where(np.isnan(quotient), 0.0, quotient))
    if zero_point is not None:
        rounded = rounded + per_element(low_precision.widen(zero_point), x.shape, axis, block_size)
    return saturate_integer(rounded, dtype)


def dequantize(op: DequantizeOp, x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None) -> np.ndarray:
    axis, block_size = _granularity(op)
    real = x.astype(np.float32)
    if zero_point is not None:
        if isinstance(op.input.type.element_type, IntegerType):
            real = real - per_element(low_precision.widen(zero_point), x.shape, axis, block_size)
        else:
            _expect_zero(op, zero_point)
    return real * per_element(scale.astype(np.float32), x.shape, axis, block_size)


def requantize(op: RequantizeOp, acc: np.ndarray, scale: np.ndarray, zero_point: np.ndarray | None = None) -> np.ndarray:
    axis, _ = _granularity(op)
    scaled = acc.astype(np.float64) * per_element(scale.astype(np.float64), acc.shape, axis, None)
    if not isinstance(op.result.type.element_type, IntegerType):
        return scaled
    rounded = np.rint(scaled)
    if zero_point is not None:
        rounded = rounded + per_element(zero_point.astype(np.float64), acc.shape, None if zero_point.ndim == 0 else axis, None)
    return saturate_integer(rounded, result_dtype(op))


def _centered(x: np.ndarray, zero_point: np.ndarray | None, shape: list[int]) -> np.ndarray:
    """x - zero_point in float64 (exact for 8-bit values), a zero point of rank 1 reshaped
    to `shape` to broadcast along its axis."""
    x = x.astype(np.float64)
    if zero_point is None:
        return x
    return x - zero_point.astype(np.float64).reshape(shape if zero_point.ndim else ())


def _optional(op: Operation, args: tuple[np.ndarray, ...], operand) -> np.ndarray | None:
    """The array of an optional operand of `op`, None when absent (the interpreter passes
    only the operands present, in order)."""
    return None if operand is None else dict(zip(op.operands, args))[operand]


def _as_int32(exact: np.ndarray) -> np.ndarray:
    """Exact integer sums (float64) wrapped to int32, as int32 accumulation gives them."""
    return exact.astype(np.int64).astype(np.int32)


def integer_matmul(op: MatmulOp, *args: np.ndarray) -> np.ndarray:
    a = _centered(args[0], _optional(op, args, op.lhs_zero_point), [-1, 1])  # one per row of lhs
    b = _centered(args[1], _optional(op, args, op.rhs_zero_point), [-1])  # one per column of rhs
    return _as_int32(np.matmul(a, b))


def integer_conv(op: ConvOp, *args: np.ndarray) -> np.ndarray:
    x = _centered(args[0], _optional(op, args, op.input_zero_point), [])
    w = _centered(args[1], _optional(op, args, op.weight_zero_point), [-1] + [1] * (args[1].ndim - 1))  # per output channel
    return _as_int32(convolve(op, x, w, spatial_shape(op.result.type, op)))


reference(QuantizeOp, fold=False)(quantize)
reference(DequantizeOp, fold=False)(dequantize)
reference(RequantizeOp, fold=False)(requantize)
reference(MatmulOp, fold=False)(integer_matmul)
reference(ConvOp, fold=False)(integer_conv)

__all__ = ["dequantize", "integer_conv", "integer_matmul", "per_element", "quantize", "requantize", "saturate_integer"]
