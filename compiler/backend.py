"""An `onnx.backend.base.Backend` that runs ONNX models through optc's reference interpreter.

This is the ONNX backend API (the one `onnx.backend.test.BackendTest` drives, and that
onnxruntime and other frameworks implement) on top of optc's frontend and numpy
reference semantics:

    from compiler.backend import OptcReferenceBackend

    rep = OptcReferenceBackend.prepare(model)      # import once, with the model's static shapes
    y, = rep.run([x])                               # inputs in graph-input order
    y = rep.run({"x": x})["y"]                      # or by name; outputs by position or name

`prepare` imports the model into the `graph` dialect as `optc model.onnx` does, so every
input needs a static shape in the model. The reference interpreter runs on the host, so
its device is "CPU". `OptcCudaBackend` is the same API on the GPU: each prepared model is
lowered to the kernel level and built into an engine (one per bound-constant variant),
whose kernels optc generated itself:

    from compiler.backend import OptcCudaBackend
    rep = OptcCudaBackend.prepare(model, "CUDA")

Three things happen at the boundary:
- A model older than the oldest opset optc imports (11) is converted with
  `onnx.version_converter` first, as optc's own error message advises.
- Values optc needs at compile time (a Reshape's shape, a Pad's pads, a Resize's sizes,
  ...) may be graph inputs in an ONNX model. Such a model cannot be imported before its
  inputs are known, so its rep imports it at run time with those inputs bound as
  constants, as TensorRT fixes shape-tensor inputs in its optimisation profile; one
  module is kept per distinct value. Only inputs the importer demands as constants are
  bound, the others stay run-time arguments.
- The reference interpreter holds bfloat16 tensors as float32 rounded to bf16 (see
  `dialects.dtypes`); callers exchange `ml_dtypes.bfloat16` arrays, as the rest of the
  ONNX ecosystem does. The storage-only types (float8, float4, int4, int2, ...) are
  `ml_dtypes` arrays on both sides, so they pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ml_dtypes
import numpy as np
import onnx
from onnx import ModelProto, NodeProto, helper, numpy_helper
from onnx.backend.base import Backend, BackendRep, Device, namedtupledict
from xdsl.dialects.builtin import BFloat16Type, ModuleOp

from compiler.onnx_import import import_onnx
from compiler.onnx_import.context import ConstantInputRequired
from compiler.onnx_import.frontend import DEFAULT_DOMAINS, MIN_OPSET
from dialects.errors import OptcError
from dialects.weights import clone_with_weights
from runtime.reference import run
from runtime.reference.interpreter import entry, io_names

class OptcReferenceRep(BackendRep):
    """A model prepared for any number of runs on the reference interpreter (or, with
    `device` CUDA, as engines on the GPU)."""

    def __init__(self, model: ModelProto, module: ModuleOp | None, device: str = "CPU"):
        """`module` is the imported model, or None when importing needs input values;
        then each run imports it with those values bound."""
        initializers = {t.name for t in model.graph.initializer}
        self.model = model
        self.module = module
        self.input_names = [i.name for i in model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in model.graph.output]
        # the graph inputs bound as constants at each run; found on the first run
        self.constant_inputs: list[str] | None = None if module is None else []
        self._specialised: dict[tuple, ModuleOp] = {}
        self.device = device
        self._engines: dict[int, object] = {}

    def run(self, inputs: Any, **kwargs: Any) -> tuple[np.ndarray, ...]:
        """Run on `inputs`: a sequence in graph-input order (as `BackendTest` passes them),
        a mapping from input name, or one array for a one-input model. Returns the outputs
        in graph-output order, as a tuple that can also be indexed by output name."""
        if kwargs:
            raise OptcError(f"the reference backend takes no run options, got {', '.join(sorted(kwargs))}")
        named = self._by_name(inputs)
        module = self.module if self.module is not None else self._module_for(named)
        arguments = {n: v for n, v in named.items() if n not in self.constant_inputs}
        if self.device == "CUDA":
            outputs = _as_returned(module, self._engine(module).run(arguments))
        else:
            outputs = _run_module(module, arguments)
        return namedtupledict("Outputs", self.output_names)(*(outputs[n] for n in self.output_names))

    def _engine(self, module: ModuleOp):
        """The engine of `module` (built on first use, kept for later runs)."""
        from compiler.engine_build import build_module

        if id(module) not in self._engines:
            # the heuristic's tactics: a backend answers each model once, so timing candidates
            # would cost more than it saves (optc-run and compiler.build tune)
            self._engines[id(module)] = build_module(clone_with_weights(module), pipeline="kernel", tune="none")
        return self._engines[id(module)]

    def _by_name(self, inputs: Any) -> dict[str, np.ndarray]:
        takes = f"the model takes {len(self.input_names)} input(s) ({', '.join(self.input_names)})"
        if isinstance(inputs, Mapping):
            missing = [n for n in self.input_names if n not in inputs]
            unknown = sorted(set(inputs) - set(self.input_names))
            if missing or unknown:
                raise OptcError(f"{takes}; missing: {', '.join(missing) or '-'}, unknown: {', '.join(unknown) or '-'}")
            return {name: np.asarray(inputs[name]) for name in self.input_names}
        values = _positional(inputs)
        if len(values) != len(self.input_names):
            raise OptcError(f"{takes}, got {len(values)}")
        return {name: np.asarray(value) for name, value in zip(self.input_names, values)}

    def _module_for(self, named: dict[str, np.ndarray]) -> ModuleOp:
        """The model imported with this run's values of its compile-time inputs."""
        if self.constant_inputs is None:
            self.constant_inputs, module = self._find_constant_inputs(named)
            self._specialised[self._key(named)] = module
        key = self._key(named)
        if key not in self._specialised:
            self._specialised[key] = _import_with_constants(self.model, {n: named[n] for n in self.constant_inputs})
        return self._specialised[key]

    def _key(self, named: dict[str, np.ndarray]) -> tuple:
        return tuple((n, named[n].dtype.str, named[n].shape, named[n].tobytes()) for n in self.constant_inputs)

    def _find_constant_inputs(self, named: dict[str, np.ndarray]) -> tuple[list[str], ModuleOp]:
        """The graph inputs the importer needs as constants, and the module imported with
        them bound: each failed import names the value it needs (`ConstantInputRequired`),
        and the graph inputs that value is computed from are bound, until the import
        succeeds. An error that binding cannot cure stands."""
        bound: dict[str, np.ndarray] = {}
        while True:
            try:
                return list(bound), _import_with_constants(self.model, bound)
            except ConstantInputRequired as e:
                sources = [n for n in _inputs_behind(self.model, e.value_name, named) if n not in bound]
                if not sources:
                    raise
                bound.update((n, named[n]) for n in sources)


class OptcReferenceBackend(Backend):
    """optc's frontend + numpy reference interpreter behind the ONNX backend API."""

    DEVICE = "CPU"
    """The one device this backend runs on (`OptcCudaBackend`: CUDA)."""
    NAME = "the reference backend"

    @classmethod
    def supports_device(cls, device: str) -> bool:
        try:
            return Device(device).type == Device(cls.DEVICE).type
        except (AttributeError, ValueError):  # an unknown device name or a malformed id
            return False

    @classmethod
    def prepare(cls, model: ModelProto, device: str | None = None, **kwargs: Any) -> OptcReferenceRep:
        """Import `model` (with its own static input shapes) for repeated runs."""
        device = device or cls.DEVICE
        if not cls.supports_device(device):
            raise OptcError(f"{cls.NAME} runs on {cls.DEVICE} only, not on '{device}'")
        if kwargs:
            raise OptcError(f"{cls.NAME} takes no prepare options, got {', '.join(sorted(kwargs))}")
        model = _upgraded(model)
        try:
            return OptcReferenceRep(model, import_onnx(model), cls.DEVICE)
        except ConstantInputRequired:
            return OptcReferenceRep(model, None, cls.DEVICE)

    @classmethod
    def run_model(cls, model: ModelProto, inputs: Any, device: str | None = None, **kwargs: Any) -> tuple[np.ndarray, ...]:
        return cls.prepare(model, device, **kwargs).run(inputs)

    @classmethod
    def run_node(
        cls,
        node: NodeProto,
        inputs: Any,
        device: str | None = None,
        outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
        **kwargs: Any,
    ) -> tuple[np.ndarray, ...]:
        """Run one node on `inputs` (positional, matching `node.input`); `opset_version`
        picks the default-domain opset (the newest one onnx knows otherwise)."""
        opset = kwargs.pop("opset_version", onnx.defs.onnx_opset_version())
        arrays = [np.asarray(x) for x in _positional(inputs)]
        model = _single_node_model(node, arrays, outputs_info, opset)
        return cls.run_model(model, arrays, device, **kwargs)


class OptcCudaBackend(OptcReferenceBackend):
    """The ONNX backend API on the GPU: every model becomes an engine of optc's kernels."""

    DEVICE = "CUDA"
    NAME = "the CUDA backend"


def _positional(inputs: Any) -> list[Any]:
    return [inputs] if isinstance(inputs, np.ndarray) else list(inputs)


def _upgraded(model: ModelProto) -> ModelProto:
    """`model`, converted to opset `MIN_OPSET` when it is older."""
    versions = [o.version for o in model.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions or versions[0] >= MIN_OPSET:
        return model
    try:
        return onnx.version_converter.convert_version(model, MIN_OPSET)
    except Exception as e:  # the converter raises assorted errors for ops it has no adapter for
        raise OptcError(
            f"the model uses ONNX opset {versions[0]} and onnx.version_converter cannot take it to opset "
            f"{MIN_OPSET}: {type(e).__name__}: {e}"
        ) from None


_TYPE_ONLY_OPS = ("Shape", "Size")
"""ONNX ops whose output depends on their input's type alone: values behind them are not
needed to know it."""


def _inputs_behind(model: ModelProto, value: str, inputs: Mapping[str, np.ndarray]) -> list[str]:
    """The graph inputs among `inputs` whose values `value` is computed from (itself when
    it is one), walking back through the producing nodes, but not through `_TYPE_ONLY_OPS`."""
    producer = {out: node for node in model.graph.node for out in node.output}
    found, seen, todo = [], set(), [value]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name in inputs:
            found.append(name)
        elif name in producer and producer[name].op_type not in _TYPE_ONLY_OPS:
            todo.extend(n for n in producer[name].input if n)
    return found


def _import_with_constants(model: ModelProto, constants: Mapping[str, np.ndarray]) -> ModuleOp:
    """Import `model` with the given graph inputs bound to values, as initializers."""
    if not constants:
        return import_onnx(model)
    bound = ModelProto()
    bound.CopyFrom(model)
    bound.graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in constants.items())
    return import_onnx(bound)


def _run_module(module: ModuleOp, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run `@main`, converting bf16 values between ml_dtypes and the interpreter's float32
    (other ml_dtypes arrays are the interpreter's own representation)."""
    fn = entry(module)
    bf16_args = {n for n, t in zip(io_names(fn), fn.function_type.inputs.data) if _is_bf16(t)}
    args = {n: v.astype(np.float32) if n in bf16_args else v for n, v in inputs.items()}
    return _as_returned(module, run(module, args))


def _as_returned(module: ModuleOp, outputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Outputs (of an engine, or of the interpreter) as callers get them: bf16 as ml_dtypes
    arrays, not the float32 both hold them in."""
    fn = entry(module)
    bf16 = {n for n, t in zip(io_names(fn, results=True), fn.function_type.outputs.data) if _is_bf16(t)}
    return {n: v.astype(ml_dtypes.bfloat16) if n in bf16 else v for n, v in outputs.items()}


def _single_node_model(
    node: NodeProto,
    arrays: Sequence[np.ndarray],
    outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None,
    opset: int,
) -> ModelProto:
    """A model holding just `node`, whose graph inputs take the given arrays' shapes and types."""
    names = [n for n in node.input if n]
    if len(names) != len(arrays):
        raise OptcError(f"node '{node.name or node.op_type}' has {len(names)} input(s), got {len(arrays)} array(s)")
    graph_inputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(a.dtype), a.shape) for n, a in zip(names, arrays)
    ]
    outputs = [n for n in node.output if n]
    infos = list(outputs_info) if outputs_info is not None else [None] * len(outputs)
    graph_outputs = [
        helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(np.dtype(info[0])), info[1])
        if info is not None
        else helper.make_tensor_value_info(n, onnx.TensorProto.UNDEFINED, None)
        for n, info in zip(outputs, infos)
    ]
    graph = helper.make_graph([node], f"{node.op_type}_node", graph_inputs, graph_outputs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _is_bf16(t) -> bool:
    return isinstance(t.element_type, BFloat16Type)


# module-level entry points, as other ONNX backends (onnxruntime.backend, ...) offer them
prepare = OptcReferenceBackend.prepare
run_model = OptcReferenceBackend.run_model
run_node = OptcReferenceBackend.run_node
supports_device = OptcReferenceBackend.supports_device
