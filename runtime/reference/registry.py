"""The table from op class to its numpy implementation.

An implementation is `fn(op, *arrays) -> array | tuple[array, ...]`: it reads the op's
properties and result types, and computes on numpy arrays. Register one with
`@reference(OpClass, ...)` beside the other ops of its family.

Constant folding (the importer's and `graph-fold-constants`) runs the implementations of
`REFERENCE` on known values. Ops that must reach later passes even when every operand is
known register with `fold=False`, into `UNFOLDED`, which only the interpreter runs: the
`quant` ops, whose operands are often all weights (an int8 weight with its scale) while
the quantization they state is what the quant level works on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.dialects.builtin import BFloat16Type
from xdsl.ir import Operation

from dialects.dtypes import numpy_dtype, round_to_bf16

Impl = Callable[..., Any]
REFERENCE: dict[type[Operation], Impl] = {}
UNFOLDED: dict[type[Operation], Impl] = {}


def reference(*op_types: type[Operation], fold: bool = True) -> Callable[[Impl], Impl]:
    table = REFERENCE if fold else UNFOLDED

    def register(fn: Impl) -> Impl:
        for op_type in op_types:
            if op_type in REFERENCE or op_type in UNFOLDED:
                raise ValueError(f"{op_type.name} already has a reference implementation")
            table[op_type] = fn
        return fn

    return register


def widen(*arrays: np.ndarray) -> list[np.ndarray]:
    """Arrays in the dtype to compute in: float16 widens to float32 (`as_result` rounds the
    result back once, as onnxruntime does); other dtypes stay."""
    return [a.astype(np.float32) if a.dtype == np.float16 else a for a in arrays]


def result_dtype(op: Operation, index: int = 0) -> np.dtype:
    """The numpy dtype of the op's `index`-th result."""
    return numpy_dtype(op.results[index].type.element_type)


def as_result(op: Operation, value: Any, index: int = 0) -> np.ndarray:
    """Coerce a numpy result to the exact dtype and shape the IR promises (bf16 results,
    held as float32, are rounded to bf16 here, so no implementation has to)."""
    t = op.results[index].type
    array = np.asarray(value, dtype=numpy_dtype(t.element_type))
    if isinstance(t.element_type, BFloat16Type):
        array = round_to_bf16(array)
    return array.reshape(t.get_shape())
