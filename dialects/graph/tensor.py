"""Data-movement and shape ops: reshape, transpose, slicing, gathers, reductions, ...

Inputs that decide a result's shape (Reshape's shape, Slice's starts, ...) are
compile-time constants in ONNX models with fixed input shapes; the importer turns them
into properties, so every shape in the graph dialect is static. Properties are stored
normalised (axes non-negative, one entry per dimension where ONNX allows a subset), so
later passes never re-derive ONNX's defaulting rules.

Reshape, Flatten, Squeeze and Unsqueeze only relabel dimensions. Each keeps its own op so
imported IR reads like the model; canonicalisation may rewrite them to `graph.reshape`.
Reductions live in `reduction.py`.
"""

from __future__ import annotations

import math
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    Float32Type,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i32,
    i64,
)
from xdsl.irdl import (
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure

from dialects.graph.base import (
    GraphOp,
    MovesData,
    ShapeOnly,
    broadcast_shapes,
    expect_rank,
    expect_same_element_type,
    fail,
    int_of,
    ints,
    str_of,
)

_UNARY_FORMAT = "$input attr-dict `:` type($input) `->` type($result)"
_DATA_INDICES_FORMAT = "$data `,` $indices attr-dict `:` `(` type($data) `,` type($indices) `)` `->` type($result)"


def _axis(op, props, rank: int) -> int:
    """A stored axis is already normalised to [0, rank): the importer resolves negatives."""
    value = int_of(props["axis"])
    if not 0 <= value < rank:
        fail(op, f"expects axis in [0, {rank}), got {value}")
    return value


def _expect_same_type_but_shape(op, src: TensorType, dst: TensorType) -> None:
    if src.element_type != dst.element_type or src.get_num_dims() != dst.get_num_dims():
        fail(op, f"expects a result of the input's rank and element type, got {src} -> {dst}")


def _expect_index_type(op, t: TensorType) -> None:
    if t.element_type not in (i32, i64):
        fail(op, f"expects indices of type i32 or i64, got {t}")


# --- shape relabelling -------------------------------------------------------


@irdl_op_definition
class ReshapeOp(GraphOp):
    """`%y = graph.reshape %x : tensor<2x3xf32> -> tensor<6xf32>`: the shape is the result type's."""

    name = "graph.reshape"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    def verify_(self) -> None:
        src, dst = self.input.type, self.result.type
        if src.element_type != dst.element_type or math.prod(src.get_shape()) != math.prod(dst.get_shape()):
            fail(self, f"cannot reshape {src} to {dst}: element counts or types differ")


def _relabel(cls, x: TensorType, shape: list[int]) -> list[TensorType]:
    return [TensorType(x.element_type, shape)]


def _distinct_axes(cls, axes: tuple[int, ...], rank: int) -> None:
    if list(axes) != sorted(set(axes)) or any(not 0 <= a < rank for a in axes):
        fail(cls, f"expects sorted, distinct axes in [0, {rank}), got {list(axes)}")


@irdl_op_definition
class FlattenOp(GraphOp):
    """Dimensions before `axis` become the first, the rest the second: `graph.flatten %x {axis = 1 : i64}`."""

    name = "graph.flatten"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x, axis = types[0], int_of(props["axis"])
        if not 0 <= axis <= x.get_num_dims():
            fail(cls, f"expects axis in [0, {x.get_num_dims()}], got {axis}")
        shape = x.get_shape()
        return _relabel(cls, x, [math.prod(shape[:axis]), math.prod(shape[axis:])])


@irdl_op_definition
class SqueezeOp(GraphOp):
    """Drop the size-1 dimensions listed in `axes` (sorted, non-negative)."""

    name = "graph.squeeze"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x, axes = types[0], ints(props["axes"])
        _distinct_axes(cls, axes, x.get_num_dims())
        wide = [a for a in axes if x.get_shape()[a] != 1]
        if wide:
            fail(cls, f"cannot squeeze axes {wide} of {x}: their size is not 1")
        return _relabel(cls, x, [d for i, d in enumerate(x.get_shape()) if i not in axes])


@irdl_op_definition
class UnsqueezeOp(GraphOp):
    """Insert size-1 dimensions at `axes`, which index the result (sorted, non-negative)."""

    name = "graph.unsqueeze"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    axes = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x, axes = types[0], ints(props["axes"])
        rank = x.get_num_dims() + len(axes)
        _distinct_axes(cls, axes, rank)
        rest = iter(x.get_shape())
        return _relabel(cls, x, [1 if i in axes else next(rest) for i in range(rank)])


@irdl_op_definition
class TransposeOp(GraphOp):
    name = "graph.transpose"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    perm = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x, perm = types[0], ints(props["perm"])
        if sorted(perm) != list(range(x.get_num_dims())):
            fail(cls, f"expects perm to be a permutation of 0..{x.get_num_dims() - 1}, got {list(perm)}")
        return [TensorType(x.element_type, [x.get_shape()[p] for p in perm])]


@irdl_op_definition
class ExpandOp(GraphOp):
    """Broadcast to the result type's shape: `graph.expand %x : tensor<3x1xf32> -> tensor<2x3x4xf32>`."""

    name = "graph.expand"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    def verify_(self) -> None:
        src, dst = self.input.type, self.result.type
        shape = broadcast_shapes(self, src.get_shape(), dst.get_shape())
        if src.element_type != dst.element_type or shape != tuple(dst.get_shape()):
            fail(self, f"cannot broadcast {src} to {dst}")


@irdl_op_definition
class TileOp(GraphOp):
    name = "graph.tile"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    repeats = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    @classmethod
    def infer(cls, types, props):
        x, repeats = types[0], ints(props["repeats"])
        if len(repeats) != x.get_num_dims() or min(repeats, default=0) < 0:
            fail(cls, f"expects {x.get_num_dims()} non-negative repeats for {x}, got {list(repeats)}")
        return [TensorType(x.element_type, [d * r for d, r in zip(x.get_shape(), repeats)])]


# --- joining and cutting -------------------------------------------------------


@irdl_op_definition
class ConcatOp(GraphOp):
    """`graph.concat %a, %b {axis = 0 : i64} : (tensor<2xf32>, tensor<3xf32>) -> tensor<5xf32>`."""

    name = "graph.concat"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = "$inputs attr-dict `:` `(` type($inputs) `)` `->` type($result)"

    @classmethod
    def make(cls, operands, props=None) -> ConcatOp:
        """The inputs form one variadic operand group."""
        result_types = cls.infer([v.type for v in operands], props)
        return cls(operands=[list(operands)], result_types=result_types, properties=dict(props))

    @classmethod
    def infer(cls, types, props):
        if not types:
            fail(cls, "expects at least one input")
        elem = expect_same_element_type(cls, types)
        first = types[0].get_shape()
        axis = _axis(cls, props, len(first))
        for t in types[1:]:
            shape = t.get_shape()
            if len(shape) != len(first) or any(a != b for i, (a, b) in enumerate(zip(shape, first)) if i != axis):
                fail(cls, f"expects inputs to agree on all dimensions but {axis}, got {types[0]} and {t}")
        out = list(first)
        out[axis] = sum(t.get_shape()[axis] for t in types)
        return [TensorType(elem, out)]


@irdl_op_definition
class SplitOp(GraphOp):
    """`%a, %b = graph.split %x {axis = 0 : i64, split = array<i64: 2, 3>} : tensor<5xf32> -> tensor<2xf32>, tensor<3xf32>`."""

    name = "graph.split"
    input = operand_def(TensorType)
    outputs = var_result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    split = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = "$input attr-dict `:` type($input) `->` type($outputs)"

    @classmethod
    def make(cls, operands, props=None) -> SplitOp:
        """The results form one variadic result group."""
        return cls(operands=list(operands), result_types=[cls.infer([operands[0].type], props)], properties=dict(props))

    @classmethod
    def infer(cls, types, props):
        x = types[0]
        axis, split = _axis(cls, props, x.get_num_dims()), ints(props["split"])
        if not split or min(split) < 0 or sum(split) != x.get_shape()[axis]:
            fail(cls, f"expects split sizes summing to dimension {axis} of {x}, got {list(split)}")
        shape = list(x.get_shape())
        return [TensorType(x.element_type, shape[:axis] + [s] + shape[axis + 1 :]) for s in split]


@irdl_op_definition
class SliceOp(GraphOp):
    """Strided slice, one start and one step per dimension; the sizes are the result type's.
    `starts` are in range and `steps` non-zero (negative steps walk backwards):
    `graph.slice %x {starts = array<i64: 3>, steps = array<i64: -2>} : tensor<5xf32> -> tensor<2xf32>`."""

    name = "graph.slice"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    starts = prop_def(DenseArrayBase[I64])
    steps = prop_def(DenseArrayBase[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _UNARY_FORMAT

    def verify_(self) -> None:
        src, dst = self.input.type, self.result.type
        _expect_same_type_but_shape(self, src, dst)
        starts, steps = ints(self.starts), ints(self.steps)
        if len(starts) != src.get_num_dims() or len(steps) != src.get_num_dims():
            fail(self, f"expects one start and one step per dimension of {src}")
        for axis, (dim, size, start, step) in enumerate(zip(src.get_shape(), dst.get_shape(), starts, steps)):
            last = start + step * (size - 1)
            if step == 0 or (size > 0 and not (0 <= start < dim and 0 <= last < dim)):
                fail(self, f"reads outside dimension {axis} of {src}: start {start}, step {step}, size {size}")


@irdl_op_definition
class PadOp(GraphOp):
    """`pads` holds all begins then all ends, one per dimension; negative pads crop.
    `mode` is constant, reflect, edge or wrap; `value` fills in constant mode."""

    name = "graph.pad"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    pads = prop_def(DenseArrayBase[I64])
    mode = prop_def(StringAttr)
    value = prop_def(FloatAttr)
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    MODES: ClassVar = ("constant", "reflect", "edge", "wrap")

    @classmethod
    def infer(cls, types, props):
        x, pads, mode = types[0], ints(props["pads"]), str_of(props["mode"])
        rank = x.get_num_dims()
        if mode not in cls.MODES:
            fail(cls, f"expects mode to be one of {', '.join(cls.MODES)}, got '{mode}'")
        if len(pads) != 2 * rank:
            fail(cls, f"expects {2 * rank} pads for {x}, got {len(pads)}")
        out = [d + pads[i] + pads[rank + i] for i, d in enumerate(x.get_shape())]
        if min(out, default=0) < 0:
            fail(cls, f"crops {x} below zero size with pads {list(pads)}")
        cropped = [d + min(pads[i], 0) + min(pads[rank + i], 0) for i, d in enumerate(x.get_shape())]
        if mode == "reflect" and any(max(pads[i], pads[rank + i]) >= c for i, c in enumerate(cropped)):
            fail(cls, f"expects reflect pads smaller than each dimension of {x}, got {list(pads)}")
        if mode != "constant" and any(c == 0 and o > 0 for c, o in zip(cropped, out)):
            fail(cls, f"cannot {mode}-pad an empty dimension of {x}")
        return [TensorType(x.element_type, out)]


# --- indexing -------------------------------------------------------------------


@irdl_op_definition
class GatherOp(GraphOp):
    """ONNX Gather: `indices` (any rank, negative counts from the end) pick slices along `axis`."""

    name = "graph.gather"
    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _DATA_INDICES_FORMAT

    @classmethod
    def infer(cls, types, props):
        data, indices = types
        _expect_index_type(cls, indices)
        shape = list(data.get_shape())
        axis = _axis(cls, props, len(shape))
        return [TensorType(data.element_type, shape[:axis] + list(indices.get_shape()) + shape[axis + 1 :])]


@irdl_op_definition
class GatherElementsOp(GraphOp):
    """ONNX GatherElements: `result[i][j] = data[indices[i][j]][j]` for axis 0 (likewise for any axis)."""

    name = "graph.gather_elements"
    data = operand_def(TensorType)
    indices = operand_def(TensorType)
    result = result_def(TensorType)
    axis = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure(), MovesData())
    assembly_format = _DATA_INDICES_FORMAT

    @classmethod
    def infer(cls, types, props):
        data, indices = types
        _expect_index_type(cls, indices)
        expect_rank(cls, "indices", indices, data.get_num_dims())
        _axis(cls, props, data.get_num_dims())
        return [TensorType(data.element_type, indices.get_shape())]


# --- resampling --------------------------------------------------------------------


@irdl_op_definition
class ResizeOp(GraphOp):
    """ONNX Resize, separable over every dimension: `nearest`, `linear` or `cubic` (Keys'
    kernel with `cubic_coeff_a`) sampling. `scales` map output to input coordinates; the
    output sizes are the result type's. `exclude_outside` drops (and renormalises away)
    the taps that fall outside the input instead of repeating its edge; `antialias`
    stretches the linear or cubic filter by 1 / scale when downsampling.
    With `coordinate_transformation_mode = "tf_crop_and_resize"` the output covers the
    region `roi` (all starts, then all ends, as fractions of each axis), and samples
    outside the input are `extrapolation_value`; `roi` is given exactly in that mode."""

    name = "graph.resize"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    scales = prop_def(DenseArrayBase[Float32Type])
    mode = prop_def(StringAttr)
    coordinate_transformation_mode = prop_def(StringAttr)
    nearest_mode = prop_def(StringAttr)
    cubic_coeff_a = prop_def(FloatAttr)
    exclude_outside = prop_def(IntegerAttr[I64])
    antialias = prop_def(IntegerAttr[I64])
    extrapolation_value = prop_def(FloatAttr)
    roi = opt_prop_def(DenseArrayBase[Float32Type])
    traits = traits_def(Pure())
    assembly_format = _UNARY_FORMAT

    MODES: ClassVar = ("nearest", "linear", "cubic")
    COORDINATE_MODES: ClassVar = (
        "half_pixel",
        "half_pixel_symmetric",
        "pytorch_half_pixel",
        "align_corners",
        "asymmetric",
        "tf_half_pixel_for_nn",
        "tf_crop_and_resize",
    )
    NEAREST_MODES: ClassVar = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")

    def verify_(self) -> None:
        src, dst = self.input.type, self.result.type
        _expect_same_type_but_shape(self, src, dst)
        for prop, allowed in (
            ("mode", self.MODES),
            ("coordinate_transformation_mode", self.COORDINATE_MODES),
            ("nearest_mode", self.NEAREST_MODES),
        ):
            if str_of(self.properties[prop]) not in allowed:
                fail(self, f"expects {prop} to be one of {', '.join(allowed)}, got '{str_of(self.properties[prop])}'")
        scales = self.scales.get_values()
        if len(scales) != src.get_num_dims() or min(scales, default=1.0) <= 0:
            fail(self, f"expects {src.get_num_dims()} positive scales for {src}, got {list(scales)}")
        self._verify_filter()
        self._verify_roi()

    def _verify_filter(self) -> None:
        for flag in ("exclude_outside", "antialias"):
            if int_of(self.properties[flag]) not in (0, 1):
                fail(self, f"expects {flag} to be 0 or 1, got {int_of(self.properties[flag])}")
            if int_of(self.properties[flag]) and str_of(self.mode) == "nearest":
                fail(self, f"expects {flag} only with mode linear or cubic")

    def _verify_roi(self) -> None:
        rank = self.input.type.get_num_dims()
        if (self.roi is not None) != (str_of(self.coordinate_transformation_mode) == "tf_crop_and_resize"):
            fail(self, "expects roi exactly when coordinate_transformation_mode is tf_crop_and_resize")
        if self.roi is not None and len(self.roi.get_values()) != 2 * rank:
            fail(self, f"expects roi of {2 * rank} values (starts, then ends) for rank {rank}, got {len(self.roi.get_values())}")


# --- shapes and generated tensors ------------------------------------------------------


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
    "ConcatOp",
    "ConstantOfShapeOp",
    "ExpandOp",
    "FlattenOp",
    "GatherElementsOp",
    "GatherOp",
    "PadOp",
    "RangeOp",
    "ReshapeOp",
    "ResizeOp",
    "ShapeOp",
    "SizeOp",
    "SliceOp",
    "SplitOp",
    "SqueezeOp",
    "TileOp",
    "TransposeOp",
    "UnsqueezeOp",
]
