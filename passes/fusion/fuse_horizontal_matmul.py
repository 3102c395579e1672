"""`fuse-horizontal-matmul`: products of one activation by several constant weights become
one product by the weights side by side, followed by a split.

Transformers project one activation three times, to queries, keys and values (BERT and
ViT write three `Linear` layers; GPT-2 already writes one). Three GEMMs read the
activation three times and launch three kernels; one GEMM with the weights concatenated
along N reads it once, fills the GPU better and, after `fuse-epilogue`, is one kernel whose
epilogue adds the biases, splits and head-splits q, k and v.

A member of a group is a `graph.matmul` by a constant 2-D weight `[K, N]` (its bias
operand, if any, constant) or a `graph.gemm` with `trans_a = 0`, `alpha = 1`, a constant
`b` (either layout: `trans_b` weights are transposed at compile time) and a `c` that is
absent or a constant vector over N with `beta` 1 (or `beta` 0). Members read the same
activation, have one element type and the same K. With `bias-adds`, a member without a
bias whose only reader is a `graph.add` of a constant vector over N takes that add in as
its bias (the layout exporters write before `graph-matmul-bias` runs).

A group of at least `min-group` members becomes: the concatenated weight (a new constant),
the concatenated bias (members without one contribute -0.0, which adds exactly, signed
zeros included), one `graph.matmul` with that bias, and one `graph.split` along the last
axis whose results replace the members'. It stands where the first member stood. Old
weights and biases left without readers are erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from dialects.dtypes import is_float, numpy_dtype
from dialects.graph import AddOp, ConstantOp, GemmOp, MatMulOp, SplitOp, WeightOp
from dialects.graph.base import float_of, i64_array, int_attr, int_of
from dialects.weights import WeightStore
from passes.graph.constants import constant_op, known_value, module_store


@dataclass
class Member:
    """One product of a group: its weight as `[K, N]`, its bias as `[N]` (None without one),
    the value the group's split replaces, and the ops that computed it."""

    activation: SSAValue
    weight: np.ndarray
    bias: np.ndarray | None
    result: SSAValue
    ops: list[Operation]

    @property
    def width(self) -> int:
        return self.weight.shape[1]


def _vector(array: np.ndarray, width: int) -> np.ndarray | None:
    """`array` as a `[width]` vector when adding it over the last axis varies only along that
    axis (`[N]`, `[1, N]`, a scalar) and grows nothing; else None."""
    if any(d != 1 for d in array.shape[:-1]) or (array.ndim and array.shape[-1] not in (1, width)):
        return None
    return np.broadcast_to(array.reshape(-1), (width,)) if array.size else None


def _matmul_member(op: MatMulOp, store: WeightStore) -> Member | None:
    weight = known_value(op.rhs, store)
    if weight is None or weight.ndim != 2:
        return None
    bias = None
    if op.bias is not None:
        bias = known_value(op.bias, store)
        if bias is None:
            return None
    return Member(op.lhs, weight, bias, op.result, [op])


def _gemm_member(op: GemmOp, store: WeightStore) -> Member | None:
    weight = known_value(op.b, store)
    if weight is None or int_of(op.trans_a) or float_of(op.alpha) != 1.0:
        return None
    if int_of(op.trans_b):
        weight = np.ascontiguousarray(weight.T)
    bias, beta = None, float_of(op.beta)
    if op.c is not None and beta != 0.0:
        c = known_value(op.c, store)
        bias = None if c is None or beta != 1.0 else _vector(c, weight.shape[1])
        if bias is None:
            return None
    return Member(op.a, weight, bias, op.result, [op])


MEMBERS = {MatMulOp: _matmul_member, GemmOp: _gemm_member}
"""Product op → how to read it as a member (None when it cannot be one)."""


def _with_bias_add(member: Member, store: WeightStore) -> Member:
    """`member` with the `graph.add` of a constant vector that is its result's only reader
    taken in as its bias, when it has none yet."""
    uses = list(member.result.uses)
    if member.bias is not None or len(uses) != 1 or not isinstance(add := uses[0].operation, AddOp):
        return member
    other = add.operands[1 - uses[0].index]
    constant = known_value(other, store)
    if constant is None or add.result.type != member.result.type:
        return member
    bias = _vector(constant, member.width)
    if bias is None:
        return member
    return Member(member.activation, member.weight, bias, add.result, [*member.ops, add])


def _member(op: Operation, store: WeightStore, gemm: bool, bias_adds: bool) -> Member | None:
    """`op` read as a member of a group, or None."""
    if isinstance(op, GemmOp) and not gemm:
        return None
    member = MEMBERS[type(op)](op, store)
    if member is None:
        return None
    return _with_bias_add(member, store) if bias_adds else member


def _groups(members: Sequence[Member], min_group: int) -> list[list[Member]]:
    """Members that read the same activation with the same K and element type, each group
    in program order, those of at least `min_group` members."""
    by_key: dict[tuple, list[Member]] = {}
    for m in members:
        key = (m.activation, m.weight.shape[0], m.result.type.element_type)
        by_key.setdefault(key, []).append(m)
    return [g for g in by_key.values() if len(g) >= min_group]


def _hint(ops: Sequence[Operation], fallback: str) -> str:
    """A store name for the concatenation: the first weight's name, else `fallback`."""
    for op in ops:
        if isinstance(op, WeightOp):
            return f"{op.sym.data}.concat"
    return fallback


def _erase_unused(values: Sequence[SSAValue]) -> None:
    """Erase the constants and weights among `values` that nothing reads any more."""
    for value in values:
        owner = value.owner
        if isinstance(owner, (ConstantOp, WeightOp)) and owner.parent is not None and not owner.result.uses:
            Rewriter.erase_op(owner)


def fuse_group(group: list[Member]) -> Operation:
    """Replace the group's members by one product and a split; returns the split."""
    first = group[0].ops[0]
    store = module_store(first)
    elem = group[0].result.type.element_type
    dtype = numpy_dtype(elem)
    weight = np.concatenate([m.weight.astype(dtype) for m in group], axis=1)
    weight_op = constant_op(weight, elem, store, _hint([m.ops[0].operands[1].owner for m in group], "matmul.weight.concat"))
    new = [weight_op]
    operands = [group[0].activation, weight_op.results[0]]
    if any(m.bias is not None for m in group):
        missing = -0.0 if is_float(elem) else 0
        bias = np.concatenate([np.full(m.width, missing, dtype) if m.bias is None else m.bias.astype(dtype) for m in group])
        new.append(constant_op(bias, elem, store, "matmul.bias.concat"))
        operands.append(new[-1].results[0])
    new.append(MatMulOp.make(operands))
    rank = new[-1].result.type.get_num_dims()
    new.append(SplitOp.make([new[-1].result], {"axis": int_attr(rank - 1), "split": i64_array([m.width for m in group])}))
    Rewriter.insert_op(new, InsertPoint.before(first))
    old_inputs = [v for m in group for op in m.ops for v in op.operands]
    for m, part in zip(group, new[-1].results):
        m.result.replace_all_uses_with(part)
        for op in reversed(m.ops):
            Rewriter.erase_op(op)
    _erase_unused(old_inputs)
    return new[-1]


# --- the pass --------------------------------------------------------------


@dataclass(frozen=True)
class FuseHorizontalMatmul(ModulePass):
    """Join products of one activation by constant weights (Q/K/V) into one product and a split."""

    name = "fuse-horizontal-matmul"

    min_group: int = 2
    """The fewest products worth joining."""

    gemm: bool = True
    """Let `graph.gemm` ops be members (else only `graph.matmul`)."""

    bias_adds: bool = True
    """Take in a `graph.add` of a constant vector after a member without a bias."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if self.min_group < 2:
            raise PassFailedException(f"fuse-horizontal-matmul: min-group must be at least 2, got {self.min_group}")
        store = module_store(op)
        candidates = [o for o in op.walk() if type(o) in MEMBERS and not o.parent_op().name.startswith("fused.")]
        members = [m for o in candidates if (m := _member(o, store, self.gemm, self.bias_adds)) is not None]
        for group in _groups(members, self.min_group):
            fuse_group(group)
