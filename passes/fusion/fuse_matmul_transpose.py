"""`fuse-matmul-transpose`: a `fused.matmul` reads an operand transposed in its last two
axes itself, instead of after a separate transpose kernel.

`x @ transpose(x)` (a Gram matrix, scores against keys that were never head-split by a
product), `transpose(a) @ b` (gemm's `trans_a` on a computed `a`, which `fuse-epilogue`
writes as a `graph.transpose`), einsum's operand transposes: each transpose that exchanges
only the last two axes is a whole pass over memory, while the matmul kernel can load that
operand's tiles in the other orientation for free (`matmul/simt.py` reads it along its
contiguous axis, `matmul/mma.py` stages a k-major tile and reads it with `ldmatrix
.trans`). So the product reads the transpose's input and toggles its flag: `transpose_a`
for lhs (read as [..., K, M]), `transpose_b` for rhs (read as [..., N, K]); a chain of such
transposes toggles once per link.

A transpose with other readers (another operand, an extra, a later op) stays for them: the
product still reads around it, so it no longer waits for it. One that moves batch axes
(`[0, 2, 1, 3]`, a head split) stays too: the kernels walk batches with fixed strides.

This is its own pass rather than a step of `fuse-epilogue` because it is a local rewrite
of the fused op's operands, independent of how the epilogue was chosen; it runs right after
`fuse-epilogue` (every product is a `fused.matmul` by then, and the transposes are still
graph ops, before `fuse-elementwise` could make kernels of them).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern, op_type_rewrite_pattern

from dialects.fused import MatmulOp
from dialects.graph import TransposeOp
from dialects.graph.base import int_attr, ints

FLAGS = ("transpose_a", "transpose_b")
"""The flag that reads each operand of `fused.matmul` (lhs, rhs) transposed."""


def swaps_last_axes(value: SSAValue) -> TransposeOp | None:
    """The `graph.transpose` computing `value` when it exchanges the last two axes and keeps
    every other axis in place; else None."""
    op = value.owner
    if not isinstance(op, TransposeOp):
        return None
    rank = op.input.type.get_num_dims()
    return op if rank >= 2 and ints(op.perm) == (*range(rank - 2), rank - 1, rank - 2) else None


class AbsorbOperandTranspose(RewritePattern):
    """Each operand of a `fused.matmul` computed by a last-two-axes transpose: read its input
    instead and toggle the operand's flag; erase the transpose when nothing else reads it."""

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MatmulOp, rewriter: PatternRewriter) -> None:
        for index in range(len(FLAGS)):
            while (transpose := swaps_last_axes(op.operands[index])) is not None:
                op.operands[index] = transpose.input
                _set_flag(op, index, not op.transposes()[index])
                rewriter.notify_op_modified(op)
                if not transpose.result.uses:
                    rewriter.erase(transpose)


def _set_flag(op: MatmulOp, index: int, on: bool) -> None:
    """Set the flag of operand `index`; `transpose_a` is optional and dropped when off. The
    flags print in operand order."""
    flags = dict(zip(FLAGS, op.transposes()))
    flags[FLAGS[index]] = on
    rest = {k: v for k, v in op.properties.items() if k not in FLAGS}
    op.properties.clear()
    op.properties.update({f: int_attr(int(v)) for f, v in flags.items() if v or f == "transpose_b"} | rest)


@dataclass(frozen=True)
class FuseMatmulTranspose(ModulePass):
    """Let fused.matmul read an operand transposed in its last two axes (transpose_a / transpose_b) instead of a transpose kernel."""

    name = "fuse-matmul-transpose"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        PatternRewriteWalker(AbsorbOperandTranspose(), apply_recursively=False).rewrite_module(op)
