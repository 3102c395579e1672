"""Writers for data movement, reductions, generated tensors and Resize.

The graph ops hold as properties (or in their result type) what ONNX takes as inputs
since opset 13 or 18 (a reshape's shape, squeeze axes, pads, slice starts, reduction
axes): those become int64 initializers, the form the importer reads back.
"""

from __future__ import annotations

import numpy as np
from onnx import helper
from xdsl.dialects.builtin import f32

from compiler.onnx_export.context import ExportContext, fail, onnx_elem
from compiler.onnx_export.registry import writer
from compiler.onnx_import.tensor import _REDUCTIONS
from dialects.dtypes import numpy_dtype
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
from dialects.graph.base import float_of, int_of, ints, str_of
from dialects.graph.layout import channels_first_perm, channels_last_perm

REDUCTION_NODES = {op: (onnx_type, axes_input_from) for onnx_type, (op, axes_input_from) in _REDUCTIONS.items()}
"""Graph reduction → (ONNX op, the first opset that takes its axes as an input)."""


def _shape_of(op, index: int = 0) -> list[int]:
    return list(op.results[index].type.get_shape())


# --- shape relabelling -----------------------------------------------------------


@writer(ReshapeOp)
def reshape(op: ReshapeOp, ctx: ExportContext):
    """A 0 in the shape copies the input's dimension unless `allowzero` (opset 14) is set:
    set it exactly when the result has an empty dimension."""
    shape = _shape_of(op)
    allowzero = 1 if 0 in shape else None
    ctx.node("Reshape", [ctx.input(op.input), ctx.ints(shape, "shape")], [ctx.result(op)], allowzero=allowzero)


@writer(FlattenOp)
def flatten(op: FlattenOp, ctx: ExportContext):
    ctx.node("Flatten", [ctx.input(op.input)], [ctx.result(op)], axis=int_of(op.axis))


@writer(SqueezeOp, UnsqueezeOp)
def squeeze(op, ctx: ExportContext):
    onnx_type = "Squeeze" if isinstance(op, SqueezeOp) else "Unsqueeze"
    ctx.node(onnx_type, [ctx.input(op.input), ctx.ints(ints(op.axes), "axes")], [ctx.result(op)])


@writer(TransposeOp)
def transpose(op: TransposeOp, ctx: ExportContext):
    """A move channels last records its input as the result's channels-first form; a move
    channels first of a value whose channels-first form is known is that form (`layout.py`)."""
    perm, rank = list(ints(op.perm)), op.input.type.get_num_dims()
    known = ctx.channels_first.get(op.input) if rank > 2 and perm == list(channels_first_perm(rank)) else None
    if known is not None and op.result in ctx.reserved:
        if known in ctx.temps:  # computed for this result: name it so
            ctx.rename(known, ctx.reserved[op.result])
            ctx.bind(op.result, ctx.reserved[op.result])
        else:
            ctx.node("Identity", [known], [ctx.result(op)])
    elif known is not None:
        ctx.names[op.result] = known
    else:
        if rank > 2 and perm == list(channels_last_perm(rank)):
            ctx.channels_first[op.result] = ctx.input(op.input)
        ctx.node("Transpose", [ctx.input(op.input)], [ctx.result(op)], perm=perm)


@writer(ExpandOp)
def expand(op: ExpandOp, ctx: ExportContext):
    ctx.node("Expand", [ctx.input(op.input), ctx.ints(_shape_of(op), "shape")], [ctx.result(op)])


@writer(TileOp)
def tile(op: TileOp, ctx: ExportContext):
    ctx.node("Tile", [ctx.input(op.input), ctx.ints(ints(op.repeats), "repeats")], [ctx.result(op)])


# --- joining and cutting ---------------------------------------------------------


@writer(ConcatOp)
def concat(op: ConcatOp, ctx: ExportContext):
    ctx.node("Concat", [ctx.input(v) for v in op.inputs], [ctx.result(op)], axis=int_of(op.axis))


@writer(SplitOp)
def split(op: SplitOp, ctx: ExportContext):
    outputs = [ctx.result(op, i) for i in range(len(op.results))]
    ctx.node("Split", [ctx.input(op.input), ctx.ints(ints(op.split), "split")], outputs, axis=int_of(op.axis))


def slice_end(start: int, step: int, size: int, dim: int) -> int:
    """ONNX's end for `size` elements from `start` by `step`. Walking backwards past the
    first element, the end is written below -dim: a negative end counts from the back."""
    end = start + step * size
    return end if end >= 0 else -dim - 1


@writer(SliceOp)
def slice_(op: SliceOp, ctx: ExportContext):
    dims, sizes = op.input.type.get_shape(), _shape_of(op)
    starts, steps = ints(op.starts), ints(op.steps)
    ends = [slice_end(*args) for args in zip(starts, steps, sizes, dims)]
    inputs = [ctx.input(op.input), ctx.ints(starts, "starts"), ctx.ints(ends, "ends"), ctx.ints(range(len(dims)), "axes")]
    ctx.node("Slice", [*inputs, ctx.ints(steps, "steps")], [ctx.result(op)])


@writer(PadOp)
def pad(op: PadOp, ctx: ExportContext):
    """The fill value is written in constant mode only (ONNX ignores it otherwise)."""
    mode = str_of(op.mode)
    if mode == "wrap":
        ctx.require(19, "Pad mode 'wrap'")
    element_type = op.input.type.element_type
    value = ctx.scalar(float_of(op.value), element_type, "pad_value") if mode == "constant" else ""
    ctx.node("Pad", [ctx.input(op.input), ctx.ints(ints(op.pads), "pads"), value], [ctx.result(op)], mode=mode)


# --- indexing --------------------------------------------------------------------


@writer(GatherOp, GatherElementsOp)
def gather(op, ctx: ExportContext):
    onnx_type = "Gather" if isinstance(op, GatherOp) else "GatherElements"
    ctx.node(onnx_type, [ctx.input(op.data), ctx.input(op.indices)], [ctx.result(op)], axis=int_of(op.axis))


# --- reductions ------------------------------------------------------------------

def _reduce_nothing(op, ctx: ExportContext) -> None:
    """`axes = []` reduces nothing: written as what that computes (x, or |x| for L2, x * x
    for the sum of squares), since ONNX reads an empty axes list as "every axis"."""
    x = ctx.input(op.input)
    if isinstance(op, ReduceSumSquareOp):
        ctx.node("Mul", [x, x], [ctx.result(op)])
    else:
        ctx.node("Abs" if isinstance(op, ReduceL2Op) else "Identity", [x], [ctx.result(op)])


def _reduce(op, ctx: ExportContext) -> None:
    onnx_type, axes_input_from = REDUCTION_NODES[type(op)]
    axes = list(ints(op.axes))
    if not axes:
        _reduce_nothing(op, ctx)
        return
    keepdims = int_of(op.keepdims)
    if ctx.opset >= axes_input_from:
        ctx.node(onnx_type, [ctx.input(op.input), ctx.ints(axes, "axes")], [ctx.result(op)], keepdims=keepdims)
    else:
        ctx.node(onnx_type, [ctx.input(op.input)], [ctx.result(op)], axes=axes, keepdims=keepdims)


for _op in REDUCTION_NODES:
    writer(_op)(_reduce)


@writer(ArgMaxOp, ArgMinOp)
def arg_reduce(op, ctx: ExportContext):
    onnx_type = "ArgMax" if isinstance(op, ArgMaxOp) else "ArgMin"
    flags = {name: int_of(op.properties[name]) for name in ("axis", "keepdims", "select_last_index")}
    ctx.node(onnx_type, [ctx.input(op.input)], [ctx.result(op)], **flags)


# --- generated tensors -----------------------------------------------------------


@writer(ShapeOp)
def shape(op: ShapeOp, ctx: ExportContext):
    """start and end (opset 15) only when they cut the shape."""
    start, end, rank = int_of(op.start), int_of(op.end), op.input.type.get_num_dims()
    ctx.node("Shape", [ctx.input(op.input)], [ctx.result(op)], start=start or None, end=end if end != rank else None)


@writer(SizeOp)
def size(op: SizeOp, ctx: ExportContext):
    ctx.node("Size", [ctx.input(op.input)], [ctx.result(op)])


@writer(RangeOp)
def range_(op: RangeOp, ctx: ExportContext):
    ctx.node("Range", [ctx.input(v) for v in (op.start, op.limit, op.delta)], [ctx.result(op)])


@writer(ConstantOfShapeOp)
def constant_of_shape(op: ConstantOfShapeOp, ctx: ExportContext):
    element_type = op.result.type.element_type
    value = np.asarray([op.value.value.data], dtype=numpy_dtype(element_type))
    fill = helper.make_tensor("value", onnx_elem(element_type, op.name), [1], value.tolist())
    ctx.node("ConstantOfShape", [ctx.ints(_shape_of(op), "shape")], [ctx.result(op)], value=fill)


# --- resampling ------------------------------------------------------------------


def _resize_target(op: ResizeOp, ctx: ExportContext) -> tuple[str, str]:
    """(scales, sizes) inputs: the sizes when the scales are what ONNX derives from them
    (size_out / size_in, in float32); else the scales, when floor(size * scale) gives the
    result's sizes both in float32 (onnxruntime) and in float64 (ONNX's shape inference);
    else the op samples at points ONNX cannot place."""
    ins = np.asarray(op.input.type.get_shape(), dtype=np.float32)
    outs = np.asarray(_shape_of(op), dtype=np.int64)
    scales = np.asarray(op.scales.get_values(), dtype=np.float32)
    if np.array_equal(scales, outs.astype(np.float32) / ins):
        return "", ctx.ints(outs.tolist(), "sizes")
    floors = [np.floor(ins.astype(t) * scales.astype(t)).astype(np.int64) for t in (np.float32, np.float64)]
    if all(np.array_equal(f, outs) for f in floors):
        return ctx.initializer(scales, f32, "scales"), ""
    fail(op, f"scales {scales.tolist()} give sizes {outs.tolist()} that ONNX's Resize computes from neither")


@writer(ResizeOp)
def resize(op: ResizeOp, ctx: ExportContext):
    coordinates = str_of(op.coordinate_transformation_mode)
    if coordinates == "half_pixel_symmetric":
        ctx.require(19, "Resize coordinate_transformation_mode 'half_pixel_symmetric'")
    roi = ctx.initializer(np.asarray(op.roi.get_values(), np.float32), f32, "roi") if op.roi is not None else ""
    scales, sizes = _resize_target(op, ctx)
    attributes = {
        "mode": str_of(op.mode),
        "coordinate_transformation_mode": coordinates,
        "nearest_mode": str_of(op.nearest_mode),
        "cubic_coeff_a": float_of(op.cubic_coeff_a),
        "exclude_outside": int_of(op.exclude_outside),
        "extrapolation_value": float_of(op.extrapolation_value),
        "antialias": int_of(op.antialias) or None,
    }
    ctx.node("Resize", [ctx.input(op.input), roi, scales, sizes], [ctx.result(op)], **attributes)
