"""Reference semantics of the indexing ops: N-d gathers and scatters, one-hot, trilu, cumsum.

Index tuples become numpy advanced-indexing tuples, so each op is one fancy-index or one
`ufunc.at` call. Negative indices count from the end of their dimension, as in
onnxruntime; anything outside [-dim, dim) is an error, as it is there.
"""

from __future__ import annotations

import math

import numpy as np

from dialects.graph import CumSumOp, GatherNDOp, OneHotOp, ScatterNDOp, TriluOp
from dialects.graph.base import int_of, str_of
from runtime.reference.registry import reference


def _index_tuple(indices: np.ndarray, dims: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Rows of `indices` (last axis: one entry per dimension in `dims`) as a numpy index
    tuple of len(dims) arrays shaped like `indices.shape[:-1]`, negatives resolved."""
    indices = indices.astype(np.int64)
    bounds = np.asarray(dims, dtype=np.int64)
    if indices.size and ((indices < -bounds) | (indices >= bounds)).any():
        raise IndexError(f"index tuples out of range for dimensions {list(dims)}")
    return tuple(np.moveaxis(np.where(indices < 0, indices + bounds, indices), -1, 0))


@reference(GatherNDOp)
def gather_nd(op, data, indices):
    """The batch dimensions flatten to one, indexed by its position alongside each tuple."""
    batch_dims, depth = int_of(op.batch_dims), indices.shape[-1]
    batch = math.prod(data.shape[:batch_dims])
    rows = math.prod(indices.shape[batch_dims:-1])
    flat = data.reshape(batch, *data.shape[batch_dims:])
    index = _index_tuple(indices.reshape(batch, rows, depth), flat.shape[1 : 1 + depth])
    return flat[(np.arange(batch)[:, None], *index)]


_SCATTER_UFUNCS = {"add": np.add, "mul": np.multiply, "max": np.maximum, "min": np.minimum}


@reference(ScatterNDOp)
def scatter_nd(op, data, indices, updates):
    """`none` assigns (ONNX leaves repeated indices undefined; the last one wins here);
    the reductions go through `ufunc.at`, which applies repeats one after the other in
    index order, as onnxruntime does."""
    depth = indices.shape[-1]
    index = _index_tuple(indices, data.shape[:depth])
    result = data.copy()
    reduction = str_of(op.reduction)
    if reduction == "none":
        result[index] = updates
    else:
        _SCATTER_UFUNCS[reduction].at(result, index, updates)
    return result


@reference(OneHotOp)
def one_hot(op, indices, values):
    """Indices are truncated to integers (float indices are allowed) and compared with
    every class along the new axis; out-of-range ones match none and stay `off`."""
    depth, axis = int_of(op.depth), int_of(op.axis)
    index = indices.astype(np.int64)
    index = np.expand_dims(np.where(index < 0, index + depth, index), axis)
    classes = np.arange(depth).reshape([-1 if i == axis else 1 for i in range(index.ndim)])
    return np.where(index == classes, values[1], values[0])


@reference(TriluOp)
def trilu(op, x):
    keep = np.triu if int_of(op.upper) else np.tril
    return keep(x, int_of(op.k))


@reference(CumSumOp)
def cum_sum(op, x):
    """A sequential sum in the input's dtype, except float16, which onnxruntime sums in
    float32 and rounds once (`as_result` does); the exclusive form is the inclusive one
    shifted by one, which is exact."""
    axis = int_of(op.axis)
    flip = bool(int_of(op.reverse))
    y = np.flip(x, axis) if flip else x
    sums = np.cumsum(y, axis=axis, dtype=np.float32 if x.dtype == np.float16 else x.dtype)
    if int_of(op.exclusive):
        zero = np.zeros_like(np.take(sums, [0], axis=axis))
        sums = np.concatenate([zero, np.delete(sums, -1, axis=axis)], axis=axis)
    return np.flip(sums, axis) if flip else sums
