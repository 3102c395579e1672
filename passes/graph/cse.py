"""graph-cse: common-subexpression elimination, by xDSL's CSE plus weights by content.

xDSL's `cse` (xdsl/transforms/common_subexpression_elimination.py) already does what the
graph dialect needs, so this pass wraps it rather than re-implementing it:
- every graph op is `Pure`, so two ops with the same name, operands, result types,
  properties and attributes are one computation and the later one goes; properties are
  part of the key (a transpose with another perm stays), compared as attributes, so
  floats by value and bits alike (`alpha = 0.0` and `alpha = -0.0` differ);
- `graph.weight` ops naming the same weight are the same value (same `sym` property);
- `graph.constant` ops with equal `dense<...>` values merge: the attribute compares the
  element bytes, so 0.0 and -0.0, or two NaN payloads, stay apart;
- ops that are already unused are erased on the way, as MLIR's CSE does.

What it cannot know is that two weights with different names hold the same bytes (an
exporter that writes a tied embedding twice, or one initializer per layer for a shared
scale): those live in the store, not in the IR. With `weights-by-content=true` (the
default) the pass first merges such weights, reading only those whose type another
weight shares, so the ops that use them become common subexpressions too.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Block
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter
from xdsl.transforms.common_subexpression_elimination import cse

from dialects.graph import WeightOp
from dialects.weights import WeightStore, store_of


def _digest(array: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(array)).hexdigest()


def _same_bytes(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _merge_equal_weights(block: Block, store: WeightStore) -> None:
    """Replace each weight whose bytes equal an earlier weight's of the same type (in the
    same block, so the earlier one dominates) by that earlier one."""
    by_type: dict[object, list[WeightOp]] = {}
    for op in block.ops:
        if isinstance(op, WeightOp):
            by_type.setdefault(op.result.type, []).append(op)
    for ops in by_type.values():
        if len({op.sym.data for op in ops}) < 2:
            continue
        first: dict[str, WeightOp] = {}
        for op in ops:
            array = store[op.sym.data]
            kept = first.setdefault(_digest(array), op)
            if kept is not op and _same_bytes(store[kept.sym.data], array):
                op.result.replace_all_uses_with(kept.result)
                Rewriter.erase_op(op)


def _blocks(module: builtin.ModuleOp):
    for op in module.walk():
        for region in op.regions:
            yield from region.blocks


@dataclass(frozen=True)
class GraphCommonSubexpressionElimination(ModulePass):
    """Merge identical computations (xDSL's CSE), and weights that hold the same bytes."""

    name = "graph-cse"

    weights_by_content: bool = True
    """Also merge weights with different names and equal contents (reads the store)."""

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        if self.weights_by_content:
            store = store_of(op)
            for block in list(_blocks(op)):
                _merge_equal_weights(block, store)
        cse(op)
