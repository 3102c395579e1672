"""Reference semantics of data-movement and shape ops."""

from __future__ import annotations

import numpy as np

from dialects.graph import ReshapeOp, TransposeOp
from dialects.graph.base import ints
from runtime.reference.registry import reference


@reference(ReshapeOp)
def reshape(op, x):
    return x.reshape(op.result.type.get_shape())


@reference(TransposeOp)
def transpose(op, x):
    return np.transpose(x, ints(op.perm))
