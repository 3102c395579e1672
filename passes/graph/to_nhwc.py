"""`graph-to-nhwc`: run convolutions channels last (NHWC), cancelling the transposes that
introduces wherever the graph allows.

Tensor-core convolution kernels (cuDNN's, CUTLASS's, optc's implicit GEMM) read
activations channels last, so that the reduction dimension, the input channels, is
contiguous; ONNX models are channels first. This pass moves each convolution, and as much
of the graph around it as can follow, to channels last.

Representation. `graph.conv`, the pools, `graph.batch_norm` and `graph.instance_norm` have
an NHWC form, `layout = "NHWC"` (see `dialects/graph/layout.py`): the same op with the channel
axis last, an NHWC conv's weight (M, *kernel, C/group), the OHWI layout cuDNN and CUTLASS
use. No other op needs a layout: an elementwise op, a concat or a pad on channels-last
data is the same op with its axes renumbered (concat's axis 1 becomes 3, a per-channel
constant `[C, 1, 1]` becomes `[1, 1, 1, C]`). So a value's layout is never part of its type; it
is stated by explicit `graph.transpose` ops, and the reference interpreter checks every
step.

The rewrite, to a fixpoint:

1. Each NCHW `graph.conv` with a constant weight becomes `transpose → NHWC conv →
   transpose`: its input moved channels last (one transpose per value, placed right
   after the value is defined and shared by every conv that reads it), its weight
   permuted at compile time (once per weight), its result moved back to channels first.
2. A channels-first transpose the pass made moves down through each op that reads it and
   has a channels-last form: pools (`pools`), batch and instance norms (`norms`),
   elementwise ops (`elementwise`), and ops whose axes renumber: concat, pad, slice,
   resize, softmax, reductions that keep their dims (`axes`). The op's other operands
   must not need a transpose of their own: a channels-first transpose is unwrapped, a
   value a conv also reads uses that conv's transposed input, a constant is permuted at
   compile time, a value that is the same data in both layouts (a runtime per-channel
   vector `[1, C, 1, 1]`, a scalar) is reshaped. An op with another operand in
   channels-first layout (a residual that comes from outside the region) stays, so the
   transpose stays before it.
3. A channels-last transpose the pass made (a convolution's input) moves up through the
   op that computes its input, when it is that op's only reader and at most one operand
   needs a transpose of its own: the count does not grow, and what precedes the first
   convolution joins the region (an input normalisation; a pool beside a conv, whose
   input then shares the conv's transpose).
4. A channels-last transpose of a channels-first one is the value itself: the pairs
   cancel, so no transpose is left inside a region.

What remains is one transpose per value entering a region (the model's input) and one
per value leaving it (before a flatten, reshape or gemm, a function result, an op with
no channels-last form such as `graph.conv_transpose`). A ResNet keeps one at its input
and one after the global pool; `graph-canonicalize` turns that one into a reshape, as it
moves only size-1 axes. The pass moves only the transposes it made, so the model's own
(an attention head split) stay where they are. Convolutions whose weight is computed at
run time stay NCHW. Only ops directly in a function body are rewritten, not those inside
fused ops' regions.

Each op kind's channels-last form (which operands are activations, how its axes
renumber) is in `nhwc_rules.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import TensorType
from xdsl.dialects.func import FuncOp
from xdsl.ir import Operation, OpResult, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from dialects.graph import ConstantOp, ConvOp, ReshapeOp, TransposeOp, WeightOp
from dialects.graph.base import i64_array, ints, is_free_view
from dialects.graph.layout import channels_first_perm, channels_last_perm, is_channels_last
from passes.graph.constants import constant_op, known_value, module_store
from passes.graph.folding import rebuild_props
from passes.graph.nhwc_rules import (
    AXES,
    ELEMENTWISE,
    NHWC,
    NORMS,
    POOLS,
    Form,
    channels_first_source,
    channels_last_op,
    form_of,
    to_channels_last,
    view_channels_last,
)


# --- helpers ----------------------------------------------------------------------------


def _keeps_memory_order(shape: Sequence[int], perm: Sequence[int]) -> bool:
    """Whether transposing `shape` by `perm` moves only size-1 axes: then it is a reshape."""
    moved = [p for p in perm if shape[p] != 1]
    return moved == sorted(moved)


def _is_top_level(op: Operation) -> bool:
    return isinstance(op.parent_op(), FuncOp)


def _erase_if_dead(values: Sequence[SSAValue | None], rewriter: PatternRewriter) -> None:
    """Erase the transposes, reshapes and constants among `values`' owners that a rewrite
    left without users."""
    owners = {id(v.owner): v.owner for v in values if isinstance(v, OpResult)}
    for owner in owners.values():
        kinds = TransposeOp | ReshapeOp | ConstantOp | WeightOp
        if isinstance(owner, kinds) and owner.parent is not None and not owner.results[0].uses:
            rewriter.erase(owner)


# --- what the patterns share -------------------------------------------------------------


@dataclass
class LayoutState:
    """The transposes the pass made, by direction (only those move: channels-first ones
    down, channels-last ones up; for 1-D convolutions both are the same perm), and the
    channels-last copies of values it made (a weight read by several convolutions is
    permuted once; a value read by several is transposed once)."""

    to_first: set[Operation] = field(default_factory=set)
    to_last: set[Operation] = field(default_factory=set)
    copies: dict[SSAValue, SSAValue] = field(default_factory=dict)

    def channels_first(self, value: SSAValue) -> TransposeOp:
        """A new transpose of the channels-last `value` back to channels first."""
        op = TransposeOp.make([value], {"perm": i64_array(channels_first_perm(value.type.get_num_dims()))})
        self.to_first.add(op)
        return op

    def made_source(self, value: SSAValue) -> SSAValue | None:
        """The input of `value`'s owner if it is a channels-first transpose this pass made."""
        return value.owner.input if value.owner in self.to_first else None

    def copy_of(self, value: SSAValue) -> SSAValue | None:
        """The channels-last copy of `value` the pass made, if it still exists."""
        copy = self.copies.get(value)
        return copy if copy is not None and copy.owner.parent is not None else None

    def channels_last(self, value: SSAValue, reader: Operation, rewriter: PatternRewriter) -> SSAValue:
        """`value`, a channels-first tensor that `reader` reads, channels last: unwrapped if
        it is a transpose, else a constant permuted at compile time, else one transpose
        placed right after its definition (so that it serves every reader). Made once per
        value."""
        if (source := channels_first_source(value)) is not None:
            return source
        if (copy := self.copy_of(value)) is not None:
            return copy
        rank = value.type.get_num_dims()
        array = known_value(value, module_store(reader))
        if array is not None:
            copy = _constant_like(value, np.transpose(array, channels_last_perm(rank)), reader)
        else:
            copy = TransposeOp.make([value], {"perm": i64_array(channels_last_perm(rank))})
            self.to_last.add(copy)
            copy.results[0].name_hint = f"{value.name_hint}_nhwc" if value.name_hint else None
        if isinstance(value, OpResult):
            rewriter.insert(copy, InsertPoint.after(value.owner))
        else:
            rewriter.insert(copy, InsertPoint.at_start(value.block))
        self.copies[value] = copy.results[0]
        return copy.results[0]


def _constant_like(value: SSAValue, array: np.ndarray, op: Operation) -> Operation:
    """A constant holding `array` in `value`'s element type, named after `value`'s weight."""
    hint = value.owner.sym.data + ".nhwc" if isinstance(value.owner, WeightOp) else "nhwc"
    constant = constant_op(np.ascontiguousarray(array), value.type.element_type, module_store(op), hint)
    constant.results[0].name_hint = value.name_hint
    return constant


def broadcast_operand(
    value: SSAValue, rank: int, state: LayoutState, new_ops: list[Operation], op: Operation
) -> SSAValue | None:
    """`value`, an operand that broadcasts into a channels-first result of `rank`, as the
    channels-last form of its reader reads it, with no new transpose at run time: a
    channels-first transpose unwrapped, the channels-last copy the pass already made (a
    conv's input), a constant permuted (a new constant appended to `new_ops`), a value
    whose layouts hold the same data as it is or reshaped (appended). None when it would
    need a transpose."""
    if value.type.get_num_dims() == rank:
        if (source := channels_first_source(value)) is not None:
            return source
        if (copy := state.copy_of(value)) is not None:
            return copy
    shape = value.type.get_shape()
    padded = (1,) * (rank - len(shape)) + tuple(shape)
    target = to_channels_last(padded, rank)
    if _keeps_memory_order(padded, channels_last_perm(rank)) and padded == tuple(target):
        return value
    array = known_value(value, module_store(op))
    if array is not None:
        new_ops.append(_constant_like(value, np.transpose(array.reshape(padded), channels_last_perm(rank)), op))
    elif _keeps_memory_order(padded, channels_last_perm(rank)):
        new_ops.append(ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, target)]))
    else:
        return None
    return new_ops[-1].results[0]


# --- patterns ----------------------------------------------------------------------------


@dataclass
class ConvToChannelsLast(RewritePattern):
    """`conv(x, w)` → `transpose(conv_nhwc(transpose(x), w permuted))` for a constant `w`."""

    state: LayoutState

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ConvOp, rewriter: PatternRewriter, /) -> None:
        if is_channels_last(op) or not _is_top_level(op) or known_value(op.weight, module_store(op)) is None:
            return
        old = list(op.operands)
        weight = self.state.channels_last(op.weight, op, rewriter)
        x = self.state.channels_last(op.input, op, rewriter)
        conv = ConvOp.make([x, weight, op.bias], rebuild_props(op, layout=NHWC))
        rewriter.replace(op, [conv, self.state.channels_first(conv.result)])
        _erase_if_dead(old, rewriter)


def channels_last_operands(
    op: Operation, form: Form, rank: int, state: LayoutState, new_ops: list[Operation]
) -> tuple[list[SSAValue | None], list[int]] | None:
    """The operands of `op`'s channels-last form, each activation as `broadcast_operand`
    gives it (new constants and reshapes appended to `new_ops`), and the positions of
    those that would need a transpose of their own, left None. None when such an operand
    is not of the result's rank."""
    operands: list[SSAValue | None] = list(op.operands)
    missing = []
    for i in form.activations(op):
        operands[i] = broadcast_operand(op.operands[i], rank, state, new_ops, op)
        if operands[i] is None:
            if op.operands[i].type.get_num_dims() != rank:
                return None
            missing.append(i)
    return operands, missing


@dataclass
class MoveTransposeDown(RewritePattern):
    """`op(transpose(x), ...)` → `transpose(op_nhwc(x, ...))` for a channels-first
    transpose the pass made and an op of `forms` whose other operands need no transpose."""

    state: LayoutState
    forms: dict[type[Operation], Form]

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        form = form_of(op, self.forms)
        if form is None or len(op.results) != 1 or not _is_top_level(op):
            return
        if not any(self.state.made_source(op.operands[i]) for i in form.activations(op)):
            return
        rank = op.results[0].type.get_num_dims()
        props, new_ops = form.props(op, rank), []
        planned = None if props is None else channels_last_operands(op, form, rank, self.state, new_ops)
        if planned is None or planned[1]:
            return
        moved = channels_last_op(op, planned[0], props)
        old = list(op.operands)
        rewriter.replace(op, [*new_ops, moved, self.state.channels_first(moved.results[0])])
        _erase_if_dead(old, rewriter)


@dataclass
class MoveTransposeUp(RewritePattern):
    """`transpose(op(x, ...))` → `op_nhwc(transpose(x), ...)` for a channels-last transpose
    the pass made (a convolution's input), when every reader of the op's result is such a
    transpose and at most one operand needs a transpose of its own: the count of
    transposes does not grow, and the op joins the region. This brings in what precedes
    the first convolution (an input normalisation, a pool beside a conv on the same input,
    whose input then shares the conv's transpose)."""

    state: LayoutState
    forms: dict[type[Operation], Form]

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter, /) -> None:
        producer = op.input.owner
        if op not in self.state.to_last or not isinstance(producer, Operation):
            return
        form = form_of(producer, self.forms)
        readers = [use.operation for use in op.input.uses]
        if form is None or len(producer.results) != 1 or not all(r in self.state.to_last for r in readers):
            return
        rank = op.input.type.get_num_dims()
        props, new_ops = form.props(producer, rank), []
        planned = None if props is None else channels_last_operands(producer, form, rank, self.state, new_ops)
        if planned is None or len(planned[1]) > 1:
            return
        operands, missing = planned
        for i in missing:
            operands[i] = self.state.channels_last(producer.operands[i], producer, rewriter)
        moved = channels_last_op(producer, operands, props)
        old = list(producer.operands)
        rewriter.insert([*new_ops, moved], InsertPoint.before(producer))
        for reader in readers:
            rewriter.replace(reader, [], [moved.results[0]])
        rewriter.erase(producer)
        _erase_if_dead(old, rewriter)


@dataclass
class MoveTransposeThroughView(RewritePattern):
    """Views that regroup only spatial axes move both ways: `view(transpose(x))` →
    `transpose(view'(x))`, and `transpose(view(x))` → `view'(transpose(x))` for a
    convolution's input whose view is read only by such transposes. A rank-2 result
    (`[N, C]`) needs no transpose at all; one of another rank cancels with the model's own
    (a ViT's patch embedding: conv, flatten, transpose(0, 2, 1))."""

    state: LayoutState

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if is_free_view(op) and _is_top_level(op) and self.state.made_source(op.input) is not None:
            self._sink(op, rewriter)
        elif op in self.state.to_last and is_free_view(view := op.input.owner):
            self._hoist(op, view, rewriter)

    def _sink(self, view: Operation, rewriter: PatternRewriter) -> None:
        if (result := view_channels_last(view)) is None:
            return
        moved = ReshapeOp(operands=[self.state.made_source(view.input)], result_types=[result])
        back = [self.state.channels_first(moved.result)] if result.get_num_dims() > 2 else []
        old = view.input
        rewriter.replace(view, [moved, *back])
        _erase_if_dead([old], rewriter)

    def _hoist(self, op: TransposeOp, view: Operation, rewriter: PatternRewriter) -> None:
        readers = [use.operation for use in view.result.uses]
        if (result := view_channels_last(view)) is None or not all(r in self.state.to_last for r in readers):
            return
        source = view.input
        if source.type.get_num_dims() > 2:
            source = self.state.channels_last(source, view, rewriter)
        moved = ReshapeOp(operands=[source], result_types=[result])
        rewriter.insert(moved, InsertPoint.before(view))
        for reader in readers:
            rewriter.replace(reader, [], [moved.result])
        old = view.input
        rewriter.erase(view)
        _erase_if_dead([old], rewriter)


@dataclass
class CancelTransposePair(RewritePattern):
    """`transpose(transpose(x, p), q)` with q undoing p → `x`, when the pass made either."""

    state: LayoutState

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: TransposeOp, rewriter: PatternRewriter, /) -> None:
        inner = op.input.owner
        made = self.state.to_first | self.state.to_last
        if not isinstance(inner, TransposeOp) or not ({op, inner} & made):
            return
        inner_perm = ints(inner.perm)
        if tuple(inner_perm[i] for i in ints(op.perm)) == tuple(range(len(inner_perm))):
            transposed = op.input
            rewriter.replace(op, [], [inner.input])
            _erase_if_dead([transposed], rewriter)


# --- the pass ----------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphToNHWC(ModulePass):
    """Move convolutions, and the ops around them that can follow, to channels last."""

    name = "graph-to-nhwc"

    pools: bool = True
    """Move max/average pools and global pools into the channels-last regions."""

    norms: bool = True
    """Move batch and instance norms into the channels-last regions."""

    elementwise: bool = True
    """Move elementwise ops (activations, residual adds, per-channel constants) into them."""

    axes: bool = True
    """Move concat, pad, slice, resize, softmax and keepdims reductions into them, axes renumbered."""

    views: bool = True
    """Move reshapes and flattens that regroup only spatial axes into them (a flatten after
    the global pool then needs no transpose)."""

    def forms(self) -> dict[type[Operation], Form]:
        chosen = ((self.pools, POOLS), (self.norms, NORMS), (self.elementwise, ELEMENTWISE), (self.axes, AXES))
        return {cls: form for on, table in chosen if on for cls, form in table.items()}

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        state = LayoutState()
        forms = self.forms()
        patterns = [
            ConvToChannelsLast(state),
            MoveTransposeDown(state, forms),
            MoveTransposeUp(state, forms),
            *([MoveTransposeThroughView(state)] if self.views else []),
            CancelTransposePair(state),
        ]
        PatternRewriteWalker(GreedyRewritePatternApplier(patterns, dce_enabled=False)).rewrite_module(op)
