"""`test-perturb-constants`: a deliberately wrong pass, for testing `optc --check-each-pass`.

It scales every floating-point `graph.constant` by `1 + delta` (default 0.01): the bug of
a folder that rounds the wrong way or a rewrite that picks up the wrong constant, small
enough to look plausible in the IR. Registered only when OPTC_TEST_PASSES=1, so no user
pipeline can name it.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from dialects.dtypes import is_float
from dialects.graph import ConstantOp


@dataclass(frozen=True)
class PerturbConstants(ModulePass):
    """Deliberately wrong (tests only): scale every float graph.constant by 1 + delta."""

    name = "test-perturb-constants"

    delta: float = 0.01

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        for constant in [c for c in op.walk() if isinstance(c, ConstantOp)]:
            element_type = constant.result.type.element_type
            if is_float(element_type):
                scaled = constant.to_array() * (1 + self.delta)
                Rewriter.replace_op(constant, ConstantOp.from_array(scaled, element_type))
