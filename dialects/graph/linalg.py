"""Matrix products and softmax: the dense layers and attention of transformers and MLPs.

`graph-matmul-bias` folds a linear layer's bias into `graph.matmul`; the fusion passes
build attention (`fused.attention`) and epilogues (`fused.matmul`) from these ops.
"""

from __future__ import annotations

from xdsl.dialects.builtin import I64, FloatAttr, IntegerAttr, TensorType
from xdsl.irdl import (
    AttrSizedOperandSegments,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from dialects.graph.base import (
    GraphOp,
    UnaryOp,
    broadcast_shapes,
    expect_channel_vector,
    expect_float,
    expect_rank,
    expect_same_element_type,
    fail,
    int_of,
    normalize_axis,
)


# --- softmax ---------------------------------------------------------------


class _SoftmaxBase(UnaryOp):
    """Normalise along one axis (ONNX opset 13 semantics; the importer rewrites the
    older flatten-to-2-D form with reshapes)."""

    axis = prop_def(IntegerAttr[I64])

    @classmethod
    def infer(cls, types, props):
        expect_float(cls, types[0])
        normalize_axis(cls, int_of(props["axis"]), types[0].get_num_dims())
        return [types[0]]


@irdl_op_definition
class SoftmaxOp(_SoftmaxBase):
    name = "graph.softmax"


@irdl_op_definition
class LogSoftmaxOp(_SoftmaxBase):
    name = "graph.log_softmax"


# --- matrix products -------------------------------------------------------


@irdl_op_definition
class GemmOp(GraphOp):
    """`alpha * op(a) @ op(b) + beta * c`, op = transpose when trans_a / trans_b is 1;
    c broadcasts to the (M, N) result."""

    name = "graph.gemm"
    a = operand_def(TensorType)
    b = operand_def(TensorType)
    c = opt_operand_def(TensorType)
    result = result_def(TensorType)
    alpha = prop_def(FloatAttr)
    beta = prop_def(FloatAttr)
    trans_a = prop_def(IntegerAttr[I64])
    trans_b = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = "$a `,` $b (`,` $c^)? attr-dict `:` `(` type($a) `,` type($b) (`,` type($c)^)? `)` `->` type($result)"

    @classmethod
    def infer(cls, types, props):
        a, b = types[0], types[1]
        expect_rank(cls, "a", a, 2)
        expect_rank(cls, "b", b, 2)
        expect_same_element_type(cls, types)
        m, k = a.get_shape()[:: -1 if int_of(props["trans_a"]) else 1]
        k2, n = b.get_shape()[:: -1 if int_of(props["trans_b"]) else 1]
        if k != k2:
            fail(cls, f"expects matching inner dimensions, got {k} and {k2} for {a} and {b}")
        if len(types) == 3 and broadcast_shapes(cls, types[2].get_shape(), (m, n)) != (m, n):
            fail(cls, f"expects c to broadcast to {m}x{n}, got {types[2]}")
        return [TensorType(a.element_type, [m, n])]


@irdl_op_definition
class MatMulOp(GraphOp):
    """numpy `matmul`: batch dimensions broadcast; a 1-D operand is a vector whose
    dimension disappears from the result. The optional `bias`, a vector over the columns
    of `rhs` (the result's last axis), is added to every row: a linear layer's bias, which
    `graph-matmul-bias` folds in from a following `graph.add`."""

    name = "graph.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = (
        "$lhs `,` $rhs (`,` $bias^)? attr-dict `:` "
        "`(` type($lhs) `,` type($rhs) (`,` type($bias)^)? `)` `->` type($result)"
    )

    @classmethod
    def make(cls, operands, props=None) -> MatMulOp:
        """`MatMulOp.make([a, b])` is the plain product; `[a, b, bias]` adds the bias."""
        operands = list(operands)
        return super().make(operands + [None] * (3 - len(operands)), props)

    @classmethod
    def infer(cls, types, props):
        a, b = types[:2]
        elem = expect_same_element_type(cls, types)
        if a.get_num_dims() == 0 or b.get_num_dims() == 0:
            fail(cls, f"expects operands of rank at least 1, got {a} and {b}")
        a_shape = (1, *a.get_shape()) if a.get_num_dims() == 1 else a.get_shape()
        b_shape = (*b.get_shape(), 1) if b.get_num_dims() == 1 else b.get_shape()
        if a_shape[-1] != b_shape[-2]:
            fail(cls, f"expects matching inner dimensions, got {a_shape[-1]} and {b_shape[-2]} for {a} and {b}")
        if len(types) == 3:
            if b.get_num_dims() == 1:
                fail(cls, f"expects a bias only with a matrix rhs, got {b}")
            expect_channel_vector(cls, "bias", types[2], b_shape[-1])
        batch = broadcast_shapes(cls, a_shape[:-2], b_shape[:-2])
        rows = [a_shape[-2]] if a.get_num_dims() > 1 else []
        cols = [b_shape[-1]] if b.get_num_dims() > 1 else []
        return [TensorType(elem, [*batch, *rows, *cols])]


__all__ = [
    "GemmOp",
    "LogSoftmaxOp",
    "MatMulOp",
    "SoftmaxOp",
]
