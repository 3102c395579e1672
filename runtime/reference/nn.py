"""Reference semantics of neural-network ops (convolution, pooling, norms, matmul)."""

from __future__ import annotations

import numpy as np

from dialects.graph import ConvOp
from dialects.graph.base import int_of, ints
from runtime.reference.registry import reference


def _pad_spatial(x: np.ndarray, pads: tuple[int, ...], value: float = 0.0) -> np.ndarray:
    spatial = len(pads) // 2
    width = [(0, 0), (0, 0)] + [(pads[i], pads[spatial + i]) for i in range(spatial)]
    return np.pad(x, width, constant_values=value)


def _windows(x: np.ndarray, kernel: tuple[int, ...], strides, dilations) -> np.ndarray:
    """All sliding windows: shape (N, C, *out, *kernel), as a strided view (no copy)."""
    spatial = len(kernel)
    n, c, *size = x.shape
    out = [(size[i] - dilations[i] * (kernel[i] - 1) - 1) // strides[i] + 1 for i in range(spatial)]
    s = x.strides
    view_strides = (
        s[0],
        s[1],
        *[s[2 + i] * strides[i] for i in range(spatial)],
        *[s[2 + i] * dilations[i] for i in range(spatial)],
    )
    return np.lib.stride_tricks.as_strided(x, (n, c, *out, *kernel), view_strides, writeable=False)


@reference(ConvOp)
def conv(op: ConvOp, x, w, b=None):
    group = int_of(op.group)
    x = _pad_spatial(x, ints(op.pads))
    spatial = x.ndim - 2
    win = _windows(x, w.shape[2:], ints(op.strides), ints(op.dilations))
    n, c = x.shape[:2]
    m = w.shape[0]
    win = win.reshape(n, group, c // group, *win.shape[2:])
    wg = w.reshape(group, m // group, *w.shape[1:])
    k_axes = "".join("klmnop"[i] for i in range(spatial))
    o_axes = "".join("xyzuvw"[i] for i in range(spatial))
    # n g c out... k...  ,  g m c k...  ->  n g m out...
    y = np.einsum(f"ngc{o_axes}{k_axes},gmc{k_axes}->ngm{o_axes}", win, wg, optimize=True)
    y = y.reshape(n, m, *y.shape[3:])
    if b is not None:
        y = y + b.reshape(1, m, *([1] * spatial))
    return y
