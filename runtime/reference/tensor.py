"""Reference semantics of data-movement and shape ops.

These also fold shape subgraphs at import (Shape -> Gather -> Concat -> Reshape), so
every implementation works on int64 shape tensors as well as on activations.
"""

from __future__ import annotations

import numpy as np

from dialects.graph import (
    ArgMaxOp,
    ArgMinOp,
    ConcatOp,
    ConstantOfShapeOp,
    ExpandOp,
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
    FlattenOp,
    ReshapeOp,
    SqueezeOp,
    UnsqueezeOp,
    ResizeOp,
    ShapeOp,
    SizeOp,
    SliceOp,
    SplitOp,
    TileOp,
    TransposeOp,
)
from dialects.graph.base import float_of, int_of, ints, str_of
from runtime.reference.registry import reference, result_dtype


@reference(ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp)
def reshape(op, x):
    """Every view op relabels dimensions only: its result type says how."""
    return x.reshape(op.result.type.get_shape())


@reference(TransposeOp)
def transpose(op, x):
    return np.transpose(x, ints(op.perm))


@reference(ExpandOp)
def expand(op, x):
    return np.broadcast_to(x, op.result.type.get_shape())


@reference(TileOp)
def tile(op, x):
    return np.tile(x, ints(op.repeats))


@reference(ConcatOp)
def concat(op, *xs):
    return np.concatenate(xs, axis=int_of(op.axis))


@reference(SplitOp)
def split(op, x):
    bounds = np.cumsum(ints(op.split))[:-1]
    return tuple(np.split(x, bounds, axis=int_of(op.axis)))


@reference(SliceOp)
def slice_(op, x):
    return x[_slices(ints(op.starts), ints(op.steps), op.result.type.get_shape())]


def _slices(starts, steps, sizes) -> tuple[slice, ...]:
    """Python slices for normalised (start, step, size) triples; a backwards slice that
    ends before index 0 needs `None` as its stop, since -1 would mean the last element."""
    result = []
    for start, step, size in zip(starts, steps, sizes):
        stop = start + step * size
        result.append(slice(start, stop if stop >= 0 else None, step) if size else slice(0, 0))
    return tuple(result)


@reference(PadOp)
def pad(op, x):
    pads, rank = ints(op.pads), x.ndim
    begins, ends = pads[:rank], pads[rank:]
    crop = tuple(slice(-min(b, 0), x.shape[i] + min(e, 0)) for i, (b, e) in enumerate(zip(begins, ends)))
    width = [(max(b, 0), max(e, 0)) for b, e in zip(begins, ends)]
    mode = str_of(op.mode)
    if mode == "constant":
        return np.pad(x[crop], width, mode="constant", constant_values=np.asarray(float_of(op.value)).astype(x.dtype))
    return np.pad(x[crop], width, mode=mode)


# --- indexing -----------------------------------------------------------------


@reference(GatherOp)
def gather(op, data, indices):
    return np.take(data, indices.astype(np.int64), axis=int_of(op.axis))


@reference(GatherElementsOp)
def gather_elements(op, data, indices):
    axis = int_of(op.axis)
    indices = indices.astype(np.int64)
    dim = data.shape[axis]
    if indices.size and (indices.min() < -dim or indices.max() >= dim):
        raise IndexError(f"indices out of range [{-dim}, {dim}) along axis {axis}")
    return np.take_along_axis(data, np.where(indices < 0, indices + dim, indices), axis=axis)


# --- resampling ------------------------------------------------------------------

# Output coordinate -> input coordinate, as onnxruntime computes it (in float32).
_COORDINATES = {
    "half_pixel": lambda x, scale, n_in, n_out: (x + 0.5) / scale - 0.5,
    "half_pixel_symmetric": lambda x, scale, n_in, n_out: (
        (n_in / np.float32(2)) * (1 - n_out / (scale * n_in)) + (x + 0.5) / scale - 0.5
    ),
    "pytorch_half_pixel": lambda x, scale, n_in, n_out: (x + 0.5) / scale - 0.5 if n_out > 1 else 0 * x,
    "align_corners": lambda x, scale, n_in, n_out: x * np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else 0 * x,
    "asymmetric": lambda x, scale, n_in, n_out: x / scale,
    "tf_half_pixel_for_nn": lambda x, scale, n_in, n_out: (x + 0.5) / scale,
}

_NEAREST = {
    "round_prefer_floor": lambda c: np.ceil(c - 0.5),
    "round_prefer_ceil": lambda c: np.floor(c + 0.5),
    "floor": np.floor,
    "ceil": np.ceil,
}


@reference(ResizeOp)
def resize(op, x):
    """Separable resampling: one gather (nearest) or one two-tap blend (linear) per axis
    whose size or scale changes."""
    out_shape = op.result.type.get_shape()
    mode, transform = str_of(op.mode), _COORDINATES[str_of(op.coordinate_transformation_mode)]
    nearest = _NEAREST[str_of(op.nearest_mode)]
    y = x.astype(np.float32) if mode == "linear" else x
    for axis, (scale, n_in, n_out) in enumerate(zip(op.scales.get_values(), x.shape, out_shape)):
        if scale == 1 and n_in == n_out:
            continue
        coords = transform(np.arange(n_out, dtype=np.float32), np.float32(scale), n_in, n_out).astype(np.float32)
        if mode == "nearest":
            y = np.take(y, np.clip(nearest(coords), 0, n_in - 1).astype(np.int64), axis=axis)
        else:
            y = _linear_1d(y, np.clip(coords, 0, n_in - 1), axis)
    return y


def _linear_1d(x: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    lo = np.floor(coords).astype(np.int64)
    hi = np.minimum(lo + 1, x.shape[axis] - 1)
    weight = (coords - lo).astype(np.float32).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    return np.take(x, lo, axis=axis) * (1 - weight) + np.take(x, hi, axis=axis) * weight


# --- reductions ---------------------------------------------------------------------


def _reduction(compute):
    """Wrap `compute(x, axes, keepdims)`. float16 reduces in float32 (`as_result` rounds
    back); integers reduce in their own type, except means and norms, which go through
    float64 and truncate toward zero as onnxruntime's integer kernels do."""

    def run(op, x):
        axes, keepdims = ints(op.axes), bool(int_of(op.keepdims))
        if x.dtype == np.float16:
            x = x.astype(np.float32)
        return compute(x, axes, keepdims)

    return run


def _mean(x, axes, keepdims):
    if np.issubdtype(x.dtype, np.integer):
        return np.trunc(np.mean(x, axis=axes, keepdims=keepdims, dtype=np.float64))
    return np.mean(x, axis=axes, keepdims=keepdims)


def _l2(x, axes, keepdims):
    if np.issubdtype(x.dtype, np.integer):
        return np.trunc(_l2(x.astype(np.float64), axes, keepdims))
    return np.sqrt(np.sum(np.square(x), axis=axes, keepdims=keepdims))


def _extreme(dtype: np.dtype, largest: bool):
    """The identity of min (the largest value) or max (the smallest): ±inf for floats,
    the type's bounds for integers, True/False for bool. ONNX (opset 18+) defines a max
    or min over an empty set as this value; numpy would raise."""
    if dtype == np.bool_:
        return largest
    if np.issubdtype(dtype, np.floating):
        return np.inf if largest else -np.inf
    info = np.iinfo(dtype)
    return info.max if largest else info.min


_REDUCTIONS = {
    ReduceSumOp: lambda x, axes, keepdims: np.sum(x, axis=axes, keepdims=keepdims, dtype=x.dtype),
    ReduceMeanOp: _mean,
    ReduceMaxOp: lambda x, axes, keepdims: np.max(x, axis=axes, keepdims=keepdims, initial=_extreme(x.dtype, False)),
    ReduceMinOp: lambda x, axes, keepdims: np.min(x, axis=axes, keepdims=keepdims, initial=_extreme(x.dtype, True)),
    ReduceProdOp: lambda x, axes, keepdims: np.prod(x, axis=axes, keepdims=keepdims, dtype=x.dtype),
    ReduceL2Op: _l2,
    ReduceSumSquareOp: lambda x, axes, keepdims: np.sum(np.square(x), axis=axes, keepdims=keepdims, dtype=x.dtype),
}

for _op, _compute in _REDUCTIONS.items():
    reference(_op)(_reduction(_compute))


@reference(ArgMaxOp, ArgMinOp)
def arg_reduce(op, x):
    axis, keepdims = int_of(op.axis), bool(int_of(op.keepdims))
    pick = np.argmax if isinstance(op, ArgMaxOp) else np.argmin
    if not int_of(op.select_last_index):
        return pick(x, axis=axis, keepdims=keepdims)
    return x.shape[axis] - 1 - pick(np.flip(x, axis=axis), axis=axis, keepdims=keepdims)


# --- shapes and generated tensors ---------------------------------------------------


@reference(ShapeOp)
def shape(op, x):
    return np.asarray(x.shape[int_of(op.start) : int_of(op.end)], dtype=np.int64)


@reference(SizeOp)
def size(op, x):
    return np.asarray(x.size, dtype=np.int64)


@reference(RangeOp)
def range_(op, start, limit, delta):
    """onnxruntime adds `delta` step by step (not `start + i * delta`), so float ranges
    carry its rounding; a sequential cumsum in the result dtype reproduces it."""
    count = op.result.type.get_shape()[0]
    steps = np.full(count, delta, dtype=result_dtype(op))
    steps[:1] = start
    return np.cumsum(steps, dtype=result_dtype(op))


@reference(ConstantOfShapeOp)
def constant_of_shape(op):
    return np.full(op.result.type.get_shape(), op.value.value.data, dtype=result_dtype(op))
