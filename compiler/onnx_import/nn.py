"""Importers for neural-network ONNX ops."""

from __future__ import annotations

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.graph import ConvOp
from dialects.graph.base import i64_array, int_attr
from dialects.graph.nn import conv_output_size


def resolve_pads(node: Node, in_sizes, kernel, strides, dilations) -> list[int]:
    """ONNX `pads`/`auto_pad` → explicit pads (all begins, then all ends)."""
    spatial = len(kernel)
    auto_pad = node.attr("auto_pad", "NOTSET")
    if auto_pad in ("NOTSET", "VALID"):
        return node.attr("pads", [0] * 2 * spatial) if auto_pad == "NOTSET" else [0] * 2 * spatial
    if auto_pad not in ("SAME_UPPER", "SAME_LOWER"):
        node.fail(f"auto_pad '{auto_pad}' is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER")
    begins, ends = [], []
    for size, k, s, d in zip(in_sizes, kernel, strides, dilations):
        out = -(-size // s)
        total = max(0, (out - 1) * s + d * (k - 1) + 1 - size)
        small, big = total // 2, total - total // 2
        begins.append(small if auto_pad == "SAME_UPPER" else big)
        ends.append(big if auto_pad == "SAME_UPPER" else small)
    return begins + ends


@importer("Conv")
def conv(node: Node):
    x, w = node.input(0), node.input(1)
    kernel = list(w.type.get_shape()[2:])
    spatial = len(kernel)
    strides = node.attr("strides", [1] * spatial)
    dilations = node.attr("dilations", [1] * spatial)
    pads = resolve_pads(node, x.type.get_shape()[2:], kernel, strides, dilations)
    props = {
        "strides": i64_array(strides),
        "pads": i64_array(pads),
        "dilations": i64_array(dilations),
        "group": int_attr(node.attr("group", 1)),
    }
    return node.emit(ConvOp.make([x, w, node.optional_input(2)], props))
