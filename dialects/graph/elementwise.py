"""Elementwise ops: activations, arithmetic with broadcasting, comparisons, casts."""

from __future__ import annotations

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, result_def, traits_def
from xdsl.traits import Pure

from dialects.graph.base import BinaryOp, GraphOp, UnaryOp, fail


@irdl_op_definition
class ReluOp(UnaryOp):
    name = "graph.relu"


@irdl_op_definition
class AddOp(BinaryOp):
    name = "graph.add"


@irdl_op_definition
class CastOp(GraphOp):
    """`%y = graph.cast %x : tensor<4xf32> -> tensor<4xf16>`: the shape stays, the
    element type becomes the result's."""

    name = "graph.cast"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @staticmethod
    def to(value: SSAValue, element_type: Attribute) -> CastOp:
        return CastOp(operands=[value], result_types=[TensorType(element_type, value.type.get_shape())])

    def verify_(self) -> None:
        if self.input.type.get_shape() != self.result.type.get_shape():
            fail(self, f"expects result shape equal to input shape, got {self.input.type} -> {self.result.type}")
