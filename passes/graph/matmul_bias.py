"""`graph-matmul-bias`: fold a constant added after a matrix product into the product's bias.

Exporters write a linear layer as `MatMul` then `Add` of a bias vector (PyTorch does for
every `nn.Linear` on a batched activation, `[B, S, K] @ [K, N] + [N]`). Kept apart, the
add is a second pass over the output; as the product's bias it is free in the GEMM's
epilogue. The rewrites:

- `graph.matmul(a, w) + v`, `v` a constant vector over the last axis (`[N]`, `[1, N]`, a
  scalar): with 2-D `a` and `w`, `graph.gemm(a, w, v)` (alpha and beta 1), the op a 2-D
  linear layer is everywhere else; otherwise `graph.matmul(a, w, bias = v)`. A bias the
  matmul already has is added to. `to-gemm=false` keeps 2-D products as matmuls.
- `graph.gemm(a, b, c) + v`, `c` absent or constant and `v` any constant that broadcasts
  into the result without growing it: `graph.gemm(a, b, beta * c + v)` with beta 1.
- `x - v` folds like `x + (-v)`; `v - x` is not a bias and stays.

The product must have no other user (they need it without the bias). The weight need not
be constant: only the added value must be. Arithmetic is float64, rounded once to the
element type (see `passes.graph.folding`); only float products fold.
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

from dialects.graph import AddOp, GemmOp, MatMulOp, SubOp
from dialects.graph.base import float_attr, float_of, int_attr
from passes.graph.constants import module_store
from passes.graph.folding import (
    bias_hint,
    channel_vector,
    erase_unused_constants,
    in_element_type,
    is_float_tensor,
    known_float64,
    name_of,
    new_constant,
    only_user,
    rebuild_props,
)


def added_constant(op: AddOp | SubOp, kind: type) -> tuple[Operation, np.ndarray] | None:
    """(product, constant) when `op` is `product + constant`, `constant + product` or
    `product - constant` (the constant then negated), the product a float op of `kind`
    used only here; else None."""
    store = module_store(op)
    for value, other, is_lhs in ((op.lhs, op.rhs, True), (op.rhs, op.lhs, False)):
        product = value.owner
        if not isinstance(product, kind) or only_user(value) is not op or not is_float_tensor(value):
            continue
        if isinstance(op, SubOp) and not is_lhs:
            continue
        constant = known_float64(other, store)
        if constant is not None:
            return product, -constant if isinstance(op, SubOp) else constant
    return None


def _replace_product(op: AddOp | SubOp, product: Operation, ops: list[Operation], rewriter: PatternRewriter) -> None:
    """Replace the add by `ops` (the last computes the biased product); drop the old product."""
    old = [*product.operands, *op.operands]
    rewriter.replace(op, ops)
    rewriter.erase(product)
    erase_unused_constants(old, rewriter)


def _broadcasts_into(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """Whether a `shape` operand broadcasts to `target` without growing it."""
    try:
        return np.broadcast_shapes(shape, target) == target
    except ValueError:
        return False


def _gemm_props(alpha: float = 1.0, beta: float = 1.0, trans_a: int = 0, trans_b: int = 0):
    return {"alpha": float_attr(alpha), "beta": float_attr(beta), "trans_a": int_attr(trans_a), "trans_b": int_attr(trans_b)}


# --- patterns --------------------------------------------------------------


@dataclass
class FoldAddIntoMatMul(RewritePattern):
    """`matmul(a, w[, bias]) + v` → `gemm(a, w, bias + v)` (2-D, with `to_gemm`) or
    `matmul(a, w, bias + v)`."""

    to_gemm: bool

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: AddOp | SubOp, rewriter: PatternRewriter) -> None:
        if (found := added_constant(op, MatMulOp)) is None:
            return
        matmul, constant = found
        shape = matmul.result.type.get_shape()
        vector = channel_vector(constant, shape, axis=len(shape) - 1)
        old_bias = known_float64(matmul.bias, module_store(op))
        if vector is None or matmul.rhs.type.get_num_dims() < 2 or (matmul.bias is not None and old_bias is None):
            return
        elem = matmul.result.type.element_type
        bias = in_element_type(vector if old_bias is None else old_bias + vector, elem)
        if bias is None:
            return
        bias_op = new_constant(bias, elem, op, bias_hint(matmul.bias, matmul.rhs, "matmul"), name_of(matmul.bias, "bias"))
        operands = [matmul.lhs, matmul.rhs, bias_op.results[0]]
        if self.to_gemm and matmul.lhs.type.get_num_dims() == 2 and matmul.rhs.type.get_num_dims() == 2:
            product = GemmOp.make(operands, _gemm_props())
        else:
            product = MatMulOp.make(operands)
        _replace_product(op, matmul, [bias_op, product], rewriter)


class FoldAddIntoGemm(RewritePattern):
    """`gemm(a, b[, c]) + v` → `gemm(a, b, beta * c + v)` with beta 1."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: AddOp | SubOp, rewriter: PatternRewriter) -> None:
        if (found := added_constant(op, GemmOp)) is None:
            return
        gemm, constant = found
        shape = tuple(gemm.result.type.get_shape())
        beta = float_of(gemm.beta)
        old_c = None if beta == 0.0 else known_float64(gemm.c, module_store(op))
        if not _broadcasts_into(constant.shape, shape):
            return
        if gemm.c is not None and beta != 0.0 and old_c is None:
            return
        elem = gemm.result.type.element_type
        c = in_element_type(constant if old_c is None else beta * old_c + constant, elem)
        if c is None:
            return
        c_op = new_constant(c, elem, op, bias_hint(gemm.c, gemm.b, "gemm"), name_of(gemm.c, "bias"))
        product = GemmOp.make([gemm.a, gemm.b, c_op.results[0]], rebuild_props(gemm, beta=float_attr(1.0)))
        _replace_product(op, gemm, [c_op, product], rewriter)


# --- the pass --------------------------------------------------------------


@dataclass(frozen=True)
class GraphMatMulBias(ModulePass):
    """Fold constant adds after graph.matmul / graph.gemm into their bias."""

    name = "graph-matmul-bias"

    matmul: bool = True
    """Fold adds after `graph.matmul` (into its bias, or a `graph.gemm`'s c)."""

    gemm: bool = True
    """Fold adds after `graph.gemm` into its c."""

    to_gemm: bool = True
    """A 2-D matmul that gets a bias becomes `graph.gemm`; false keeps `graph.matmul`."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        chosen = ((self.matmul, FoldAddIntoMatMul(self.to_gemm)), (self.gemm, FoldAddIntoGemm()))
        applier = GreedyRewritePatternApplier([p for on, p in chosen if on], dce_enabled=False)
        PatternRewriteWalker(applier).rewrite_module(op)
