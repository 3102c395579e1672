"""Outlining: move a set of graph ops into the region of a new fused op.

Every fusion pass decides *which* ops form one kernel; this module does the rest the same
way for all of them: find the values the set reads from outside (they become operands and
block arguments) and the values used outside (they become results, yielded in order),
move the ops into the region, and rewire the outside uses to the fused op's results.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.rewriter import InsertPoint, Rewriter

from dialects.fused import YieldOp


def external_inputs(ops: Sequence[Operation]) -> list[SSAValue]:
    """Values the ops read that none of them defines, in first-use order."""
    inside = set(ops)
    seen: dict[SSAValue, None] = {}
    for op in ops:
        for operand in op.operands:
            if not (isinstance(operand.owner, Operation) and operand.owner in inside):
                seen.setdefault(operand, None)
    return list(seen)


def escaping_results(ops: Sequence[Operation]) -> list[SSAValue]:
    """Results of the ops that something outside the set uses, in op order."""
    inside = set(ops)
    return [r for op in ops for r in op.results if any(use.operation not in inside for use in r.uses)]


def outline(
    ops: Sequence[Operation],
    make: Callable[[list[SSAValue], list[TensorType], Region], Operation],
    leading_args: Sequence[SSAValue] = (),
) -> Operation:
    """Move `ops` (in program order, all in one block) into a new fused op built by
    `make(operands, result_types, region)`, inserted where the last op stood.

    `leading_args` are block arguments the region receives before the external inputs
    (a contraction's accumulator, bound to values that `ops` read but `make` produces
    itself); they are not operands of the new op. The set must be convex: no value may
    leave it and come back through an outside op, which `check_convex` enforces."""
    ops = list(ops)
    inside = set(ops)
    check_convex(ops)
    outputs = escaping_results(ops)
    inputs = [v for v in external_inputs(ops) if v not in leading_args]
    block = Block(arg_types=[v.type for v in (*leading_args, *inputs)])
    fused = make(inputs, [v.type for v in outputs], Region(block))
    Rewriter.insert_op(fused, InsertPoint.after(ops[-1]))
    for value, arg in zip((*leading_args, *inputs), block.args):
        for use in list(value.uses):
            if use.operation in inside:
                use.operation.operands[use.index] = arg
    for value, result in zip(outputs, fused.results):
        for use in list(value.uses):
            if use.operation not in inside:
                use.operation.operands[use.index] = result
    for op in ops:
        op.detach()
        block.add_op(op)
    block.add_op(YieldOp(*outputs))
    return fused


def check_convex(ops: Sequence[Operation]) -> None:
    """Every outside user of the set's results must come after the set's last op, where
    the fused op will stand; otherwise the group is not one kernel."""
    inside = set(ops)
    block = ops[-1].parent_block()
    position = {op: i for i, op in enumerate(block.ops)}
    last = position[ops[-1]]
    for op in ops:
        if op.parent_block() is not block:
            raise ValueError(f"cannot outline {op.name}: the ops are not in one block")
        for result in op.results:
            for use in result.uses:
                if use.operation not in inside and position.get(use.operation, last + 1) < last:
                    raise ValueError(f"cannot outline: {use.operation.name} uses {op.name} between the grouped ops")
