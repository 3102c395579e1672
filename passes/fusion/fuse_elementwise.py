"""`fuse-elementwise`: the elementwise graph ops that earlier fusion passes left become
`fused.elementwise` kernels, each a maximal connected group that makes one pass over the
data.

Elementwise: every op of `dialects/graph/elementwise.py` and `activation.py` (activations,
broadcasting arithmetic, comparisons, logic, where, clip, cast). Groups grow from each op
still outside a kernel, in program order, along producer and consumer edges, as long as the
group stays schedulable (`grouping.schedulable`: it can stand as one op, which also makes
it convex); a lone op becomes a group of one, so after this pass every elementwise op is
inside a kernel. With `views`, free views (reshape, flatten, squeeze, unsqueeze) join when
they stand between two ops of the group, so a chain that relabels its tensor midway is
still one kernel; a view at a group's edge stays outside, where it costs nothing.

Values several kernels read. Inside the groups this pass makes, a value that a member
computes and an outside op reads is computed once and yielded as an extra result. One
case is different, because recomputing there removes a kernel: a cheap op
(`grouping.is_cheap`: it reads one tensor besides smaller constants, so recomputing reads
no more than its result would) whose every reader is an existing kernel with a body that
takes it as an input (a `fused.elementwise`/`fused.reduction` operand, a `fused.matmul`/
`fused.conv` extra), at most `recompute_limit` of them, is copied into each of those bodies
and disappears; chains of such ops go the same way, last first.

Literals: splat constants go into the region; other constants and weights are operands
(see `grouping`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from dialects.fused import ConvOp, ElementwiseOp, GroupOp, MatmulOp
from dialects.graph import ConstantOp
from dialects.graph.core import is_splat
from passes.fusion.grouping import (
    erase_unused,
    function_blocks,
    fuse,
    is_cheap,
    is_elementwise,
    is_top_level,
    is_used,
    is_view,
    positions,
    schedulable,
    users,
)

# --- recomputing cheap ops inside the kernels that read them -----------------


def _body_inputs(kernel: Operation) -> tuple[str, int] | None:
    """For a kernel whose body takes some operands as block arguments: the name of that
    variadic operand and the block argument of its first value; None for other ops."""
    if isinstance(kernel, GroupOp):
        return "inputs", 0
    if isinstance(kernel, MatmulOp | ConvOp):
        return "extras", 1
    return None


def _reads_into_body(kernel: Operation, value: SSAValue) -> bool:
    """Whether every operand of `kernel` that is `value` enters its body as a block argument."""
    found = _body_inputs(kernel)
    if found is None:
        return False
    inputs = getattr(kernel, found[0])
    return sum(v is value for v in inputs) == sum(v is value for v in kernel.operands)


def can_sink(op: Operation, limit: int) -> bool:
    """A cheap top-level elementwise op whose readers, at most `limit`, are all kernels that
    take it into their bodies."""
    readers = users(op)
    return (
        is_top_level(op)
        and is_cheap(op)
        and 0 < len(readers) <= limit
        and all(_reads_into_body(k, op.results[0]) for k in readers)
    )


def _inner_value(kernel: Operation, copy: Operation, value: SSAValue, inputs: list[SSAValue]) -> SSAValue:
    """The body's view of `value` for `copy`: a splat constant copied in before it, an
    existing block argument, or a new input (appended to `inputs` and to the arguments)."""
    block = copy.parent_block()
    if isinstance(value.owner, ConstantOp) and is_splat(value.owner.to_array()):
        literal = value.owner.clone()
        block.insert_op_before(literal, copy)
        return literal.results[0]
    offset = _body_inputs(kernel)[1]
    if value in inputs:
        return block.args[offset + inputs.index(value)]
    inputs.append(value)
    return block.insert_arg(value.type, len(block.args))


def sink(op: Operation, kernel: Operation) -> Operation:
    """Recompute `op` inside `kernel`'s body, which then reads `op`'s inputs instead of its
    result; returns the rebuilt kernel."""
    name, offset = _body_inputs(kernel)
    block = kernel.regions[0].block
    inputs = list(getattr(kernel, name))
    copy = op.clone()
    Rewriter.insert_op(copy, InsertPoint.at_start(block))
    for i, value in enumerate(op.operands):
        copy.operands[i] = _inner_value(kernel, copy, value, inputs)
    for index in reversed([i for i, v in enumerate(inputs) if v is op.results[0]]):
        arg = block.args[offset + index]
        arg.replace_all_uses_with(copy.results[0])
        block.erase_arg(arg)
        del inputs[index]
    return _rebuild(kernel, name, inputs)


def _rebuild(kernel: Operation, name: str, inputs: list[SSAValue]) -> Operation:
    """`kernel` again with its variadic operand `name` set to `inputs`, taking its region."""
    definition = type(kernel).get_irdl_definition()
    operands = [inputs if n == name else getattr(kernel, n) for n, _ in definition.operands]
    region = kernel.detach_region(kernel.regions[0])
    new = type(kernel)(
        operands=operands,
        result_types=[list(kernel.result_types)],
        properties=dict(kernel.properties),
        attributes=dict(kernel.attributes),
        regions=[region],
    )
    Rewriter.replace_op(kernel, new)
    return new


def sink_cheap_ops(block: Block, limit: int, leftovers: set[Operation]) -> None:
    """Recompute inside their readers the cheap ops that only existing kernels read, last
    first, so a chain of them goes too; the constants they read go to `leftovers`."""
    for op in reversed(list(block.ops)):
        if can_sink(op, limit):
            for kernel in list(users(op)):
                sink(op, kernel)
            leftovers.update(v.owner for v in op.operands if isinstance(v.owner, ConstantOp))
            Rewriter.erase_op(op)


# --- growing groups ---------------------------------------------------------


def _views_up(value: SSAValue, views: bool) -> tuple[list[Operation], Operation | None]:
    """The free views `value` comes through (when `views`) and the op before them."""
    chain: list[Operation] = []
    owner = value.owner
    while views and isinstance(owner, Operation) and is_view(owner) and is_top_level(owner):
        chain.append(owner)
        owner = owner.operands[0].owner
    return chain, owner if isinstance(owner, Operation) else None


def _views_down(
    op: Operation, views: bool, chain: tuple[Operation, ...] = ()
) -> Iterator[tuple[tuple[Operation, ...], Operation]]:
    """(free views, reader) for each non-view reader of `op`'s results, through views when
    `views`."""
    for reader in users(op):
        if views and is_view(reader) and is_top_level(reader):
            yield from _views_down(reader, views, (*chain, reader))
        else:
            yield chain, reader


@dataclass
class _Group:
    """The ops of one future `fused.elementwise`."""

    block: Block
    views: bool
    members: set[Operation]
    position: dict[Operation, int] = field(init=False)

    def __post_init__(self) -> None:
        self.position = positions(self.block)

    def joinable(self, op: Operation | None) -> bool:
        return op is not None and is_top_level(op) and is_elementwise(op) and is_used(op) and op not in self.members

    def candidates(self) -> Iterator[frozenset[Operation]]:
        """Sets that would join together: a producer or reader, with the free views on the
        way; or just the views, when they lead from one member to another."""
        for op in sorted(self.members, key=self.position.__getitem__):
            if is_view(op):
                continue
            for value in op.operands:
                chain, producer = _views_up(value, self.views)
                if self.joinable(producer) or (producer in self.members and chain):
                    yield frozenset([*chain, producer])
            for chain, reader in _views_down(op, self.views):
                if self.joinable(reader) or (reader in self.members and chain):
                    yield frozenset([*chain, reader])

    def grow(self) -> None:
        """Add candidates while the group stays schedulable; a candidate refused now is
        tried again after each addition, which may have made room for it."""
        pending, refused = deque(self.candidates()), []
        while pending:
            unit = pending.popleft() - self.members
            if not unit:
                continue
            if schedulable(self.block, self.position, self.members | unit):
                self.members |= unit
                pending.extend(refused)
                refused = []
                pending.extend(self.candidates())
            else:
                refused.append(unit)


@dataclass(frozen=True)
class FuseElementwise(ModulePass):
    """The remaining elementwise graph ops become `fused.elementwise` kernels: maximal
    schedulable groups."""

    name = "fuse-elementwise"

    views: bool = True
    """Let free views between two ops of a group join it."""

    recompute_limit: int = 4
    """A cheap op that only kernels with a body read, at most this many, is recomputed in
    each of them instead of being a kernel; 0 never recomputes."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        for block in function_blocks(op):
            leftovers: set[Operation] = set()
            sink_cheap_ops(block, self.recompute_limit, leftovers)
            for seed in list(block.ops):
                if is_top_level(seed) and is_elementwise(seed) and is_used(seed):
                    group = _Group(block, self.views, {seed})
                    group.grow()
                    fuse(group.members, ElementwiseOp, leftovers)
            erase_unused(leftovers)
