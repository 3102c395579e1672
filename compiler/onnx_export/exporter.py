"""Graph-level IR → ONNX model.

Walks the module's function in order and calls each op's writer (`registry.WRITERS`);
weights (`graph.weight`, read from the module's weight store) and constants become
initializers. The opset is the lowest at or above 17 that every written node needs
(`opsets.py`); writers whose ONNX form changed between opsets (reductions' axes became
an input in 18) read it, so when a node asks for more than 17 the function is written
again at the higher opset. The model is checked with `onnx.checker` and ONNX's full
(strict) shape inference before it is returned: a model optc writes is one every ONNX
runtime reads.
"""

from __future__ import annotations

import os

import onnx
from onnx import ModelProto, helper
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import OpResult, SSAValue

from compiler.onnx_export import core, elementwise, indexing, nn, quant, tensor  # noqa: F401  (fill the table)
from compiler.onnx_export.context import ExportContext, onnx_elem
from compiler.onnx_export.opsets import MIN_OPSET, lowest_opset
from compiler.onnx_export.registry import WRITERS
from dialects.errors import OptcError
from dialects.graph import ConstantOp, WeightOp
from dialects.weights import store_of
from runtime.reference.interpreter import io_names

PROTOBUF_LIMIT = 2**31 - 2**20
"""Protobuf serialises at most 2 GiB; bigger models keep their initializers beside the file
(ONNX's external data), with a margin for the graph itself."""
GRAPH_LEVEL = ("graph.", "quant.")


def export(module: ModuleOp, path: str | None = None) -> ModelProto:
    """Write the module's graph-level function as an ONNX model (and to `path` when given)."""
    fn = main_function(module)
    ctx, opset = _write_at_needed_opset(fn, store_of(module))
    model = _model(fn, ctx, opset)
    _check_and_save(model, path)
    return model


def _write_at_needed_opset(fn: func.FuncOp, store) -> tuple[ExportContext, int]:
    """Write at opset 17, then again at what the nodes need when that is higher."""
    opset = MIN_OPSET
    for _ in range(3):  # the forms of a higher opset never need a still higher one; 3 is a bound
        ctx = _write(fn, store, opset)
        needed = max(MIN_OPSET, *ctx.required, *(lowest_opset(n, ctx.elem) for n in ctx.nodes))
        if needed <= opset:
            break
        opset = needed
    return ctx, opset


def main_function(module: ModuleOp) -> func.FuncOp:
    functions = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if len(functions) != 1:
        names = ", ".join(f"@{f.sym_name.data}" for f in functions) or "none"
        raise OptcError(f"export writes a module of one function (an imported model), this one has {len(functions)}: {names}")
    return functions[0]


# --- names -----------------------------------------------------------------------


def _expect_distinct(names: list[str], what: str) -> None:
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise OptcError(f"the function's {what} share the ONNX name '{repeated[0]}'; ONNX names each once")


def _reserved(returned: list[SSAValue], names: list[str]) -> dict[SSAValue, str]:
    """Each returned op result takes its output's name where it is defined (the first
    output it is, when it is several); a returned argument or constant gets an Identity."""
    reserved: dict[SSAValue, str] = {}
    for value, name in zip(returned, names):
        if isinstance(value, OpResult) and not isinstance(value.op, ConstantOp | WeightOp) and value not in reserved:
            reserved[value] = name
    return reserved


# --- writing ---------------------------------------------------------------------


def _write(fn: func.FuncOp, store, opset: int) -> ExportContext:
    block = fn.body.block
    ret = block.last_op
    assert isinstance(ret, func.ReturnOp)
    inputs, outputs = io_names(fn), io_names(fn, results=True)
    _expect_distinct(inputs, "arguments")
    _expect_distinct(outputs, "results")
    weights = {op.sym.data for op in block.ops if isinstance(op, WeightOp)}
    ctx = ExportContext(store, opset, _reserved(list(ret.operands), outputs), set(inputs) | set(outputs), weights)
    for arg, name in zip(block.args, inputs):
        ctx.bind(arg, name)
    for op in block.ops:
        if op is not ret:
            _write_op(op, ctx)
    for value, name in zip(ret.operands, outputs):
        if ctx.input(value) != name:
            if name in inputs:
                raise OptcError(f"result '{name}' has the name of an argument it is not; ONNX names each value once")
            ctx.elem[name] = onnx_elem(value.type.element_type, f"result '{name}'")
            ctx.node("Identity", [ctx.input(value)], [name])
    _prune(ctx, outputs)
    return ctx


def _prune(ctx: ExportContext, outputs: list[str]) -> None:
    """Drop the nodes nothing reads (the channels-last form of a value only NHWC ops read:
    `layout.py`; dead code) and the initializers no node reads."""
    needed, kept = set(outputs), []
    for node in reversed(ctx.nodes):
        if any(o in needed for o in node.output):
            kept.append(node)
            needed.update(node.input)
    ctx.nodes = kept[::-1]
    ctx.initializers = [i for i in ctx.initializers if i.name in needed]
    ctx.value_info = [v for v in ctx.value_info if v.name in needed]


def _write_op(op, ctx: ExportContext) -> None:
    write = WRITERS.get(type(op))
    if write is None:
        hint = "" if op.name.startswith(GRAPH_LEVEL) else " (export writes graph-level IR: as imported, or after graph-optimize)"
        raise OptcError(f"cannot export '{op.name}' to ONNX yet{hint}")
    write(op, ctx)


def _value_info(name: str, t) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, onnx_elem(t.element_type, f"value '{name}'"), t.get_shape())


def _model(fn: func.FuncOp, ctx: ExportContext, opset: int) -> ModelProto:
    block = fn.body.block
    ret = block.last_op
    graph = helper.make_graph(
        ctx.nodes,
        fn.sym_name.data,
        [_value_info(ctx.input(a), a.type) for a in block.args],
        [_value_info(n, v.type) for n, v in zip(io_names(fn, results=True), ret.operands)],
        ctx.initializers,
        value_info=ctx.value_info,
    )
    opsets = [helper.make_opsetid("", opset)]
    return helper.make_model(graph, opset_imports=opsets, producer_name="optc", ir_version=helper.find_min_ir_version_for(opsets))


# --- checking and saving ---------------------------------------------------------


def _check_and_save(model: ModelProto, path: str | None) -> None:
    """Check, then save; a model over protobuf's limit is saved first (its initializers
    beside it, ONNX's external data) and checked from its file."""
    if model.ByteSize() <= PROTOBUF_LIMIT:
        _check(model)
        if path is not None:
            _save(model, path)
        return
    if path is None:
        raise OptcError(f"the model takes {model.ByteSize() / 2**30:.3g} GiB, more than protobuf holds; give a path to save it with external data")
    _save(model, path)
    _check(path)


def _check(model: ModelProto | str) -> None:
    """onnx.checker with full (strict) shape inference, of the model or of its file."""
    try:
        onnx.checker.check_model(model, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError) as e:
        raise OptcError(f"the exported model does not pass onnx.checker (an exporter bug): {e}") from None


def _save(model: ModelProto, path: str) -> None:
    try:
        if model.ByteSize() > PROTOBUF_LIMIT:
            location = os.path.basename(path) + ".data"
            onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=location)
        else:
            onnx.save_model(model, path)
    except OSError as e:
        raise OptcError(f"cannot write '{path}': {e.strerror or e}") from None
