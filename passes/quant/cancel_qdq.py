"""`quant-cancel-qdq`: a quantize that undoes the dequantize it reads is the dequantize's
input.

QDQ models (onnxruntime's `quantize_static`, NVIDIA Model Optimizer) write every quantized
tensor as QuantizeLinear → DequantizeLinear; where one layer's dequantized output is
quantized again with the same scale and zero point, the pair in between computes nothing:

    %f = quant.dequantize %q scale(%s) zero_point(%z) : tensor<..xi8> -> tensor<..xf32>
    %r = quant.quantize %f scale(%s) zero_point(%z) : tensor<..xf32> -> tensor<..xi8>
    // uses of %r read %q

Only where that is exact, bit for bit, whatever `%q` holds:
- the same scale and zero-point values (the same SSA values, or constants/weights with the
  same bytes), the same axis and block size, the quantize's type the dequantize's input type;
- integer storage, dequantized to a float whose significand carries every step of the
  round trip with room to spare (`EXACT_FLOATS`): (q - z)·s / s lands within 2^-14 of q - z,
  so it rounds back to it;
- scales known at compile time, every one finite with a magnitude in [2^-60, 2^60]: a zero,
  a subnormal or an infinite scale does not invert (a scale of 0 dequantizes everything to 0).
The dequantize stays while something else reads it (`graph-dce` removes it otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import Float32Type, Float64Type, IntegerType
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from dialects.quant import DequantizeOp, QuantizeOp
from dialects.weights import WeightStore
from passes.graph.constants import known_value, module_store

EXACT_FLOATS = {Float32Type: 8, Float64Type: 16}
"""Float type → the widest integer storage (bits) whose round trip through it is exact:
f32's 24-bit significand leaves 16 bits for the two roundings of an 8-bit value; f64 covers
16-bit integers with more to spare."""
SCALE_RANGE = (2.0**-60, 2.0**60)


def same_parameter(a: SSAValue | None, b: SSAValue | None, store: WeightStore) -> bool:
    """Whether two scales or zero points are the same: one value, both absent, or known
    constants with the same dtype and bytes."""
    if a is None or b is None:
        return a is b
    if a is b:
        return True
    x, y = known_value(a, store), known_value(b, store)
    return x is not None and y is not None and x.dtype == y.dtype and np.array_equal(x, y)


def _invertible(scale: SSAValue, store: WeightStore) -> bool:
    values = known_value(scale, store)
    if values is None:
        return False
    magnitude = np.abs(np.asarray(values, np.float64))
    return bool(np.all(np.isfinite(magnitude)) and np.all((magnitude >= SCALE_RANGE[0]) & (magnitude <= SCALE_RANGE[1])))


def cancels(quantize: QuantizeOp, store: WeightStore) -> bool:
    """Whether `quantize` returns exactly the input of the dequantize it reads."""
    dequantize = quantize.input.owner
    if not isinstance(dequantize, DequantizeOp):
        return False
    stored = dequantize.input.type.element_type
    bits = EXACT_FLOATS.get(type(dequantize.result.type.element_type))
    return (
        quantize.result.type == dequantize.input.type
        and isinstance(stored, IntegerType)
        and bits is not None
        and stored.width.data <= bits
        and quantize.axis == dequantize.axis
        and quantize.block_size == dequantize.block_size
        and same_parameter(quantize.scale, dequantize.scale, store)
        and same_parameter(quantize.zero_point, dequantize.zero_point, store)
        and _invertible(dequantize.scale, store)
    )


class _CancelPair(RewritePattern):
    def __init__(self, store: WeightStore):
        self.store = store

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: QuantizeOp, rewriter: PatternRewriter) -> None:
        if cancels(op, self.store):
            rewriter.replace(op, [], [op.input.owner.input])


@dataclass(frozen=True)
class QuantCancelQdq(ModulePass):
    """Drop each quantize that exactly undoes the dequantize it reads."""

    name = "quant-cancel-qdq"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        PatternRewriteWalker(_CancelPair(module_store(op)), apply_recursively=False).rewrite_module(op)
