"""Importers for data-movement and shape ONNX ops."""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import TensorType

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.graph import ReshapeOp, TransposeOp
from dialects.graph.base import i64_array


@importer("Reshape")
def reshape(node: Node):
    x = node.input(0)
    shape = [int(d) for d in node.const_input(1, "shape")]
    in_shape = x.type.get_shape()
    if not node.attr("allowzero", 0):
        shape = [in_shape[i] if d == 0 else d for i, d in enumerate(shape)]
    if shape.count(-1) > 1:
        node.fail(f"shape {shape} has more than one -1")
    if -1 in shape:
        rest = int(np.prod([d for d in shape if d != -1]))
        if rest == 0 or np.prod(in_shape) % rest:
            node.fail(f"cannot reshape {x.type} to {shape}")
        shape[shape.index(-1)] = int(np.prod(in_shape)) // rest
    result = TensorType(x.type.element_type, shape)
    return node.emit(ReshapeOp(operands=[x], result_types=[result]))


@importer("Transpose")
def transpose(node: Node):
    x = node.input(0)
    perm = node.attr("perm", list(reversed(range(x.type.get_num_dims()))))
    return node.emit(TransposeOp.make([x], {"perm": i64_array(perm)}))
