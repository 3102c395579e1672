"""graph-recognize-gelu: collapse the GELU formulas exporters write into `graph.gelu`.

Before opset 20 ONNX has no Gelu, so PyTorch, TensorFlow and hand-written model code
(BERT's `gelu`, GPT-2's `gelu_new`) reach ONNX as elementwise ops:

- erf form, `x · 0.5 · (1 + erf(x / √2))`: Div by 1.4142135 or Mul by 0.70710677, the 0.5
  multiplied first or last (or a Div by 2), operands of Mul and Add in either order;
- tanh form, `0.5 · x · (1 + tanh(√(2/π) · (x + 0.044715 · x³)))`: x³ as Pow(x, 3) or
  x·x·x, or the factored `x · √(2/π) · (1 + 0.044715 · x²)`.

The outer product is read by `matching.product` and the argument of erf or tanh as a
polynomial in x (`matching.polynomial`), so every association and operand order of the
same formula matches, with constants within `matching.RTOL`. One kernel then computes
what took eight or nine, and fusion sees an activation it knows. Intermediate values
that something else reads keep the formula as it is (recognising it would compute them
twice), as does anything that broadcasts x to a larger shape.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern

from dialects.graph import AddOp, DivOp, ErfOp, GeluOp, MulOp, TanhOp
from dialects.graph.base import str_attr
from dialects.weights import WeightStore
from passes.graph.constants import module_store
from passes.graph.matching import (
    Chain,
    close,
    close_polynomial,
    is_float_tensor,
    orders,
    polynomial,
    product,
    scalar,
    single_use,
    tolerance,
)

TANH_SCALE = math.sqrt(2 / math.pi)
TANH_CUBIC = 0.044715

ARGUMENTS = {
    ErfOp: ("none", {1: 1 / math.sqrt(2)}),
    TanhOp: ("tanh", {1: TANH_SCALE, 3: TANH_SCALE * TANH_CUBIC}),
}
"""Per form: `approximate`, and the argument of erf or tanh as a polynomial in x."""


def _one_plus(
    value: SSAValue, x: SSAValue, store: WeightStore, forms: tuple[type, ...], rtol: float
) -> tuple[str, Chain] | None:
    """`1 + erf(x/√2)` or `1 + tanh(√(2/π)(x + 0.044715x³))`, in either operand order:
    the form's `approximate` and the ops read, or None."""
    add = value.owner
    if not isinstance(add, AddOp) or not single_use(value):
        return None
    for one, t in ((add.lhs, add.rhs), (add.rhs, add.lhs)):
        c = scalar(one, store)
        f = t.owner
        if c is None or not close(c, 1.0, rtol) or not isinstance(f, forms) or not single_use(t):
            continue
        approximate, expected = ARGUMENTS[type(f)]
        chain = Chain([add, f])
        argument = polynomial(f.input, x, store, chain)
        if argument is not None and close_polynomial(argument, expected, rtol):
            return approximate, chain
    return None


def gelu_of(root: Operation, store: WeightStore, forms: tuple[type, ...]) -> tuple[SSAValue, str, Chain] | None:
    """x, `approximate` and the ops to replace when `root` computes GELU of x as
    `0.5 · x · (1 + f(...))`, else None."""
    outer = Chain()
    rtol = tolerance(root.results[0])
    p = product(root.results[0], store, outer)
    if not close(p.scale, 0.5, rtol):
        return None
    for x, shifted in orders(p, 2):
        found = _one_plus(shifted, x, store, forms, rtol)
        if found is None or not is_float_tensor(x):
            continue
        approximate, inner = found
        chain = Chain(outer.ops + inner.ops)
        if chain.of_type(x.type):
            return x, approximate, chain
    return None


@dataclass
class RecognizeGelu(RewritePattern):
    """A Mul (or Div by 2) that ends a GELU formula becomes `graph.gelu`."""

    store: WeightStore
    forms: tuple[type, ...]

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, MulOp | DivOp):
            return
        found = gelu_of(op, self.store, self.forms)
        if found is None:
            return
        x, approximate, chain = found
        chain.replace(rewriter, op, [GeluOp.make([x], {"approximate": str_attr(approximate)})])


@dataclass(frozen=True)
class GraphRecognizeGelu(ModulePass):
    """Collapse decomposed GELU (erf and tanh forms) into graph.gelu."""

    name = "graph-recognize-gelu"

    erf: bool = True
    """Recognise the exact form, `0.5x(1 + erf(x/√2))` → `approximate = "none"`."""

    tanh: bool = True
    """Recognise the tanh approximation → `approximate = "tanh"`."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        forms = tuple(f for f, on in ((ErfOp, self.erf), (TanhOp, self.tanh)) if on)
        if forms:
            PatternRewriteWalker(RecognizeGelu(module_store(op), forms)).rewrite_module(op)
