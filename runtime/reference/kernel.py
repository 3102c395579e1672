"""Reference semantics of the `kernel` dialect: a launch calls its kernel.func, whose body
runs through the same interpreter as every other level."""

from __future__ import annotations

from xdsl.interpreter import (
    Interpreter,
    InterpreterFunctions,
    ReturnedValues,
    impl,
    impl_callable,
    impl_terminator,
    register_impls,
)

from dialects.kernel import FuncOp, LaunchOp, ReturnOp


@register_impls
class KernelReference(InterpreterFunctions):
    @impl(LaunchOp)
    def run_launch(self, interpreter: Interpreter, op: LaunchOp, args):
        return interpreter.call_op(op.callee, args)

    @impl_callable(FuncOp)
    def call_kernel(self, interpreter: Interpreter, op: FuncOp, args):
        return interpreter.run_ssacfg_region(op.body, args, op.sym_name.data)

    @impl_terminator(ReturnOp)
    def run_return(self, interpreter: Interpreter, op: ReturnOp, args):
        return ReturnedValues(args), ()
