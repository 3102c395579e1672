"""Importers for data-movement and shape ONNX ops.

Shape-deciding inputs (shapes, axes, pads, starts, scales, ...) must be known at import;
they are normalised here (negative axes resolved, ONNX defaults filled in, values
clamped as the spec says) so the graph ops carry explicit, checkable properties.
"""

from __future__ import annotations

import math

import numpy as np
from xdsl.dialects.builtin import DenseArrayBase, FloatAttr, IntegerAttr, TensorType, f32, f64
from xdsl.ir import SSAValue

from compiler.onnx_import.context import Node
from compiler.onnx_import.registry import importer
from dialects.dtypes import is_float, is_storage_float, mlir_elem_from_numpy
from dialects.errors import OptcError
from dialects.graph import (
    ArgMaxOp,
    ArgMinOp,
    ConcatOp,
    ConstantOfShapeOp,
    ExpandOp,
    FlattenOp,
    GatherElementsOp,
    GatherOp,
    PadOp,
    RangeOp,
    ReduceL2Op,
    ReduceMaxOp,
    ReduceMeanOp,
    ReduceMinOp,
    ReduceProdOp,
    ReduceSumOp,
    ReduceSumSquareOp,
    ReshapeOp,
    ResizeOp,
    ShapeOp,
    SizeOp,
    SliceOp,
    SplitOp,
    SqueezeOp,
    TileOp,
    TransposeOp,
    UnsqueezeOp,
)
from dialects.graph.base import broadcast_shapes, float_attr, i64_array, int_attr, str_attr

# --- helpers ---------------------------------------------------------------------


def _axis(node: Node, axis: int, rank: int) -> int:
    if not -rank <= axis < rank:
        node.fail(f"axis {axis} is out of range for rank {rank}")
    return axis % rank


def _axes(node: Node, axes, rank: int) -> list[int]:
    """Negative axes resolved against `rank`; repeats are an error, as in onnxruntime."""
    resolved = [_axis(node, int(a), rank) for a in axes]
    if len(set(resolved)) != len(resolved):
        node.fail(f"axes {list(axes)} repeat an axis")
    return resolved


def _shape(value) -> list[int]:
    return list(value.type.get_shape())


def _reshape(node: Node, x: SSAValue, shape) -> SSAValue:
    return node.emit(ReshapeOp(operands=[x], result_types=[TensorType(x.type.element_type, list(shape))]))


# --- shape relabelling ----------------------------------------------------------------


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
    return _reshape(node, x, shape)


@importer("Flatten")
def flatten(node: Node):
    x = node.input(0)
    rank, axis = x.type.get_num_dims(), node.attr("axis", 1)
    if not -rank <= axis <= rank:
        node.fail(f"axis {axis} is out of range for rank {rank}")
    return node.emit(FlattenOp.make([x], {"axis": int_attr(axis + rank if axis < 0 else axis)}))


@importer("Squeeze")
def squeeze(node: Node):
    """Axes are an attribute before opset 13 and an input from 13; none means every size-1 dim."""
    x = node.input(0)
    shape = _shape(x)
    axes = node.ints_from("axes", 1)
    axes = [i for i, d in enumerate(shape) if d == 1] if axes is None else _axes(node, axes, len(shape))
    return node.emit(SqueezeOp.make([x], {"axes": i64_array(sorted(axes))}))


@importer("Unsqueeze")
def unsqueeze(node: Node):
    """Axes (attribute before opset 13, input from 13) index the *output* shape."""
    x = node.input(0)
    axes = node.ints_from("axes", 1)
    if axes is None:
        node.fail("has no axes")
    axes = _axes(node, axes, x.type.get_num_dims() + len(axes))
    return node.emit(UnsqueezeOp.make([x], {"axes": i64_array(sorted(axes))}))


@importer("Transpose")
def transpose(node: Node):
    x = node.input(0)
    perm = node.attr("perm", list(reversed(range(x.type.get_num_dims()))))
    return node.emit(TransposeOp.make([x], {"perm": i64_array(perm)}))


@importer("Expand")
def expand(node: Node):
    """ONNX Expand broadcasts both ways: a 1 in `shape` keeps the input's dimension."""
    x = node.input(0)
    target = [int(d) for d in node.const_input(1, "shape")]
    out = broadcast_shapes(ExpandOp, _shape(x), target)
    return node.emit(ExpandOp(operands=[x], result_types=[TensorType(x.type.element_type, out)]))


@importer("Tile")
def tile(node: Node):
    repeats = node.const_input(1, "repeats").reshape(-1)
    return node.emit(TileOp.make([node.input(0)], {"repeats": i64_array(repeats)}))


# --- joining and cutting ------------------------------------------------------------


@importer("Concat")
def concat(node: Node):
    values = node.inputs()
    axis = _axis(node, node.attr("axis"), values[0].type.get_num_dims())
    return node.emit(ConcatOp.make(values, {"axis": int_attr(axis)}))


@importer("Split")
def split(node: Node):
    """Sizes come from `split` (attribute before 13, input from 13); without them the
    dimension is cut evenly into one piece per output, or from opset 18 into
    `num_outputs` pieces of ceil(dim / n) with a smaller last one."""
    x = node.input(0)
    axis = _axis(node, node.attr("axis", 0), x.type.get_num_dims())
    dim, count = _shape(x)[axis], len(node.proto.output)
    sizes = node.ints_from("split", 1)
    if sizes is None and node.has_attr("num_outputs"):
        count = node.attr("num_outputs")
        chunk = -(-dim // count)
        sizes = [chunk] * (count - 1) + [dim - chunk * (count - 1)]
    elif sizes is None:
        if dim % count:
            node.fail(f"cannot split dimension {axis} of {x.type} evenly into {count} outputs")
        sizes = [dim // count] * count
    if len(sizes) != len(node.proto.output) or min(sizes) < 0:
        node.fail(f"split sizes {sizes} do not give its {len(node.proto.output)} outputs")
    results = node.emit(SplitOp.make([x], {"axis": int_attr(axis), "split": i64_array(sizes)}))
    return results if isinstance(results, list) else [results]


def slice_bounds(start: int, end: int, step: int, dim: int) -> tuple[int, int]:
    """ONNX Slice's clamping of one axis: returns (normalised start, element count)."""
    start, end = start + dim if start < 0 else start, end + dim if end < 0 else end
    if step > 0:
        start, end = min(max(start, 0), dim), min(max(end, 0), dim)
    else:
        start, end = min(max(start, 0), dim - 1), min(max(end, -1), dim - 1)
    size = max(0, -(-(end - start) // step))
    return (start if size else 0), size


@importer("Slice")
def slice_(node: Node):
    """Opset 10+ form: starts, ends, optional axes and steps are inputs."""
    x = node.input(0)
    shape = _shape(x)
    starts = node.const_input(1, "starts").reshape(-1).tolist()
    ends = node.const_input(2, "ends").reshape(-1).tolist()
    axes = node.const_input(3, "axes").reshape(-1).tolist() if node.has_input(3) else list(range(len(starts)))
    steps = node.const_input(4, "steps").reshape(-1).tolist() if node.has_input(4) else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        node.fail(f"starts, ends, axes and steps differ in length ({len(starts)}, {len(ends)}, {len(axes)}, {len(steps)})")
    if 0 in steps:
        node.fail("steps must not be 0")
    full_starts, full_steps, sizes = [0] * len(shape), [1] * len(shape), list(shape)
    for axis, start, end, step in zip(_axes(node, axes, len(shape)), starts, ends, steps):
        full_starts[axis], sizes[axis] = slice_bounds(start, end, step, shape[axis])
        full_steps[axis] = step
    props = {"starts": i64_array(full_starts), "steps": i64_array(full_steps)}
    result = TensorType(x.type.element_type, sizes)
    return node.emit(SliceOp(operands=[x], result_types=[result], properties=props))


# Pad modes and the first opset that has each.
_PAD_MODES = {"constant": 11, "reflect": 11, "edge": 11, "wrap": 19}


@importer("Pad")
def pad(node: Node):
    """pads (input from opset 11), constant_value (input 2) and axes (input 3, opset 18)."""
    x = node.input(0)
    rank, mode = x.type.get_num_dims(), node.attr("mode", "constant")
    if mode not in _PAD_MODES or node.opset < _PAD_MODES[mode]:
        node.fail(f"mode '{mode}' is not supported at opset {node.opset} (supported: constant, reflect, edge; wrap from 19)")
    pads = node.ints_from("pads", 1)
    axes = node.const_input(3, "axes").reshape(-1).tolist() if node.has_input(3) else list(range(rank))
    axes = _axes(node, axes, rank)
    if pads is None or len(pads) != 2 * len(axes):
        node.fail(f"expects {2 * len(axes)} pads, got {pads}")
    full = [0] * (2 * rank)
    for i, axis in enumerate(axes):
        full[axis], full[rank + axis] = pads[i], pads[len(axes) + i]
    value = node.const_input(2, "constant_value").reshape(-1) if node.has_input(2) else np.zeros(1)
    props = {
        "pads": i64_array(full),
        "mode": str_attr(mode),
        "value": FloatAttr(float(value[0]) if value.size else 0.0, f64),
    }
    return node.emit(PadOp.make([x], props))


# --- indexing ----------------------------------------------------------------------


@importer("Gather")
def gather(node: Node):
    data, indices = node.input(0), node.input(1)
    axis = _axis(node, node.attr("axis", 0), data.type.get_num_dims())
    return node.emit(GatherOp.make([data, indices], {"axis": int_attr(axis)}))


@importer("GatherElements")
def gather_elements(node: Node):
    data, indices = node.input(0), node.input(1)
    axis = _axis(node, node.attr("axis", 0), data.type.get_num_dims())
    return node.emit(GatherElementsOp.make([data, indices], {"axis": int_attr(axis)}))


# --- resampling ---------------------------------------------------------------------

@importer("Resize")
def resize(node: Node):
    """Opset 11+ inputs (X, roi, scales, sizes; scales may be an empty tensor when sizes
    are given), opset 18's axes, antialias and keep_aspect_ratio_policy. roi is read only
    for tf_crop_and_resize, the one mode that uses it."""
    x = node.input(0)
    mode = node.attr("mode", "nearest")
    coordinates = node.attr("coordinate_transformation_mode", "half_pixel")
    for what, value, allowed in (
        ("mode", mode, ResizeOp.MODES),
        ("coordinate_transformation_mode", coordinates, ResizeOp.COORDINATE_MODES),
        ("nearest_mode", node.attr("nearest_mode", "round_prefer_floor"), ResizeOp.NEAREST_MODES),
    ):
        if value not in allowed:
            node.fail(f"{what} '{value}' is not one of {', '.join(allowed)}")
    for flag in ("antialias", "exclude_outside"):
        if node.attr(flag, 0) not in (0, 1):
            node.fail(f"{flag} must be 0 or 1, got {node.attr(flag)}")
        if node.attr(flag, 0) and mode == "nearest":
            node.fail(f"{flag}=1 needs mode 'linear' or 'cubic', not 'nearest'")
    scales, sizes = _resize_scales(node, _shape(x))
    props = {
        "scales": DenseArrayBase.from_list(f32, scales),
        "mode": str_attr(mode),
        "coordinate_transformation_mode": str_attr(coordinates),
        "nearest_mode": str_attr(node.attr("nearest_mode", "round_prefer_floor")),
        "cubic_coeff_a": float_attr(node.attr("cubic_coeff_a", -0.75)),
        "exclude_outside": int_attr(node.attr("exclude_outside", 0)),
        "antialias": int_attr(node.attr("antialias", 0)),
        "extrapolation_value": float_attr(node.attr("extrapolation_value", 0.0)),
    }
    if coordinates == "tf_crop_and_resize":
        props["roi"] = DenseArrayBase.from_list(f32, _resize_roi(node, len(sizes)))
    result = TensorType(x.type.element_type, sizes)
    return node.emit(ResizeOp(operands=[x], result_types=[result], properties=props))


def _resize_roi(node: Node, rank: int) -> list[float]:
    """Full-rank roi (all starts, then all ends) from the given one, which covers opset
    18's `axes` only; the other axes keep all of the input (0 to 1)."""
    axes = _axes(node, node.attr("axes", list(range(rank))), rank)
    given = node.const_input(1, "roi").reshape(-1).astype(np.float32) if node.has_input(1) else np.zeros(0)
    if len(given) != 2 * len(axes):
        node.fail(f"tf_crop_and_resize needs a roi of {2 * len(axes)} values (starts, then ends), got {len(given)}")
    roi = [0.0] * rank + [1.0] * rank
    for i, axis in enumerate(axes):
        roi[axis], roi[rank + axis] = float(given[i]), float(given[len(axes) + i])
    return roi


def _resize_scales(node: Node, shape: list[int]) -> tuple[list[float], list[int]]:
    """Full-rank (scales, output sizes) computed in float32 as onnxruntime does: the
    scales given are kept (they place the sampling points), sizes given imply size/in.
    From scales the size is floor(in * scale), also with tf_crop_and_resize, where the
    spec's formula multiplies by the roi's extent too: onnxruntime and onnx's reference
    both leave that out, and optc matches them."""
    rank = len(shape)
    axes = _axes(node, node.attr("axes", list(range(rank))), rank)
    given_scales = node.const_input(2, "scales") if node.has_input(2) else None
    has_scales = given_scales is not None and given_scales.size > 0
    if has_scales == node.has_input(3):
        node.fail("expects exactly one of scales and sizes")
    given = (given_scales if has_scales else node.const_input(3, "sizes")).reshape(-1)
    if len(given) != len(axes):
        node.fail(f"expects {len(axes)} scales or sizes, got {len(given)}")
    ins = np.asarray([shape[a] for a in axes], dtype=np.float32)
    if has_scales:
        part = given.astype(np.float32)
        out = np.floor(ins * part).astype(np.int64)
    else:
        out = given.astype(np.int64)
        part = _aspect_scales(node, out.astype(np.float32) / ins)
        if node.attr("keep_aspect_ratio_policy", "stretch") != "stretch":
            out = np.floor(ins * part + 0.5).astype(np.int64)
    scales, sizes = [1.0] * rank, list(shape)
    for i, axis in enumerate(axes):
        scales[axis], sizes[axis] = float(part[i]), int(out[i])
    return scales, sizes


_ASPECT_POLICIES = {"stretch": None, "not_larger": np.min, "not_smaller": np.max}


def _aspect_scales(node: Node, scales: np.ndarray) -> np.ndarray:
    policy = node.attr("keep_aspect_ratio_policy", "stretch")
    if policy not in _ASPECT_POLICIES:
        node.fail(f"keep_aspect_ratio_policy '{policy}' is not one of {', '.join(_ASPECT_POLICIES)}")
    pick = _ASPECT_POLICIES[policy]
    return scales if pick is None else np.full_like(scales, pick(scales))


# --- reductions ----------------------------------------------------------------------

# ONNX reduction -> (graph op, first opset where axes is an input instead of an attribute)
_REDUCTIONS = {
    "ReduceSum": (ReduceSumOp, 13),
    "ReduceMean": (ReduceMeanOp, 18),
    "ReduceMax": (ReduceMaxOp, 18),
    "ReduceMin": (ReduceMinOp, 18),
    "ReduceProd": (ReduceProdOp, 18),
    "ReduceL2": (ReduceL2Op, 18),
    "ReduceSumSquare": (ReduceSumSquareOp, 18),
}


@importer(*_REDUCTIONS)
def reduce(node: Node):
    op, axes_input_from = _REDUCTIONS[node.op_type]
    x = node.input(0)
    rank = x.type.get_num_dims()
    axes = node.ints_from("axes", 1) if node.opset >= axes_input_from else node.attr("axes")
    if not axes:
        axes = [] if node.attr("noop_with_empty_axes", 0) else list(range(rank))
    props = {"axes": i64_array(sorted(_axes(node, axes, rank))), "keepdims": int_attr(node.attr("keepdims", 1))}
    return node.emit(op.make([x], props))


@importer("ArgMax", "ArgMin")
def arg_reduce(node: Node):
    x = node.input(0)
    props = {
        "axis": int_attr(_axis(node, node.attr("axis", 0), x.type.get_num_dims())),
        "keepdims": int_attr(node.attr("keepdims", 1)),
        "select_last_index": int_attr(node.attr("select_last_index", 0)),
    }
    return node.emit((ArgMaxOp if node.op_type == "ArgMax" else ArgMinOp).make([x], props))


# --- shapes and generated tensors -----------------------------------------------------


@importer("Shape")
def shape(node: Node):
    """start/end (opset 15) are clamped to [0, rank], as the spec says."""
    x = node.input(0)
    rank = x.type.get_num_dims()
    start, end = (min(max(v + rank if v < 0 else v, 0), rank) for v in (node.attr("start", 0), node.attr("end", rank)))
    return node.emit(ShapeOp.make([x], {"start": int_attr(start), "end": int_attr(max(start, end))}))


@importer("Size")
def size(node: Node):
    return node.emit(SizeOp.make([node.input(0)]))


@importer("Range")
def range_(node: Node):
    """The length depends on the operands' values, so they must be known at import."""
    start, limit, delta = (node.const_input(i, what) for i, what in enumerate(("start", "limit", "delta")))
    if delta == 0:
        node.fail("delta must not be 0")
    span = limit - start  # in the operands' dtype, as onnxruntime computes the count
    count = max(int(-(-span // delta) if np.issubdtype(span.dtype, np.integer) else np.ceil(span / delta)), 0)
    elem = node.input(0).type.element_type
    result = TensorType(elem, [count])
    return node.emit(RangeOp(operands=[node.input(i) for i in range(3)], result_types=[result]))


@importer("ConstantOfShape")
def constant_of_shape(node: Node):
    """The shape input decides the result type, so it must be known at import."""
    dims = [int(d) for d in node.const_input(0, "shape").reshape(-1)]
    value = np.asarray(node.attr("value", np.zeros(1, dtype=np.float32))).reshape(-1)
    try:
        elem = mlir_elem_from_numpy(value.dtype)
    except OptcError as e:
        node.fail(f"value: {e}")
    floats = is_float(elem) or is_storage_float(elem)
    attr = FloatAttr(float(value[0]), elem) if floats else IntegerAttr(int(value[0]), elem)
    result = TensorType(elem, dims)
    return node.emit(ConstantOfShapeOp(result_types=[result], properties={"value": attr}))
