"""What passes need to read and create compile-time constants.

A value is known when it comes from `graph.constant` (inline) or `graph.weight` (the
module's store). New constants go inline when small or splat, else into the store, the
same rule the importer follows.
"""

from __future__ import annotations

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Attribute, Operation, SSAValue

from dialects.dtypes import tensor_type
from dialects.graph import ConstantOp, WeightOp
from dialects.graph.core import fits_inline
from dialects.weights import WeightStore, store_of


def known_value(value: SSAValue, store: WeightStore) -> np.ndarray | None:
    """The array behind `value` if it is a constant or a weight, else None."""
    owner = value.owner
    if isinstance(owner, ConstantOp):
        return owner.to_array()
    if isinstance(owner, WeightOp):
        return store[owner.sym.data]
    return None


def constant_op(array: np.ndarray, element_type: Attribute, store: WeightStore, hint: str) -> Operation:
    """An op producing `array` with `element_type` (bf16 arrays are float32)."""
    if fits_inline(array):
        return ConstantOp.from_array(array, element_type)
    return WeightOp.of(store.add(array, hint), tensor_type(array.shape, element_type))


def module_store(op: Operation) -> WeightStore:
    """The weight store of the module that holds `op`."""
    module = op
    while not isinstance(module, ModuleOp):
        module = module.parent_op()
        if module is None:
            raise ValueError(f"{op.name} is not inside a module")
    return store_of(module)


__all__ = ["constant_op", "known_value", "module_store"]
