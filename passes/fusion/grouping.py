"""What `fuse-reductions` and `fuse-elementwise` share: which graph ops are elementwise,
which are cheap enough to compute twice, and how a chosen set of ops is checked and
moved so that `outline` can make it one fused op.

Where a group may stand. A set of ops can be replaced by one op at a point of its block
when every value the set reads from outside is defined before that point and every
outside reader of its results comes after it. With `lo` the position of the last outside
definition the set reads and `hi` that of its first outside reader, such a point exists
exactly when lo < hi: the set is *schedulable*. Constants and weights read nothing, so
they do not count: `place` hoists them when they stand too low. A schedulable set is convex (a path that
leaves the set and comes back would put an outside reader before an outside definition),
and since each group is outlined before the next one is chosen, groups never form a
cycle between them. This is weaker than asking every outside reader to follow the set's
last op, which is what `outline` checks: a matmul that reads an early member of an
elementwise chain does not cut the chain; `place` moves the members that stand after
the first outside reader up to just before it, where `outline` then finds them.

Literals. Splat `graph.constant`s read by a group go into its region (moved when only the
group reads them, else copied), where codegen prints them as literals, as `fuse-epilogue`
does; other constants and `graph.weight`s stay outside as operands.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence

from xdsl.dialects.func import FuncOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from dialects.fused import GroupOp
from dialects.graph import OPS, ConstantOp, WeightOp
from dialects.graph.base import is_free_view
from dialects.graph import activation, elementwise
from dialects.graph.core import is_splat
from passes.fusion.outline import outline

ELEMENTWISE: frozenset[type[Operation]] = frozenset(
    op for op in OPS if op.__module__ in (elementwise.__name__, activation.__name__)
)
"""Every op of `dialects/graph/elementwise.py` and `activation.py`: activations, broadcasting
arithmetic, comparisons, logic, where, clip, cast."""

def is_elementwise(op: Operation) -> bool:
    return type(op) in ELEMENTWISE


def is_view(op: Operation) -> bool:
    """A free view (`graph.base.FreeView`): relabels dimensions, keeps every element's linear index."""
    return is_free_view(op)


def is_top_level(op: Operation) -> bool:
    """Directly in a function body: not yet inside a fused op's region."""
    return isinstance(op.parent_op(), FuncOp)


def is_used(op: Operation) -> bool:
    return any(r.uses for r in op.results)


def _elements(value: SSAValue) -> int:
    return math.prod(value.type.get_shape())


def _smaller_constant(value: SSAValue, than: SSAValue) -> bool:
    """A constant or weight with fewer elements than `than`, into which it broadcasts."""
    return isinstance(value.owner, ConstantOp | WeightOp) and _elements(value) < _elements(than)


def is_cheap(op: Operation) -> bool:
    """Computing `op` again reads no more than reading its result would: an elementwise op
    that reads at most one tensor besides smaller constants broadcast into it (a scale, a
    bias, clip bounds, where's constant branches). Unary ops and casts always qualify;
    the arithmetic itself is negligible next to memory traffic in these kernels."""
    if not is_elementwise(op) or len(op.results) != 1:
        return False
    result = op.results[0]
    return sum(not _smaller_constant(v, result) for v in op.operands) <= 1


def users(op: Operation) -> list[Operation]:
    """The distinct ops that read a result of `op`, in a fixed order (so are the groups)."""
    return list(dict.fromkeys(use.operation for r in op.results for use in r.uses))


# --- where a group may stand ------------------------------------------------


def positions(block: Block) -> dict[Operation, int]:
    return {op: i for i, op in enumerate(block.ops)}


def top_in(block: Block, op: Operation) -> Operation:
    """The ancestor of `op` that stands in `block` (a reader may sit in a nested region)."""
    while op.parent_block() is not block:
        op = op.parent_op()
    return op


def _first_outside_reader(block: Block, position: dict[Operation, int], members: set[Operation]) -> int:
    readers = (top_in(block, use.operation) for op in members for r in op.results for use in r.uses)
    return min((position[r] for r in readers if r not in members), default=len(position))


def _is_source(op: Operation) -> bool:
    """A constant or weight: it reads nothing, so `place` can hoist it wherever needed."""
    return isinstance(op, ConstantOp | WeightOp)


def _last_outside_definition(position: dict[Operation, int], inside: set[Operation]) -> int:
    owners = {v.owner for op in inside for v in op.operands}
    outside = (o for o in owners if isinstance(o, Operation) and o not in inside and not _is_source(o))
    return max((position[o] for o in outside), default=-1)


def schedulable(
    block: Block,
    position: dict[Operation, int],
    members: set[Operation],
    recomputed: set[Operation] = frozenset(),
) -> bool:
    """Whether `members`, with copies of the `recomputed` ops feeding them, can stand as
    one op (lo < hi, see the module docstring). A recomputed op's outside readers keep the
    original, so only its inputs count."""
    return _last_outside_definition(position, members | recomputed) < _first_outside_reader(block, position, members)


# --- turning a chosen set into one fused op ---------------------------------


def materialize(members: set[Operation], recomputed: set[Operation]) -> list[Operation]:
    """Copy each recomputed op right after itself and let the members (and other copies)
    read the copy; returns the members and the copies."""
    copies: dict[Operation, Operation] = {}
    position = positions(next(iter(members)).parent_block())
    for op in sorted(recomputed, key=position.__getitem__):
        copy = op.clone()
        Rewriter.insert_op(copy, InsertPoint.after(op))
        copies[op] = copy
    for op in [*members, *copies.values()]:
        for i, value in enumerate(op.operands):
            if value.owner in copies:
                op.operands[i] = copies[value.owner].results[value.index]
    return [*members, *copies.values()]


def literals(ops: Sequence[Operation], leftovers: set[Operation]) -> list[Operation]:
    """Splat constants the ops read, to go into the region: a constant read only by the ops
    itself, else a copy placed before its first reader among them (the original goes to
    `leftovers`, to erase once nothing reads it)."""
    inside, found = set(ops), {}
    position = positions(ops[0].parent_block())
    for op in sorted(ops, key=position.__getitem__):
        for i, value in enumerate(op.operands):
            constant = value.owner
            if not isinstance(constant, ConstantOp) or not is_top_level(constant) or not is_splat(constant.to_array()):
                continue
            if constant not in found:
                if all(use.operation in inside for use in value.uses):
                    found[constant] = constant
                else:
                    found[constant] = constant.clone()
                    leftovers.add(constant)
                    Rewriter.insert_op(found[constant], InsertPoint.before(op))
            op.operands[i] = found[constant].results[0]
    return list(found.values())


def place(ops: Iterable[Operation]) -> list[Operation]:
    """Move the ops that stand after the group's first outside reader to just before it
    (legal for a schedulable group); returns the ops in program order."""
    ops = set(ops)
    block = next(iter(ops)).parent_block()
    position = positions(block)
    hi = _first_outside_reader(block, position, ops)
    ordered = sorted(ops, key=position.__getitem__)
    if hi < len(position):
        reader = list(block.ops)[hi]
        for op in ordered:
            if position[op] > hi:
                op.detach()
                block.insert_op_before(op, reader)
    _hoist_sources(ops)
    return sorted(ops, key=positions(block).__getitem__)


def _hoist_sources(ops: set[Operation]) -> None:
    """Move the constants and weights the ops read from below them to just before them."""
    position = positions(next(iter(ops)).parent_block())
    for op in sorted(ops, key=position.__getitem__):
        for value in op.operands:
            source = value.owner
            if not (isinstance(source, Operation) and _is_source(source)) or source in ops:
                continue
            if position[source] > position[op]:
                source.detach()
                op.parent_block().insert_op_before(source, op)
                position = positions(op.parent_block())


def fuse(ops: Iterable[Operation], kind: type[GroupOp], leftovers: set[Operation]) -> Operation:
    """Outline the (schedulable) ops, with the literals they read, as one `kind` op;
    constants copied into it go to `leftovers`."""
    ops = list(ops)
    ops += literals(ops, leftovers)
    return outline(place(ops), _maker(kind))


def _maker(kind: type[GroupOp]) -> Callable:
    return lambda inputs, types, region: kind(operands=[inputs], result_types=[types], regions=[region])


def erase_unused(ops: Iterable[Operation]) -> None:
    """Erase those of the ops (originals of recomputed ops, copied literals) that nothing
    reads any more, including chains of them."""
    pending = set(ops)
    while dead := {op for op in pending if not is_used(op)}:
        for op in dead:
            Rewriter.erase_op(op)
        pending -= dead


def function_blocks(module: Operation) -> list[Block]:
    """The body of every function: where graph ops stand before fusion."""
    return [op.body.block for op in module.walk() if isinstance(op, FuncOp) and op.body.blocks]


__all__ = [
    "ELEMENTWISE",
    "erase_unused",
    "function_blocks",
    "fuse",
    "is_cheap",
    "is_elementwise",
    "is_top_level",
    "is_used",
    "is_view",
    "materialize",
    "place",
    "positions",
    "schedulable",
    "top_in",
    "users",
]
