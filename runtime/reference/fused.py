"""Reference semantics of the `fused` dialect.

A fused op runs its region with the same interpreter, on the same numpy values, so a
fusion pass is checked against exactly the graph ops it gathered. Contractions compute
their product first and hand it to the epilogue as the region's first argument.
"""

from __future__ import annotations

import numpy as np
from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    ReturnedValues,
    impl,
    impl_terminator,
    register_impls,
)

from dialects.dtypes import numpy_dtype
from dialects.fused import AttentionOp, ConvOp, ElementwiseOp, MatmulOp, ReductionOp, YieldOp, is_integer_contraction
from dialects.graph.base import float_of, int_of
from dialects.graph.layout import spatial_shape
from runtime.reference.nn import convolve
from runtime.reference.registry import as_result, widen


def _run_region(interpreter: Interpreter, region, args) -> tuple:
    return tuple(interpreter.run_ssacfg_region(region, tuple(args), "fused"))


def attention(q, k, v, mask, scale: float, causal: bool) -> np.ndarray:
    """softmax(q·kᵀ·scale + mask) · v in float32 (float64 for double inputs)."""
    q, k, v = widen(q, k, v)
    scores = np.matmul(np.ascontiguousarray(q), np.ascontiguousarray(np.swapaxes(k, -1, -2))) * np.asarray(scale, dtype=q.dtype)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == np.bool_ else scores + mask
    if causal:
        s_q, s_k = scores.shape[-2:]
        scores = np.where(np.tril(np.ones((s_q, s_k), dtype=bool), k=s_k - s_q), scores, -np.inf)
    scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return np.matmul(scores / scores.sum(axis=-1, keepdims=True), v)


@register_impls
class FusedReference(InterpreterFunctions):
    @impl(ElementwiseOp)
    def run_elementwise(self, interpreter: Interpreter, op: ElementwiseOp, args):
        return _run_region(interpreter, op.body, args)

    @impl(ReductionOp)
    def run_reduction(self, interpreter: Interpreter, op: ReductionOp, args):
        return _run_region(interpreter, op.body, args)

    @impl(MatmulOp)
    def run_matmul(self, interpreter: Interpreter, op: MatmulOp, args):
        a, b, *extras = args
        a, b = _operands(op, a, b)
        transpose_a, transpose_b = op.transposes()
        if transpose_a:
            a = np.swapaxes(a, -1, -2)
        if transpose_b:
            b = np.swapaxes(b, -1, -2)
        acc = np.matmul(np.ascontiguousarray(a), np.ascontiguousarray(b)).astype(_acc_dtype(op))
        return _run_region(interpreter, op.epilogue, [acc, *extras])

    @impl(ConvOp)
    def run_conv(self, interpreter: Interpreter, op: ConvOp, args):
        x, w, *extras = args
        x, w = _operands(op, x, w)
        out = spatial_shape(op.accumulator_type(), op)
        acc = convolve(op, x, w, out).astype(_acc_dtype(op))
        return _run_region(interpreter, op.epilogue, [acc, *extras])

    @impl(AttentionOp)
    def run_attention(self, interpreter: Interpreter, op: AttentionOp, args):
        q, k, v, *mask = args
        y = attention(q, k, v, mask[0] if mask else None, float_of(op.scale), bool(int_of(op.causal)))
        if op.layout() == "bshd":  # the heads merged: [b, h, s, d] written as [b, s, h, d]
            y = np.transpose(y, (0, 2, 1, 3))
        return (as_result(op, y),)

    @impl_terminator(YieldOp)
    def run_yield(self, interpreter: Interpreter, op: YieldOp, args):
        return ReturnedValues(args), ()


def _operands(op, a: np.ndarray, b: np.ndarray) -> list[np.ndarray]:
    """The operands in the dtype the product is exact in: integers as int64 (the i32
    accumulator then wraps as the hardware's does), f16 as f32."""
    if is_integer_contraction(op):
        return [a.astype(np.int64), b.astype(np.int64)]
    return widen(a, b)


def _acc_dtype(op) -> np.dtype:
    """The accumulator reaches the epilogue in the dtype its block argument declares."""
    return numpy_dtype(op.epilogue.block.args[0].type.element_type)
