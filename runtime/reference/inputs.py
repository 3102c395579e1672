"""Seeded random inputs for a module's `@main`, keyed by the model's input names.

One generator serves `optc-run` (inputs when the user gives none) and the differential
tests, so a seed means the same arrays everywhere. Values are small: floats from a
standard normal, integers in [-5, 5] ([0, 5] when unsigned), booleans fair coins; bf16
inputs are float32 arrays rounded to bf16, the way the interpreter holds them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, ModuleOp, TensorType

from dialects.dtypes import numpy_dtype, round_to_bf16
from runtime.reference.interpreter import entry, io_names


def input_types(module: ModuleOp) -> dict[str, TensorType]:
    """`@main`'s inputs in order: name → tensor type."""
    fn = entry(module)
    return dict(zip(io_names(fn), fn.function_type.inputs.data))


def random_array(shape: Sequence[int], dtype: np.dtype, rng: np.random.Generator) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-5 if np.issubdtype(dtype, np.signedinteger) else 0, 6, shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def random_inputs(module: ModuleOp, seed: int = 0) -> dict[str, np.ndarray]:
    """One random array per input of `@main`, drawn in argument order from `seed`."""
    specs = [
        (name, t.get_shape(), numpy_dtype(t.element_type), isinstance(t.element_type, BFloat16Type))
        for name, t in input_types(module).items()
    ]
    return random_arrays(specs, seed)


def random_arrays(specs: Iterable[tuple[str, Sequence[int], np.dtype, bool]], seed: int = 0) -> dict[str, np.ndarray]:
    """One random array per (name, shape, numpy dtype, is bf16), drawn in order from `seed`:
    the arrays `random_inputs` gives a module, for anything that knows its inputs' types
    (an engine's plan)."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, shape, dtype, bf16 in specs:
        array = random_array(shape, dtype, rng)
        arrays[name] = round_to_bf16(array) if bf16 else array
    return arrays
