"""`fuse-epilogue`: every matrix product and convolution becomes one fused kernel, with the
elementwise work that follows it in that kernel's epilogue.

A GEMM or convolution kernel holds each output tile in registers before writing it, so a
bias, an activation, a residual add, a scale or a cast applied there costs no extra pass
over memory. Each `graph.matmul`, `graph.gemm` and `graph.conv` becomes a `fused.matmul` /
`fused.conv` (at the fused level every contraction is a fused op, with an empty epilogue
where nothing follows), in one normal form: the fused op computes the bare product, and
what the graph op did beyond it comes first in the epilogue:

- `graph.matmul`: its bias (an extra, added); a vector operand is viewed as a matrix by a
  `graph.reshape` outside and the product reshaped back inside;
- `graph.gemm`: `trans_b` becomes `transpose_b`; `trans_a` transposes a constant `a` (a new
  constant) or puts a `graph.transpose` before the kernel (which `fuse-matmul-transpose`
  turns into `transpose_a`); `alpha` multiplies the product,
  `c` is an extra added after a multiply by `beta` (the reference's order); the scales are
  constants of the element type (an integer gemm whose scale that type cannot hold fails);
- `graph.conv`: its bias is an extra viewed as `[1, C, 1, ...]` (`[1, ..., 1, C]` for an
  NHWC conv, whose layout the fused op keeps) by a `graph.reshape` outside (a free view)
  and added.

Then the ops that read the result join the epilogue, in program order, while legal:

- elementwise ops whose result has the shape of the epilogue values they read (their
  other operands, the extras, broadcast into it): activations and clip (`activations`),
  add/sub of a constant (`bias`) or of a computed tensor such as a residual or a mask
  (`residual`), mul/div (`scaling`), cast (`casts`); other binary ops (pow, max, prelu, ...)
  and ops combining two epilogue values, as decomposed activations are written, count as
  `activations`;
- views (reshape, flatten, squeeze, unsqueeze) anywhere, transpose, split and slice at the
  end, after which only views, transposes, splits and slices may follow (`views`). A view joins
  only when the epilogue is the only reader of its input: the kernel would otherwise write
  both forms. This lets one QKV product yield its head-split q, k and v.

The product itself is written by the kernel only where nothing joins: if the contraction's
result has a reader outside the epilogue, nothing joins at all. Intermediate epilogue
values with readers outside become extra results; nothing is ever computed twice. An op
reading a value computed outside from the epilogue's results stays out (the group must be
convex), and ops between the product and the last joined op that depend on the epilogue
move after the fused op, the only place they can read its results. Splat constants read
by joined ops move (or are copied) into the region, where codegen prints them as
literals; other constants and weights are extras.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter
from xdsl.utils.exceptions import PassFailedException

from dialects import fused
from dialects.dtypes import is_float, numpy_dtype
from dialects.graph import (
    AbsOp,
    AddOp,
    CastOp,
    CeilOp,
    CeluOp,
    ClipOp,
    ConstantOp,
    ConvOp,
    CosOp,
    DivOp,
    EluOp,
    ErfOp,
    ExpOp,
    FloorOp,
    GeluOp,
    GemmOp,
    HardSigmoidOp,
    HardSwishOp,
    IdentityOp,
    LeakyReluOp,
    LogOp,
    MatMulOp,
    MaxOp,
    MinOp,
    ModOp,
    MulOp,
    NegOp,
    PowOp,
    PReluOp,
    ReciprocalOp,
    ReluOp,
    ReshapeOp,
    RoundOp,
    SeluOp,
    SigmoidOp,
    SignOp,
    SinOp,
    SliceOp,
    SoftplusOp,
    SplitOp,
    SqrtOp,
    SubOp,
    TanhOp,
    ThresholdedReluOp,
    TransposeOp,
    WeightOp,
)
from dialects.graph.base import float_of, i64_array, int_attr, int_of, is_free_view
from dialects.graph.core import is_splat
from dialects.graph.layout import channel_axis
from passes.fusion.outline import outline
from passes.graph.constants import constant_op, known_value, module_store

MAX_MATMUL_RANK = 6
"""The highest operand rank `fused.matmul` accepts."""

ACTIVATIONS = (
    ReluOp, SigmoidOp, TanhOp, ErfOp, ExpOp, LogOp, SqrtOp, ReciprocalOp, NegOp, AbsOp, SignOp,
    HardSwishOp, SoftplusOp, SinOp, CosOp, FloorOp, CeilOp, RoundOp, LeakyReluOp, EluOp, SeluOp,
    CeluOp, ThresholdedReluOp, HardSigmoidOp, GeluOp, ClipOp, IdentityOp,
    PowOp, MinOp, MaxOp, PReluOp, ModOp,
)  # fmt: skip
"""Elementwise ops that join as `activations` (with their constant or tensor operands)."""

KIND_OF_OP: dict[type[Operation], str] = {
    **{op: "activations" for op in ACTIVATIONS},
    AddOp: "add",
    SubOp: "add",
    MulOp: "scaling",
    DivOp: "scaling",
    CastOp: "casts",
}
"""Elementwise ops an epilogue takes, by the option that allows them; an add or sub is
`bias` or `residual` depending on its other operand."""

TAIL = (TransposeOp, SplitOp, SliceOp)
"""Ops that move elements: they end the elementwise part of the epilogue."""


# --- the product in normal form --------------------------------------------


def _before(op: Operation, new: Operation) -> SSAValue:
    """Insert `new` before `op`; its result."""
    Rewriter.insert_op(new, InsertPoint.before(op))
    return new.results[0]


def _scalar(value: float, element_type: Attribute, op: Operation) -> ConstantOp:
    """A 0-d constant of `element_type` holding `value` (rounded to a float type, as a kernel
    of that type multiplies); an integer type must hold it exactly, else the pass fails."""
    array = np.asarray(value, dtype=numpy_dtype(element_type))
    if not is_float(element_type) and float(array) != value:
        raise PassFailedException(f"fuse-epilogue: {op.name} scale {value} is not exact in {element_type}")
    return ConstantOp.from_array(array, element_type)


def _identity_region(acc: TensorType) -> Region:
    block = Block(arg_types=[acc])
    block.args[0].name_hint = "acc"
    block.add_op(fused.YieldOp(block.args[0]))
    return Region(block)


def _matmul_product(lhs: SSAValue, rhs: SSAValue, transpose_b: int) -> fused.MatmulOp:
    """`fused.matmul` of the bare product, with an epilogue that yields it."""
    acc = fused.matmul_accumulator(lhs.type, rhs.type, False, bool(transpose_b))
    return fused.MatmulOp(
        operands=[lhs, rhs, []],
        result_types=[[acc]],
        properties={"transpose_b": int_attr(transpose_b)},
        regions=[_identity_region(acc)],
    )


def _normalise_matmul(op: MatMulOp) -> tuple[Operation, list[Operation]]:
    """The bare product of `op` and the ops giving back its result (bias, vector views)."""
    lhs, rhs = op.lhs, op.rhs
    if max(lhs.type.get_num_dims(), rhs.type.get_num_dims()) > MAX_MATMUL_RANK:
        raise PassFailedException(
            f"fuse-epilogue: fused.matmul takes operands of rank 2 to {MAX_MATMUL_RANK}, got {lhs.type} and {rhs.type}"
        )
    if lhs.type.get_num_dims() == 1:
        lhs = _before(op, ReshapeOp(operands=[lhs], result_types=[TensorType(lhs.type.element_type, [1, *lhs.type.get_shape()])]))
    if rhs.type.get_num_dims() == 1:
        rhs = _before(op, ReshapeOp(operands=[rhs], result_types=[TensorType(rhs.type.element_type, [*rhs.type.get_shape(), 1])]))
    product = _matmul_product(lhs, rhs, 0)
    after: list[Operation] = []
    value = product.results[0]
    if op.bias is not None:
        after.append(AddOp.make([value, op.bias]))
        value = after[-1].results[0]
    if value.type != op.result.type:
        after.append(ReshapeOp(operands=[value], result_types=[op.result.type]))
    return product, after


def _normalise_gemm(op: GemmOp) -> tuple[Operation, list[Operation]]:
    """The bare product of `op` and the ops giving back its result (alpha, beta * c)."""
    a, elem = op.a, op.result.type.element_type
    if int_of(op.trans_a):
        constant = known_value(a, module_store(op))
        if constant is not None:
            a = _before(op, constant_op(np.ascontiguousarray(constant.T), elem, module_store(op), "gemm.a.transposed"))
        else:
            a = _before(op, TransposeOp.make([a], {"perm": i64_array([1, 0])}))
    product = _matmul_product(a, op.b, int_of(op.trans_b))
    after: list[Operation] = []
    value = product.results[0]
    alpha, beta = float_of(op.alpha), float_of(op.beta)
    if alpha != 1.0:
        after += [scale := _scalar(alpha, elem, op), MulOp.make([value, scale.results[0]])]
        value = after[-1].results[0]
    if op.c is not None and beta != 0.0:
        c = op.c
        if beta != 1.0:
            after += [scale := _scalar(beta, elem, op), MulOp.make([c, scale.results[0]])]
            c = after[-1].results[0]
        after.append(AddOp.make([value, c]))
    return product, after


def _normalise_conv(op: ConvOp) -> tuple[Operation, list[Operation]]:
    """The bare convolution of `op` and the bias add giving back its result."""
    props = {k: op.properties[k] for k in ("strides", "pads", "dilations", "group", "layout") if k in op.properties}
    (acc,) = ConvOp.infer([op.input.type, op.weight.type], props)
    product = fused.ConvOp(
        operands=[op.input, op.weight, []], result_types=[[acc]], properties=props, regions=[_identity_region(acc)]
    )
    if op.bias is None:
        return product, []
    channels, axis = op.bias.type.get_shape()[0], channel_axis(op)
    view = TensorType(op.bias.type.element_type, [channels if i == axis else 1 for i in range(acc.get_num_dims())])
    bias = _before(op, ReshapeOp(operands=[op.bias], result_types=[view]))
    return product, [AddOp.make([product.results[0], bias])]


NORMALISE: dict[type[Operation], Callable[[Operation], tuple[Operation, list[Operation]]]] = {
    MatMulOp: _normalise_matmul,
    GemmOp: _normalise_gemm,
    ConvOp: _normalise_conv,
}
"""Contraction → (bare fused product, graph ops that rebuild the contraction's result)."""


def normalise(op: Operation) -> tuple[Operation, list[Operation]]:
    """Replace the contraction `op` by its bare fused product followed by the graph ops that
    give back its result; returns (product, those ops)."""
    product, after = NORMALISE[type(op)](op)
    Rewriter.insert_op(product, InsertPoint.before(op))
    for new in after:
        Rewriter.insert_op(new, InsertPoint.before(op))
    op.results[0].replace_all_uses_with((after[-1] if after else product).results[0])
    Rewriter.erase_op(op)
    return product, after


# --- choosing the epilogue -------------------------------------------------


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


def _is_constant(value: SSAValue) -> bool:
    return isinstance(value.owner, (ConstantOp, WeightOp))


@dataclass
class _Group:
    """The ops an epilogue takes, chosen by walking the block from the product on.

    `values` maps each epilogue value to whether it lies past a transpose, split or slice
    (then only views and transposes may read it); `tainted` holds values computed outside
    from epilogue values, which no epilogue op may read, and `dependents` the ops that
    compute them."""

    kinds: frozenset[str]
    ops: list[Operation]
    values: dict[SSAValue, bool]
    tainted: set[SSAValue]
    dependents: set[Operation]

    def kind(self, op: Operation) -> str | None:
        """The option that lets `op` join, or None when it cannot join whatever the options."""
        if is_free_view(op) or isinstance(op, TAIL):
            return "views"
        kind = KIND_OF_OP.get(type(op))
        others = [v for v in op.operands if v not in self.values]
        if kind in ("add", "scaling") and not others:
            return "activations"  # combines two epilogue values, as x * sigmoid(x)
        if kind == "add":
            return "bias" if _is_constant(others[0]) else "residual"
        return kind

    def past_tail(self, op: Operation) -> bool | None:
        """Whether `op`'s results would lie past the elementwise part, or None when `op`
        cannot join: its epilogue operands' shapes, or options, forbid it."""
        kind = self.kind(op)
        if kind is None or kind not in self.kinds:
            return None
        inside = [v for v in op.operands if v in self.values]
        if is_free_view(op) or isinstance(op, TAIL):
            return isinstance(op, TAIL) or self.values[inside[0]]
        if any(self.values[v] for v in inside):
            return None
        if any(_shape(v) != _shape(r) for v in inside for r in op.results):
            return None
        return False

    def consider(self, op: Operation, banned: set[Operation]) -> None:
        """Take `op` into the group if it may join; else mark what it computes as tainted
        when it depends on the group."""
        reads_group = any(v in self.values for v in op.operands)
        reads_tainted = any(v in self.tainted for v in op.operands)
        if reads_group and not reads_tainted and op not in banned and (tail := self.past_tail(op)) is not None:
            self.ops.append(op)
            self.values.update((r, tail) for r in op.results)
        elif reads_group or reads_tainted:
            self.tainted.update(op.results)
            self.dependents.add(op)


def _position_in(block: Block) -> dict[Operation, int]:
    return {op: i for i, op in enumerate(block.ops)}


def _top(op: Operation, block: Block) -> Operation:
    """The ancestor of `op` that stands in `block` (a user may sit in a nested region)."""
    while op.parent_block() is not block:
        op = op.parent_op()
    return op


def _last_reader(values: Sequence[SSAValue], block: Block, position: dict[Operation, int]) -> int:
    return max((position[_top(use.operation, block)] for v in values for use in v.uses), default=-1)


def choose(start: Operation, result: SSAValue, kinds: frozenset[str], banned: set[Operation]) -> _Group:
    """The ops after `start` that may join the epilogue of `result`, in program order,
    leaving out `banned` ops: each joins if it reads the epilogue, nothing computed outside
    from it, and its kind and shapes allow."""
    block = start.parent_block()
    position = _position_in(block)
    group = _Group(kinds, [], {result: False}, set(), set())
    horizon = _last_reader([result], block, position)
    op = start.next_op
    while op is not None and position[op] <= horizon:
        group.consider(op, banned)
        if group.ops and group.ops[-1] is op:
            horizon = max(horizon, _last_reader(op.results, block, position))
        op = op.next_op
    return group


def _views_with_other_readers(group: _Group) -> list[Operation]:
    """Views in the group whose input something outside the group also reads."""
    inside = set(group.ops)
    return [
        op
        for op in group.ops
        if (is_free_view(op) or isinstance(op, TAIL)) and any(use.operation not in inside for use in op.operands[0].uses)
    ]


def epilogue_of(start: Operation, result: SSAValue, kinds: frozenset[str]) -> _Group:
    """The group that joins the epilogue of `result` (computed by the ops up to `start`):
    views whose input is read elsewhere are left out until none is, and nothing joins
    when the result itself has readers outside."""
    banned: set[Operation] = set()
    while True:
        group = choose(start, result, kinds, banned)
        unwanted = _views_with_other_readers(group)
        if not unwanted:
            break
        banned.update(unwanted)
    inside = set(group.ops)
    if any(use.operation not in inside for use in result.uses):
        return _Group(kinds, [], {result: False}, set(), set())
    return group


# --- rewriting -------------------------------------------------------------


def _literals(ops: list[Operation]) -> list[Operation]:
    """Splat constants the ops read, to move into the region: a constant only these ops
    read, else a copy placed before its reader."""
    inside, literals = set(ops), []
    for op in ops:
        for i, value in enumerate(op.operands):
            constant = value.owner
            if not isinstance(constant, ConstantOp) or constant in literals or not is_splat(constant.to_array()):
                continue
            if all(use.operation in inside for use in value.uses):
                literals.append(constant)
            else:
                copy = constant.clone()
                Rewriter.insert_op(copy, InsertPoint.before(op))
                op.operands[i] = copy.results[0]
                literals.append(copy)
    return literals


def _sink_dependents(ops: list[Operation], dependents: set[Operation], block: Block) -> None:
    """Move the `dependents` (ops computed from the epilogue's values) that stand among
    `ops` to just after the last of them, keeping their order: the fused op will stand there."""
    last = ops[-1]
    movers = []
    op = ops[0]
    while op is not last:
        if op in dependents:
            movers.append(op)
        op = op.next_op
    anchor = last
    for op in movers:
        op.detach()
        block.insert_op_after(op, anchor)
        anchor = op


def _in_block_order(ops: set[Operation], block: Block) -> list[Operation]:
    return [op for op in block.ops if op in ops]


def _rebuilt(product: Operation, extras: list[SSAValue], types: list[TensorType], region: Region) -> Operation:
    """`product` (a bare fused contraction) with these extras, results and epilogue."""
    props = {k: v for k, v in product.properties.items() if k != "operandSegmentSizes"}
    return type(product)(operands=[*product.operands[:2], extras], result_types=[types], properties=props, regions=[region])


def fuse(op: Operation, kinds: frozenset[str]) -> Operation:
    """Turn the contraction `op` into a fused op with as much of what follows as may join."""
    product, after = normalise(op)
    result = (after[-1] if after else product).results[0]
    group = epilogue_of(after[-1] if after else product, result, kinds)
    ops = [*after, *group.ops]
    if not ops:
        return product
    block = product.parent_block()
    _sink_dependents(ops, group.dependents, block)
    ops = _in_block_order({*ops, *_literals(ops)}, block)
    fused_op = outline(ops, lambda extras, types, region: _rebuilt(product, extras, types, region), [product.results[0]])
    fused_op.epilogue.block.args[0].name_hint = "acc"
    Rewriter.erase_op(product)
    return fused_op


# --- the pass --------------------------------------------------------------


CONTRACTIONS = (MatMulOp, GemmOp, ConvOp)


def _contractions(module: builtin.ModuleOp) -> list[Operation]:
    """Graph contractions outside fused ops, in program order."""
    return [op for op in module.walk() if isinstance(op, CONTRACTIONS) and not op.parent_op().name.startswith("fused.")]


@dataclass(frozen=True)
class FuseEpilogue(ModulePass):
    """Make every matmul, gemm and conv a fused op and pull the elementwise ops after it into its epilogue."""

    name = "fuse-epilogue"

    activations: bool = True
    """Unary activations, clip, and other elementwise math (pow, max, prelu, decomposed forms)."""

    bias: bool = True
    """Add or subtract a constant (a bias) that broadcasts into the result."""

    residual: bool = True
    """Add or subtract a computed tensor that broadcasts into the result (a residual, a mask)."""

    scaling: bool = True
    """Multiply or divide by a constant or a tensor that broadcasts into the result."""

    casts: bool = True
    """Element type conversions."""

    views: bool = True
    """Reshapes anywhere; transposes, splits and slices at the end (head-split q, k, v)."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        kinds = frozenset(k for k in ("activations", "bias", "residual", "scaling", "casts", "views") if getattr(self, k))
        for contraction in _contractions(op):
            fuse(contraction, kinds)
