"""graph-canonicalize: remove no-ops and fold reshape/transpose chains, to a fixpoint.

Exporters and earlier rewrites leave ops that do nothing (an Identity, a Reshape to the
shape it already has, a Cast to the same type, `x * 1`) and chains that one op can do
(Transpose of a Transpose, Squeeze of a Reshape). Removing them shrinks the graph and
gives later pattern matchers (fusion, attention) one canonical form to look for: after
this pass every pure relabelling of dimensions is one `graph.reshape`, and no two
transposes follow each other.

Every rewrite is exact. Arithmetic identities are applied only where the result has the
non-constant operand's type (`x + 0` that broadcasts `x` to a bigger shape is not a
no-op), and, unless `signed-zeros=false`, only where IEEE signed zeros agree: `x + 0.0`
turns `-0.0` into `+0.0`, so only `x + (-0.0)` and `x - 0.0` are removed for floats.

The patterns run under xDSL's greedy applier until nothing changes; like MLIR's
canonicalizer, that applier also erases ops left without uses. Options turn groups off:
`identities`, `chains`, `arithmetic`; `keep-view-ops=true` keeps Flatten, Squeeze and
Unsqueeze as they are instead of rewriting them to `graph.reshape`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Operation, SSAValue
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.passes import ModulePass

from dialects.dtypes import is_float
from dialects.graph import (
    AddOp,
    CastOp,
    ConcatOp,
    DivOp,
    ExpandOp,
    FlattenOp,
    IdentityOp,
    MulOp,
    PadOp,
    ReshapeOp,
    SliceOp,
    SplitOp,
    SqueezeOp,
    SubOp,
    TileOp,
    TransposeOp,
    UnsqueezeOp,
)
from dialects.graph.base import i64_array, ints, is_free_view
from passes.graph.constants import known_value, module_store

SAME_TYPE_NO_OPS = (IdentityOp, ExpandOp, CastOp, TileOp)
"""Unary ops that do nothing when their result type is their input type."""


# --- helpers -----------------------------------------------------------------------


def _forward(rewriter: PatternRewriter, op: Operation, value: SSAValue) -> None:
    """Replace `op`'s single result by `value` and erase `op`."""
    rewriter.replace(op, [], [value])


def _reshape(rewriter: PatternRewriter, op: Operation, value: SSAValue) -> None:
    """Replace `op` by one `graph.reshape` of `value` to `op`'s result type (or by `value`
    itself when it already has that type)."""
    if value.type == op.results[0].type:
        _forward(rewriter, op, value)
    else:
        rewriter.replace(op, ReshapeOp(operands=[value], result_types=[op.results[0].type]))


def _is_identity_perm(perm: tuple[int, ...]) -> bool:
    return perm == tuple(range(len(perm)))


def _keeps_memory_order(perm: tuple[int, ...], shape: tuple[int, ...]) -> bool:
    """A transpose that moves only size-1 dimensions leaves the data in the same order: it
    is a reshape."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def _takes_everything(op: SliceOp) -> bool:
    """A slice with the input's shape and unit steps (or a single element to walk) copies
    the input as it is."""
    src = op.input.type.get_shape()
    if src != op.result.type.get_shape():
        return False
    return all(step == 1 or dim <= 1 for dim, step in zip(src, ints(op.steps)))


@dataclass(frozen=True)
class Neutral:
    """The constant that leaves the other operand of a binary op unchanged."""

    value: int
    commutative: bool
    zero_sign: bool | None = None
    """The sign bit a float zero needs for the identity to hold for every input, IEEE
    signed zeros included: x + (-0.0) == x but -0.0 + 0.0 == +0.0; x - 0.0 == x but
    -0.0 - (-0.0) == +0.0. None: the identity holds for any zero (or it is a one)."""


NEUTRAL: dict[type[Operation], Neutral] = {
    AddOp: Neutral(0, commutative=True, zero_sign=True),
    SubOp: Neutral(0, commutative=False, zero_sign=False),
    MulOp: Neutral(1, commutative=True),
    DivOp: Neutral(1, commutative=False),
}


def _is_neutral(value: SSAValue, rule: Neutral, signed_zeros: bool, store) -> bool:
    """Whether `value` is a known constant every element of which is `rule`'s neutral."""
    array = known_value(value, store)
    if array is None or (array.size and array.flat[0] != rule.value):
        return False
    if not np.all(array == rule.value):
        return False
    if signed_zeros and rule.zero_sign is not None and is_float(value.type.element_type):
        return bool(np.all(np.signbit(array) == rule.zero_sign))
    return True


# --- identities ------------------------------------------------------------------------


class RemoveSameTypeNoOp(RewritePattern):
    """identity, and reshape/flatten/squeeze/unsqueeze/expand/cast/tile whose result type
    is the input's, are their input."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if (isinstance(op, SAME_TYPE_NO_OPS) or is_free_view(op)) and op.input.type == op.result.type:
            _forward(rewriter, op, op.input)


class RemoveIdentityTranspose(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter, /) -> None:
        if _is_identity_perm(ints(op.perm)):
            _forward(rewriter, op, op.input)


class RemoveFullSlice(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SliceOp, rewriter: PatternRewriter, /) -> None:
        if _takes_everything(op):
            _forward(rewriter, op, op.input)


class RemoveZeroPad(RewritePattern):
    """A pad of zero on every side, in any mode, is its input."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: PadOp, rewriter: PatternRewriter, /) -> None:
        if not any(ints(op.pads)):
            _forward(rewriter, op, op.input)


class RemoveSingleConcat(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ConcatOp, rewriter: PatternRewriter, /) -> None:
        if len(op.inputs) == 1:
            _forward(rewriter, op, op.inputs[0])


class RemoveSingleSplit(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: SplitOp, rewriter: PatternRewriter, /) -> None:
        if len(op.outputs) == 1:
            _forward(rewriter, op, op.input)


IDENTITY_PATTERNS = (
    RemoveSameTypeNoOp(),
    RemoveIdentityTranspose(),
    RemoveFullSlice(),
    RemoveZeroPad(),
    RemoveSingleConcat(),
    RemoveSingleSplit(),
)


# --- chains ------------------------------------------------------------------------------


class FoldTransposePair(RewritePattern):
    """transpose(transpose(x, p), q) = transpose(x, [p[i] for i in q]), or x when that is
    the identity. The inner transpose stays if it has other users."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter, /) -> None:
        inner = op.input.owner
        if not isinstance(inner, TransposeOp):
            return
        inner_perm = ints(inner.perm)
        perm = tuple(inner_perm[i] for i in ints(op.perm))
        if _is_identity_perm(perm):
            _forward(rewriter, op, inner.input)
        else:
            rewriter.replace(op, TransposeOp.make([inner.input], {"perm": i64_array(perm)}))


class TransposeToReshape(RewritePattern):
    """A transpose that moves only size-1 dimensions is a reshape, so it can join reshape
    chains (e.g. [1, 16, 1, 64] with perm (0, 2, 1, 3))."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter, /) -> None:
        perm = ints(op.perm)
        if not _is_identity_perm(perm) and _keeps_memory_order(perm, tuple(op.input.type.get_shape())):
            _reshape(rewriter, op, op.input)


class FoldViewChain(RewritePattern):
    """A view op of a view op is one reshape from the first input to the last shape. The
    inner op stays if it has other users."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if is_free_view(op) and is_free_view(inner := op.input.owner):
            _reshape(rewriter, op, inner.input)


CHAIN_PATTERNS = (FoldTransposePair(), TransposeToReshape(), FoldViewChain())


class ViewToReshape(RewritePattern):
    """flatten, squeeze and unsqueeze become `graph.reshape`, the one view op later passes
    need to know."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if isinstance(op, FlattenOp | SqueezeOp | UnsqueezeOp):
            _reshape(rewriter, op, op.input)


# --- arithmetic ----------------------------------------------------------------------------


@dataclass
class RemoveNeutralOperand(RewritePattern):
    """x + 0, 0 + x, x - 0, x * 1, 1 * x, x / 1 are x, where the result has x's type (see
    `Neutral` for signed zeros)."""

    signed_zeros: bool

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        rule = NEUTRAL.get(type(op))
        if rule is None:
            return
        store = module_store(op)
        candidates = [(op.lhs, op.rhs), (op.rhs, op.lhs)] if rule.commutative else [(op.lhs, op.rhs)]
        for kept, constant in candidates:
            if kept.type == op.result.type and _is_neutral(constant, rule, self.signed_zeros, store):
                _forward(rewriter, op, kept)
                return


# --- the pass -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphCanonicalize(ModulePass):
    """Remove no-ops (identity, same-shape views, x*1, ...) and fold reshape/transpose chains."""

    name = "graph-canonicalize"

    identities: bool = True
    """Remove identity-like ops: same-type views/casts/expands/tiles, identity transposes,
    whole slices, zero pads, one-operand concats and one-result splits."""

    chains: bool = True
    """Fold transpose pairs and view-op chains; rewrite layout-preserving transposes to reshapes."""

    arithmetic: bool = True
    """Remove x + 0, x - 0, x * 1, x / 1 where that changes no type."""

    signed_zeros: bool = True
    """Respect IEEE signed zeros (keep x + 0.0 for floats); false removes it too."""

    keep_view_ops: bool = False
    """Keep flatten/squeeze/unsqueeze instead of rewriting them to graph.reshape."""

    def patterns(self) -> list[RewritePattern]:
        patterns: list[RewritePattern] = []
        if self.identities:
            patterns += IDENTITY_PATTERNS
        if self.chains:
            patterns += CHAIN_PATTERNS
        if self.arithmetic:
            patterns.append(RemoveNeutralOperand(self.signed_zeros))
        if not self.keep_view_ops:
            patterns.append(ViewToReshape())
        return patterns

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        PatternRewriteWalker(GreedyRewritePatternApplier(self.patterns())).rewrite_module(op)
