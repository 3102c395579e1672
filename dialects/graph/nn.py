"""Neural-network ops: convolution, pooling, normalisation, matrix products, softmax."""

from __future__ import annotations

from xdsl.dialects.builtin import I64, DenseArrayBase, IntegerAttr, TensorType
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
    expect_rank,
    expect_same_element_type,
    fail,
    int_of,
    ints,
)


def conv_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int) -> int:
    return (size + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1


@irdl_op_definition
class ConvOp(GraphOp):
    """N-d convolution, NCHW, ONNX semantics. `pads` holds all begins then all ends;
    auto_pad is resolved to explicit pads by the importer."""

    name = "graph.conv"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)
    strides = prop_def(DenseArrayBase[I64])
    pads = prop_def(DenseArrayBase[I64])
    dilations = prop_def(DenseArrayBase[I64])
    group = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(), AttrSizedOperandSegments(as_property=True))
    assembly_format = (
        "$input `,` $weight (`,` $bias^)? attr-dict `:` "
        "`(` type($input) `,` type($weight) (`,` type($bias)^)? `)` `->` type($result)"
    )

    @classmethod
    def infer(cls, types, props):
        x, w = types[0], types[1]
        expect_rank(cls, "input", x, 3, 4, 5)
        expect_rank(cls, "weight", w, x.get_num_dims())
        expect_same_element_type(cls, types)
        spatial = x.get_num_dims() - 2
        strides, dilations = ints(props["strides"]), ints(props["dilations"])
        pads, group = ints(props["pads"]), int_of(props["group"])
        if len(strides) != spatial or len(dilations) != spatial or len(pads) != 2 * spatial:
            fail(cls, f"expects {spatial} strides and dilations and {2 * spatial} pads for input {x}")
        n, c = x.get_shape()[:2]
        m, c_per_group = w.get_shape()[:2]
        if group < 1 or c % group or m % group or c // group != c_per_group:
            fail(cls, f"expects weight {w} to have {c}/{group} input channels per group, got {c_per_group}")
        if len(types) == 3 and types[2].get_shape() != (m,):
            fail(cls, f"expects bias of shape {m}, got {types[2]}")
        out = [
            conv_output_size(x.get_shape()[2 + i], w.get_shape()[2 + i], strides[i], pads[i], pads[spatial + i], dilations[i])
            for i in range(spatial)
        ]
        if min(out) < 1:
            fail(cls, f"produces an empty output for input {x} and weight {w}")
        return [TensorType(x.element_type, [n, m, *out])]
