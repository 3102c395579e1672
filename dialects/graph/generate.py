"""Ops whose result does not come from an input's elements: an input's shape or element
count, a range, a tensor filled with one value.

Exporters write them in shape subgraphs (Shape -> Gather -> Concat -> Reshape) and to
build masks and position ids (Range, ConstantOfShape). The importer folds each to a
constant: Shape and Size need only their operand's type (`ShapeOnly`), Range is built only
when its operands are known, and ConstantOfShape has none.
"""

from __future__ import annotations

from xdsl.dialects.builtin import I64, FloatAttr, IntegerAttr, TensorType, i64
from xdsl.irdl import base, irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from dialects.graph.base import GraphOp, MovesData, ShapeOnly, expect_same_element_type, fail, int_of
from dialects.graph.tensor import _UNARY_FORMAT


@irdl_op_definition
class ShapeOp(GraphOp):
    """The input's dimensions `start` to `end` (normalised, 0 <= start <= end <= rank) as i64."""

    name = "graph.shape"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    start = prop_def(IntegerAttr[I64])
    end = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), ShapeOnly(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        rank, start, end = types[0].get_num_dims(), int_of(props["start"]), int_of(props["end"])
        if not 0 <= start <= end <= rank:
            fail(cls, f"expects 0 <= start <= end <= {rank}, got start {start}, end {end}")
        return [TensorType(i64, [end - start])]


@irdl_op_definition
class SizeOp(GraphOp):
    """The input's element count as a 0-d i64 tensor."""

    name = "graph.size"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure(), ShapeOnly(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        return [TensorType(i64, [])]


@irdl_op_definition
class RangeOp(GraphOp):
    """`start, start + delta, ...` below `limit`, from three 0-d operands; the length is the
    result type's, so the importer only builds it when the operands are known."""

    name = "graph.range"
    start = operand_def(TensorType)
    limit = operand_def(TensorType)
    delta = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$start `,` $limit `,` $delta attr-dict `:` "
        "`(` type($start) `,` type($limit) `,` type($delta) `)` `->` type($result)"
    )

    def verify_(self) -> None:
        types = [o.type for o in self.operands]
        if any(t.get_num_dims() != 0 for t in types):
            fail(self, "expects 0-d start, limit and delta, got " + ", ".join(str(t) for t in types))
        elem = expect_same_element_type(self, types)
        if self.result.type.element_type != elem or self.result.type.get_num_dims() != 1:
            fail(self, f"expects a 1-d result of {elem}, got {self.result.type}")


@irdl_op_definition
class ConstantOfShapeOp(GraphOp):
    """A tensor of the result type filled with `value` (typed as the element type):
    `graph.constant_of_shape {value = 0.0 : f32} : tensor<2x3xf32>`."""

    name = "graph.constant_of_shape"
    value = prop_def(base(IntegerAttr) | base(FloatAttr))
    result = result_def(TensorType)
    traits = traits_def(Pure(), MovesData())
    assembly_format = "attr-dict `:` type($result)"

    def verify_(self) -> None:
        if self.value.type != self.result.type.element_type:
            fail(self, f"expects value of type {self.result.type.element_type}, got {self.value.type}")


__all__ = [
    "ConstantOfShapeOp",
    "RangeOp",
    "ShapeOp",
    "SizeOp",
]
