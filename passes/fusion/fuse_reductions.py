"""`fuse-reductions`: every reduction-like op becomes one `fused.reduction` kernel, with the
elementwise ops that compute its input (the prologue) and those that use its result (the
epilogue).

A reduction kernel holds each row it reduces on chip, so the elementwise work on that row
before the reduction (a softmax's scale and mask, a layer norm's residual add) and after it
(a norm's affine, a cast) costs no extra pass over memory. Anchors: softmax, log_softmax,
layer_norm, instance_norm, batch_norm (what BN folding left), reduce_*, arg_max/arg_min,
global_average_pool/global_max_pool. Each group has exactly one anchor; anchors are taken
in program order, each group is outlined before the next is chosen.

Prologue (`prologue`), walked back from the anchor's data input through elementwise
producers:
- an op only the group reads joins;
- a cheap op (see `grouping.is_cheap`: it reads one tensor besides smaller constants, so
  recomputing it reads no more than its result would) that others read too, by at most
  `recompute_limit` ops in all, is recomputed: a copy joins, the original stays for its
  other readers (and disappears when every reader recomputed it);
- any other op that others read joins and is yielded as an extra result (the residual sum
  that feeds a layer norm and the next residual add), provided it has the anchor input's
  shape: a kernel iterating over the rows writes values of that shape; smaller ones stay
  outside as operands.

Epilogue (`epilogue`): elementwise ops reading the anchor's result, then those reading
theirs, join when their result has the anchor result's shape (their other operands
broadcast into it, as an affine's scale and bias do); an op that would broadcast the
reduced result back up (x - mean) does not, as it is a different iteration space. Values
read outside the group are yielded.

Every addition must keep the group schedulable (`grouping.schedulable`), so no group is
ever non-convex; what cannot join stays outside for `fuse-elementwise`. Splat constants
go into the region as literals; other constants and weights are operands (`grouping`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from dialects.fused import ReductionOp
from dialects.graph import (
    BatchNormOp,
    GlobalAveragePoolOp,
    GlobalMaxPoolOp,
    InstanceNormOp,
    LayerNormOp,
    LogSoftmaxOp,
    SoftmaxOp,
)
from dialects.graph.reduction import ArgReduceOp, ReduceOp
from passes.fusion.grouping import (
    erase_unused,
    function_blocks,
    fuse,
    is_cheap,
    is_elementwise,
    is_top_level,
    is_used,
    materialize,
    positions,
    schedulable,
    users,
)

ANCHORS: tuple[type[Operation], ...] = (
    SoftmaxOp,
    LogSoftmaxOp,
    LayerNormOp,
    InstanceNormOp,
    BatchNormOp,
    ReduceOp,
    ArgReduceOp,
    GlobalAveragePoolOp,
    GlobalMaxPoolOp,
)
"""Ops that make a reduction kernel (ReduceOp and ArgReduceOp stand for their families)."""


def is_anchor(op: Operation) -> bool:
    return isinstance(op, ANCHORS)


def _shape(value: SSAValue) -> tuple[int, ...]:
    return tuple(value.type.get_shape())


@dataclass
class _Group:
    """The ops chosen for one anchor: `members` move into the region; copies of the
    `recomputed` ops join in their place."""

    anchor: Operation
    block: Block
    limit: int
    position: dict[Operation, int] = field(init=False)
    members: set[Operation] = field(init=False)
    recomputed: set[Operation] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.position = positions(self.block)
        self.members = {self.anchor}

    def holds(self, op: Operation) -> bool:
        return op in self.members or op in self.recomputed

    def can_join(self, op: Operation) -> bool:
        return is_top_level(op) and is_elementwise(op) and is_used(op) and not self.holds(op)

    def try_add(self, op: Operation, recompute: bool) -> bool:
        """Add `op` (as a member, or to recompute) if the group stays schedulable."""
        members = self.members if recompute else self.members | {op}
        recomputed = self.recomputed | {op} if recompute else self.recomputed
        if not schedulable(self.block, self.position, members, recomputed):
            return False
        self.members, self.recomputed = members, recomputed
        return True

    def role(self, producer: Operation) -> str | None:
        """How a prologue candidate joins ("member" or "recompute"), or None when it stays
        outside; see the module docstring."""
        if all(user in self.members for user in users(producer)):
            return "member"
        if is_cheap(producer) and len(users(producer)) <= self.limit:
            return "recompute"
        if _shape(producer.results[0]) == _shape(self.anchor.operands[0]):
            return "member"
        return None

    def prologue(self) -> None:
        """Take the elementwise producers of the anchor's data input, and theirs in turn."""
        stack = [self.anchor]
        while stack:
            op = stack.pop()
            for value in op.operands[:1] if op is self.anchor else op.operands:
                producer = value.owner
                if not isinstance(producer, Operation) or not self.can_join(producer):
                    continue
                role = self.role(producer)
                if role is not None and self.try_add(producer, recompute=role == "recompute"):
                    stack.append(producer)

    def epilogue(self) -> None:
        """Take the elementwise readers of group values that keep the anchor result's shape."""
        shape = _shape(self.anchor.results[0])
        frontier = [self.anchor]
        while frontier:
            for reader in users(frontier.pop()):
                if self.can_join(reader) and all(_shape(r) == shape for r in reader.results):
                    if self.try_add(reader, recompute=False):
                        frontier.append(reader)


def fuse_reduction(anchor: Operation, prologue: bool, epilogue: bool, limit: int, leftovers: set[Operation]) -> None:
    """Make `anchor`'s group one `fused.reduction`; the originals of what it recomputed or
    copied go to `leftovers`."""
    group = _Group(anchor, anchor.parent_block(), limit)
    if prologue:
        group.prologue()
    if epilogue:
        group.epilogue()
    fuse(materialize(group.members, group.recomputed), ReductionOp, leftovers)
    leftovers |= group.recomputed


@dataclass(frozen=True)
class FuseReductions(ModulePass):
    """Each reduction-like op, with its elementwise prologue and epilogue, becomes one
    `fused.reduction`."""

    name = "fuse-reductions"

    prologue: bool = True
    """Take the elementwise ops that compute the anchor's input."""

    epilogue: bool = True
    """Take the elementwise ops that use the anchor's result."""

    recompute_limit: int = 4
    """A cheap prologue op read by at most this many ops is recomputed rather than
    yielded; 0 never recomputes."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        for block in function_blocks(op):
            leftovers: set[Operation] = set()
            for anchor in [o for o in block.ops if is_anchor(o) and is_used(o)]:
                fuse_reduction(anchor, self.prologue, self.epilogue, self.recompute_limit, leftovers)
            erase_unused(leftovers)
