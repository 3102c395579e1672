"""Element types: one table between ONNX, MLIR (builtin) and numpy.

bf16 has no numpy dtype, so the reference interpreter holds bf16 tensors as float32
whose values are rounded to bf16 (see `round_to_bf16`).

The low-precision types of ONNX (float8 in its four variants and E8M0, float4 E2M1,
int4/uint4, int2/uint2) are *storage-only* in optc: values of these types are stored,
moved (reshaped, transposed, concatenated, sliced, gathered), cast, quantized and
dequantized (`dialects/quant.py`), but no op computes on them (`graph` ops other than casts
and data movement reject them; see
`dialects.graph.base.MovesData`). Each has an MLIR builtin type (`f8E4M3FN`, `f4E2M1FN`,
`i4`, `ui2`, ...) and the interpreter holds them as `ml_dtypes` arrays, the numpy dtypes
onnx itself uses, one element per byte. ONNX's FLOAT6 types have no Cast semantics in the
ONNX spec yet and stay unsupported.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
from onnx import TensorProto
from xdsl.dialects.builtin import (
    BFloat16Type,
    Float4E2M1FNType,
    Float8E4M3FNType,
    Float8E4M3FNUZType,
    Float8E5M2FNUZType,
    Float8E5M2Type,
    Float8E8M0FNUType,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    Signedness,
    TensorType,
)
from xdsl.ir import Attribute

from dialects.errors import OptcError

i1 = IntegerType(1)
_SIGNED = Signedness.SIGNLESS
_UNSIGNED = Signedness.UNSIGNED

# (onnx elem type, mlir element type, numpy dtype used by the reference interpreter)
_TABLE: list[tuple[int, Attribute, np.dtype]] = [
    (TensorProto.FLOAT, Float32Type(), np.dtype(np.float32)),
    (TensorProto.FLOAT16, Float16Type(), np.dtype(np.float16)),
    (TensorProto.BFLOAT16, BFloat16Type(), np.dtype(np.float32)),
    (TensorProto.DOUBLE, Float64Type(), np.dtype(np.float64)),
    (TensorProto.INT64, IntegerType(64), np.dtype(np.int64)),
    (TensorProto.INT32, IntegerType(32), np.dtype(np.int32)),
    (TensorProto.INT16, IntegerType(16), np.dtype(np.int16)),
    (TensorProto.INT8, IntegerType(8), np.dtype(np.int8)),
    (TensorProto.UINT64, IntegerType(64, _UNSIGNED), np.dtype(np.uint64)),
    (TensorProto.UINT32, IntegerType(32, _UNSIGNED), np.dtype(np.uint32)),
    (TensorProto.UINT16, IntegerType(16, _UNSIGNED), np.dtype(np.uint16)),
    (TensorProto.UINT8, IntegerType(8, _UNSIGNED), np.dtype(np.uint8)),
    (TensorProto.BOOL, i1, np.dtype(np.bool_)),
]

# storage-only types (see the module docstring), by ONNX name: onnx adds them over releases
# (INT4 in 1.16, FLOAT4E2M1 and FLOAT8E8M0 in 1.18, INT2 in 1.20)
_STORAGE_TABLE: list[tuple[str, Attribute, np.dtype]] = [
    ("FLOAT8E4M3FN", Float8E4M3FNType(), np.dtype(ml_dtypes.float8_e4m3fn)),
    ("FLOAT8E4M3FNUZ", Float8E4M3FNUZType(), np.dtype(ml_dtypes.float8_e4m3fnuz)),
    ("FLOAT8E5M2", Float8E5M2Type(), np.dtype(ml_dtypes.float8_e5m2)),
    ("FLOAT8E5M2FNUZ", Float8E5M2FNUZType(), np.dtype(ml_dtypes.float8_e5m2fnuz)),
    ("FLOAT8E8M0", Float8E8M0FNUType(), np.dtype(ml_dtypes.float8_e8m0fnu)),
    ("FLOAT4E2M1", Float4E2M1FNType(), np.dtype(ml_dtypes.float4_e2m1fn)),
    ("INT4", IntegerType(4), np.dtype(ml_dtypes.int4)),
    ("UINT4", IntegerType(4, _UNSIGNED), np.dtype(ml_dtypes.uint4)),
    ("INT2", IntegerType(2), np.dtype(ml_dtypes.int2)),
    ("UINT2", IntegerType(2, _UNSIGNED), np.dtype(ml_dtypes.uint2)),
]
_TABLE += [(getattr(TensorProto, n), mlir_t, np_t) for n, mlir_t, np_t in _STORAGE_TABLE if hasattr(TensorProto, n)]

STORAGE_ONLY: frozenset[Attribute] = frozenset(mlir_t for _, mlir_t, _ in _STORAGE_TABLE)
"""Element types optc stores, moves and casts but computes nothing on."""
STORAGE_DTYPES: dict[str, np.dtype] = {np_t.name: np_t for _, _, np_t in _STORAGE_TABLE}
"""Their numpy (ml_dtypes) dtypes by name; numpy's own files (.npy/.npz) cannot name them."""
FLOAT8_TYPES = (Float8E4M3FNType, Float8E4M3FNUZType, Float8E5M2Type, Float8E5M2FNUZType, Float8E8M0FNUType)
"""The targets ONNX Cast's `saturate` applies to."""

_ONNX_TO_MLIR = {onnx_t: mlir_t for onnx_t, mlir_t, _ in _TABLE}
_MLIR_TO_NUMPY = {mlir_t: np_t for _, mlir_t, np_t in (*_TABLE, *_STORAGE_TABLE)}
_MLIR_TO_ONNX = {mlir_t: onnx_t for onnx_t, mlir_t, _ in _TABLE}
# numpy -> mlir: bf16 never comes from numpy, so float32 maps to f32
_NUMPY_TO_MLIR = {np_t: mlir_t for onnx_t, mlir_t, np_t in (*_TABLE, *_STORAGE_TABLE) if onnx_t != TensorProto.BFLOAT16}


def onnx_elem_to_mlir(elem_type: int, where: str = "") -> Attribute:
    """The MLIR element type of an ONNX `TensorProto.DataType`, or a clear error."""
    if elem_type in _ONNX_TO_MLIR:
        return _ONNX_TO_MLIR[elem_type]
    name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else str(elem_type)
    supported = ", ".join(TensorProto.DataType.Name(t) for t, _, _ in _TABLE)
    raise OptcError(f"{where}element type {name} is not supported (supported: {supported})")


def onnx_type_names(storage_only: bool) -> list[str]:
    """The ONNX names of the element types optc imports: the storage-only ones, or the others."""
    return [TensorProto.DataType.Name(t) for t, mlir_t, _ in _TABLE if (mlir_t in STORAGE_ONLY) == storage_only]


def mlir_to_onnx_elem(element_type: Attribute) -> int:
    return _MLIR_TO_ONNX[element_type]


def numpy_dtype(element_type: Attribute) -> np.dtype:
    """The numpy dtype the reference interpreter uses for an MLIR element type."""
    return _MLIR_TO_NUMPY[element_type]


def mlir_elem_from_numpy(dtype: np.dtype) -> Attribute:
    dtype = np.dtype(dtype)
    if dtype not in _NUMPY_TO_MLIR:
        raise OptcError(f"numpy dtype {dtype} has no optc element type")
    return _NUMPY_TO_MLIR[dtype]


def tensor_type(shape, element_type: Attribute) -> TensorType:
    return TensorType(element_type, [int(d) for d in shape])


def describe_array(array: np.ndarray) -> str:
    """An array's dtype and shape as messages and reports print them: `float32[10, 32]`."""
    return f"{array.dtype}[{', '.join(map(str, array.shape))}]"


def tensor_type_of(array: np.ndarray) -> TensorType:
    return tensor_type(array.shape, mlir_elem_from_numpy(array.dtype))


def is_float(element_type: Attribute) -> bool:
    return isinstance(element_type, Float16Type | BFloat16Type | Float32Type | Float64Type)


def is_integer(element_type: Attribute) -> bool:
    return isinstance(element_type, IntegerType) and element_type != i1


def is_bool(element_type: Attribute) -> bool:
    return element_type == i1


def is_storage_only(element_type: Attribute) -> bool:
    return element_type in STORAGE_ONLY


def is_storage_float(element_type: Attribute) -> bool:
    """float8, float4 and E8M0: storage-only types with float values (and NaN in most)."""
    return is_storage_only(element_type) and not isinstance(element_type, IntegerType)


def round_to_bf16(array: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bf16 (ties to even), kept as float32."""
    shape = np.shape(array)  # ascontiguousarray makes a 0-d array 1-d
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    rounded = np.where(np.isnan(bits.view(np.float32)), bits, (bits + rounding) & np.uint32(0xFFFF0000))
    return rounded.astype(np.uint32).view(np.float32).reshape(shape)
