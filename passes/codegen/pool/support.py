"""Pieces the pooling, per-channel normalisation and scan generators share: the ctypes a
kernel computes in, the grid-stride loop, max with numpy's NaN rule, vector structs."""

from __future__ import annotations

import math

import numpy as np
from xdsl.ir import Operation

from dialects.errors import OptcError
from dialects.kernel import FuncOp
from passes.codegen.common.types import CType, ctype_of, kernel_signature, literal, pointer_params
from passes.codegen.generator import unknown_tactic

BLOCK_SIZE = 256
"""Threads per block of the one-thread-per-output kernels."""


def where(kernel: FuncOp) -> str:
    return f"@{kernel.sym_name.data}"


def refuse(kernel: FuncOp, op: Operation, reason: str) -> OptcError:
    """The error for a case this family does not lower: it names the kernel, the op and why."""
    return OptcError(f"cuda codegen of {where(kernel)}: '{op.name}' {reason}")


def element_ctype(kernel: FuncOp, value) -> CType:
    return ctype_of(value.type.element_type, where(kernel))


def lowest(ctype: CType) -> str:
    """The identity of max: -inf for floats, the type's minimum for integers."""
    if ctype.is_float:
        return literal(-math.inf, ctype)
    return literal(int(np.iinfo(_numpy_int(ctype)).min), ctype)


def _numpy_int(ctype: CType) -> np.dtype:
    signed = not ctype.storage.startswith("unsigned")
    return np.dtype(f"{'i' if signed else 'u'}{ctype.itemsize}")


def max_of(a: str, b: str, ctype: CType) -> str:
    """max(a, b) where a NaN in either wins, as np.maximum / np.max (floats); plain for integers."""
    if ctype.is_float:
        return f"(({b} > {a} || {b} != {b}) ? {b} : {a})"
    return f"({b} > {a} ? {b} : {a})"


def vector_widths(ctype: CType, divides: int) -> list[int]:
    """Elements per vector access, widest first: the powers of two that divide `divides`
    (the channel or element count, so every accessed offset is a multiple of it and, with
    the runtime's 256-byte aligned buffers, aligned) and whose bytes fit in 16."""
    return [w for w in (16, 8, 4, 2) if w * ctype.itemsize <= 16 and divides % w == 0] + [1]


def vector_width(ctype: CType, divides: int) -> int:
    """The widest of `vector_widths`."""
    return vector_widths(ctype, divides)[0]


def vector_problem(vector: int, divides: int, what: str) -> str | None:
    """Why `vector` elements per access cannot tile `divides` of `what` (None when they can):
    a power of two (the Vec struct's alignment) that divides it."""
    if vector < 1 or vector & (vector - 1) or divides % vector:
        return f"cannot move {vector} {what} per thread ({divides} {what})"
    return None


def tactic_problem(kernel: FuncOp, launch, tactics) -> str | None:
    """Why `launch`'s tactic is not one of this kernel's `tactics` (None when it is)."""
    if launch.tactic_name in tactics:
        return None
    return unknown_tactic(f"'{kernel.computation.name}'", launch.tactic_name, tactics)


def vector_struct(ctype: CType, width: int) -> str:
    """A local struct of `width` elements, aligned to its size, for one 16/8/4-byte access
    (declared inside the kernel so that kernels in one file never clash)."""
    return f"struct __align__({width * ctype.itemsize}) Vec {{ {ctype.storage} v[{width}]; }};"


def grid_stride_kernel(kernel: FuncOp, count: int, body: list[str], prelude: list[str] = ()) -> str:
    """An `extern "C"` kernel whose threads walk `i` over [0, count) in a grid-stride loop
    (any grid is correct); `body` is the loop body, `prelude` lines come before the loop."""
    name = kernel.sym_name.data
    lines = "\n".join(f"        {line}" for line in body)
    before = "".join(f"    {line}\n" for line in prelude)
    return (
        f"{kernel_signature(name, pointer_params(kernel), BLOCK_SIZE)}\n{{\n{before}"
        f"    const long long count = {count}LL;\n"
        "    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < count;\n"
        "         i += (long long)gridDim.x * blockDim.x) {\n"
        f"{lines}\n    }}\n}}\n"
    )
