"""Quantize, dequantize and requantize written as graph ops: how the quant level puts them
in fused regions, which hold graph ops only and which every CUDA generator already prints.

Each expansion computes what `runtime/reference/quant.py` computes, step for step, so the
two agree bit for bit (tests/test_quant_expand.py checks it on random data, ties and
saturation included):

- dequantize `x` (integer or float8): `graph.cast` to f32, `graph.sub` the zero point (an
  f32 value) where there is one, `graph.mul` by the f32 scale, `graph.cast` to the result's
  type when it is not f32 (an i32 `x` with a zero point: the subtraction and the multiply
  in f64, as numpy promotes f32 - i32 in the reference);
- quantize `y` to integers: `graph.div` by the scale (in f16 or bf16 when `y` and the scale
  both are, else in f32: the reference's quotient), `graph.round` (halves to even),
  `graph.add` the zero point, `graph.clip` to the type's range, `graph.cast`. A division,
  not a multiply by 1/s, which rounds differently. NaN, which ONNX leaves undefined, is
  where the two may disagree (the reference maps it to the zero point);
- quantize to float8 (float4): `graph.div`, then `graph.cast` with the quantize's
  `saturate` (float4 always saturates); their zero point is zero by ONNX's rule, so the
  callers pass none (`zero_point_is_zero` says so for any float8/float4 zero point);
- requantize an i32 accumulator: in f64, as the reference multiplies (the f32 scale widens
  exactly, and an i32 is exact in f64), then round, add, clip and cast as above;
- center an 8-bit contraction operand: `x - zero_point` in f64, exact.

The scale and zero point are values the caller has already shaped to broadcast against
the tensor (`broadcast_shape`: `[C]` viewed as `[1, C, 1, 1]` for axis 1 of a rank-4
tensor); a zero point is an f32 (f64 for requantize) value holding the integers, or None
when it is zero. Each function returns the ops in order; the last one's result is the
expansion's value. `staged_parameter` prepares a known or run-time scale or zero point for
a region.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import ml_dtypes
import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type, Float64Type, FloatAttr, IntegerType, TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError
from dialects.fused import INTEGER_ACCUMULATOR
from dialects.graph import AddOp, CastOp, ClipOp, ConstantOp, DivOp, MulOp, ReshapeOp, RoundOp, SubOp
from dialects.weights import WeightStore
from passes.graph.constants import constant_op, known_value

f32, f64 = Float32Type(), Float64Type()
LOW_FLOATS = (Float16Type, BFloat16Type)
"""Float types a quotient stays in when the input and the scale are both of it."""


def broadcast_shape(rank: int, axis: int | None, size: int) -> list[int]:
    """The shape a per-axis parameter of `size` values takes to broadcast along `axis` of a
    rank-`rank` tensor: `[1, .., size, .., 1]`; per tensor (`axis` None): `[]`."""
    if axis is None:
        return []
    return [size if i == axis else 1 for i in range(rank)]


class _Ops(list):
    """The ops of an expansion, appended as they are made; `last` is the current value."""

    def add(self, op: Operation) -> SSAValue:
        self.append(op)
        return op.results[0]


def _cast(ops: _Ops, value: SSAValue, element_type: Attribute, saturate: bool = True) -> SSAValue:
    if value.type.element_type == element_type:
        return value
    return ops.add(CastOp.to(value, element_type, saturate))


def dequantize_ops(x: SSAValue, scale: SSAValue, zero_point: SSAValue | None, result: Attribute) -> list[Operation]:
    """`(x - zero_point) * scale` in f32, then rounded once to `result` (a float type)."""
    ops = _Ops()
    real = _cast(ops, x, f32)
    compute = f32
    if zero_point is not None:
        compute = f64 if x.type.element_type == INTEGER_ACCUMULATOR else f32  # numpy: f32 - i32 is f64
        real = ops.add(SubOp.make([_cast(ops, real, compute), _cast(ops, zero_point, compute)]))
    real = ops.add(MulOp.make([real, _cast(ops, _cast(ops, scale, f32), compute)]))
    _cast(ops, real, result)
    return list(ops)


def _quotient_type(y: SSAValue, scale: SSAValue) -> Attribute:
    """The reference's quotient type: f16 (bf16) when both are, else f32."""
    a, b = y.type.element_type, scale.type.element_type
    return a if a == b and isinstance(a, LOW_FLOATS) else f32


def integer_range(element_type: IntegerType) -> tuple[int, int]:
    info = ml_dtypes.iinfo(numpy_dtype(element_type))
    return int(info.min), int(info.max)


def _round_and_saturate(ops: _Ops, value: SSAValue, zero_point: SSAValue | None, element_type: IntegerType) -> None:
    """round half to even, + zero point, clamp to the type's range, cast: in `value`'s float type."""
    compute = value.type.element_type
    value = ops.add(RoundOp.make([value]))
    if zero_point is not None:
        value = ops.add(AddOp.make([value, _cast(ops, zero_point, compute)]))
    lo, hi = integer_range(element_type)
    bounds = {"min": FloatAttr(float(lo), compute), "max": FloatAttr(float(hi), compute)}
    value = ops.add(ClipOp(operands=[value, [], []], result_types=[value.type], properties=bounds))
    _cast(ops, value, element_type)


def quantize_ops(
    y: SSAValue, scale: SSAValue, zero_point: SSAValue | None, element_type: Attribute, saturate: bool = True
) -> list[Operation]:
    """`saturate(round(y / scale) + zero_point)` to an integer type, or `cast(y / scale)` to a
    float8 type (whose zero point is zero, so `zero_point` must be None)."""
    ops = _Ops()
    compute = _quotient_type(y, scale)
    quotient = ops.add(DivOp.make([_cast(ops, y, compute), _cast(ops, scale, compute)]))
    if not isinstance(element_type, IntegerType):
        if zero_point is not None:
            raise OptcError(f"a quantization to {element_type} takes no zero point (ONNX's rule)")
        _cast(ops, quotient, element_type, saturate)
        return list(ops)
    _round_and_saturate(ops, _cast(ops, quotient, f32), zero_point, element_type)
    return list(ops)


def requantize_ops(acc: SSAValue, scale: SSAValue, zero_point: SSAValue | None, element_type: Attribute) -> list[Operation]:
    """`saturate(round(acc * scale) + zero_point)`, or `acc * scale` for a float
    `element_type`, in f64 as the reference computes it."""
    ops = _Ops()
    scaled = ops.add(MulOp.make([_cast(ops, acc, f64), _cast(ops, scale, f64)]))
    if isinstance(element_type, IntegerType):
        _round_and_saturate(ops, scaled, zero_point, element_type)
    else:
        _cast(ops, scaled, element_type)
    return list(ops)


def centered_ops(x: SSAValue, zero_point: SSAValue | None = None) -> list[Operation]:
    """`x - zero_point` in f64: an integer contraction's operand centered, exactly."""
    ops = _Ops()
    value = _cast(ops, x, f64)
    if zero_point is not None:
        value = ops.add(SubOp.make([value, _cast(ops, zero_point, f64)]))
    if not ops:  # already f64 and nothing to subtract: still one op, so the caller has a value
        ops.add(CastOp.to(x, f64))
    return list(ops)


# --- scales and zero points on their way into a region ----------------------------------


@dataclass
class Staged:
    """A scale or zero point ready for a region: a splat constant the region holds itself
    (`inside`, which codegen prints as a literal), or a value the region reads as an operand
    (`operand`, made by the ops `outside`, which go before the fused op)."""

    inside: Operation | None = None
    operand: SSAValue | None = None
    outside: list[Operation] = field(default_factory=list)


def known_parameter(array: np.ndarray, axis: int | None, rank: int, element_type: Attribute, store: WeightStore) -> Staged:
    """A known scale or zero point as an `element_type` constant: inside the region when it
    is one value, else an operand shaped to broadcast along `axis` (a weight in `store` when
    too large to print inline)."""
    values = np.asarray(array).astype(numpy_dtype(element_type))
    if values.size == 1 and axis is None:
        return Staged(inside=ConstantOp.from_array(values.reshape(()), element_type))
    return known_operand(values.reshape(broadcast_shape(rank, axis, values.size)), element_type, store)


def known_operand(array: np.ndarray, element_type: Attribute, store: WeightStore) -> Staged:
    """`array`, already shaped, as a constant (or weight) the region reads as an operand."""
    constant = constant_op(array.astype(numpy_dtype(element_type)), element_type, store, "quant_parameter")
    return Staged(operand=constant.results[0], outside=[constant])


def staged_parameter(
    value: SSAValue, axis: int | None, rank: int, store: WeightStore, element_type: Attribute | None = None
) -> Staged:
    """`value` (a scale or zero point of a quantize or dequantize) for a region: a known one
    as a constant of `element_type` (default: its own), a run-time one as an operand, viewed
    by a reshape to broadcast along `axis`."""
    array = known_value(value, store)
    if array is not None:
        return known_parameter(array, axis, rank, element_type or value.type.element_type, store)
    if axis is None:
        return Staged(operand=value)
    shape = broadcast_shape(rank, axis, value.type.get_shape()[0])
    view = ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, shape)])
    return Staged(operand=view.results[0], outside=[view])


def zero_point_is_zero(value: SSAValue | None, store: WeightStore) -> bool | None:
    """True when the zero point is absent, all zeros or of a float type, False when known and
    not, None when only known at run time."""
    if value is None or not isinstance(value.type.element_type, IntegerType):
        return True  # float8/float4 zero points are zero by ONNX's rule (the reference checks it)
    array = known_value(value, store)
    if array is None:
        return None
    return bool(np.all(array.astype(np.float64) == 0))


def available_before(value: SSAValue | None, op: Operation) -> bool:
    """Whether `value` (None counts) is available where `op` stands: a block argument, or the
    result of an op before `op` in its block (where a parameter moved to `op` must come from)."""
    owner = None if value is None else value.owner
    if not isinstance(owner, Operation):
        return True
    return owner.parent_block() is op.parent_block() and owner.is_before_in_block(op)


def operands_of(values: Sequence[Staged]) -> list[SSAValue]:
    """The operands the staged parameters need, in order."""
    return [s.operand for s in values if s.operand is not None]


__all__ = [
    "Staged",
    "available_before",
    "broadcast_shape",
    "centered_ops",
    "dequantize_ops",
    "integer_range",
    "known_operand",
    "known_parameter",
    "operands_of",
    "quantize_ops",
    "requantize_ops",
    "staged_parameter",
    "zero_point_is_zero",
]
