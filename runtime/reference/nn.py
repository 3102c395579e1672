"""Reference semantics of neural-network ops (convolution, pooling, norms, softmax, matmul).

Convolutions are im2col + one batched matmul (BLAS) over (batch, group): the columns
are gathered with one strided copy per kernel position, so the work is one GEMM per
group plus a copy. Measured on 2 CPU cores (best of 5) against the previous
as_strided + einsum form: 1x256x56x56 with a 256x256x3x3 weight 96 -> 56 ms, a 7x7/2
stem on 1x3x224x224 20 -> 12 ms, a depthwise 3x3 on 1x96x112x112 32 -> 13 ms, 1x1
convolutions equal (2 ms); ResNet-50 at batch 1 runs in about a second. Pooling
combines one strided slice per kernel position (np.maximum / np.add in place), 20x
faster than reducing an as_strided window view (1 ms vs 22 ms for ResNet's 3x3/2 max pool).

float16 is computed in float32 (as onnxruntime's CPU kernels do) and rounded once when
the interpreter casts the result to the IR's type.

An op in the channels-last form (`layout = "NHWC"`) runs as its NCHW form on views with
the channel axis moved (`np.moveaxis`, no copy), the definition of that form.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from dialects.graph import (
    AveragePoolOp,
    BatchNormOp,
    ConvOp,
    ConvTransposeOp,
    GemmOp,
    GlobalAveragePoolOp,
    GlobalMaxPoolOp,
    InstanceNormOp,
    LayerNormOp,
    LogSoftmaxOp,
    MatMulOp,
    MaxPoolOp,
    SoftmaxOp,
)
from dialects.graph.base import float_of, int_of, ints
from dialects.graph.layout import channel_axis, input_is_channels_last, is_channels_last, spatial_shape
from runtime.reference.registry import reference, widen



def _per_channel(v: np.ndarray, rank: int, axis: int = 1) -> np.ndarray:
    """A (C,) vector shaped to broadcast along `axis` (the channels) of a rank-`rank` tensor."""
    return v.reshape([-1 if i == axis else 1 for i in range(rank)])


def _channels_first(fn):
    """Run an NHWC op's input (its first operand) and result as channels first."""

    @functools.wraps(fn)
    def run(op, x, *rest):
        if not is_channels_last(op):
            return fn(op, x, *rest)
        return np.moveaxis(fn(op, np.moveaxis(x, -1, 1), *rest), 1, -1)

    return run


def _pad_spatial(x: np.ndarray, begins, ends, value) -> np.ndarray:
    """Pad the spatial axes; a negative end crops what no window reaches."""
    crop = tuple(slice(0, x.shape[2 + i] + min(e, 0)) for i, e in enumerate(ends))
    x = x[(slice(None), slice(None), *crop)]
    width = [(0, 0), (0, 0)] + [(b, max(e, 0)) for b, e in zip(begins, ends)]
    return np.pad(x, width, constant_values=value)


def _tap(offset, strides, dilations, out) -> tuple[slice, ...]:
    """The strided slice that kernel position `offset` reads for every output position."""
    return (
        slice(None),
        slice(None),
        *(slice(o * d, o * d + s * (n - 1) + 1, s) for o, s, d, n in zip(offset, strides, dilations, out)),
    )


def _taps(kernel, strides, dilations, out):
    return ((offset, _tap(offset, strides, dilations, out)) for offset in itertools.product(*map(range, kernel)))


# --- convolution -----------------------------------------------------------


def _im2col(x: np.ndarray, kernel, strides, dilations, out) -> np.ndarray:
    """(N, C, *spatial) padded input → columns (N, C, prod(kernel), prod(out))."""
    n, c = x.shape[:2]
    cols = np.empty((n, c, *kernel, *out), dtype=x.dtype)
    for offset, window in _taps(kernel, strides, dilations, out):
        cols[(slice(None), slice(None), *offset)] = x[window]
    return cols.reshape(n, c, math.prod(kernel), math.prod(out))


def convolve(op, x: np.ndarray, w: np.ndarray, out: tuple[int, ...]) -> np.ndarray:
    """Convolution with the properties of `op` (graph.conv or fused.conv): strides, pads,
    dilations, group, layout (and fused.conv's input_layout); `out` is the spatial output
    shape."""
    x = np.moveaxis(x, -1, 1) if input_is_channels_last(op) else x
    if is_channels_last(op):
        return np.moveaxis(_convolve(op, x, np.moveaxis(w, -1, 1), out), 1, -1)
    return _convolve(op, x, w, out)


def _convolve(op, x: np.ndarray, w: np.ndarray, out: tuple[int, ...]) -> np.ndarray:
    x, w = widen(x, w)
    pads, group = ints(op.pads), int_of(op.group)
    spatial = x.ndim - 2
    n, m = x.shape[0], w.shape[0]
    x = _pad_spatial(x, pads[:spatial], pads[spatial:], 0)
    cols = _im2col(x, w.shape[2:], ints(op.strides), ints(op.dilations), out)
    cols = cols.reshape(n, group, cols.shape[1] // group * cols.shape[2], cols.shape[-1])  # no -1: n may be 0
    return np.matmul(w.reshape(group, m // group, -1), cols).reshape(n, m, *out)


@reference(ConvOp)
def conv(op: ConvOp, x, w, b=None):
    y = convolve(op, x, w, spatial_shape(op.result.type, op))
    return y if b is None else y + _per_channel(b, y.ndim, channel_axis(op))


@reference(ConvTransposeOp)
def conv_transpose(op: ConvTransposeOp, x, w, b=None):
    """Each input pixel scatters weight * value into the output: one matmul gives every
    contribution, then col2im adds them at their strided positions (one slice per kernel
    position), and the pads are cropped away."""
    x, w = widen(x, w)
    pads, group = ints(op.pads), int_of(op.group)
    strides, dilations, output_padding = ints(op.strides), ints(op.dilations), ints(op.output_padding)
    n, c, *size = x.shape
    kernel, spatial = w.shape[2:], x.ndim - 2
    m = w.shape[1] * group
    wg = w.reshape(group, c // group, -1).transpose(0, 2, 1)
    cols = np.matmul(wg, x.reshape(n, group, c // group, math.prod(size))).reshape(n, m, *kernel, *size)
    full = [s * (i - 1) + d * (k - 1) + 1 + p for s, i, d, k, p in zip(strides, size, dilations, kernel, output_padding)]
    y = np.zeros((n, m, *full), dtype=cols.dtype)
    for offset, window in _taps(kernel, strides, dilations, size):
        y[window] += cols[(slice(None), slice(None), *offset)]
    crop = tuple(slice(pads[i], full[i] - pads[spatial + i]) for i in range(spatial))
    y = y[(slice(None), slice(None), *crop)]
    return y if b is None else y + _per_channel(b, y.ndim)


# --- pooling ---------------------------------------------------------------


def _pool_geometry(op):
    """(kernel, strides, dilations, out, pad begins, pad ends incl. the ceil_mode overhang)."""
    kernel, strides, dilations, pads = ints(op.kernel_shape), ints(op.strides), ints(op.dilations), ints(op.pads)
    spatial = len(kernel)
    size = spatial_shape(op.input.type, op)
    out = spatial_shape(op.result.type, op)
    needed = [(o - 1) * s + d * (k - 1) + 1 for o, s, d, k in zip(out, strides, dilations, kernel)]
    ends = [need - pads[i] - size[i] for i, need in enumerate(needed)]
    return kernel, strides, dilations, out, pads[:spatial], ends


def _reduce_windows(x: np.ndarray, ufunc, kernel, strides, dilations, out) -> np.ndarray:
    acc = None
    for _, window in _taps(kernel, strides, dilations, out):
        acc = x[window].copy() if acc is None else ufunc(acc, x[window], out=acc)
    return acc


def _lowest(dtype: np.dtype):
    return -np.inf if np.issubdtype(dtype, np.floating) else np.iinfo(dtype).min


@reference(MaxPoolOp)
@_channels_first
def max_pool(op: MaxPoolOp, x):
    kernel, strides, dilations, out, begins, ends = _pool_geometry(op)
    if op.indices is not None:
        return _max_pool_with_indices(op, x, kernel, strides, dilations, out, begins, ends)
    x = _pad_spatial(x, begins, ends, _lowest(x.dtype))
    return _reduce_windows(x, np.maximum, kernel, strides, dilations, out)


def _max_pool_with_indices(op: MaxPoolOp, x, kernel, strides, dilations, out, begins, ends):
    """Maxima and their flat input indices, as onnxruntime finds them: each window is
    scanned in order and a later tap wins only when strictly greater, so ties go to the
    first. A map of spatial positions (-1 in the padding, which never wins) is padded and
    sliced like the input; the plane offset (n * C + c) * H * W is added at the end."""
    size = x.shape[2:]
    plane = math.prod(size)
    positions = np.arange(plane, dtype=np.int64)
    if int_of(op.storage_order):  # column major: the first spatial axis varies fastest
        positions = positions.reshape(size[::-1]).transpose()
    positions = _pad_spatial(positions.reshape(1, 1, *size), begins, ends, -1)
    x = _pad_spatial(x, begins, ends, _lowest(x.dtype))
    best = where = None
    for _, window in _taps(kernel, strides, dilations, out):
        value, position = x[window], np.broadcast_to(positions[window], x[window].shape)
        if best is None:
            best, where = value.copy(), position.copy()
            continue
        wins = (value > best) | ((where < 0) & (position >= 0))
        best, where = np.where(wins, value, best), np.where(wins, position, where)
    planes = np.arange(x.shape[0] * x.shape[1], dtype=np.int64).reshape(x.shape[0], x.shape[1], *[1] * len(size))
    return best, where + planes * plane


@reference(AveragePoolOp)
@_channels_first
def average_pool(op: AveragePoolOp, x):
    """Window sums divided by how many taps count: a 0/1 mask of the padded spatial
    extent, reduced the same way, gives that divisor per output position."""
    (x,) = widen(x)
    kernel, strides, dilations, out, begins, ends = _pool_geometry(op)
    size, spatial = x.shape[2:], x.ndim - 2
    pads = ints(op.pads)
    mask = np.ones((1, 1, *size), dtype=x.dtype)
    if int_of(op.count_include_pad):
        mask = _pad_spatial(mask, pads[:spatial], pads[spatial:], 1)
        mask = _pad_spatial(mask, [0] * spatial, [e - p for e, p in zip(ends, pads[spatial:])], 0)
    else:
        mask = _pad_spatial(mask, begins, ends, 0)
    total = _reduce_windows(_pad_spatial(x, begins, ends, 0), np.add, kernel, strides, dilations, out)
    return total / _reduce_windows(mask, np.add, kernel, strides, dilations, out)


@reference(GlobalAveragePoolOp)
@_channels_first
def global_average_pool(op, x):
    (x,) = widen(x)
    return x.mean(axis=tuple(range(2, x.ndim)), keepdims=True)


@reference(GlobalMaxPoolOp)
@_channels_first
def global_max_pool(op, x):
    return x.max(axis=tuple(range(2, x.ndim)), keepdims=True)


# --- normalisation ---------------------------------------------------------


def _moments(x: np.ndarray, axes: tuple[int, ...], epsilon: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x - mean, mean, sqrt(variance + epsilon)) over `axes`, kept as size-1 axes."""
    mean = x.mean(axis=axes, keepdims=True)
    centered = x - mean
    var = np.mean(centered * centered, axis=axes, keepdims=True)
    return centered, mean, np.sqrt(var + epsilon)


def _normalize(x: np.ndarray, axes: tuple[int, ...], epsilon: float) -> np.ndarray:
    centered, _, std = _moments(x, axes, epsilon)
    return centered / std


@reference(BatchNormOp)
@_channels_first
def batch_norm(op: BatchNormOp, x, scale, bias, mean, var):
    x, scale, bias, mean, var = widen(x, scale, bias, mean, var)
    factor = scale / np.sqrt(var + float_of(op.epsilon))
    return x * _per_channel(factor, x.ndim) + _per_channel(bias - mean * factor, x.ndim)


@reference(InstanceNormOp)
@_channels_first
def instance_norm(op: InstanceNormOp, x, scale, bias):
    x, scale, bias = widen(x, scale, bias)
    y = _normalize(x, tuple(range(2, x.ndim)), float_of(op.epsilon))
    return y * _per_channel(scale, x.ndim) + _per_channel(bias, x.ndim)


@reference(LayerNormOp)
def layer_norm(op: LayerNormOp, x, scale, bias=None):
    """With its `mean` and `inv_std_dev` results the op also returns the statistics,
    computed (like y) in float32 for float16 and in float64 for float64, as onnxruntime
    does; `as_result` rounds them to the f32 results."""
    x, scale = widen(x, scale)
    axis = int_of(op.axis) % x.ndim
    centered, mean, std = _moments(x, tuple(range(axis, x.ndim)), float_of(op.epsilon))
    y = centered / std * scale
    y = y if bias is None else y + bias
    return y if op.mean is None else (y, mean, 1 / std)


@reference(SoftmaxOp)
def softmax(op: SoftmaxOp, x):
    (x,) = widen(x)
    if x.size == 0:  # nothing to normalize (and an empty axis has no maximum)
        return x
    axis = int_of(op.axis)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@reference(LogSoftmaxOp)
def log_softmax(op: LogSoftmaxOp, x):
    (x,) = widen(x)
    if x.size == 0:
        return x
    axis = int_of(op.axis)
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --- matrix products -------------------------------------------------------


@reference(GemmOp)
def gemm(op: GemmOp, a, b, c=None):
    """alpha and beta are Python floats, so float arrays keep their dtype (NEP 50)."""
    a, b = widen(a, b)
    a = a.T if int_of(op.trans_a) else a
    b = b.T if int_of(op.trans_b) else b
    y = a @ b
    alpha, beta = float_of(op.alpha), float_of(op.beta)
    if alpha != 1.0:
        y = alpha * y
    if c is None or beta == 0.0:
        return y
    (c,) = widen(c)
    return y + (c if beta == 1.0 else beta * c)


@reference(MatMulOp)
def matmul(op: MatMulOp, a, b, bias=None):
    # numpy's batched matmul on transposed views (attention's q·kᵀ) is several times
    # slower than on contiguous copies, which cost little next to the product
    a, b = (np.ascontiguousarray(x) for x in widen(a, b))
    y = np.matmul(a, b)
    return y if bias is None else y + widen(bias)[0]
