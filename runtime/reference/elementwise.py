"""Reference semantics of elementwise ops."""

from __future__ import annotations

import numpy as np

from dialects.dtypes import round_to_bf16
from dialects.graph import AddOp, CastOp, ReluOp
from runtime.reference.registry import reference, result_dtype


@reference(ReluOp)
def relu(op, x):
    return np.maximum(x, 0).astype(x.dtype)


@reference(AddOp)
def add(op, a, b):
    return a + b


@reference(CastOp)
def cast(op, x):
    from xdsl.dialects.builtin import BFloat16Type

    if isinstance(op.result.type.element_type, BFloat16Type):
        return round_to_bf16(x.astype(np.float32))
    return x.astype(result_dtype(op))
