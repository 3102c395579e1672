"""Data-movement and shape ops: reshape, transpose, slicing, gathers, reductions, ...

Inputs that decide a result's shape (Reshape's shape, Slice's starts, ...) are
compile-time constants in ONNX models with fixed input shapes; the importer turns them
into properties, so every shape in the graph dialect is static.
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import I64, DenseArrayBase, TensorType
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from dialects.graph.base import GraphOp, fail, ints


@irdl_op_definition
class ReshapeOp(GraphOp):
    """`%y = graph.reshape %x : tensor<2x3xf32> -> tensor<6xf32>`: the shape is the result type's."""

    name = "graph.reshape"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        src, dst = self.input.type, self.result.type
        if src.element_type != dst.element_type or math.prod(src.get_shape()) != math.prod(dst.get_shape()):
            fail(self, f"cannot reshape {src} to {dst}: element counts or types differ")


@irdl_op_definition
class TransposeOp(GraphOp):
    name = "graph.transpose"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    perm = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @classmethod
    def infer(cls, types, props):
        x, perm = types[0], ints(props["perm"])
        if sorted(perm) != list(range(x.get_num_dims())):
            fail(cls, f"expects perm to be a permutation of 0..{x.get_num_dims() - 1}, got {list(perm)}")
        return [TensorType(x.element_type, [x.get_shape()[p] for p in perm])]
