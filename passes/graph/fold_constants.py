"""graph-fold-constants: compute at compile time what depends only on known values.

An op whose operands are all known (`graph.constant`, `graph.weight`, or an empty tensor,
whose only possible value follows from its type) is run through its reference
implementation and replaced by constants: small or splat results inline, the rest new
weights in the module's store (see `passes.graph.constants`). This is what removes the
guards and shape arithmetic exporters leave behind:
- shape-only ops (trait `ShapeOnly`, e.g. `graph.shape`) fold whatever their operand,
  since their result depends on its type alone;
- Gather/Concat/Range/Expand/ConstantOfShape on shape tensors, `is_nan` of a constant,
  weight transposes and the like fold by the general rule;
- `graph.where` whose condition is a constant with one value everywhere is the branch it
  selects (broadcast with `graph.expand` where the result is bigger);
- `graph.gemm`'s `beta * c` with a known float c is computed once and becomes the gemm's c
  (a new constant or weight) with beta 1, so no kernel scales c per element (fuse-epilogue
  would put that multiply in the matmul's epilogue); beta 0 drops c, which the gemm never
  reads. (An integer c stays: the reference scales it in float before the add.)

Results keep their element type: bf16 is computed in float32 and rounded, exactly as the
interpreter does. Two options bound what a fold may materialise in the weight store (a
result that prints inline, small or splat, is always fine): `max-elements` skips folds
whose results would hold more elements than that; `max-growth` skips folds whose stored
results hold that many more elements than the operands they read, the way IREE's
`max-size-increase-threshold` keeps const-expr hoisting from materialising a broadcast:
a bias `[N]` expanded to `[B, S, N]` stays a broadcast that kernels read as a vector
(0 = no limit, for either). Folded inputs that are left without users are erased,
and store entries this pass made that no op names any more are dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.traits import ConstantLike
from xdsl.utils.exceptions import PassFailedException

import runtime.reference  # noqa: F401  (fills the REFERENCE table)
from dialects.dtypes import is_float, numpy_dtype
from dialects.graph import ConstantOp, ExpandOp, GemmOp, MulOp, WeightOp, WhereOp
from dialects.graph.base import ShapeOnly, float_attr, float_of
from dialects.graph.core import fits_inline, is_splat
from dialects.weights import WeightStore
from passes.graph.constants import constant_op, known_value, module_store
from passes.graph.folding import rebuild_props
from runtime.reference.registry import REFERENCE, as_result


def _is_empty(value: SSAValue) -> bool:
    return isinstance(value.type, TensorType) and 0 in value.type.get_shape()


def _is_known(value: SSAValue) -> bool:
    """Known at compile time: a constant, a weight, or any empty tensor (its only possible
    value follows from its type). Decided without reading any array."""
    return isinstance(value.owner, ConstantOp | WeightOp) or _is_empty(value)


def _known(value: SSAValue, store: WeightStore) -> np.ndarray:
    """The array of a value for which `_is_known` holds."""
    if _is_empty(value):
        return np.empty(value.type.get_shape(), dtype=numpy_dtype(value.type.element_type))
    return known_value(value, store)


def _placeholder(value: SSAValue) -> np.ndarray:
    """An array of `value`'s shape and dtype that occupies no memory (all strides 0): what a
    shape-only op reads of an operand whose contents are unknown."""
    t = value.type
    return np.broadcast_to(np.zeros((), dtype=numpy_dtype(t.element_type)), t.get_shape())


def _elements(op: Operation) -> int:
    return sum(math.prod(r.type.get_shape()) for r in op.results)


def _growth(op: Operation, results: Sequence[np.ndarray]) -> int:
    """How many more elements the store would hold for `op`'s folded results (those that do
    not print inline) than its operands hold; shape-only ops read no operand's contents."""
    stored = sum(r.size for r in results if not fits_inline(r))
    read = 0 if op.has_trait(ShapeOnly) else sum(math.prod(v.type.get_shape()) for v in set(op.operands))
    return stored - read


def _is_foldable(op: Operation) -> bool:
    """A region-free op with a reference implementation, tensor results, and not a constant
    already."""
    return (
        type(op) in REFERENCE
        and not op.regions
        and not op.has_trait(ConstantLike)
        and all(isinstance(r.type, TensorType) for r in op.results)
    )


def _evaluate(op: Operation, args: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run `op`'s reference implementation; results coerced to the IR's types exactly as the
    interpreter does (bf16 rounded). IEEE results (1/0 = inf) are values, not errors."""
    with np.errstate(all="ignore"):
        try:
            out = REFERENCE[type(op)](op, *args)
        except Exception as e:
            raise PassFailedException(f"cannot fold '{op.name}': its reference implementation failed: {e}") from e
        if len(op.results) == 1:
            return [as_result(op, out)]
        return [as_result(op, r, i) for i, r in enumerate(out)]


_DIGEST = re.compile(r"\.[0-9a-f]{8}$")
"""The content digest `WeightStore.add` appends to a name."""


def _hint(op: Operation) -> str:
    """A readable name stem for folded weights: the first weight operand's name (without its
    digest, so chains read `fc.weight.transpose.mul.<digest>`), then the op."""
    short = op.name.removeprefix("graph.")
    for operand in op.operands:
        if isinstance(operand.owner, WeightOp):
            return f"{_DIGEST.sub('', operand.owner.sym.data)}.{short}"
    return short


def _erase_unused_constants(rewriter: PatternRewriter, values: Sequence[SSAValue]) -> None:
    """Folding consumes its inputs: constants and weights left without users go."""
    for owner in {v.owner for v in values}:
        if isinstance(owner, ConstantOp | WeightOp) and not owner.result.uses:
            rewriter.erase(owner)


# --- patterns -------------------------------------------------------------------------


@dataclass
class FoldKnownOp(RewritePattern):
    """Replace an op whose operands are known (or that reads only types) by its results."""

    max_elements: int
    max_growth: int
    created: set[str] = field(default_factory=set)
    """Store names this pass added, so the pass can drop the ones it no longer needs."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if not _is_foldable(op) or (self.max_elements and _elements(op) > self.max_elements):
            return
        shape_only = op.has_trait(ShapeOnly)
        if not shape_only and not all(_is_known(v) for v in op.operands):
            return
        store = module_store(op)
        args = [_placeholder(v) if shape_only else _known(v, store) for v in op.operands]
        operands, hint = list(op.operands), _hint(op)
        arrays = _evaluate(op, args)
        if self.max_growth and _growth(op, arrays) > self.max_growth:
            return
        new_ops = [self._constant(a, r.type.element_type, store, hint) for a, r in zip(arrays, op.results)]
        rewriter.replace(op, new_ops, [c.results[0] for c in new_ops])
        _erase_unused_constants(rewriter, operands)

    def _constant(self, array: np.ndarray, element_type: Attribute, store: WeightStore, hint: str) -> Operation:
        """`constant_op`, noting the store names it adds."""
        count = len(store.arrays)
        new = constant_op(array, element_type, store, hint)
        if len(store.arrays) > count:
            self.created.add(new.sym.data)
        return new


class SelectSplatWhere(RewritePattern):
    """where(c, a, b) with c one known value everywhere is a (or b), broadcast to the result."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: WhereOp, rewriter: PatternRewriter, /) -> None:
        condition = known_value(op.condition, module_store(op))
        if condition is None or not is_splat(condition):
            return
        branch, other = (op.on_true, op.on_false) if condition.flat[0] else (op.on_false, op.on_true)
        operands = [op.condition, other]
        if branch.type == op.result.type:
            rewriter.replace(op, [], [branch])
        else:
            rewriter.replace(op, ExpandOp(operands=[branch], result_types=[op.result.type]))
        _erase_unused_constants(rewriter, operands)


@dataclass
class FoldGemmBeta(RewritePattern):
    """gemm(a, b, c) {beta} with a known c: `c * beta` (float c only) becomes a `graph.mul`
    of two known values, which `FoldKnownOp` computes when the walker reaches it, and the
    gemm gets beta 1; beta 0 drops c. Skipped where `max-elements` forbids storing a
    c-sized result (the product has c's shape: it never grows)."""

    max_elements: int

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: GemmOp, rewriter: PatternRewriter, /) -> None:
        c, beta = op.c, float_of(op.beta)
        if c is None or beta == 1.0 or not _is_known(c) or (beta != 0.0 and not is_float(c.type.element_type)):
            return
        if self.max_elements and math.prod(c.type.get_shape()) > self.max_elements:
            return
        ops: list[Operation] = []
        if beta != 0.0:
            elem = c.type.element_type
            scale = ConstantOp.from_array(np.asarray(beta, dtype=numpy_dtype(elem)), elem)
            ops = [scale, MulOp.make([c, scale.result])]
        scaled = ops[-1].results[0] if ops else None
        ops.append(GemmOp.make([op.a, op.b, scaled], rebuild_props(op, beta=float_attr(1.0))))
        rewriter.replace(op, ops)
        _erase_unused_constants(rewriter, [c])


# --- the pass -------------------------------------------------------------------------


def _drop_unused(store: WeightStore, created: set[str], module: builtin.ModuleOp) -> None:
    """Forget store entries this pass made that no `graph.weight` names any more
    (intermediate results of folded chains)."""
    used = {op.sym.data for op in module.walk() if isinstance(op, WeightOp)}
    for name in created - used:
        store.arrays.pop(name, None)
        store.unsaved.discard(name)


@dataclass(frozen=True)
class GraphFoldConstants(ModulePass):
    """Fold ops whose operands are known (and shape-only ops) to constants by running them."""

    name = "graph-fold-constants"

    max_elements: int = 1 << 24
    """Skip folds whose results hold more elements than this (0: no limit)."""

    max_growth: int = 1 << 20
    """Skip folds whose results, where stored as weights, hold more than this many elements
    beyond their operands' (a materialised broadcast; 0: no limit)."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        fold = FoldKnownOp(self.max_elements, self.max_growth)
        patterns = [SelectSplatWhere(), FoldGemmBeta(self.max_elements), fold]
        applier = GreedyRewritePatternApplier(patterns, dce_enabled=False)
        PatternRewriteWalker(applier).rewrite_module(op)
        _drop_unused(module_store(op), fold.created, op)
