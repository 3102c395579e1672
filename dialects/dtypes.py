"""Element types: one table between ONNX, MLIR (builtin) and numpy.

bf16 has no numpy dtype, so the reference interpreter holds bf16 tensors as float32
whose values are rounded to bf16 (see `round_to_bf16`).
"""

from __future__ import annotations

import numpy as np
from onnx import TensorProto
from xdsl.dialects.builtin import (
    BFloat16Type,
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

_ONNX_TO_MLIR = {onnx_t: mlir_t for onnx_t, mlir_t, _ in _TABLE}
_MLIR_TO_NUMPY = {mlir_t: np_t for _, mlir_t, np_t in _TABLE}
_MLIR_TO_ONNX = {mlir_t: onnx_t for onnx_t, mlir_t, _ in _TABLE}
# numpy -> mlir: bf16 never comes from numpy, so float32 maps to f32
_NUMPY_TO_MLIR = {np_t: mlir_t for onnx_t, mlir_t, np_t in _TABLE if onnx_t != TensorProto.BFLOAT16}


def onnx_elem_to_mlir(elem_type: int, where: str = "") -> Attribute:
    """The MLIR element type of an ONNX `TensorProto.DataType`, or a clear error."""
    if elem_type in _ONNX_TO_MLIR:
        return _ONNX_TO_MLIR[elem_type]
    name = TensorProto.DataType.Name(elem_type) if elem_type in TensorProto.DataType.values() else str(elem_type)
    supported = ", ".join(TensorProto.DataType.Name(t) for t, _, _ in _TABLE)
    raise OptcError(f"{where}element type {name} is not supported (supported: {supported})")


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


def tensor_type_of(array: np.ndarray) -> TensorType:
    return tensor_type(array.shape, mlir_elem_from_numpy(array.dtype))


def is_float(element_type: Attribute) -> bool:
    return isinstance(element_type, Float16Type | BFloat16Type | Float32Type | Float64Type)


def is_integer(element_type: Attribute) -> bool:
    return isinstance(element_type, IntegerType) and element_type != i1


def is_bool(element_type: Attribute) -> bool:
    return element_type == i1


def round_to_bf16(array: np.ndarray) -> np.ndarray:
    """Round float32 values to the nearest bf16 (ties to even), kept as float32."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    rounded = np.where(np.isnan(array), bits, (bits + rounding) & np.uint32(0xFFFF0000))
    return rounded.astype(np.uint32).view(np.float32)
