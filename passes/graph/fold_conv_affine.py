"""`graph-fold-conv-affine`: fold a multiply, divide, add or subtract by a per-channel
constant into the convolution before it.

Exporters leave these after convolutions: a BatchNormalization written out as Mul and Add,
a scaling constant, a bias added separately. With `s` and `t` constant along the output
channels, `conv(x, w, b) * s + t` is `conv(x, w * s, b * s + t)`, so the elementwise ops
cost nothing at run time. The constant may be a scalar or shaped to broadcast along the
channel axis only (`[C,1,1]`, `[1,C,1,1]`, `[1]`; `[C]` after an NHWC conv, whose channels
are the last axis); one that varies along another axis, or
would broadcast the result to a larger shape, is not per-channel and stays.

The convolution must have no other user: those need its unscaled values. Chains
(`conv → mul → add → mul`) fold into one convolution, since the walker visits the new
convolution's user next. Folding is exact up to rounding (float64, rounded once to the
weight's element type; see `passes.graph.folding`); only float convolutions fold.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)

from dialects.graph import AddOp, ConvOp, ConvTransposeOp, DivOp, MulOp, SubOp
from dialects.graph.layout import channel_axis
from passes.graph.constants import module_store
from passes.graph.folding import channel_vector, fold_affine_into_conv, is_float_tensor, known_float64, only_user

Affine = tuple[np.ndarray | None, np.ndarray | None]
"""(scale, shift) per output channel; None stands for 1 and 0."""


def _reciprocal(c: np.ndarray) -> np.ndarray:
    """1 / c; a zero gives inf, which the fold then refuses."""
    with np.errstate(divide="ignore"):
        return 1.0 / c


AFFINE: dict[type, Callable[[np.ndarray, bool], Affine | None]] = {
    MulOp: lambda c, conv_is_lhs: (c, None),
    DivOp: lambda c, conv_is_lhs: (_reciprocal(c), None) if conv_is_lhs else None,
    AddOp: lambda c, conv_is_lhs: (None, c),
    SubOp: lambda c, conv_is_lhs: (None, -c) if conv_is_lhs else (np.full_like(c, -1.0), c),
}
"""Each op as `conv * scale + shift`, given the constant and whether the conv is the left
operand; None where it is not affine in the conv (`c / conv`)."""


def _conv_operand(op: MulOp | DivOp | AddOp | SubOp):
    """(conv, per-channel constant, conv is lhs) when one operand is a float convolution
    used only here and the other a per-channel constant; else None."""
    store = module_store(op)
    for conv_value, other, conv_is_lhs in ((op.lhs, op.rhs, True), (op.rhs, op.lhs, False)):
        conv = conv_value.owner
        if not isinstance(conv, ConvOp | ConvTransposeOp) or only_user(conv_value) is not op:
            continue
        constant = known_float64(other, store)
        if constant is None or not is_float_tensor(conv_value):
            continue
        vector = channel_vector(constant, conv_value.type.get_shape(), axis=channel_axis(conv))
        if vector is not None:
            return conv, vector, conv_is_lhs
    return None


# --- patterns --------------------------------------------------------------


@dataclass
class FoldAffineIntoConv(RewritePattern):
    """`conv <op> constant` → conv with folded weights and bias, for the ops in `kinds`."""

    kinds: tuple[type, ...]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MulOp | DivOp | AddOp | SubOp, rewriter: PatternRewriter) -> None:
        if type(op) not in self.kinds or (found := _conv_operand(op)) is None:
            return
        conv, vector, conv_is_lhs = found
        affine = AFFINE[type(op)](vector, conv_is_lhs)
        if affine is not None:
            fold_affine_into_conv(conv, op, *affine, rewriter)


# --- the pass --------------------------------------------------------------


@dataclass(frozen=True)
class GraphFoldConvAffine(ModulePass):
    """Fold per-channel constant mul/div/add/sub after a convolution into its weights and bias."""

    name = "graph-fold-conv-affine"

    scale: bool = True
    """Fold `graph.mul` and `graph.div` by a per-channel constant into the weights."""

    shift: bool = True
    """Fold `graph.add` and `graph.sub` of a per-channel constant into the bias."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        kinds = (*((MulOp, DivOp) if self.scale else ()), *((AddOp, SubOp) if self.shift else ()))
        applier = GreedyRewritePatternApplier([FoldAffineIntoConv(kinds)], dce_enabled=False)
        PatternRewriteWalker(applier).rewrite_module(op)
