"""Neural-network ops: convolution, pooling, normalisation.

Every spatial op is NCHW (N, C, *spatial) with ONNX semantics. `pads` holds all begins
then all ends; `auto_pad`, ConvTranspose's `output_shape` and the opset-dependent defaults
are resolved by the importer, so the IR always states explicit values.

Convolution, pooling and batch/instance norm also have a channels-last form, written
`layout = "NHWC"`; `layout.py` says what it means and holds the helpers that read it.
Matrix products and softmax live in `linalg.py`.
"""

from __future__ import annotations

from typing import ClassVar

from xdsl.dialects.builtin import I64, DenseArrayBase, FloatAttr, IntegerAttr, StringAttr, TensorType, f32, i64
from xdsl.ir import SSAValue
from xdsl.irdl import (
    AttrSizedOperandSegments,
    AttrSizedResultSegments,
    ParsePropInAttrDict,
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    opt_result_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from dialects.dtypes import is_integer
from dialects.graph.base import (
    GraphOp,
    broadcast_shapes,
    expect_channel_vector,
    expect_float,
    expect_rank,
    expect_same_element_type,
    fail,
    int_of,
    ints,
    normalize_axis,
)
from dialects.graph.layout import is_channels_last, layout_aware


def conv_output_size(size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int) -> int:
    return (size + pad_begin + pad_end - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(
    size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int, output_padding: int
) -> int:
    return stride * (size - 1) + output_padding + dilation * (kernel - 1) + 1 - pad_begin - pad_end


def pool_output_size(
    size: int, kernel: int, stride: int, pad_begin: int, pad_end: int, dilation: int, ceil_mode: bool
) -> int:
    """ONNX pooling output size. With ceil_mode a last, partial window is kept, but only
    if it starts inside the input or its begin padding (as onnxruntime and PyTorch do)."""
    span = size + pad_begin + pad_end - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + pad_begin:
        out -= 1
    return out


_LOWEST = {"pads": 0, "output_padding": 0}
"""Smallest allowed entry of each per-axis property; the others (strides, ...) start at 1."""


def _expect_spatial_props(op, x: TensorType, props, names: tuple[str, ...]) -> int:
    """Check that each per-axis property has one entry per spatial axis (`pads` two: all
    begins, then all ends) and that no entry is below its minimum."""
    spatial = x.get_num_dims() - 2
    for name in (*names, "pads"):
        values = ints(props[name])
        want = 2 * spatial if name == "pads" else spatial
        if len(values) != want:
            fail(op, f"expects {want} {name} for input {x}, got {len(values)}")
        lowest = _LOWEST.get(name, 1)
        if any(v < lowest for v in values):
            fail(op, f"expects {name} to be at least {lowest}, got {list(values)}")
    return spatial


def _nonempty(op, x: TensorType, shape: list[int]) -> list[int]:
    if min(shape) < 1:
        fail(op, f"produces an empty output for input {x}")
    return shape


# --- convolution -----------------------------------------------------------


class _ConvBase(GraphOp):
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

    PER_AXIS: ClassVar[tuple[str, ...]] = ("strides", "dilations")

    @classmethod
    def _check_operands(cls, types, props) -> int:
        x, w = types[0], types[1]
        expect_rank(cls, "input", x, 3, 4, 5)
        expect_rank(cls, "weight", w, x.get_num_dims())
        expect_same_element_type(cls, types)
        if int_of(props["group"]) < 1:
            fail(cls, f"expects group to be at least 1, got {int_of(props['group'])}")
        return _expect_spatial_props(cls, x, props, cls.PER_AXIS)


@irdl_op_definition
class ConvOp(_ConvBase):
    """N-d convolution. The weight is (M, C/group, *kernel); (M, *kernel, C/group) with
    `layout = "NHWC"`."""

    name = "graph.conv"
    layout = opt_prop_def(StringAttr)

    @classmethod
    @layout_aware(0, 1)
    def infer(cls, types, props):
        spatial = cls._check_operands(types, props)
        x, w = types[0], types[1]
        strides, dilations, pads = ints(props["strides"]), ints(props["dilations"]), ints(props["pads"])
        group = int_of(props["group"])
        n, c = x.get_shape()[:2]
        m, c_per_group = w.get_shape()[:2]
        if c % group or m % group or c // group != c_per_group:
            fail(cls, f"expects weight {w} to have {c}/{group} input channels per group, got {c_per_group}")
        if len(types) == 3:
            expect_channel_vector(cls, "bias", types[2], m)
        out = [
            conv_output_size(x.get_shape()[2 + i], w.get_shape()[2 + i], strides[i], pads[i], pads[spatial + i], dilations[i])
            for i in range(spatial)
        ]
        if min(out) < 1:
            fail(cls, f"produces an empty output for input {x} and weight {w}")
        return [TensorType(x.element_type, [n, m, *out])]


@irdl_op_definition
class ConvTransposeOp(_ConvBase):
    """N-d transposed convolution (the gradient of `graph.conv`). The weight is
    (C, M/group, *kernel). `output_padding` appends to the end of each spatial axis;
    the importer folds ONNX's `output_shape` into `pads` and `output_padding`."""

    name = "graph.conv_transpose"
    output_padding = prop_def(DenseArrayBase[I64])

    PER_AXIS: ClassVar[tuple[str, ...]] = ("strides", "dilations", "output_padding")

    @classmethod
    def infer(cls, types, props):
        spatial = cls._check_operands(types, props)
        x, w = types[0], types[1]
        strides, dilations, pads = ints(props["strides"]), ints(props["dilations"]), ints(props["pads"])
        output_padding, group = ints(props["output_padding"]), int_of(props["group"])
        n, c = x.get_shape()[:2]
        if w.get_shape()[0] != c or c % group:
            fail(cls, f"expects weight {w} to have {c} input channels in {group} group(s), got {w.get_shape()[0]}")
        m = w.get_shape()[1] * group
        if len(types) == 3:
            expect_channel_vector(cls, "bias", types[2], m)
        out = [
            conv_transpose_output_size(
                x.get_shape()[2 + i], w.get_shape()[2 + i], strides[i], pads[i], pads[spatial + i], dilations[i], output_padding[i]
            )
            for i in range(spatial)
        ]
        if min(out) < 1:
            fail(cls, f"produces an empty output for input {x} and weight {w}")
        return [TensorType(x.element_type, [n, m, *out])]


# --- optional results ------------------------------------------------------


def _make_with_optional_results(cls, operands, props, present: bool):
    """Create `cls`, whose `infer` gives every result it can produce with the optional
    ones last (one optional group each), with or without those optional results."""
    props = {k: v for k, v in (props or {}).items() if v is not None}
    required, *optional = cls.infer([SSAValue.get(o).type for o in operands if o is not None], props)
    return cls(operands=list(operands), result_types=[required, *([t] if present else [] for t in optional)], properties=props)


def _verify_present_results(op) -> None:
    """The results `op` has must be the first of those its `infer` gives."""
    expected = type(op).infer([o.type for o in op.operands], op.properties)[: len(op.results)]
    actual = [r.type for r in op.results]
    if actual != expected:
        fail(op, f"expects result type {', '.join(map(str, expected))}, got {', '.join(map(str, actual))}")


# --- pooling ---------------------------------------------------------------


class _PoolBase(GraphOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    kernel_shape = prop_def(DenseArrayBase[I64])
    strides = prop_def(DenseArrayBase[I64])
    pads = prop_def(DenseArrayBase[I64])
    dilations = prop_def(DenseArrayBase[I64])
    ceil_mode = prop_def(IntegerAttr[I64])
    layout = opt_prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    INTEGERS: ClassVar[bool] = False
    """Whether integer inputs are accepted too (ONNX MaxPool takes int8 and uint8)."""

    @classmethod
    @layout_aware(0)
    def infer(cls, types, props):
        x = types[0]
        expect_rank(cls, "input", x, 3, 4, 5)
        if not (cls.INTEGERS and is_integer(x.element_type)):
            expect_float(cls, x)
        spatial = _expect_spatial_props(cls, x, props, ("kernel_shape", "strides", "dilations"))
        kernel, strides, dilations = ints(props["kernel_shape"]), ints(props["strides"]), ints(props["dilations"])
        pads, ceil_mode = ints(props["pads"]), bool(int_of(props["ceil_mode"]))
        out = [
            pool_output_size(x.get_shape()[2 + i], kernel[i], strides[i], pads[i], pads[spatial + i], dilations[i], ceil_mode)
            for i in range(spatial)
        ]
        return [TensorType(x.element_type, _nonempty(cls, x, [*x.get_shape()[:2], *out]))]


@irdl_op_definition
class MaxPoolOp(_PoolBase):
    """Max over each window; padding never wins. The optional `indices` result (i64, the
    result's shape) holds where each maximum is, the first in window order on ties, as a
    flat index into the input: ((n * C + c) * H + h) * W + w, or with `storage_order = 1`
    column-major spatial positions, (n * C + c) * H * W + w * H + h. `storage_order`
    (ONNX's attribute) is given exactly when `indices` is."""

    name = "graph.max_pool"
    result = result_def(TensorType)  # restated so that it stays the first result
    indices = opt_result_def(TensorType)
    storage_order = opt_prop_def(IntegerAttr[I64])
    assembly_format = "$input attr-dict `:` type($input) `->` type($result) (`,` type($indices)^)?"
    INTEGERS: ClassVar[bool] = True

    @classmethod
    def make(cls, operands, props=None, indices: bool = False) -> MaxPoolOp:
        return _make_with_optional_results(cls, operands, props, indices)

    @classmethod
    def infer(cls, types, props):
        (y,) = super().infer(types, props)
        return [y, TensorType(i64, y.get_shape())]

    def verify_(self) -> None:
        if (self.indices is None) != (self.storage_order is None):
            fail(self, "expects storage_order exactly when it has the indices result")
        if self.storage_order is not None and int_of(self.storage_order) not in (0, 1):
            fail(self, f"expects storage_order 0 (row major) or 1 (column major), got {int_of(self.storage_order)}")
        if self.indices is not None and is_channels_last(self):
            fail(self, "has no channels-last form with the indices result (its indices are channels-first positions)")
        _verify_present_results(self)


@irdl_op_definition
class AveragePoolOp(_PoolBase):
    """Mean over each window. With `count_include_pad` the explicit pads count in the
    divisor; the overhang that `ceil_mode` adds never does."""

    name = "graph.average_pool"
    count_include_pad = prop_def(IntegerAttr[I64])


class _GlobalPoolBase(GraphOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    layout = opt_prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    @classmethod
    @layout_aware(0)
    def infer(cls, types, props):
        x = types[0]
        if x.get_num_dims() < 3:
            fail(cls, f"expects input of rank at least 3 (N, C, spatial...), got {x}")
        expect_float(cls, x)
        return [TensorType(x.element_type, [*x.get_shape()[:2], *[1] * (x.get_num_dims() - 2)])]


@irdl_op_definition
class GlobalAveragePoolOp(_GlobalPoolBase):
    name = "graph.global_average_pool"


@irdl_op_definition
class GlobalMaxPoolOp(_GlobalPoolBase):
    name = "graph.global_max_pool"


# --- normalisation ---------------------------------------------------------


@irdl_op_definition
class BatchNormOp(GraphOp):
    """Inference-mode batch normalisation with running statistics:
    `(x - mean) / sqrt(var + epsilon) * scale + bias`, per channel (axis 1, or the last
    axis with `layout = "NHWC"`)."""

    name = "graph.batch_norm"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    bias = operand_def(TensorType)
    mean = operand_def(TensorType)
    var = operand_def(TensorType)
    result = result_def(TensorType)
    epsilon = prop_def(FloatAttr)
    layout = opt_prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `,` $scale `,` $bias `,` $mean `,` $var attr-dict `:` functional-type(operands, results)"

    @classmethod
    @layout_aware(0)
    def infer(cls, types, props):
        x = types[0]
        if x.get_num_dims() < 2:
            fail(cls, f"expects input of rank at least 2 (N, C, ...), got {x}")
        expect_float(cls, x)
        expect_same_element_type(cls, types)
        for what, t in zip(("scale", "bias", "mean", "var"), types[1:]):
            expect_channel_vector(cls, what, t, x.get_shape()[1])
        return [x]


@irdl_op_definition
class InstanceNormOp(GraphOp):
    """Normalise each (n, c) plane over its spatial axes, then scale and shift per channel."""

    name = "graph.instance_norm"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    bias = operand_def(TensorType)
    result = result_def(TensorType)
    epsilon = prop_def(FloatAttr)
    layout = opt_prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `,` $scale `,` $bias attr-dict `:` functional-type(operands, results)"

    @classmethod
    @layout_aware(0)
    def infer(cls, types, props):
        x = types[0]
        if x.get_num_dims() < 3:
            fail(cls, f"expects input of rank at least 3 (N, C, spatial...), got {x}")
        expect_float(cls, x)
        expect_same_element_type(cls, types)
        for what, t in zip(("scale", "bias"), types[1:]):
            expect_channel_vector(cls, what, t, x.get_shape()[1])
        return [x]


@irdl_op_definition
class LayerNormOp(GraphOp):
    """Normalise over the axes from `axis` to the last, then scale (and shift); scale and
    bias broadcast to those axes.

    It may also return the statistics ONNX saves for training, `mean` and `inv_std_dev`
    (1 / sqrt(variance + epsilon)): both or neither, f32 (ONNX's stash_type 1, the only
    one optc imports), of the input's shape with each normalized axis 1. `infer` gives all
    three result types; `make(..., statistics=True)` creates the op with all three."""

    name = "graph.layer_norm"
    input = operand_def(TensorType)
    scale = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)
    mean = opt_result_def(TensorType)
    inv_std_dev = opt_result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    epsilon = prop_def(FloatAttr)
    traits = traits_def(Pure())
    irdl_options = (
        ParsePropInAttrDict(),
        AttrSizedOperandSegments(as_property=True),
        AttrSizedResultSegments(as_property=True),
    )
    assembly_format = (
        "$input `,` $scale (`,` $bias^)? attr-dict `:` "
        "`(` type($input) `,` type($scale) (`,` type($bias)^)? `)` `->` type($result)"
        "(`,` type($mean)^ `,` type($inv_std_dev))?"
    )

    @classmethod
    def make(cls, operands, props=None, statistics: bool = False) -> LayerNormOp:
        return _make_with_optional_results(cls, operands, props, statistics)

    @classmethod
    def infer(cls, types, props):
        x = types[0]
        expect_float(cls, x)
        expect_same_element_type(cls, types)
        axis = normalize_axis(cls, int_of(props["axis"]), x.get_num_dims())
        normalized = x.get_shape()[axis:]
        for what, t in zip(("scale", "bias"), types[1:]):
            if broadcast_shapes(cls, normalized, t.get_shape()) != normalized:
                fail(cls, f"expects {what} to broadcast to the normalized shape {'x'.join(map(str, normalized))}, got {t}")
        stats = TensorType(f32, [*x.get_shape()[:axis], *[1] * len(normalized)])
        return [x, stats, stats]

    def verify_(self) -> None:
        if (self.mean is None) != (self.inv_std_dev is None):
            fail(self, "expects both mean and inv_std_dev results or neither")
        _verify_present_results(self)


__all__ = [
    "AveragePoolOp",
    "BatchNormOp",
    "ConvOp",
    "ConvTransposeOp",
    "GlobalAveragePoolOp",
    "GlobalMaxPoolOp",
    "InstanceNormOp",
    "LayerNormOp",
    "MaxPoolOp",
]
