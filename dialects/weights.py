"""The side store that keeps weights out of the IR text.

A `graph.weight "name"` op names an array in the module's `WeightStore`. A store is
backed by a file: the ONNX model's initializers (after import) or a `.weights.npz`
written beside saved IR. Arrays that passes create (folded constants) live in memory
until the IR is saved with `optc -o FILE`, which writes `FILE.weights.npz` beside it.

The module names its file in the `optc.weights` attribute, so `optc out.mlir` finds the
bytes again; a store attached in memory (`attach`) takes precedence. Either way the store
is checked against the IR when it is bound (`check_weights`): every `graph.weight` op's
declared shape and element type against the array of its name.
"""

from __future__ import annotations

import hashlib
import os
import weakref
import zipfile
import zlib
from dataclasses import dataclass, field

import numpy as np
from xdsl.dialects.builtin import ModuleOp, StringAttr, TensorType

from dialects.dtypes import STORAGE_DTYPES, describe_array, numpy_dtype
from dialects.errors import OptcError
from dialects.graph.core import WeightOp

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
        """Every array of an `.npz` (or of an ONNX file's initializers), read now: a module's
        weights are checked against its IR when they are bound (`check_weights`), which
        needs each array's shape and dtype, and every use reads the data anyway."""
        if os.path.isdir(path):
            raise OptcError(f"weights file '{path}' is a directory, not a file")
        if not os.path.exists(path):
            raise OptcError(f"weights file '{path}' does not exist")
        if path.endswith(".onnx"):
            return _load_onnx_initializers(path)
        return WeightStore(path, _read_npz(path))


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
    typed = _storage_dtype_lines(arrays.pop(DTYPES_ENTRY), arrays)
    return {n: a.view(STORAGE_DTYPES[typed[n]]) if n in typed else a for n, a in arrays.items()}


def _storage_dtype_lines(entry: np.ndarray, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """`DTYPES_ENTRY` as {name: dtype name}; a ValueError that says which line is wrong."""
    if entry.dtype.kind != "U" or entry.ndim != 1:
        raise ValueError(f"entry '{DTYPES_ENTRY}' is not a list of NAME=DTYPE lines (it holds {entry.dtype} values)")
    typed = {}
    for line in entry.tolist():
        name, _, dtype = line.rpartition("=")
        if dtype not in STORAGE_DTYPES:
            known = ", ".join(STORAGE_DTYPES)
            raise ValueError(f"entry '{DTYPES_ENTRY}' line '{line}' names no storage-only dtype ({known})")
        if name not in arrays or arrays[name].dtype != np.uint8:
            raise ValueError(f"entry '{DTYPES_ENTRY}' line '{line}' names no member of bytes (uint8)")
        typed[name] = dtype
    return typed


NOT_NPZ = "write one with `optc -o FILE` or numpy.savez"


def _read_npz(path: str) -> dict[str, np.ndarray]:
    """The arrays of an `.npz` archive, or an `OptcError` naming the file and the member at
    fault. Never unpickles: numpy would take a text file for pickled data, so the archive's
    magic bytes are looked at first."""
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except OSError as e:
        raise OptcError(f"weights file '{path}' cannot be read: {e.strerror}") from None
    if magic == b"\x93NUMPY":
        raise OptcError(f"weights file '{path}' holds a single array (.npy), not an .npz archive: {NOT_NPZ}")
    if not magic.startswith(b"PK"):
        raise OptcError(f"weights file '{path}' is not an .npz archive: {NOT_NPZ}")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, EOFError, zipfile.BadZipFile) as e:  # the end (the zip's directory) cut off
        raise OptcError(f"weights file '{path}' is truncated or damaged (not a complete .npz archive: {e})") from None
    with archive:
        arrays = {name: _read_member(path, archive, name) for name in archive.files}
    try:
        return from_npz_arrays(arrays)
    except ValueError as e:
        raise OptcError(f"weights file '{path}': {e}") from None


def _read_member(path: str, archive, name: str) -> np.ndarray:
    try:
        array = archive[name]
    except ValueError as e:  # a pickled object array, a damaged .npy header
        raise OptcError(f"weights file '{path}': member '{name}' is not a valid array ({e})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:  # a bad CRC, cut data
        raise OptcError(f"weights file '{path}': member '{name}' is damaged ({e})") from None
    if not isinstance(array, np.ndarray):  # numpy hands back the bytes of a member that is not .npy
        raise OptcError(f"weights file '{path}': member '{name}' is not a numpy array (.npy)")
    return array


def _load_onnx_initializers(path: str) -> WeightStore:
    import onnx

    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises assorted errors (DecodeError, OSError, ...) for bad files
        raise OptcError(f"weights file '{path}' is not a valid ONNX model: {type(e).__name__}: {e}") from None
    try:
        return WeightStore(path, {init.name: initializer_array(init) for init in model.graph.initializer})
    except OptcError as e:
        raise OptcError(f"weights file '{path}': {e}") from None


def initializer_array(init) -> np.ndarray:
    """An ONNX initializer's values as optc holds them: bf16 as float32 (see
    `dialects.dtypes`); an OptcError naming it when its data cannot be read. The importer
    and a weights file that is an `.onnx` read initializers through this one function."""
    from onnx import TensorProto, numpy_helper

    try:
        array = numpy_helper.to_array(init)
    except Exception as e:  # external data missing, wrong size, ...
        raise OptcError(f"initializer '{init.name}' cannot be read: {e}") from None
    return array.astype(np.float32) if init.data_type == TensorProto.BFLOAT16 else array


_attached: weakref.WeakKeyDictionary[ModuleOp, WeightStore] = weakref.WeakKeyDictionary()


def check_weights(module: ModuleOp, store: WeightStore) -> None:
    """Every `graph.weight` op of `module` against the array `store` holds under its name:
    same shape, same dtype (`numpy_dtype` of the declared element type: bf16 is float32,
    float8 an ml_dtypes type). A store read from a file must hold every name; an in-memory
    store without a file may lack one (IR printed to stdout), which fails when it is read.
    Used anyway, a wrong array gives a wrong answer or a kernel reading past its buffer."""
    for op in module.walk():
        if isinstance(op, WeightOp):
            problem = _mismatch(op.result.type, store.arrays.get(op.sym.data), store.source)
            if problem is not None:
                where = f"weights file '{store.source}'" if store.source else "the weight store"
                raise OptcError(f"{where}: weight '{op.sym.data}' is declared {op.result.type} by the IR but {problem}")


def _mismatch(declared: TensorType, array: np.ndarray | None, source: str | None) -> str | None:
    """What is wrong with `array` as a value of type `declared`, or None."""
    if not isinstance(declared, TensorType):  # unverified IR: the op's verifier says so
        return None
    if array is None:
        return "the file does not hold it" if source is not None else None
    try:
        dtype = numpy_dtype(declared.element_type)
    except KeyError:
        return f"no weight can hold its element type (found {describe_array(array)})"
    if array.dtype != dtype or array.shape != tuple(declared.get_shape()):
        return f"holds {describe_array(array)}"
    return None


def _bind(module: ModuleOp, store: WeightStore) -> None:
    """The one place a module's weights become its own: checked against its IR first."""
    check_weights(module, store)
    _attached[module] = store


def attach(module: ModuleOp, store: WeightStore) -> None:
    """Make `store` the weights of `module` (checked: see `check_weights`), recording its
    file in `optc.weights`."""
    _bind(module, store)
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
    _bind(module, store)
    return store
