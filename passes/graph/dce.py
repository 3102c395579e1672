"""`graph-dce`: erase ops whose results are never used and that have no side effects.

Importers and rewrites leave such ops behind (a folded shape computation's inputs, a
branch a canonicalisation cut off). Every graph op is `Pure`, so an op is dead exactly
when none of its results has a use. The rule itself is xDSL's (`RemoveUnusedOperations`,
which also knows about regions and memory effects); this pass applies it in reverse
order, so a chain of dead ops disappears in one sweep.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriteWalker
from xdsl.transforms.dead_code_elimination import RemoveUnusedOperations


@dataclass(frozen=True)
class GraphDeadCodeElimination(ModulePass):
    """Erase unused, side-effect-free ops."""

    name = "graph-dce"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        walker = PatternRewriteWalker(RemoveUnusedOperations(), apply_recursively=True, walk_reverse=True)
        walker.rewrite_module(op)
