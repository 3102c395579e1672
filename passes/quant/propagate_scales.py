"""`quant-propagate-scales`: data movement runs on the quantized integers, not on floats.

QDQ exporters write `DQ -> reshape -> Q` and `DQ -> max_pool -> Q` (onnxruntime's
`quantize_static` around every pool and flatten). Moving the per-tensor dequantize below the
movement, or the quantize above it, moves a quarter of the bytes, and leaves a `DQ -> Q`
pair that `quant-cancel-qdq` removes, so the integers flow from one integer contraction to
the next. Exact, because each rule moves values without computing on them:

- a per-tensor `quant.dequantize` feeding `reshape`, `flatten`, `transpose`, `squeeze`,
  `unsqueeze` or `slice` (as their data operand) moves below it; below `max_pool` too when
  its scale is known and positive (dequantizing is then increasing, so the maximum of the
  integers is the integer of the maximum; padding, the lowest value, never wins);
- a `concat` of per-tensor dequantizes of one integer type with equal scales and zero
  points becomes the dequantize of the concat;
- a per-tensor `quant.quantize` of a movement op's result, when that result has no other
  reader, moves above it (quantizing is non-decreasing, so `max_pool` commutes with it
  under the same scale condition).

Only 8-bit integer storage moves (i8, ui8): what the movement and pool kernels read. The
pass runs on graph IR, before fusion. An op left in float for a reason a reader would not
guess (a scale not known or not positive) gets a debug line on the logger `passes.quant`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.dialects.builtin import TensorType
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from dialects.fused import INTEGER_OPERANDS
from dialects.graph import ConcatOp, ConstantOp, FlattenOp, MaxPoolOp, ReshapeOp, SliceOp, SqueezeOp, TransposeOp, UnsqueezeOp, WeightOp
from dialects.quant import DequantizeOp, QuantizeOp
from dialects.weights import WeightStore
from passes.graph.constants import known_value, module_store
from passes.quant.cancel_qdq import same_parameter
from passes.quant.expand import available_before

logger = logging.getLogger("passes.quant")

MOVEMENT = (ReshapeOp, FlattenOp, TransposeOp, SqueezeOp, UnsqueezeOp, SliceOp, MaxPoolOp)
"""Ops whose first operand's values they only move (max_pool: selects); see `_movable`."""
MOVED = INTEGER_OPERANDS
"""The quantized element types that move: what the movement and pool kernels read."""


def _per_tensor(op: DequantizeOp | QuantizeOp) -> bool:
    return op.axis is None and op.block_size is None


def _movable(movement: Operation, quantizer: DequantizeOp | QuantizeOp, store: WeightStore) -> bool:
    """Whether `movement` commutes with `quantizer`: any pure movement does; max_pool (without
    indices) when the scale is known and positive."""
    if not isinstance(movement, MaxPoolOp):
        return True
    if movement.indices is not None:
        return False
    scale = known_value(quantizer.scale, store)
    if scale is None or not np.all(scale.astype(np.float64) > 0):
        why = "the scale of %s is not known and positive"
        logger.debug("quant-propagate-scales: %s stays in float: " + why, movement.name, quantizer.name)
        return False
    return True


def _moved(movement: Operation, data: SSAValue, element_type) -> Operation:
    """`movement` on `data`, its result of `element_type`, other operands and properties kept."""
    shape = movement.results[0].type.get_shape()
    return type(movement).create(
        operands=[data, *movement.operands[1:]],
        result_types=[TensorType(element_type, shape)],
        properties=dict(movement.properties),
        attributes=dict(movement.attributes),
    )


class DequantizeBelowMovement(RewritePattern):
    def __init__(self, store: WeightStore):
        self.store = store

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, MOVEMENT) or not op.operands:
            return
        dq = op.operands[0].owner
        if not (isinstance(dq, DequantizeOp) and _per_tensor(dq) and dq.input.type.element_type in MOVED):
            return
        if not _movable(op, dq, self.store):
            return
        moved = _moved(op, dq.input, dq.input.type.element_type)
        new = DequantizeOp.make(moved.results[0], dq.scale, dq.zero_point, op.results[0].type.element_type)
        rewriter.replace(op, [moved, new], [new.result])


class DequantizeBelowConcat(RewritePattern):
    def __init__(self, store: WeightStore):
        self.store = store

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: ConcatOp, rewriter: PatternRewriter) -> None:
        dqs = [v.owner for v in op.inputs]
        if not all(isinstance(dq, DequantizeOp) and _per_tensor(dq) for dq in dqs):
            return
        first = dqs[0]
        if first.input.type.element_type not in MOVED or not all(self._equal(first, dq) for dq in dqs[1:]):
            return
        moved = _moved(op, first.input, first.input.type.element_type)
        moved.operands = [dq.input for dq in dqs]
        new = DequantizeOp.make(moved.results[0], first.scale, first.zero_point, op.result.type.element_type)
        rewriter.replace(op, [moved, new], [new.result])

    def _equal(self, a: DequantizeOp, b: DequantizeOp) -> bool:
        return (
            a.input.type.element_type == b.input.type.element_type
            and a.result.type.element_type == b.result.type.element_type
            and same_parameter(a.scale, b.scale, self.store)
            and same_parameter(a.zero_point, b.zero_point, self.store)
        )


def _available(value: SSAValue | None, op: Operation, rewriter: PatternRewriter) -> SSAValue | None:
    """`value` where `op` stands: itself when defined before it, a copy of a constant or weight
    defined after it (calibration puts a quantize's scale right before the quantize), else None."""
    if value is None or available_before(value, op):
        return value
    if not isinstance(value.owner, (ConstantOp, WeightOp)):
        return None
    copy = value.owner.clone()
    rewriter.insert(copy, InsertPoint.before(op))
    return copy.results[0]


class QuantizeAboveMovement(RewritePattern):
    def __init__(self, store: WeightStore):
        self.store = store

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: QuantizeOp, rewriter: PatternRewriter) -> None:
        movement = op.input.owner
        if not (isinstance(movement, MOVEMENT) and _per_tensor(op) and op.result.type.element_type in MOVED):
            return
        if len(list(movement.results[0].uses)) != 1 or not _movable(movement, op, self.store):
            return
        scale, zero_point = (_available(v, movement, rewriter) for v in (op.scale, op.zero_point))
        if scale is None or (op.zero_point is not None and zero_point is None):
            return
        data = movement.operands[0]
        quantized = QuantizeOp.make(data, scale, zero_point, op.result.type.element_type)
        rewriter.insert(quantized, InsertPoint.before(movement))
        moved = _moved(movement, quantized.result, op.result.type.element_type)
        originals = [v.owner for v, copy in ((op.scale, scale), (op.zero_point, zero_point)) if v is not copy]
        rewriter.replace(op, [moved], moved.results)
        rewriter.erase(movement)
        for constant in originals:  # copied above the movement, now unread
            if not constant.results[0].uses:
                rewriter.erase(constant)


@dataclass(frozen=True)
class QuantPropagateScales(ModulePass):
    """Move per-tensor dequantizes below data movement and quantizes above it, so it runs on int8."""

    name = "quant-propagate-scales"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if not any(isinstance(o, (DequantizeOp, QuantizeOp)) for o in op.walk()):
            return
        store = module_store(op)
        below = GreedyRewritePatternApplier([DequantizeBelowMovement(store), DequantizeBelowConcat(store)])
        PatternRewriteWalker(below, apply_recursively=True).rewrite_module(op)
        PatternRewriteWalker(QuantizeAboveMovement(store), apply_recursively=True).rewrite_module(op)
