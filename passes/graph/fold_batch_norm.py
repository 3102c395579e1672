"""`graph-fold-batch-norm`: fold inference-mode batch normalisation into the op before it.

With constant statistics, `graph.batch_norm` is a per-channel affine map
`x * s + t`, `s = scale / sqrt(var + epsilon)`, `t = bias - mean * s`. After a convolution
(or transposed convolution) whose result nothing else reads, it folds into the weights
and bias: `w' = w * s` per output channel, `b' = b * s + t` (= `(b - mean) * s + bias`).
After a `graph.gemm`, or a 2-D `graph.matmul` by a constant, it scales the weight's
columns and becomes the gemm's `c`. Elsewhere it becomes `graph.mul` and `graph.add` by
per-channel constants, which later passes fuse like any elementwise op (`decompose=false`
keeps it).

A batch norm whose statistics are not constants, or whose fold would not be finite in
the element type, stays as it is. Arithmetic is float64, rounded once to the weight's
element type (see `passes.graph.folding`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from dialects.graph import AddOp, BatchNormOp, ConvOp, ConvTransposeOp, GemmOp, MatMulOp, MulOp
from dialects.graph.base import float_attr, float_of, int_attr, int_of
from dialects.graph.layout import channel_axis, is_channels_last
from passes.graph.constants import module_store
from passes.graph.folding import (
    bias_hint,
    erase_unused_constants,
    fold_affine_into_conv,
    in_element_type,
    known_float64,
    name_of,
    name_stem,
    new_constant,
    only_user,
)


def batch_norm_affine(bn: BatchNormOp) -> tuple[np.ndarray, np.ndarray] | None:
    """(s, t) with `batch_norm(x) = x * s + t` per channel, in float64, when the statistics
    are constants and s and t are finite; else None."""
    store = module_store(bn)
    params = [known_float64(v, store) for v in (bn.scale, bn.bias, bn.mean, bn.var)]
    if any(p is None for p in params):
        return None
    gamma, beta, mean, var = params
    with np.errstate(invalid="ignore", divide="ignore"):
        s = gamma / np.sqrt(var + float_of(bn.epsilon))
    t = beta - mean * s
    return (s, t) if np.all(np.isfinite(s)) and np.all(np.isfinite(t)) else None


def _producer(bn: BatchNormOp, kinds: tuple[type, ...]) -> Operation | None:
    """The op of one of `kinds` that computes the batch norm's input and has no other user."""
    producer = bn.input.owner
    return producer if isinstance(producer, kinds) and only_user(bn.input) is bn else None


def _gemm_parts(op: GemmOp | MatMulOp):
    """(a, b, c, alpha, beta, trans_a, trans_b) of a gemm, or of a 2-D matmul as the gemm
    it is (its bias is a c with beta 1); None for a matmul of other ranks."""
    if isinstance(op, GemmOp):
        return op.a, op.b, op.c, float_of(op.alpha), float_of(op.beta), int_of(op.trans_a), int_of(op.trans_b)
    if op.lhs.type.get_num_dims() != 2 or op.rhs.type.get_num_dims() != 2:
        return None
    return op.lhs, op.rhs, op.bias, 1.0, 1.0, 0, 0


def _folded_c(c: np.ndarray | None, beta: float, s: np.ndarray, t: np.ndarray) -> np.ndarray:
    """`(beta * c) * s + t`, broadcast over the columns; c may be any shape gemm accepts."""
    if c is None or beta == 0.0:
        return t
    return beta * c * s + t


# --- patterns --------------------------------------------------------------


class FoldBatchNormIntoConv(RewritePattern):
    """`batch_norm(conv(x, w, b))` → `conv(x, w * s, b * s + t)`."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BatchNormOp, rewriter: PatternRewriter) -> None:
        conv = _producer(op, (ConvOp, ConvTransposeOp))
        if conv is None or is_channels_last(conv) != is_channels_last(op):
            return  # an NHWC conv's channels are another axis than an NCHW batch norm's
        if (affine := batch_norm_affine(op)) is not None:
            fold_affine_into_conv(conv, op, *affine, rewriter)


class FoldBatchNormIntoGemm(RewritePattern):
    """`batch_norm(gemm(a, b, c))` over the columns → `gemm(a, b * s, beta * c * s + t)`
    with beta 1; a 2-D `matmul(a, b)` becomes that gemm too."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BatchNormOp, rewriter: PatternRewriter) -> None:
        producer = _producer(op, (GemmOp, MatMulOp))
        if producer is None or (parts := _gemm_parts(producer)) is None:
            return
        if (affine := batch_norm_affine(op)) is None:
            return
        a, b, c, alpha, beta, trans_a, trans_b = parts
        store = module_store(op)
        weight, bias = known_float64(b, store), known_float64(c, store)
        if weight is None or (c is not None and beta != 0.0 and bias is None):
            return
        s, t = affine
        elem = op.result.type.element_type
        new_weight = in_element_type(weight * (s[:, None] if trans_b else s[None, :]), elem)
        new_c = in_element_type(_folded_c(bias, beta, s, t), elem)
        if new_weight is None or new_c is None:
            return
        ops = [
            new_constant(new_weight, elem, op, name_stem(b, "gemm.weight") + ".folded", name_of(b, "weight")),
            new_constant(new_c, elem, op, bias_hint(c, b, "gemm"), name_of(c, "bias")),
        ]
        props = {"alpha": float_attr(alpha), "beta": float_attr(1.0), "trans_a": int_attr(trans_a), "trans_b": int_attr(trans_b)}
        ops.append(GemmOp.make([a, ops[0].results[0], ops[1].results[0]], props))
        old = [*producer.operands, *op.operands]
        rewriter.replace(op, ops)
        rewriter.erase(producer)
        erase_unused_constants(old, rewriter)


class DecomposeBatchNorm(RewritePattern):
    """`batch_norm(x)` → `x * s + t` with s and t constants shaped `[C, 1, ...]` (`[C]`
    for an NHWC batch norm)."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: BatchNormOp, rewriter: PatternRewriter) -> None:
        if (affine := batch_norm_affine(op)) is None:
            return
        elem, rank = op.result.type.element_type, op.result.type.get_num_dims()
        trailing = rank - 1 - channel_axis(op)
        s, t = (in_element_type(v.reshape(-1, *[1] * trailing), elem) for v in affine)
        if s is None or t is None:
            return
        scale = new_constant(s, elem, op, name_stem(op.scale, "batch_norm") + ".folded", "scale")
        shift = new_constant(t, elem, op, name_stem(op.bias, "batch_norm") + ".folded", "shift")
        mul = MulOp.make([op.input, scale.results[0]])
        add = AddOp.make([mul.results[0], shift.results[0]])
        old = list(op.operands)
        rewriter.replace(op, [scale, shift, mul, add])
        erase_unused_constants(old, rewriter)


# --- the pass --------------------------------------------------------------


@dataclass(frozen=True)
class GraphFoldBatchNorm(ModulePass):
    """Fold batch norms with constant statistics into the conv or gemm before them, or into mul+add."""

    name = "graph-fold-batch-norm"

    conv: bool = True
    """Fold into a `graph.conv` / `graph.conv_transpose` used only by the batch norm."""

    gemm: bool = True
    """Fold into a `graph.gemm`, or a 2-D `graph.matmul` (which becomes a gemm), used only by it."""

    decompose: bool = True
    """Rewrite the batch norms that do not fold into `graph.mul` + `graph.add` by constants."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        chosen = (
            (self.conv, FoldBatchNormIntoConv()),
            (self.gemm, FoldBatchNormIntoGemm()),
            (self.decompose, DecomposeBatchNorm()),
        )
        applier = GreedyRewritePatternApplier([p for on, p in chosen if on], dce_enabled=False)
        PatternRewriteWalker(applier).rewrite_module(op)
