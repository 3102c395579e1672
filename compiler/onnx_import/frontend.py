"""ONNX model → `graph` dialect module.

Loads the model (external data included), checks its structure (`structure.py`), fixes
symbolic input dimensions (a `dim_param`, or a negative `dim_value`, which some exporters
write for a dynamic one) from the user's `--shape`s, then walks the nodes in topological
order, checking each one's attributes against its ONNX schema and calling its importer.
Initializers become weights in a `WeightStore` backed by the ONNX file; everything
computable at compile time folds away (see `context.ImportContext`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import ModelProto
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Block, Region
from xdsl.utils.exceptions import VerifyException

from compiler.onnx_import import core, elementwise, indexing, nn, quant, tensor  # noqa: F401  (fill the table)
from compiler.onnx_import.context import ImportContext, Node
from compiler.onnx_import.registry import IMPORTERS, SUPPORTED_OPS_DOC
from compiler.onnx_import.structure import check_graph, topological_order
from compiler.report import SOURCE_NODES_ATTR
from dialects.dtypes import numpy_dtype, onnx_elem_to_mlir, tensor_type
from dialects.errors import OptcError
from dialects.weights import WeightStore, attach, initializer_array

MIN_OPSET = 11
MAX_OPSET = onnx.defs.onnx_opset_version()
DEFAULT_DOMAINS = ("", "ai.onnx")
# The largest graph input optc accepts: 2**38 bytes (256 GiB) is more than any GPU holds
# (an H200 has 141 GB), so a bigger input is a typo in --shape or the model, not a workload.
MAX_INPUT_BYTES = 2**38


def load_model(path: str) -> ModelProto:
    """Read an ONNX file (and its external data), or fail with a sentence."""
    if not os.path.exists(path):
        raise OptcError(f"model file '{path}' does not exist")
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise OptcError(f"model file '{path}' is empty")
    try:
        return onnx.load(path)
    except DecodeError as e:
        raise OptcError(f"'{path}' is not a valid ONNX model (truncated or corrupt file?): {e}") from None
    except (FileNotFoundError, OSError) as e:
        raise OptcError(f"cannot read '{path}' or its external data: {e}") from None
    except Exception as e:  # onnx raises assorted errors for malformed protos
        raise OptcError(f"'{path}' is not a valid ONNX model: {type(e).__name__}: {e}") from None


def parse_shape(spec: str) -> tuple[str, tuple[int, ...]]:
    """`name=1x3x224x224` (or `name=` for a scalar) → (name, dims)."""
    name, sep, dims = spec.rpartition("=")
    if not sep or not name:
        raise OptcError(f"--shape '{spec}' is not of the form NAME=DxDx...D (e.g. input=1x3x224x224)")
    try:
        sizes = tuple(int(d) for d in dims.split("x")) if dims else ()
    except ValueError:
        raise OptcError(f"--shape '{spec}': dimensions must be integers separated by 'x'") from None
    if any(d < 0 for d in sizes):
        raise OptcError(f"--shape '{spec}': dimensions must be sizes (0 or more), not negative")
    return name, sizes


def parse_shapes(specs: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Every `--shape` given, by input name; naming one input twice is an error."""
    shapes: dict[str, tuple[int, ...]] = {}
    for spec in specs:
        name, dims = parse_shape(spec)
        if name in shapes:
            raise OptcError(f"--shape names input '{name}' twice ({_format(shapes[name])} and {_format(dims)}); give it once")
        shapes[name] = dims
    return shapes


def _format(dims: Sequence[int]) -> str:
    return "x".join(map(str, dims)) or "a scalar"


def import_onnx(
    model: ModelProto | str,
    shapes: Mapping[str, Sequence[int]] | None = None,
) -> ModuleOp:
    """Import an ONNX model (a `ModelProto` or a path) as a `graph` dialect module."""
    path = model if isinstance(model, str) else None
    proto = load_model(model) if isinstance(model, str) else model
    if not proto.HasField("graph"):
        raise OptcError("the model has no graph (an empty or non-ONNX file?)")
    opset = _default_opset(proto)
    if proto.functions:
        proto = onnx.inliner.inline_local_functions(proto)
    graph = proto.graph
    check_graph(graph)
    store = WeightStore(os.path.abspath(path) if path else None)

    block = Block()
    ctx = ImportContext(block, store)
    for init in graph.initializer:
        element_type = onnx_elem_to_mlir(init.data_type, f"initializer '{init.name}': ")
        ctx.bind(init.name, ctx.constant(_to_array(init), init.name, weight_name=init.name, element_type=element_type))
    inputs = [i for i in graph.input if i.name not in ctx.values]
    _check_unused_shapes(shapes or {}, inputs)
    input_types = [_input_type(i, shapes or {}) for i in inputs]
    for value_info, t in zip(inputs, input_types):
        ctx.bind(value_info.name, block.insert_arg(t, len(block.args)))

    for node_proto in topological_order(graph):
        _import_node(Node(node_proto, ctx, opset))

    outputs = [ctx.lookup(o.name, "graph output") for o in graph.output]
    ctx.finish(outputs)
    fn = func.FuncOp(
        "main",
        ([a.type for a in block.args], [o.type for o in outputs]),
        Region(block),
        arg_attrs=_name_attrs(i.name for i in inputs),
        res_attrs=_name_attrs(o.name for o in graph.output),
    )
    module = ModuleOp([fn])
    module.attributes[SOURCE_NODES_ATTR] = IntegerAttr(len(graph.node), i64)
    attach(module, store)
    try:
        module.verify()
    except VerifyException as e:
        raise OptcError(f"the imported IR does not verify (an importer bug): {e}") from None
    return module


def _import_node(node: Node) -> None:
    domain = node.proto.domain
    if domain not in DEFAULT_DOMAINS or node.op_type not in IMPORTERS:
        qualified = f"{domain}.{node.op_type}" if domain not in DEFAULT_DOMAINS else node.op_type
        raise OptcError(
            f"unsupported ONNX op '{qualified}' (node '{node.name}'); supported ops are listed in {SUPPORTED_OPS_DOC}"
        )
    node.check_attributes()
    try:
        results = IMPORTERS[node.op_type](node)
    except VerifyException as e:
        node.fail(str(e))
    results = [results] if not isinstance(results, list | tuple) else list(results)
    outputs = list(node.proto.output)
    if len(results) < len([o for o in outputs if o]):
        node.fail(f"optc produces {len(results)} of its {len(outputs)} outputs")
    for name, value in zip(outputs, results):
        if name:
            node.ctx.bind(name, value)


def _default_opset(proto: ModelProto) -> int:
    versions = [o.version for o in proto.opset_import if o.domain in DEFAULT_DOMAINS]
    if not versions:
        raise OptcError("the model imports no version of the default ONNX domain")
    opset = versions[0]
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise OptcError(
            f"the model uses ONNX opset {opset}; optc supports opsets {MIN_OPSET} to {MAX_OPSET} "
            "(onnx.version_converter can convert older models)"
        )
    return opset


def _to_array(init: onnx.TensorProto) -> np.ndarray:
    onnx_elem_to_mlir(init.data_type, f"initializer '{init.name}': ")
    return initializer_array(init)


def fixed_size(dim: onnx.TensorShapeProto.Dimension) -> int | None:
    """The size a model fixes for one dimension, or None when it is symbolic: a `dim_param`,
    no value at all, or a negative `dim_value` (some exporters write -1 for a dynamic
    dimension, and onnxruntime reads it so). 0 is a real (empty) extent."""
    return dim.dim_value if dim.HasField("dim_value") and dim.dim_value >= 0 else None


def is_static(value_info: onnx.ValueInfoProto) -> bool:
    """Whether the model fixes every dimension of a tensor value (and its rank)."""
    tensor = value_info.type.tensor_type
    return tensor.HasField("shape") and all(fixed_size(d) is not None for d in tensor.shape.dim)


def _input_type(value_info: onnx.ValueInfoProto, shapes: Mapping[str, Sequence[int]]):
    name = value_info.name
    tensor = value_info.type.tensor_type
    if not value_info.type.HasField("tensor_type"):
        raise OptcError(f"input '{name}' is not a tensor (sequences, maps and optionals are not supported)")
    elem = onnx_elem_to_mlir(tensor.elem_type, f"input '{name}': ")
    if name in shapes:
        dims = tuple(shapes[name])
        if tensor.HasField("shape"):
            _check_fixed_shape(name, tensor.shape.dim, dims)
    elif not tensor.HasField("shape"):
        raise OptcError(f"input '{name}' has no shape; give one with --shape {name}=DxDx...")
    elif not is_static(value_info):
        raise OptcError(_symbolic_hint(name, tensor.shape.dim))
    else:
        dims = tuple(d.dim_value for d in tensor.shape.dim)
    _check_size(name, dims, elem)
    return tensor_type(dims, elem)


def _check_size(name: str, dims: tuple[int, ...], elem) -> None:
    size = math.prod(dims) * np.dtype(numpy_dtype(elem)).itemsize
    if size > MAX_INPUT_BYTES:
        raise OptcError(
            f"input '{name}' of shape {_format(dims)} would take {size / 2**30:.3g} GiB; "
            f"optc accepts inputs up to {MAX_INPUT_BYTES // 2**30} GiB (more than any GPU holds)"
        )


def _symbolic_hint(name: str, dims) -> str:
    """Which dimensions of input `name` are symbolic, and a `--shape` that fixes them (each
    to 1) as it must be typed."""
    sizes = [fixed_size(d) for d in dims]
    labels = [str(s) if s is not None else d.dim_param or "?" for s, d in zip(sizes, dims)]
    pattern = "x".join(str(s) if s is not None else "N" for s in sizes)
    example = "x".join(str(1 if s is None else s) for s in sizes)
    return (
        f"input '{name}' has symbolic dimensions [{', '.join(labels)}]; "
        f"fix them with --shape {name}={pattern} (e.g. --shape {name}={example})"
    )


def _check_fixed_shape(name: str, model_dims, given: tuple[int, ...]) -> None:
    if len(model_dims) != len(given):
        raise OptcError(f"--shape {name}: the model's input has rank {len(model_dims)}, got {len(given)} dims")
    for i, (d, g) in enumerate(zip(model_dims, given)):
        if fixed_size(d) not in (None, g):
            raise OptcError(f"--shape {name}: dimension {i} is fixed to {d.dim_value} by the model, got {g}")


def _check_unused_shapes(shapes: Mapping[str, Sequence[int]], inputs) -> None:
    names = {i.name for i in inputs}
    unknown = [n for n in shapes if n not in names]
    if unknown:
        raise OptcError(f"--shape names unknown input(s) {', '.join(unknown)}; the model's inputs are {', '.join(sorted(names))}")


def _name_attrs(names) -> ArrayAttr[DictionaryAttr]:
    return ArrayAttr([DictionaryAttr({"onnx.name": StringAttr(n)}) for n in names])
