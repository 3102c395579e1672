"""The cuBLASLt tactic of matrix products (`cublaslt`): which matmul kernels cuBLASLt can run,
what it is asked to compute, and the epilogue kernel that finishes the fused region.

A kernel.func whose tactic is `cublaslt` runs as two steps (DESIGN.md, "Tactics and
tuning": an epilogue the library cannot express runs as a generated kernel, and the tuner
times the pair):
1. cuBLASLt computes the product A·B (`lt_call`) into the accumulator's type, straight into
   the kernel's result when the epilogue only stores it (`direct`), else into the start of
   the kernel's workspace;
2. the epilogue kernel (`emit_epilogue`) reads each product element and runs the region on
   it exactly as optc's own matmul kernels do (the same `epilogue_lambda`: bias, activation,
   residual, casts, splits and transposed stores), so both tactics compute the same IR.
   A `direct` kernel has none: its tactic emits no code ("").

Its CUDA has the ABI of every optc kernel with a workspace (a pointer per argument, per
result, then the workspace), the workspace read as the product: `const ACC* __restrict__
product`. cuBLASLt's own workspace follows the product (at a multiple of 256 bytes).

The tactic (`#kernel.launch<tactic = cublaslt, grid = [blocks], block = [256], shared = 0,
tile = {algo = i}>`): the i-th algorithm of cuBLASLt's heuristic list for this problem on
the GPU the engine is built for, i < ALGORITHMS; grid and block are the epilogue kernel's.
The list is asked for on that GPU, so the algorithm's bytes are resolved where the tuner
ran (`compiler.engine_build`), never by the heuristic that configures kernels: `cublaslt`
is only ever a tuner's choice. Its candidates are offered only where nvmath-python loads
cuBLASLt (`unavailable`).
"""

from __future__ import annotations


from xdsl.dialects.builtin import BFloat16Type, Float16Type, Float32Type
from xdsl.ir import BlockArgument

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import MatmulOp
from dialects.graph.base import float_of
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import ctype_of, kernel_signature, pointer_params
from passes.codegen.generator import Generator, refused_tactic, unknown_tactic
from passes.codegen.library import base
from passes.codegen.matmul.problem import Problem, epilogue_lambda, invalid, problem_of
from passes.codegen.target import Target
from runtime.library import cublaslt as runtime_lt
from runtime.library.cublaslt import NAME as LIBRARY
from runtime.library.cublaslt import LibraryUnavailable, LtMatmul, library_version

TACTIC = "cublaslt"
ALGORITHMS = 4
"""Candidates per kernel: `algo = 0 .. ALGORITHMS - 1`, the first of cuBLASLt's heuristic
list (best first by its own estimate)."""
WORKSPACE_CAP = 4 << 20
"""Bytes of workspace a cuBLASLt algorithm may use (its heuristic's MAX_WORKSPACE_BYTES):
enough for its split-K and stream-K algorithms, small beside any model's arena."""
ALIGNMENT = base.ALIGNMENT
"""Where cuBLASLt's workspace starts after the product (the alignment its algorithms assume)."""
BLOCK = base.BLOCK
"""Threads per block of the epilogue kernel (a grid-stride loop over the product)."""

_DTYPES = {Float16Type: "float16", BFloat16Type: "bfloat16", Float32Type: "float32"}
_OPERANDS = {MatmulOp: ("lhs", "rhs"), graph.MatMulOp: ("lhs", "rhs"), graph.GemmOp: ("a", "b")}
"""Each op class's A and B operands."""


# --- whether cuBLASLt is here -----------------------------------------------------------------


_load = base.availability(lambda: library_version(), LibraryUnavailable)


def unavailable() -> str | None:
    """Why cuBLASLt tactics cannot run in this process (nvmath-python is not installed, or
    cannot load cuBLASLt or the CUDA driver), or None when they can. Asked once."""
    return _load()


# --- what cuBLASLt computes -----------------------------------------------------------------


def _dtype(element, what: str, problem: Problem) -> str:
    name = _DTYPES.get(type(element))
    if name is None:
        raise OptcError(f"{problem.kernel}: cuBLASLt takes f16, bf16 or f32 {what}, got {element}")
    return name


def _flat_stride(problem: Problem, strides: tuple[int, ...], matrix: int) -> int:
    """The one batch stride cuBLASLt takes for an operand: 0 when it is broadcast over every
    batch dim, `matrix` when it has them all; anything between has no single stride."""
    used = [s for d, s in zip(problem.batch, strides) if d != 1]
    if all(s == 0 for s in used):
        return 0
    if all(s != 0 for s in used):
        return matrix
    raise OptcError(f"{problem.kernel}: cuBLASLt takes one batch stride per operand; this operand is broadcast over some batch dims only")


def acc_element(kernel: FuncOp):
    """The accumulator's element type: what cuBLASLt writes (the product, rounded once)."""
    op = kernel.computation
    return op.epilogue.block.args[0].type.element_type if isinstance(op, MatmulOp) else op.results[0].type.element_type


def _gemm_problem(kernel: FuncOp, problem: Problem) -> None:
    """graph.gemm is a plain product for cuBLASLt only with alpha = 1 and no C."""
    op = kernel.computation
    if isinstance(op, graph.GemmOp) and (float_of(op.alpha) != 1.0 or op.c is not None):
        raise OptcError(f"{problem.kernel}: cuBLASLt runs graph.gemm only as a plain product (alpha = 1, no C), this one has alpha = {float_of(op.alpha):g}{' and a C' if op.c is not None else ''}")


def lt_call(kernel: FuncOp) -> LtMatmul:
    """What cuBLASLt computes for this kernel: the product, in the accumulator's type (the
    operands' or f32: what CUBLAS_COMPUTE_32F writes)."""
    problem = problem_of(kernel)
    _gemm_problem(kernel, problem)
    dtype = _dtype(problem.element, "operands", problem)
    out_dtype = _dtype(acc_element(kernel), "accumulators", problem)
    if out_dtype not in (dtype, "float32"):
        raise OptcError(f"{problem.kernel}: cuBLASLt writes a {dtype} product as {dtype} or float32, not {out_dtype}")
    return LtMatmul(
        m=problem.m,
        n=problem.n,
        k=problem.k,
        dtype=dtype,
        out_dtype=out_dtype,
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
    same flat order): then cuBLASLt writes the result and no epilogue kernel runs. A
    graph.matmul without bias and a graph.gemm cuBLASLt runs (alpha = 1, no C) are."""
    op = kernel.computation
    if not isinstance(op, MatmulOp):
        return getattr(op, "bias", None) is None
    block = op.epilogue.block
    ops = list(block.ops)
    acc = block.args[0]
    return len(ops) == 1 and list(ops[0].operands) == [acc] and len(op.results) == 1 and op.results[0].type == acc.type


def operands(kernel: FuncOp) -> tuple[int, int, int | None]:
    """The kernel's pointer parameters cuBLASLt reads as A and B, and the one it writes (its
    result, when `direct`; None: the product goes to the workspace)."""
    op = kernel.computation
    indices = []
    for name in _OPERANDS[type(op)]:
        value = getattr(op, name)
        if not isinstance(value, BlockArgument):
            raise OptcError(f"@{kernel.sym_name.data}: cuBLASLt reads its operands from the kernel's arguments; {name} is computed inside it")
        indices.append(value.index)
    return indices[0], indices[1], len(kernel.function_type.inputs.data) if direct(kernel) else None


def product_bytes(kernel: FuncOp) -> int:
    """Bytes of the product buffer at the workspace's start (0 when cuBLASLt writes the result)."""
    if direct(kernel):
        return 0
    call = lt_call(kernel)
    return call.batch * call.m * call.n * {"float16": 2, "bfloat16": 2, "float32": 4}[call.d_dtype]


def library_offset(kernel: FuncOp) -> int:
    """Where cuBLASLt's workspace starts in the kernel's: after the product, aligned."""
    return base.aligned(product_bytes(kernel))


def library_call(kernel: FuncOp, launch: LaunchAttr):
    """The cuBLASLt call of a kernel whose tactic is `cublaslt`, its `algo = i` resolved to
    the i-th algorithm of cuBLASLt's heuristic list on this GPU (the tuner's list: the
    same process asks once, `runtime.library.cublaslt.heuristic`)."""
    from runtime.engine.plan import LibraryCall

    name = f"@{kernel.sym_name.data}"
    call = lt_call(kernel)
    a, b, d = operands(kernel)
    algo = launch.tile_params["algo"]
    try:
        offered = runtime_lt.heuristic(call, ALGORITHMS, WORKSPACE_CAP)
        version = runtime_lt.library_version()
    except OptcError as exc:
        raise OptcError(f"{name} runs tactic cublaslt, whose algorithm cuBLASLt chooses on the GPU the engine is for: {exc}") from None
    if algo >= len(offered):
        raise OptcError(f"{name}: cuBLASLt offers {len(offered)} algorithm(s) for this matmul on this GPU, the tactic names algo {algo}")
    chosen = offered[algo]
    return LibraryCall(LIBRARY, version, call, chosen.data.hex(), chosen.workspace, a, b, d)


# --- the epilogue kernel ----------------------------------------------------------------------


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
    return "\n".join([kernel_signature(kernel.sym_name.data, params, BLOCK), "{", *(f"    {line}" for line in body), "}", ""])


def epilogue_blocks(kernel: FuncOp, sm_count: int) -> int:
    """Blocks of the epilogue kernel: one element per thread, at most base.BLOCKS_PER_SM waves'
    worth (the loop strides over the rest)."""
    problem = problem_of(kernel)
    return base.epilogue_blocks(max(1, problem.batch_count) * problem.m * problem.n, sm_count)


# --- the tactic contract ----------------------------------------------------------------------


def _launch(kernel: FuncOp, target: Target, algo: int) -> LaunchAttr:
    return LaunchAttr(TACTIC, [epilogue_blocks(kernel, target.sm_count)], [BLOCK], 0, {"algo": algo})


def configure(kernel: FuncOp, target: Target) -> LaunchAttr:
    """Never called: the heuristic configures a kernel with its family's own tactics."""
    raise OptcError(f"@{kernel.sym_name.data}: cuBLASLt is a tactic the tuner may choose, not the heuristic's")


def candidates(kernel: FuncOp, target: Target) -> list[LaunchAttr]:
    """The first ALGORITHMS of cuBLASLt's list, where cuBLASLt is here and runs this product."""
    if unavailable() is not None or why_not(kernel) is not None:
        return []
    return [_launch(kernel, target, algo) for algo in range(ALGORITHMS)]


def _launch_problem(kernel: FuncOp, launch: LaunchAttr) -> str | None:
    """Why the tactic cannot take `launch` for this kernel (None when it can)."""
    if launch.tactic_name != TACTIC:
        return unknown_tactic("cuBLASLt", launch.tactic_name, [TACTIC])
    why = why_not(kernel)
    if why is not None:
        return refused_tactic(TACTIC, why.removeprefix(f"@{kernel.sym_name.data}: "))
    algo = launch.tile_params.get("algo")
    if set(launch.tile_params) != {"algo"} or not 0 <= algo < ALGORITHMS:
        return invalid(f"a cuBLASLt tile is {{algo = 0..{ALGORITHMS - 1}}}, got {launch.tile_params}")
    if launch.block_dims != (BLOCK, 1, 1) or launch.shared_bytes:
        return invalid(f"the epilogue kernel runs blocks of [{BLOCK}, 1, 1] without shared memory, launch has {list(launch.block_dims)} and {launch.shared_bytes} bytes")
    return None


def check(kernel: FuncOp, launch: LaunchAttr, target: Target) -> str | None:
    """Why `launch` cannot run this kernel (nothing about the target: cuBLASLt's heuristic
    answers for the GPU itself)."""
    return _launch_problem(kernel, launch)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The epilogue kernel's CUDA, or "" for a `direct` kernel (no kernel of its own)."""
    why = _launch_problem(kernel, launch)
    if why is not None:
        raise OptcError(f"cuda codegen of @{kernel.sym_name.data}: {why}")
    return "" if direct(kernel) else emit_epilogue(kernel)


def workspace(kernel: FuncOp, launch: LaunchAttr) -> int:
    """The product (0 when `direct`), then WORKSPACE_CAP bytes for cuBLASLt."""
    return library_offset(kernel) + WORKSPACE_CAP


GENERATOR = Generator(configure, emit, candidates, check, workspace)
