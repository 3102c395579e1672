"""The `kernel` dialect: GPU kernels as symbols, and the host plan that launches them.

This is its first piece: outlining. Every kernel of a `fused`-level module becomes a
`kernel.func` that holds exactly the one op it computes (a fused op, or a graph op left
on its own), and `@main` calls it with `kernel.launch`, in launch order:

    kernel.func @k0_fused_conv(%x: tensor<..>, %w: tensor<..>) -> tensor<..> {
      %y = fused.conv %x, %w ... { epilogue }
      kernel.return %y : tensor<..>
    }
    func.func @main(...) {
      %y = kernel.launch @k0_fused_conv(%x, %w) : (...) -> tensor<..>
    }

Codegen will turn each `kernel.func` into CUDA (generated from the op's region, or a
template with the region as its epilogue) and record the launch configuration on it;
memory planning will give each launch's results an offset in the arena.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects import func
from xdsl.dialects.builtin import FunctionType, ModuleOp, StringAttr, SymbolRefAttr
from xdsl.dialects.utils.format import parse_func_op_like, print_func_op_like
from xdsl.ir import Attribute, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    irdl_op_definition,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.traits import (
    CallableOpInterface,
    HasParent,
    IsolatedFromAbove,
    IsTerminator,
    SymbolOpInterface,
    SymbolTable,
)
from xdsl.utils.exceptions import VerifyException

from dialects.graph import ConstantOp, FlattenOp, ReshapeOp, SqueezeOp, UnsqueezeOp, WeightOp

FREE_OPS = (ConstantOp, WeightOp, ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp, func.ReturnOp)
"""Top-level ops that launch nothing: constants, weights, and the free views (a reshape of
a contiguous tensor relabels it)."""


def launches_kernel(op: Operation) -> bool:
    """Whether a top-level op of a `fused`-level `@main` is one kernel launch."""
    return not isinstance(op, FREE_OPS)


def kernel_ops(module: ModuleOp) -> list[Operation]:
    """The ops of `@main` that are kernels, in launch order (none without an `@main`)."""
    for fn in module.ops:
        if isinstance(fn, func.FuncOp) and fn.sym_name.data == "main":
            return [op for op in fn.body.block.ops if launches_kernel(op)]
    return []


class _KernelCallable(CallableOpInterface):
    @classmethod
    def get_callable_region(cls, op: Operation) -> Region:
        return op.body

    @classmethod
    def get_argument_types(cls, op: Operation) -> tuple[Attribute, ...]:
        return op.function_type.inputs.data

    @classmethod
    def get_result_types(cls, op: Operation) -> tuple[Attribute, ...]:
        return op.function_type.outputs.data


@irdl_op_definition
class FuncOp(IRDLOperation):
    """One kernel: its arguments are what it reads (activations, weights, small constants),
    its body is the one op it computes and a `kernel.return`."""

    name = "kernel.func"
    body = region_def("single_block")
    sym_name = prop_def(StringAttr)
    function_type = prop_def(FunctionType)
    traits = traits_def(IsolatedFromAbove(), SymbolOpInterface(), _KernelCallable())

    def __init__(self, name: str, inputs: Sequence[Attribute], outputs: Sequence[Attribute], region: Region):
        props = {"sym_name": StringAttr(name), "function_type": FunctionType.from_lists(inputs, outputs)}
        super().__init__(properties=props, regions=[region])

    @property
    def computation(self) -> Operation:
        """The op this kernel computes."""
        return self.body.block.first_op

    def verify_(self) -> None:
        block = self.body.block
        if tuple(block.arg_types) != self.function_type.inputs.data:
            raise VerifyException(f"'kernel.func' @{self.sym_name.data} has block arguments that differ from its inputs")
        ops = list(block.ops)
        if len(ops) != 2 or not isinstance(ops[1], ReturnOp):
            names = ", ".join(op.name for op in ops)
            raise VerifyException(
                f"'kernel.func' @{self.sym_name.data} must hold exactly one op and kernel.return, got {names}"
            )

    @classmethod
    def parse(cls, parser: Parser) -> FuncOp:
        name, inputs, outputs, region, extra, _, _ = parse_func_op_like(
            parser, reserved_attr_names=("sym_name", "function_type")
        )
        op = FuncOp(name, inputs, outputs, region)
        if extra is not None:
            op.attributes |= extra.data
        return op

    def print(self, printer: Printer) -> None:
        print_func_op_like(
            printer,
            self.sym_name,
            self.function_type,
            self.body,
            self.attributes,
            reserved_attr_names=("sym_name", "function_type"),
        )


@irdl_op_definition
class ReturnOp(IRDLOperation):
    name = "kernel.return"
    values = var_operand_def()
    traits = traits_def(IsTerminator(), HasParent(FuncOp))
    assembly_format = "($values^ `:` type($values))? attr-dict"

    def __init__(self, *values: SSAValue):
        super().__init__(operands=[list(values)])

    def verify_(self) -> None:
        kernel = self.parent_op()
        if tuple(self.values.types) != kernel.function_type.outputs.data:
            raise VerifyException(f"'kernel.return' in @{kernel.sym_name.data} returns types that differ from its results")


@irdl_op_definition
class LaunchOp(IRDLOperation):
    """`%r = kernel.launch @k3(%a, %w) : (...) -> ...`: run a kernel on these values."""

    name = "kernel.launch"
    callee = prop_def(SymbolRefAttr)
    args = var_operand_def()
    outputs = var_result_def()
    assembly_format = "$callee `(` $args `)` attr-dict `:` functional-type($args, $outputs)"

    def __init__(self, callee: str, args: Sequence[SSAValue], result_types: Sequence[Attribute]):
        super().__init__(operands=[list(args)], result_types=[list(result_types)], properties={"callee": SymbolRefAttr(callee)})

    def verify_(self) -> None:
        kernel = SymbolTable.lookup_symbol(self, self.callee)
        if not isinstance(kernel, FuncOp):
            raise VerifyException(f"'kernel.launch' names @{self.callee.root_reference.data}, which is not a kernel.func")
        ft = kernel.function_type
        if tuple(self.args.types) != ft.inputs.data or tuple(self.outputs.types) != ft.outputs.data:
            raise VerifyException(
                f"'kernel.launch' of @{kernel.sym_name.data} has types ({', '.join(map(str, self.args.types))}) -> "
                f"({', '.join(map(str, self.outputs.types))}), the kernel takes {ft}"
            )


Kernel = Dialect("kernel", [FuncOp, ReturnOp, LaunchOp], [])
