"""Reference semantics of the `func` dialect: call, return and a function's body.

xDSL has these in `xdsl.interpreters.func`, but importing any module of that package runs
its `__init__`, which imports the interpreters of every xDSL dialect (RISC-V, Snitch, PDL,
linalg...): about half a second on every run that imports the reference, which the ONNX
importer and the constant folder do."""

from __future__ import annotations

from xdsl.dialects.func import CallOp, FuncOp, ReturnOp
from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    ReturnedValues,
    impl,
    impl_callable,
    impl_terminator,
    register_impls,
)

from dialects.errors import OptcError


@register_impls
class FuncReference(InterpreterFunctions):
    @impl(CallOp)
    def run_call(self, interpreter: Interpreter, op: CallOp, args):
        return interpreter.call_op(op.callee, args)

    @impl_callable(FuncOp)
    def call_func(self, interpreter: Interpreter, op: FuncOp, args):
        if not op.body.blocks:
            raise OptcError(f"cannot run @{op.sym_name.data}: it is a declaration, with no body")
        return interpreter.run_ssacfg_region(op.body, args, op.sym_name.data)

    @impl_terminator(ReturnOp)
    def run_return(self, interpreter: Interpreter, op: ReturnOp, args):
        return ReturnedValues(args), ()
