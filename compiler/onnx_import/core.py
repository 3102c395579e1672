"""Importers for constants and identity."""

from __future__ import annotations

import numpy as np

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.graph import IdentityOp


@importer("Constant")
def constant(node: Node):
    for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
        if node.has_attr(key):
            value = node.attr(key)
            if key in ("value_float", "value_floats"):
                value = np.asarray(value, dtype=np.float32)
            elif key in ("value_int", "value_ints"):
                value = np.asarray(value, dtype=np.int64)
            return node.ctx.constant(value, node.proto.output[0])
    node.fail("has no value optc can read (value, value_float(s) or value_int(s))")


@importer("Identity")
def identity(node: Node):
    return node.emit(IdentityOp.make([node.input(0)]))
