"""Importers for neural-network ONNX ops.

The graph ops carry explicit geometry: `auto_pad`, ConvTranspose's `output_shape` and
every omitted attribute are resolved here. Optional outputs (LayerNormalization's
Mean/InvStdDev, MaxPool's Indices) are computed only when the model reads them;
BatchNormalization's running statistics, which only training updates, are refused by name.
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import TensorType

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.graph import (
    AveragePoolOp,
    BatchNormOp,
    ConvOp,
    ConvTransposeOp,
    GemmOp,
    GlobalAveragePoolOp,
    GlobalMaxPoolOp,
    InstanceNormOp,
    LayerNormOp,
    LogSoftmaxOp,
    MatMulOp,
    MaxPoolOp,
    ReshapeOp,
    SoftmaxOp,
)
from dialects.graph.base import float_attr, i64_array, int_attr, normalize_axis
from dialects.graph.nn import conv_transpose_output_size

AUTO_PADS = ("NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER")


def _auto_pad(node: Node) -> str:
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad not in AUTO_PADS:
        node.fail(f"auto_pad '{auto_pad}' is not one of {', '.join(AUTO_PADS)}")
    return auto_pad


def _split(total: int, auto_pad: str) -> tuple[int, int]:
    """(begin, end) of a total padding: SAME_UPPER puts an odd extra at the end, the
    others (SAME_LOWER; ConvTranspose's NOTSET with output_shape) at the begin."""
    small, big = total // 2, total - total // 2
    return (small, big) if auto_pad == "SAME_UPPER" else (big, small)


def _given_pads(node: Node, spatial: int, auto_pad: str) -> list[int]:
    """NOTSET reads the `pads` attribute (default none), VALID pads nothing."""
    zeros = [0] * 2 * spatial
    return node.attr("pads", zeros) if auto_pad == "NOTSET" else zeros


def resolve_pads(node: Node, in_sizes, kernel, strides, dilations) -> list[int]:
    """ONNX `pads`/`auto_pad` → explicit pads (all begins, then all ends). SAME keeps
    ceil(size / stride) outputs; the dilated kernel's extent decides the total."""
    auto_pad = _auto_pad(node)
    if auto_pad in ("NOTSET", "VALID"):
        return _given_pads(node, len(kernel), auto_pad)
    pads = []
    for size, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = -(-size // s)
        pads.append(_split(max(0, (out - 1) * s + d * (k - 1) + 1 - size), auto_pad))
    return [b for b, _ in pads] + [e for _, e in pads]


def _kernel_of_weight(node: Node, w) -> list[int]:
    kernel = list(w.type.get_shape()[2:])
    if node.has_attr("kernel_shape") and node.attr("kernel_shape") != kernel:
        node.fail(f"kernel_shape {node.attr('kernel_shape')} does not match the weight's {kernel}")
    return kernel


def _only_first_output(node: Node, names: str) -> None:
    """Fail when the model reads an output beyond the first."""
    if any(node.proto.output[1:]):
        node.fail(f"optc computes only the first output; {names} (used by this model) are not supported")


# --- convolution -----------------------------------------------------------


def conv_properties(node: Node, x, w) -> dict:
    """Explicit strides, pads, dilations and group of a Conv-like node (Conv, ConvInteger,
    QLinearConv) with input `x` and weight `w`."""
    kernel = _kernel_of_weight(node, w)
    spatial = len(kernel)
    strides = node.attr("strides", [1] * spatial)
    dilations = node.attr("dilations", [1] * spatial)
    pads = resolve_pads(node, x.type.get_shape()[2:], kernel, strides, dilations)
    return {
        "strides": i64_array(strides),
        "pads": i64_array(pads),
        "dilations": i64_array(dilations),
        "group": int_attr(node.attr("group", 1)),
    }


@importer("Conv")
def conv(node: Node):
    x, w = node.input(0), node.input(1)
    return node.emit(ConvOp.make([x, w, node.optional_input(2)], conv_properties(node, x, w)))


def _transpose_pads(node: Node, sizes, kernel, strides, dilations, output_padding) -> tuple[list[int], list[int]]:
    """Explicit (pads, output_padding) for ConvTranspose, as onnxruntime resolves them.
    A requested size (`output_shape`, or size * stride for SAME_*) fixes the total padding.
    When `output_shape` asks for more than the unpadded result, the surplus is zeros at
    the end, i.e. extra output_padding; SAME_* never grows the result beyond it."""
    auto_pad = _auto_pad(node)
    spatial = len(kernel)
    full = [
        conv_transpose_output_size(sizes[i], kernel[i], strides[i], 0, 0, dilations[i], output_padding[i])
        for i in range(spatial)
    ]
    if node.has_attr("output_shape"):
        wanted = node.attr("output_shape")
        if len(wanted) != spatial:
            node.fail(f"output_shape {wanted} must give the {spatial} spatial sizes")
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        wanted = [min(size * s, f) for size, s, f in zip(sizes, strides, full)]
    else:
        return _given_pads(node, spatial, auto_pad), list(output_padding)
    pads = [_split(max(0, f - w), auto_pad) for f, w in zip(full, wanted)]
    padding = [p + max(0, w - f) for p, f, w in zip(output_padding, full, wanted)]
    return [b for b, _ in pads] + [e for _, e in pads], padding


@importer("ConvTranspose")
def conv_transpose(node: Node):
    x, w = node.input(0), node.input(1)
    kernel = _kernel_of_weight(node, w)
    spatial = len(kernel)
    strides = node.attr("strides", [1] * spatial)
    dilations = node.attr("dilations", [1] * spatial)
    output_padding = node.attr("output_padding", [0] * spatial)
    pads, output_padding = _transpose_pads(node, x.type.get_shape()[2:], kernel, strides, dilations, output_padding)
    props = {
        "strides": i64_array(strides),
        "pads": i64_array(pads),
        "dilations": i64_array(dilations),
        "output_padding": i64_array(output_padding),
        "group": int_attr(node.attr("group", 1)),
    }
    return node.emit(ConvTransposeOp.make([x, w, node.optional_input(2)], props))


# --- pooling ---------------------------------------------------------------


def _pool_props(node: Node) -> dict:
    if not node.has_attr("kernel_shape"):
        node.fail("needs the kernel_shape attribute")
    x = node.input(0)
    kernel = node.attr("kernel_shape")
    spatial = len(kernel)
    strides = node.attr("strides", [1] * spatial)
    dilations = node.attr("dilations", [1] * spatial)
    return {
        "kernel_shape": i64_array(kernel),
        "strides": i64_array(strides),
        "pads": i64_array(resolve_pads(node, x.type.get_shape()[2:], kernel, strides, dilations)),
        "dilations": i64_array(dilations),
        "ceil_mode": int_attr(node.attr("ceil_mode", 0)),
    }


@importer("MaxPool")
def max_pool(node: Node):
    """The Indices output is computed when the model reads it; `storage_order`, which only
    orders it, is read then."""
    props = _pool_props(node)
    indices = len(node.proto.output) > 1 and bool(node.proto.output[1])
    if indices:
        props["storage_order"] = int_attr(node.attr("storage_order", 0))
    return node.emit(MaxPoolOp.make([node.input(0)], props, indices=indices))


@importer("AveragePool")
def average_pool(node: Node):
    props = _pool_props(node) | {"count_include_pad": int_attr(node.attr("count_include_pad", 0))}
    return node.emit(AveragePoolOp.make([node.input(0)], props))


@importer("GlobalAveragePool")
def global_average_pool(node: Node):
    return node.emit(GlobalAveragePoolOp.make([node.input(0)]))


@importer("GlobalMaxPool")
def global_max_pool(node: Node):
    return node.emit(GlobalMaxPoolOp.make([node.input(0)]))


# --- normalisation ---------------------------------------------------------


@importer("BatchNormalization")
def batch_norm(node: Node):
    """Inference only: `momentum` updates the running statistics during training and has
    no effect here."""
    if node.attr("training_mode", 0):
        node.fail("training_mode=1 (batch statistics) is not supported; optc compiles inference graphs")
    _only_first_output(node, "the running mean/variance outputs (training only)")
    props = {"epsilon": float_attr(node.attr("epsilon", 1e-5))}
    return node.emit(BatchNormOp.make([node.input(i) for i in range(5)], props))


@importer("InstanceNormalization")
def instance_norm(node: Node):
    props = {"epsilon": float_attr(node.attr("epsilon", 1e-5))}
    return node.emit(InstanceNormOp.make([node.input(i) for i in range(3)], props))


@importer("LayerNormalization")
def layer_norm(node: Node):
    """Mean and InvStdDev (saved for training) are computed when the model reads either."""
    if node.attr("stash_type", 1) != 1:
        node.fail(f"stash_type {node.attr('stash_type')} is not supported (only 1: statistics in float32)")
    x = node.input(0)
    props = {
        "axis": int_attr(normalize_axis(LayerNormOp, node.attr("axis", -1), x.type.get_num_dims())),
        "epsilon": float_attr(node.attr("epsilon", 1e-5)),
    }
    statistics = any(node.proto.output[1:])
    return node.emit(LayerNormOp.make([x, node.input(1), node.optional_input(2)], props, statistics=statistics))


def _softmax(node: Node, op_type):
    """Opset 13 normalises along `axis` (default -1). Before, the input is seen as 2-D,
    (prod(shape[:axis]), prod(shape[axis:])) with default axis 1, and normalised along the
    second axis: the same op between two reshapes, or alone when axis is the last."""
    x = node.input(0)
    rank = x.type.get_num_dims()
    axis = normalize_axis(op_type, node.attr("axis", -1 if node.opset >= 13 else 1), rank)
    if node.opset >= 13 or axis == rank - 1:
        return node.emit(op_type.make([x], {"axis": int_attr(axis)}))
    shape = x.type.get_shape()
    flat = TensorType(x.type.element_type, [math.prod(shape[:axis]), math.prod(shape[axis:])])
    x2d = node.emit(ReshapeOp(operands=[x], result_types=[flat]))
    y2d = node.emit(op_type.make([x2d], {"axis": int_attr(1)}))
    return node.emit(ReshapeOp(operands=[y2d], result_types=[x.type]))


@importer("Softmax")
def softmax(node: Node):
    return _softmax(node, SoftmaxOp)


@importer("LogSoftmax")
def log_softmax(node: Node):
    return _softmax(node, LogSoftmaxOp)


# --- matrix products -------------------------------------------------------


@importer("Gemm")
def gemm(node: Node):
    props = {
        "alpha": float_attr(node.attr("alpha", 1.0)),
        "beta": float_attr(node.attr("beta", 1.0)),
        "trans_a": int_attr(node.attr("transA", 0)),
        "trans_b": int_attr(node.attr("transB", 0)),
    }
    return node.emit(GemmOp.make([node.input(0), node.input(1), node.optional_input(2)], props))


@importer("MatMul")
def matmul(node: Node):
    return node.emit(MatMulOp.make([node.input(0), node.input(1)]))
