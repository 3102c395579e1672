"""The cuBLASLt tactic of matrix products: which matmul kernels cuBLASLt can run, what it is
asked to compute, and the epilogue kernel that finishes the fused region.

A kernel.func whose tactic is `cublaslt` runs as two steps (DESIGN.md, "Tactics and
tuning": an epilogue the library cannot express runs as a generated kernel, and the tuner
times the pair):
1. cuBLASLt computes the product A·B (`lt_call`) into the accumulator's type, straight into
   the kernel's result when the epilogue only stores it (`direct`), else into the engine's
   workspace;
2. the epilogue kernel (`emit_epilogue`) reads each product element and runs the region on
   it exactly as optc's own matmul kernels do (the same `epilogue_lambda`: bias, activation,
   residual, casts, splits and transposed stores), so both tactics compute the same IR.

Its CUDA has the ABI of every optc kernel (a pointer per argument, then per result) plus one
trailing pointer: the product (`const ACC* __restrict__ product`).
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type

from dialects.errors import OptcError
from dialects.fused import MatmulOp
from dialects.kernel import FuncOp
from passes.codegen.common.types import ctype_of, kernel_signature, pointer_params
from passes.codegen.matmul.problem import Problem, epilogue_lambda, problem_of
from runtime.library.cublaslt import LtMatmul

BLOCK = 256

_DTYPES = {Float16Type: "float16", BFloat16Type: "bfloat16", Float32Type: "float32"}


def _dtype(element, what: str, problem: Problem) -> str:
    name = _DTYPES.get(type(element))
    if name is None:
        raise OptcError(f"{problem.kernel}: cuBLASLt takes f16, bf16 or f32 {what}, got {element}")
    return name


def _flat_stride(problem: Problem, strides: tuple[int, ...], matrix: int) -> int:
    """The one batch stride cuBLASLt takes for an operand: 0 when it is broadcast over every
    batch dim, `matrix` when it has them all; anything between has no single stride."""
    live = [d for d in problem.batch if d != 1]
    used = [s for d, s in zip(problem.batch, strides) if d != 1]
    if not live or all(s == 0 for s in used):
        return 0
    if all(s != 0 for s in used):
        return matrix
    raise OptcError(f"{problem.kernel}: cuBLASLt takes one batch stride per operand; this operand is broadcast over some batch dims only")


def acc_element(kernel: FuncOp):
    op = kernel.computation
    return op.epilogue.block.args[0].type.element_type if isinstance(op, MatmulOp) else op.results[0].type.element_type


def lt_call(kernel: FuncOp) -> LtMatmul:
    """What cuBLASLt computes for this kernel: the product, in the accumulator's type."""
    problem = problem_of(kernel)
    return LtMatmul(
        m=problem.m,
        n=problem.n,
        k=problem.k,
        dtype=_dtype(problem.element, "operands", problem),
        out_dtype=_dtype(acc_element(kernel), "accumulators", problem),
        batch=max(1, problem.batch_count),
        a_batch_stride=_flat_stride(problem, problem.a_batch_strides, problem.m * problem.k),
        b_batch_stride=_flat_stride(problem, problem.b_batch_strides, problem.k * problem.n),
        a_k_fast=problem.a_k_fast,
        b_n_fast=problem.b_n_fast,
    )


def why_not(kernel: FuncOp) -> str | None:
    """Why cuBLASLt cannot run this kernel's product, or None."""
    try:
        lt_call(kernel)
    except OptcError as exc:
        return str(exc)
    return None


def direct(kernel: FuncOp) -> bool:
    """Whether the epilogue only stores the product as the kernel's one result (same type,
    same flat order): then cuBLASLt writes the result and no epilogue kernel runs."""
    op = kernel.computation
    if not isinstance(op, MatmulOp):
        return getattr(op, "bias", None) is None and not hasattr(op, "alpha")
    block = op.epilogue.block
    ops = list(block.ops)
    acc = block.args[0]
    return (
        len(ops) == 1
        and list(ops[0].operands) == [acc]
        and len(op.results) == 1
        and op.results[0].type == acc.type
    )


def product_bytes(kernel: FuncOp) -> int:
    """Bytes of the product buffer in the workspace (0 when cuBLASLt writes the result)."""
    if direct(kernel):
        return 0
    call = lt_call(kernel)
    return call.batch * call.m * call.n * {"float16": 2, "bfloat16": 2, "float32": 4}[call.d_dtype]


def emit_epilogue(kernel: FuncOp) -> str:
    """The epilogue kernel: every product element through the fused region."""
    problem = problem_of(kernel)
    acc = ctype_of(acc_element(kernel), problem.kernel)
    it = problem.index_type
    total = max(1, problem.batch_count) * problem.m * problem.n
    params = [*pointer_params(kernel), f"const {acc.storage}* __restrict__ product"]
    body = [
        *epilogue_lambda(kernel, problem, acc.compute),
        f"for (long long f = (long long)blockIdx.x * blockDim.x + threadIdx.x; f < {total}LL; f += (long long)gridDim.x * blockDim.x) {{",
        f"    const {it} bz = ({it})(f / {problem.m * problem.n}LL);",
        f"    const {it} m = ({it})((f / {problem.n}) % {problem.m});",
        f"    const {it} n = ({it})(f % {problem.n});",
        f"    epilogue({acc.load('product[f]')}, bz, m, n);",
        "}",
    ]
    return "\n".join(
        [kernel_signature(kernel.sym_name.data, params, BLOCK), "{", *(f"    {line}" for line in body), "}", ""]
    )


def epilogue_blocks(kernel: FuncOp, sm_count: int, blocks_per_sm: int = 8) -> int:
    problem = problem_of(kernel)
    total = max(1, problem.batch_count) * problem.m * problem.n
    return max(1, min(math.ceil(total / BLOCK), sm_count * blocks_per_sm))
