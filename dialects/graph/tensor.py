"""Data-movement ops: reshape, transpose, concatenation, slicing, padding, gathers, ...

Inputs that decide a result's shape (Reshape's shape, Slice's starts, ...) are
compile-time constants in ONNX models with fixed input shapes; the importer turns them
into properties, so every shape in the graph dialect is static. Properties are stored
normalised (axes non-negative, one entry per dimension where ONNX allows a subset), so
later passes never re-derive ONNX's defaulting rules.

Reshape, Flatten, Squeeze and Unsqueeze only relabel dimensions. Each keeps its own op so
imported IR reads like the model; canonicalisation may rewrite them to `graph.reshape`.
Reductions live in `reduction.py`, Resize in `resize.py`, and Shape, Size, Range and
ConstantOfShape, whose results are not the input's elements, in `generate.py`.
"""

from __future__ import annotations

import math
from typing import ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    i32,
    i64,
)
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure

from dialects.graph.base import (
    FreeView,
    GraphOp,
    MovesData,
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
    traits = traits_def(Pure(), MovesData(), FreeView())
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
    traits = traits_def(Pure(), MovesData(), FreeView())
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
    traits = traits_def(Pure(), MovesData(), FreeView())
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
    traits = traits_def(Pure(), MovesData(), FreeView())
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


__all__ = [
    "ConcatOp",
    "ExpandOp",
    "FlattenOp",
    "GatherElementsOp",
    "GatherOp",
    "PadOp",
    "ReshapeOp",
    "SliceOp",
    "SplitOp",
    "SqueezeOp",
    "TileOp",
    "TransposeOp",
    "UnsqueezeOp",
]
