"""Reference semantics of data-movement and shape ops.

These also fold shape subgraphs at import (Shape -> Gather -> Concat -> Reshape), so
every implementation works on int64 shape tensors as well as on activations.
"""

from __future__ import annotations

import math

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


def _crop_coordinates(x, n_in: int, n_out: int, start: np.float32, end: np.float32):
    """tf_crop_and_resize: the output spans the input from `start` to `end` (fractions of
    its length - 1); one output sample sits at the middle."""
    if n_out > 1:
        return start * (n_in - 1) + x * (end - start) * (n_in - 1) / np.float32(n_out - 1)
    return 0 * x + np.float32(0.5) * (start + end) * (n_in - 1)


def _cubic(d: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter `a` (ONNX's cubic_coeff_a)."""
    d = np.abs(d)
    near = ((a + 2) * d - (a + 3)) * d * d + 1
    far = ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return np.where(d <= 1, near, np.where(d < 2, far, 0))


# mode -> (half-width of the filter, its weight at a distance)
_FILTERS = {
    "linear": (1, lambda d, a: np.maximum(0, 1 - np.abs(d))),
    "cubic": (2, _cubic),
}


@reference(ResizeOp)
def resize(op, x):
    """Separable resampling, one pass per axis whose size, scale or crop changes: a gather
    (nearest), a two-tap blend (linear) or a filter (cubic; linear and cubic with
    antialias or exclude_outside). Coordinates and weights are float32, as onnxruntime
    computes them."""
    out_shape, rank = op.result.type.get_shape(), x.ndim
    mode, coordinates = str_of(op.mode), str_of(op.coordinate_transformation_mode)
    roi = np.asarray(op.roi.get_values(), np.float32) if op.roi is not None else None
    plain_linear = mode == "linear" and not (int_of(op.antialias) or int_of(op.exclude_outside))
    y = x if mode == "nearest" else x.astype(np.float32)
    for axis, (scale, n_in, n_out) in enumerate(zip(op.scales.get_values(), x.shape, out_shape)):
        crop = (roi[axis], roi[rank + axis]) if roi is not None else None
        if scale == 1 and n_in == n_out and crop in (None, (0, 1)):
            continue
        positions = np.arange(n_out, dtype=np.float32)
        if crop is None:
            coords = _COORDINATES[coordinates](positions, np.float32(scale), n_in, n_out).astype(np.float32)
        else:
            coords = _crop_coordinates(positions, n_in, n_out, *crop).astype(np.float32)
        if mode == "nearest":
            y = np.take(y, np.clip(_NEAREST[str_of(op.nearest_mode)](coords), 0, n_in - 1).astype(np.int64), axis=axis)
        elif plain_linear:
            y = _linear_1d(y, np.clip(coords, 0, n_in - 1), axis)
        else:
            y = _filter_1d(op, y, coords, axis, scale)
        if crop is not None:
            outside = ((coords < 0) | (coords > n_in - 1)).reshape([-1 if i == axis else 1 for i in range(rank)])
            y = np.where(outside, y.dtype.type(float_of(op.extrapolation_value)), y)
    if mode != "nearest" and np.issubdtype(x.dtype, np.integer) and not plain_linear:
        info = np.iinfo(x.dtype)  # as onnx's reference: round, then saturate
        y = np.clip(np.round(y), info.min, info.max)
    return y


def _linear_1d(x: np.ndarray, coords: np.ndarray, axis: int) -> np.ndarray:
    lo = np.floor(coords).astype(np.int64)
    hi = np.minimum(lo + 1, x.shape[axis] - 1)
    weight = (coords - lo).astype(np.float32).reshape([-1 if i == axis else 1 for i in range(x.ndim)])
    return np.take(x, lo, axis=axis) * (1 - weight) + np.take(x, hi, axis=axis) * weight


def _filter_1d(op, x: np.ndarray, coords: np.ndarray, axis: int, scale: float) -> np.ndarray:
    """Resample `x` along `axis` at `coords` with op's filter, as the ONNX spec defines it:
    taps at the integers around each coordinate (the filter's half-width, times 1 / scale
    when antialiasing a downscale), weighted by the filter at their distance; taps beyond
    the input repeat its edge, or with exclude_outside get no weight. With antialias or
    exclude_outside the weights are renormalised to sum to 1."""
    half_width, weight_at = _FILTERS[str_of(op.mode)]
    antialias, exclude = bool(int_of(op.antialias)), bool(int_of(op.exclude_outside))
    stretch = np.float32(min(scale, 1.0) if antialias else 1.0)
    first = math.floor(-half_width / stretch) + 1
    offsets = np.arange(first, 2 - first, dtype=np.float32)
    left = np.ceil(coords) - 1  # the tap strictly left of each coordinate: distance in (0, 1]
    weights = weight_at((offsets - (coords - left)[:, None]) * stretch, float_of(op.cubic_coeff_a)).astype(np.float32)
    taps = (left[:, None] + offsets).astype(np.int64)
    n_in = x.shape[axis]
    if exclude:
        weights = np.where((taps < 0) | (taps >= n_in), np.float32(0), weights)
    if antialias or exclude:  # all taps outside happens only where a crop extrapolates
        total = weights.sum(axis=1, keepdims=True)
        weights = weights / np.where(total == 0, np.float32(1), total)
    taps = np.clip(taps, 0, n_in - 1)
    shape = [-1 if i == axis else 1 for i in range(x.ndim)]
    total = np.zeros([len(coords) if i == axis else n for i, n in enumerate(x.shape)], dtype=np.float32)
    for k in range(taps.shape[1]):
        total += np.take(x, taps[:, k], axis=axis) * weights[:, k].reshape(shape)
    return total


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
    """The sum over the count; the mean of nothing is 0, as onnxruntime gives (numpy: NaN)."""
    count = max(math.prod(x.shape[a] for a in axes), 1)
    if np.issubdtype(x.dtype, np.integer):
        return np.trunc(np.sum(x, axis=axes, keepdims=keepdims, dtype=np.float64) / count)
    return np.sum(x, axis=axes, keepdims=keepdims) / x.dtype.type(count)


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
