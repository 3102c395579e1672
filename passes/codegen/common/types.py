"""Element types in CUDA C: how each is stored, what arithmetic it is computed in, and the
prelude every emitted `.cu` file starts with.

Kernels compute half precision in float: a load widens (`ctype.load`), a store narrows
(`ctype.store`). NVRTC's wheels carry no CUDA headers (no cuda_fp16.h), so the prelude
defines its own 2-byte storage structs and converts with one PTX instruction each way,
which keeps every emitted file self-contained: it compiles with NVRTC and nothing else.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np
from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type, Float64Type, IntegerType, Signedness
from xdsl.ir import Attribute

from dialects.dtypes import is_storage_only, numpy_dtype
from dialects.errors import OptcError

PRELUDE = r"""// optc prelude: 2-byte float storage without CUDA headers; compute happens in float.
struct __align__(2) optc_half { unsigned short bits; };
struct __align__(2) optc_bf16 { unsigned short bits; };
__device__ __forceinline__ float optc_widen(optc_half h) {
    float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h.bits)); return f;
}
__device__ __forceinline__ float optc_widen(optc_bf16 h) { return __uint_as_float(((unsigned int)h.bits) << 16); }
__device__ __forceinline__ optc_half optc_to_half(float f) {
    optc_half h; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(f)); return h;
}
__device__ __forceinline__ optc_bf16 optc_to_bf16(float f) {
    optc_bf16 h; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.bits) : "f"(f)); return h;
}
"""


@dataclass(frozen=True)
class CType:
    """One element type as CUDA C sees it."""

    storage: str
    """The C type of one element in memory."""
    compute: str
    """The C type arithmetic happens in (float for the 2-byte floats)."""
    itemsize: int
    narrow: str | None = None
    """The prelude function that rounds a compute value to storage; None when they match."""

    def load(self, expr: str) -> str:
        """`expr` (a storage value) as a compute value."""
        return f"optc_widen({expr})" if self.narrow else expr

    def store(self, expr: str) -> str:
        """`expr` (a compute value) as a storage value."""
        return f"{self.narrow}({expr})" if self.narrow else expr

    @property
    def is_float(self) -> bool:
        return self.compute in ("float", "double")


_FLOATS = {
    Float32Type: CType("float", "float", 4),
    Float64Type: CType("double", "double", 8),
    Float16Type: CType("optc_half", "float", 2, "optc_to_half"),
    BFloat16Type: CType("optc_bf16", "float", 2, "optc_to_bf16"),
}
_SIGNED = {8: "signed char", 16: "short", 32: "int", 64: "long long"}
_UNSIGNED = {8: "unsigned char", 16: "unsigned short", 32: "unsigned int", 64: "unsigned long long"}


def ctype_of(element_type: Attribute, where: str) -> CType:
    """The CType of an MLIR element type; `where` names the kernel for the error."""
    for cls, ctype in _FLOATS.items():
        if isinstance(element_type, cls):
            return ctype
    if isinstance(element_type, IntegerType):
        width = element_type.width.data
        if width == 1:
            return CType("bool", "bool", 1)
        table = _UNSIGNED if element_type.signedness.data == Signedness.UNSIGNED else _SIGNED
        if width in table:
            return CType(table[width], table[width], width // 8)
    raise OptcError(
        f"cuda codegen of {where}: element type {element_type} has no CUDA type "
        "(f64, f32, f16, bf16, integers of 8 to 64 bits and i1 do)"
    )


def device_itemsize(element_type: Attribute, where: str) -> int:
    """Bytes per element on the device: the CType's, or one byte for the storage-only types
    (float8, float4, int4, int2: one element per byte, as the host holds them), which data
    movement kernels copy as plain bytes."""
    if is_storage_only(element_type):
        return numpy_dtype(element_type).itemsize
    return ctype_of(element_type, where).itemsize


def math_fn(name: str, ctype: CType) -> str:
    """The libdevice function `name` (exp, tanh, ...) for the compute type: expf for float."""
    return f"{name}f" if ctype.compute == "float" else name


def literal(value: float | int | bool, ctype: CType | str) -> str:
    """A C literal of `value` in the compute type, exact (inf and NaN by their bits)."""
    compute = ctype if isinstance(ctype, str) else ctype.compute
    if compute == "bool":
        return "true" if value else "false"
    if compute == "float":
        v = float(np.float32(value))
        if math.isfinite(v):
            return f"{v!r}f"
        return f"__int_as_float(0x{struct.unpack('<I', struct.pack('<f', v))[0]:08x})"
    if compute == "double":
        v = float(value)
        if math.isfinite(v):
            return repr(v)
        return f"__longlong_as_double(0x{struct.unpack('<Q', struct.pack('<d', v))[0]:016x}LL)"
    v = int(value)
    if compute == "long long":
        return f"({v + 1}LL - 1)" if v == -(2**63) else f"{v}LL"
    if compute == "unsigned long long":
        return f"{v}ULL"
    if compute == "unsigned int":
        return f"{v}U"
    if compute == "int":
        return f"({v + 1} - 1)" if v == -(2**31) else str(v)
    return f"(({compute}){v})"


def strides(shape) -> list[int]:
    """Row-major strides in elements."""
    return [math.prod(shape[k + 1 :]) for k in range(len(shape))]


def kernel_signature(name: str, params: list[str], launch_bounds: int | None = None) -> str:
    """`extern "C" __global__ void name(params)`, the one ABI of every optc kernel: a pointer
    per kernel.func argument, in order, then one per result, and nothing else."""
    bounds = f"__launch_bounds__({launch_bounds}) " if launch_bounds else ""
    joined = ",\n    ".join(params)
    return f'extern "C" __global__ void {bounds}{name}(\n    {joined})'


WORKSPACE_PARAM = "unsigned char* __restrict__ workspace"
"""The trailing parameter of a tactic with a workspace (passes/codegen/generator.py)."""


def pointer_params(kernel, ctype_for=None) -> list[str]:
    """The parameter list of a kernel.func: `const T* __restrict__ in<j>` per argument, then
    `T* __restrict__ out<r>` per result. `ctype_for(element_type, where)` gives each
    element's CType (`ctype_of` unless a family stores more types, as the storage-only
    casts do)."""
    ctype_for = ctype_for or ctype_of
    name = f"@{kernel.sym_name.data}"
    params = [
        f"const {ctype_for(t.element_type, name).storage}* __restrict__ in{j}"
        for j, t in enumerate(kernel.function_type.inputs.data)
    ]
    params += [
        f"{ctype_for(t.element_type, name).storage}* __restrict__ out{r}"
        for r, t in enumerate(kernel.function_type.outputs.data)
    ]
    return params
