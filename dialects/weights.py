"""The side store that keeps weights out of the IR text.

A `graph.weight "name"` op names an array in the module's `WeightStore`. A store is
backed by a file: the ONNX model's initializers (after import) or a `.weights.npz`
written beside saved IR. Arrays that passes create (folded constants) live in memory
until the IR is saved with `optc -o FILE`, which writes `FILE.weights.npz` beside it.

The module names its file in the `optc.weights` attribute, so `optc out.mlir` finds the
bytes again; a store attached in memory (`attach`) takes precedence.
"""

from __future__ import annotations

import hashlib
import os
import weakref
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr

from dialects.dtypes import STORAGE_DTYPES
from dialects.errors import OptcError

WEIGHTS_ATTR = "optc.weights"


@dataclass
class WeightStore:
    """Named numpy arrays, plus the file they came from (if any)."""

    source: str | None = None
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    unsaved: set[str] = field(default_factory=set)
    """Names created in memory that `source` does not hold."""

    def __getitem__(self, name: str) -> np.ndarray:
        if name not in self.arrays:
            where = f"'{self.source}'" if self.source else "this module's weight store"
            hint = ""
            if self.source is None:
                hint = " (IR printed to stdout carries no weights: save it with `optc -o FILE`)"
            raise OptcError(f"weight '{name}' is not in {where}{hint}")
        return self.arrays[name]

    def __contains__(self, name: str) -> bool:
        return name in self.arrays

    def add(self, array: np.ndarray, hint: str = "const") -> str:
        """Store a new array under a name derived from `hint` and its content."""
        digest = hashlib.sha1(np.ascontiguousarray(array).tobytes()).hexdigest()[:8]
        name = f"{hint}.{digest}"
        if name not in self.arrays:
            self.arrays[name] = array
            self.unsaved.add(name)
        return name

    def save(self, path: str, names: set[str] | None = None) -> None:
        """Write the arrays (or only `names`) to an `.npz` file; it becomes the source."""
        keep = self.arrays if names is None else {n: self.arrays[n] for n in names}
        with open(path, "wb") as f:
            np.savez(f, **to_npz_arrays(keep))
        self.source, self.unsaved = path, set()

    @staticmethod
    def load(path: str) -> WeightStore:
        if not os.path.exists(path):
            raise OptcError(f"weights file '{path}' does not exist")
        if path.endswith(".onnx"):
            return _load_onnx_initializers(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                return WeightStore(path, from_npz_arrays({k: data[k] for k in data.files}))
        except (OSError, ValueError) as e:
            raise OptcError(f"weights file '{path}' cannot be read: {e}") from None


DTYPES_ENTRY = "optc.dtypes"
"""The `.npz` entry naming the ml_dtypes dtype of each array saved as raw bytes (numpy's
files hold numpy's own dtypes only): `name=float8_e4m3fn` lines."""


def to_npz_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays to give `numpy.savez`: those of storage-only types (float8, int4, ...)
    as their bytes, plus `DTYPES_ENTRY` (`optc-run --output` writes its files so too)."""
    typed = {n: a.dtype.name for n, a in arrays.items() if a.dtype.name in STORAGE_DTYPES}
    if not typed:
        return arrays
    out = {n: a.view(np.uint8) if n in typed else a for n, a in arrays.items()}
    out[DTYPES_ENTRY] = np.array([f"{n}={d}" for n, d in typed.items()])
    return out


def from_npz_arrays(arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The arrays `to_npz_arrays` gave `numpy.savez`, as they were (read from `numpy.load`)."""
    if DTYPES_ENTRY not in arrays:
        return arrays
    typed = dict(line.rsplit("=", 1) for line in arrays.pop(DTYPES_ENTRY).tolist())
    return {n: a.view(STORAGE_DTYPES[typed[n]]) if n in typed else a for n, a in arrays.items()}


def _load_onnx_initializers(path: str) -> WeightStore:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(path)
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    return WeightStore(path, arrays)


_attached: weakref.WeakKeyDictionary[ModuleOp, WeightStore] = weakref.WeakKeyDictionary()


def attach(module: ModuleOp, store: WeightStore) -> None:
    """Make `store` the weights of `module`, recording its file in `optc.weights`."""
    _attached[module] = store
    if store.source is not None and not store.unsaved:
        module.attributes[WEIGHTS_ATTR] = StringAttr(store.source)
    else:
        module.attributes.pop(WEIGHTS_ATTR, None)


def clone_with_weights(module: ModuleOp) -> ModuleOp:
    """A copy of `module` that shares its weight store (a plain clone would not: weights
    made by passes live only in the store attached to the original)."""
    copy = module.clone()
    attach(copy, store_of(module))
    return copy


def store_of(module: ModuleOp, base_dir: str = ".") -> WeightStore:
    """The module's store: the attached one, else the file its `optc.weights` names."""
    if module in _attached:
        return _attached[module]
    attr = module.attributes.get(WEIGHTS_ATTR)
    if isinstance(attr, StringAttr):
        store = WeightStore.load(os.path.join(base_dir, attr.data))
    else:
        store = WeightStore()
    _attached[module] = store
    return store
