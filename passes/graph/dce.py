"""`graph-dce`: erase ops whose results are never used and that have no side effects.

Importers and rewrites leave such ops behind (a folded shape computation's inputs, a
branch a canonicalisation cut off). Every graph op is side-effect free, so an op is dead
exactly when none of its results has a use. Ops are visited in reverse, so a chain of
dead ops disappears in one sweep.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.passes import ModulePass
from xdsl.traits import is_side_effect_free


def _is_dead(op) -> bool:
    return bool(op.results) and all(not r.uses for r in op.results) and is_side_effect_free(op)


@dataclass(frozen=True)
class GraphDeadCodeElimination(ModulePass):
    """Erase unused, side-effect-free ops."""

    name = "graph-dce"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        for block in list(_blocks(op)):
            for candidate in reversed(list(block.ops)):
                if _is_dead(candidate):
                    block.erase_op(candidate)


def _blocks(module: builtin.ModuleOp):
    for op in module.walk():
        for region in op.regions:
            yield from region.blocks
