"""What the recognition passes share: reading exporters' decomposed formulas back.

Exporters write one activation or normalisation as a handful of elementwise ops, in
whichever operand order and association the framework's source happened to use. Rather
than listing every spelling, the recognisers read the ops back as algebra:

- `product` flattens a tree of `graph.mul` (and `graph.div` by a constant) into its
  non-constant factors and one constant scale, so `x * 0.5 * y`, `(0.5 * y) * x` and
  `x * y / 2` all read as `0.5 · x · y`;
- `polynomial` reads a value as a polynomial in a given variable, so `x + 0.044715 * x^3`,
  `x * (1 + 0.044715 * x * x)` and `x + 0.044715 * pow(x, 3)` are the same coefficients.

Only values with a single use are looked through (the root of a match may have many):
a value something else still reads must stay, and recognising around it would compute
it twice. Every op a match looks through is recorded in a `Chain`, which checks that
none of them broadcasts (each has the type of the value the match replaces) and erases
them once the replacement is in place. Constants are compared with a relative tolerance
(`RTOL`), since exporters print the same constant with different digits (1.4142135,
1.41421356, 0.70710677).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations
from itertools import product as cartesian

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float16Type, TensorType
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.pattern_rewriter import PatternRewriter

from dialects.dtypes import is_float
from dialects.graph import AddOp, ConstantOp, DivOp, MulOp, NegOp, PowOp, SubOp
from dialects.weights import WeightStore
from passes.graph.constants import known_value

RTOL = 1e-4
"""Relative tolerance on recognised constants: exporters round them to float32 or fewer digits."""

MAX_DEGREE = 6
"""Polynomials of higher degree are not activation formulas; stop reading them."""

Polynomial = dict[int, float]
"""Exponent → coefficient, with no zero coefficients."""

EPSILON = {Float16Type: 2.0**-10, BFloat16Type: 2.0**-7}
"""Relative spacing of the narrow float types: their constants cannot be closer than this."""


def tolerance(value: SSAValue) -> float:
    """The relative tolerance for constants in a formula on `value`'s element type: `RTOL`,
    or the type's own precision where that is coarser (0.044715 is 0.04471 in f16)."""
    return max(RTOL, EPSILON.get(type(value.type.element_type), 0.0))


def close(value: float, expected: float, rtol: float = RTOL) -> bool:
    """`value` equals `expected` up to `rtol` (exactly, where `expected` is 0)."""
    return abs(value - expected) <= rtol * abs(expected)


def close_polynomial(p: Polynomial, expected: Polynomial, rtol: float = RTOL) -> bool:
    """Same exponents, each coefficient `close` to the expected one."""
    return p.keys() == expected.keys() and all(close(p[k], expected[k], rtol) for k in expected)


def scalar(value: SSAValue, store: WeightStore) -> float | None:
    """The one number a constant holds (every element equal), else None. Whether the
    constant broadcasts the other operand's shape is the `Chain`'s check, not this one's."""
    array = known_value(value, store)
    if array is None or array.size == 0:
        return None
    flat = array.reshape(-1)
    if not np.all(flat == flat[0]):
        return None
    return float(flat[0])


def single_use(value: SSAValue) -> bool:
    """Exactly one use: only the op being matched reads it."""
    return value.has_one_use()


def users(value: SSAValue) -> set[Operation]:
    return {use.operation for use in value.uses}


def is_float_tensor(value: SSAValue) -> bool:
    """Recognised ops compute in floating point; integer lookalikes stay as they are."""
    return isinstance(value.type, TensorType) and is_float(value.type.element_type)


@dataclass
class Chain:
    """The ops a match looks through, to check and, once replaced, to erase."""

    ops: list[Operation] = field(default_factory=list)

    def add(self, op: Operation) -> None:
        self.ops.append(op)

    def of_type(self, t: Attribute) -> bool:
        """Every elementwise op of the match produces `t`: nothing broadcast a constant or
        a second operand into a larger shape, so the replacement keeps the type."""
        return all(op.results[0].type == t for op in self.ops)

    def replace(self, rewriter: PatternRewriter, root: Operation, new_ops: list[Operation]) -> None:
        """Replace `root` by `new_ops`, then erase what only fed it: the recorded ops and
        the constants they alone read."""
        constants = [o.owner for op in self.ops for o in op.operands if isinstance(o.owner, ConstantOp)]
        rewriter.replace(root, new_ops)
        pending = [op for op in self.ops if op is not root] + constants
        erased: set[int] = set()
        changed = True
        while changed:
            changed = False
            for op in pending:
                if id(op) not in erased and all(not r.uses for r in op.results):
                    rewriter.erase(op)
                    erased.add(id(op))
                    changed = True


# --- products ----------------------------------------------------------------


@dataclass
class Product:
    """`scale · factors[0] · factors[1] · ...`: a flattened tree of multiplications."""

    factors: list[SSAValue]
    scale: float


def product(value: SSAValue, store: WeightStore, chain: Chain, root: bool = True) -> Product:
    """Read `value` as a product: look through `graph.mul` and through `graph.div` by a
    constant (the root always, other ops when single-use); constants join the scale."""
    op = value.owner
    if root or single_use(value):
        if isinstance(op, MulOp):
            chain.add(op)
            return _times(*(_factor(o, store, chain) for o in op.operands))
        if isinstance(op, DivOp) and (divisor := scalar(op.rhs, store)):
            chain.add(op)
            inner = _factor(op.lhs, store, chain)
            return Product(inner.factors, inner.scale / divisor)
    return Product([value], 1.0)


def _factor(value: SSAValue, store: WeightStore, chain: Chain) -> Product:
    c = scalar(value, store)
    if c is not None:
        return Product([], c)
    return product(value, store, chain, root=False)


def _times(a: Product, b: Product) -> Product:
    return Product(a.factors + b.factors, a.scale * b.scale)


def orders(p: Product, count: int) -> list[tuple[SSAValue, ...]]:
    """Every order of a product's `count` factors (none if it has another count), so a
    matcher can try each factor in each role."""
    return list(permutations(p.factors)) if len(p.factors) == count else []


# --- polynomials ---------------------------------------------------------------


def polynomial(value: SSAValue, x: SSAValue, store: WeightStore, chain: Chain) -> Polynomial | None:
    """`value` as a polynomial in `x` through single-use add, sub, mul, neg, div by a
    constant and pow by a small whole constant; None for anything else."""
    if value is x:
        return {1: 1.0}
    c = scalar(value, store)
    if c is not None:
        return _clean({0: c})
    op = value.owner
    if not isinstance(op, Operation) or not single_use(value):
        return None
    reader = _POLYNOMIAL_OPS.get(type(op))
    if reader is None:
        return None
    p = reader(op, x, store, chain)
    if p is None or max(p, default=0) > MAX_DEGREE:
        return None
    chain.add(op)
    return p


def _binary(combine):
    def read(op, x, store, chain):
        a = polynomial(op.lhs, x, store, chain)
        b = polynomial(op.rhs, x, store, chain) if a is not None else None
        return None if b is None else _clean(combine(a, b))

    return read


def _add(a: Polynomial, b: Polynomial) -> Polynomial:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in a.keys() | b.keys()}


def _scaled(a: Polynomial, c: float) -> Polynomial:
    return {k: v * c for k, v in a.items()}


def _mul(a: Polynomial, b: Polynomial) -> Polynomial:
    out: Polynomial = {}
    for (i, u), (j, v) in cartesian(a.items(), b.items()):
        out[i + j] = out.get(i + j, 0.0) + u * v
    return out


def _clean(p: Polynomial) -> Polynomial:
    return {k: v for k, v in p.items() if v != 0.0}


def _div(op, x, store, chain):
    divisor = scalar(op.rhs, store)
    if not divisor:
        return None
    a = polynomial(op.lhs, x, store, chain)
    return None if a is None else _scaled(a, 1 / divisor)


def _neg(op, x, store, chain):
    a = polynomial(op.input, x, store, chain)
    return None if a is None else _scaled(a, -1.0)


def _pow(op, x, store, chain):
    exponent = scalar(op.rhs, store)
    if exponent is None or exponent != int(exponent) or not 1 <= exponent <= MAX_DEGREE:
        return None
    a = polynomial(op.lhs, x, store, chain)
    if a is None:
        return None
    out: Polynomial = {0: 1.0}
    for _ in range(int(exponent)):
        out = _mul(out, a)
    return _clean(out)


_POLYNOMIAL_OPS = {
    AddOp: _binary(_add),
    SubOp: _binary(lambda a, b: _add(a, _scaled(b, -1.0))),
    MulOp: _binary(_mul),
    DivOp: _div,
    NegOp: _neg,
    PowOp: _pow,
}
"""How each op combines its operands' polynomials."""


__all__ = [
    "RTOL",
    "Chain",
    "Polynomial",
    "Product",
    "close",
    "close_polynomial",
    "tolerance",
    "is_float_tensor",
    "orders",
    "polynomial",
    "product",
    "scalar",
    "single_use",
    "users",
]
