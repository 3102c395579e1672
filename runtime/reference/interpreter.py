"""Run a module on numpy arrays with xDSL's `Interpreter`.

The op → implementation tables (`registry.REFERENCE` and `registry.UNFOLDED`) become one
`InterpreterFunctions` class whose `@impl` methods call the tables, plus `graph.weight`,
which reads the module's weight store.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation
from xdsl.interpreter import Interpreter, InterpreterFunctions, impl, register_impls

from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError, blame
from dialects.graph import WeightOp
from dialects.weights import WeightStore, store_of
from runtime.reference import core, elementwise, indexing, nn, quant, tensor  # noqa: F401  (fill the tables)
from runtime.reference.func import FuncReference
from runtime.reference.fused import FusedReference
from runtime.reference.kernel import KernelReference
from runtime.reference.registry import REFERENCE, UNFOLDED, as_result


def _table_impl(fn):
    def run(self, interpreter, op, args):
        try:
            result = fn(op, *args)
        except OptcError:
            raise
        except Exception as e:  # numpy's own message, tied to the op that raised it
            raise OptcError(f"reference implementation of '{op.name}' failed: {type(e).__name__}: {e}") from e
        if len(op.results) == 1:
            return (as_result(op, result),)
        return tuple(as_result(op, r, i) for i, r in enumerate(result))

    return run


def _build_functions() -> type[InterpreterFunctions]:
    namespace: dict[str, Any] = {
        f"run_{op_type.name.replace('.', '_')}": impl(op_type)(_table_impl(fn))
        for op_type, fn in (*REFERENCE.items(), *UNFOLDED.items())
    }

    def run_weight(self, interpreter: Interpreter, op: WeightOp, args):
        store: WeightStore = self.store
        return (as_result(op, store[op.sym.data]),)

    namespace["run_graph_weight"] = impl(WeightOp)(run_weight)
    namespace["__init__"] = lambda self, store: setattr(self, "store", store)
    return register_impls(type("GraphReference", (InterpreterFunctions,), namespace))


GraphReference = _build_functions()


def entry(module: ModuleOp, name: str = "main") -> func.FuncOp:
    for op in module.ops:
        if isinstance(op, func.FuncOp) and op.sym_name.data == name:
            return op
    raise OptcError(f"the module has no function @{name}")


def io_names(fn: func.FuncOp, results: bool = False) -> list[str]:
    """The ONNX names of a function's arguments (or results), from `onnx.name` attributes."""
    attrs = fn.res_attrs if results else fn.arg_attrs
    count = len(fn.function_type.outputs if results else fn.function_type.inputs)
    prefix = "output" if results else "input"
    names = []
    for i in range(count):
        entry_attrs = attrs.data[i].data if attrs is not None else {}
        name = entry_attrs.get("onnx.name")
        names.append(name.data if isinstance(name, StringAttr) else f"{prefix}{i}")
    return names


def run(
    module: ModuleOp,
    inputs: Mapping[str, np.ndarray],
    store: WeightStore | None = None,
    listeners: Sequence[Interpreter.Listener] = (),
) -> dict[str, np.ndarray]:
    """Run `@main` on named numpy inputs; returns the outputs by name.

    Inputs are checked against the function's argument types, so a wrong shape or dtype
    is reported by name instead of surfacing as a numpy error deep inside an op.
    `listeners` see every op interpreted, with its operand and result arrays
    (`did_interpret_op(op, results)`): how calibration observes intermediate values."""
    fn = entry(module)
    names = io_names(fn)
    missing = [n for n in names if n not in inputs]
    if missing:
        raise OptcError(f"missing input(s): {', '.join(missing)} (the model takes {', '.join(names)})")
    unknown = sorted(set(inputs) - set(names))
    if unknown:
        raise OptcError(f"unknown input(s): {', '.join(unknown)} (the model takes {', '.join(names)})")
    args = [_checked_input(name, inputs[name], t) for name, t in zip(names, fn.function_type.inputs.data)]
    running = _RunningOps()
    interpreter = Interpreter(module, listeners=(running, *listeners))
    interpreter.register_implementations(FuncReference())
    interpreter.register_implementations(GraphReference(store if store is not None else store_of(module)))
    interpreter.register_implementations(FusedReference())
    interpreter.register_implementations(KernelReference())
    with blame(running.blame, meant=(OptcError,)):  # xDSL's own errors here are ours too
        results = interpreter.call_op(fn, tuple(args))
    return dict(zip(io_names(fn, results=True), results))


class _RunningOps(Interpreter.Listener):
    """The ops being interpreted, innermost last: an exception that escapes one leaves it
    on top, so the error can name it."""

    def __init__(self):
        self.stack: list[Operation] = []

    def will_interpret_op(self, op: Operation, args) -> None:
        self.stack.append(op)

    def did_interpret_op(self, op: Operation, results) -> None:
        self.stack.pop()

    def blame(self) -> str:
        where = f" on '{self.stack[-1].name}'" if self.stack else ""
        return f"the reference interpreter failed{where}"


def _checked_input(name: str, value: Any, t) -> np.ndarray:
    array = np.asarray(value)
    want_shape, want_dtype = tuple(t.get_shape()), numpy_dtype(t.element_type)
    if array.shape != want_shape:
        raise OptcError(f"input '{name}' has shape {list(array.shape)}, the model expects {list(want_shape)}")
    if array.dtype != want_dtype:
        raise OptcError(f"input '{name}' has dtype {array.dtype}, the model expects {want_dtype}")
    return array
