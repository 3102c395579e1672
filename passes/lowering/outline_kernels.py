"""`outline-kernels`: every kernel of `@main` becomes a `kernel.func`, called by `kernel.launch`.

At the fused level each top-level op that is not a constant, a weight or a free view is
one future kernel (`dialects.kernel.launches_kernel`). This pass makes that explicit: the
op moves into its own `kernel.func` (isolated from above, so codegen sees everything the
kernel reads as an argument), and `@main` keeps the launch sequence. Kernels are named
`k<launch index>_<op>` (`k0_fused_conv`), so a profile or a lit test can point at them.
"""

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import builtin
from xdsl.ir import Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass
from xdsl.rewriter import InsertPoint, Rewriter

from dialects.kernel import FuncOp, LaunchOp, ReturnOp, kernel_ops


def _kernel_name(index: int, op: Operation) -> str:
    return f"k{index}_{op.name.replace('.', '_')}"


def _outline(op: Operation, name: str, reads: list[SSAValue]) -> FuncOp:
    """Move `op` into a new kernel.func whose arguments are `reads`, the values it reads."""
    block = Block(arg_types=[v.type for v in reads])
    argument = dict(zip(reads, block.args))
    for i, value in enumerate(op.operands):
        op.operands[i] = argument[value]
    op.detach()
    block.add_op(op)
    block.add_op(ReturnOp(*op.results))
    return FuncOp(name, [v.type for v in reads], [r.type for r in op.results], Region(block))


@dataclass(frozen=True)
class OutlineKernels(ModulePass):
    """Move each kernel of @main into a kernel.func and launch it from @main."""

    name = "outline-kernels"

    def apply(self, ctx: Context, op: builtin.ModuleOp) -> None:
        done = sum(isinstance(k, FuncOp) for k in op.ops)  # already outlined: keep them, number on
        todo = [k for k in kernel_ops(op) if not isinstance(k, LaunchOp)]
        for index, kernel_op in enumerate(todo, start=done):
            main = kernel_op.parent_op()
            name = _kernel_name(index, kernel_op)
            reads = list(dict.fromkeys(kernel_op.operands))
            launch = LaunchOp(name, reads, [r.type for r in kernel_op.results])
            Rewriter.insert_op(launch, InsertPoint.before(kernel_op))
            for result, replacement in zip(kernel_op.results, launch.results):
                result.replace_all_uses_with(replacement)
            Rewriter.insert_op(_outline(kernel_op, name, reads), InsertPoint.before(main))
