"""The SIMT matmul kernel (f32, f64, integers): shared-memory tiles of A and B (two
stages, the next tile staged through registers while the current one is multiplied), each
thread a `thread_m` x `thread_n` register tile; exact fp32 (no TF32), integers wrap as
numpy's do.

Tile parameters: block_m, block_n, block_k, thread_m, thread_n; block =
(block_m/thread_m)·(block_n/thread_n) threads (32..1024), static shared memory of
2·block_k·(block_m + block_n + 8) elements (`simt_shared`: at most the target's
`shared_per_block`, which `matmul.check` holds it to; static shared memory cannot opt in).
"""

from __future__ import annotations

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import kernel_signature, pointer_params
from passes.codegen.matmul.problem import Problem, block_problem, epilogue_lambda, head, invalid, tile_of, tile_problem

SIMT_KEYS = ("block_m", "block_n", "block_k", "thread_m", "thread_n")
PAD = 4
"""Elements of padding per shared tile row: fewer bank conflicts on the transposed stores."""


def simt_threads(tile: dict[str, int]) -> int:
    return (tile["block_m"] // tile["thread_m"]) * (tile["block_n"] // tile["thread_n"])


def simt_problem(problem: Problem, launch: LaunchAttr) -> str | None:
    """Why the SIMT kernel cannot take `launch` (None when it can)."""
    why = tile_problem(launch, SIMT_KEYS)
    if why is not None:
        return why
    t = tile_of(launch, SIMT_KEYS)
    bm, bn, bk, tm, tn = (t[k] for k in SIMT_KEYS)
    if bm % tm or bn % tn:
        return invalid(f"block_m {bm} / thread_m {tm} and block_n {bn} / thread_n {tn} must divide")
    if tm * tn > 64:
        return invalid(f"thread_m·thread_n = {tm * tn} accumulators per thread (at most 64)")
    return block_problem(launch, simt_threads(t))


def simt_shared(problem: Problem, tile: dict[str, int]) -> int:
    """Static shared memory of the two stages of padded A and B tiles."""
    return 2 * tile["block_k"] * (tile["block_m"] + PAD + tile["block_n"] + PAD) * _acc_size(problem)


def simt_registers(problem: Problem, tile: dict[str, int]) -> int:
    """32-bit registers a thread needs at least: its accumulators, one k-step's a and b
    fragments and the staged next tile."""
    threads = simt_threads(tile)
    staged = -(-tile["block_m"] * tile["block_k"] // threads) + -(-tile["block_k"] * tile["block_n"] // threads)
    values = tile["thread_m"] * tile["thread_n"] + tile["thread_m"] + tile["thread_n"] + staged
    return values * _acc_size(problem) // 4



def _simt_acc_type(problem: Problem) -> str:
    """What SIMT sums in: the compute type for floats, unsigned (≥ 32 bits) for integers,
    whose wrap-around then equals numpy's in the element type."""
    c = problem.operand
    if c.is_float:
        return c.compute
    return "unsigned long long" if c.itemsize == 8 else "unsigned int"


def _acc_size(problem: Problem) -> int:
    return {"float": 4, "double": 8, "unsigned int": 4, "unsigned long long": 8}[_simt_acc_type(problem)]


def emit_simt(kernel: FuncOp, problem: Problem, launch: LaunchAttr) -> str:
    """The SIMT kernel for a launch `simt_problem` accepted."""
    t = tile_of(launch, SIMT_KEYS)
    bm, bn, bk, tm, tn = (t[k] for k in SIMT_KEYS)
    threads = simt_threads(t)
    acc = _simt_acc_type(problem)
    pa, pb = bm + PAD, bn + PAD
    m, n, k, it = problem.m, problem.n, problem.k, problem.index_type
    la, lb = -(-bm * bk // threads), -(-bk * bn // threads)
    load, b_load = problem.operand.load, problem.b_operand.load

    def a_at(e: str) -> tuple[str, str, str]:
        """(row in tile, k in tile, global offset) of A-tile element e, consecutive e
        along A's contiguous dimension (coalesced)."""
        if problem.a_k_fast:
            r, kk = f"({e}) / {bk}", f"({e}) % {bk}"
            return r, kk, f"({it})(m0 + r) * {k} + k0 + kk"
        r, kk = f"({e}) % {bm}", f"({e}) / {bm}"
        return r, kk, f"({it})(k0 + kk) * {m} + m0 + r"

    def b_at(e: str) -> tuple[str, str, str]:
        if problem.b_n_fast:
            col, kk = f"({e}) % {bn}", f"({e}) / {bn}"
            return col, kk, f"({it})(k0 + kk) * {n} + n0 + col"
        col, kk = f"({e}) / {bk}", f"({e}) % {bk}"
        return col, kk, f"({it})(n0 + col) * {k} + k0 + kk"

    def fetch(k0: str) -> list[str]:
        ra, ka, ga = a_at("e")
        rb, kb, gb = b_at("e")
        return [
            "{",
            f"    const int k0 = {k0};",
            "    #pragma unroll",
            f"    for (int i = 0; i < {la}; ++i) {{",
            f"        const int e = threadIdx.x + i * {threads}, r = {ra}, kk = {ka};",
            f"        ra[i] = (e < {bm * bk} && m0 + r < {m} && k0 + kk < {k}) ? ({acc}){load(f'A[{ga}]')} : ({acc})0;",
            "    }",
            "    #pragma unroll",
            f"    for (int i = 0; i < {lb}; ++i) {{",
            f"        const int e = threadIdx.x + i * {threads}, col = {rb}, kk = {kb};",
            f"        rb[i] = (e < {bk * bn} && n0 + col < {n} && k0 + kk < {k}) ? ({acc}){b_load(f'B[{gb}]')} : ({acc})0;",
            "    }",
            "}",
        ]

    def stash(stage: str) -> list[str]:
        ra, ka, _ = a_at("e")
        rb, kb, _ = b_at("e")
        return [
            "#pragma unroll",
            f"for (int i = 0; i < {la}; ++i) {{",
            f"    const int e = threadIdx.x + i * {threads};",
            f"    if (e < {bm * bk}) As[{stage}][{ka}][{ra}] = ra[i];",
            "}",
            "#pragma unroll",
            f"for (int i = 0; i < {lb}; ++i) {{",
            f"    const int e = threadIdx.x + i * {threads};",
            f"    if (e < {bk * bn}) Bs[{stage}][{kb}][{rb}] = rb[i];",
            "}",
        ]

    if acc == "float" and tm % 4 == 0 and tn % 4 == 0:
        frag = [
            "#pragma unroll",
            f"for (int i = 0; i < {tm}; i += 4) *reinterpret_cast<float4*>(&a[i]) = *reinterpret_cast<const float4*>(&As[s][kk][ty * {tm} + i]);",
            "#pragma unroll",
            f"for (int j = 0; j < {tn}; j += 4) *reinterpret_cast<float4*>(&b[j]) = *reinterpret_cast<const float4*>(&Bs[s][kk][tx * {tn} + j]);",
        ]
    else:
        frag = [
            "#pragma unroll",
            f"for (int i = 0; i < {tm}; ++i) a[i] = As[s][kk][ty * {tm} + i];",
            "#pragma unroll",
            f"for (int j = 0; j < {tn}; ++j) b[j] = Bs[s][kk][tx * {tn} + j];",
        ]
    kt = -(-k // bk)
    body = [
        f"const int tx = threadIdx.x % {bn // tn}, ty = threadIdx.x / {bn // tn};",
        *epilogue_lambda(kernel, problem, acc),
        *head(problem, bm, bn),
        f"    {acc} c[{tm}][{tn}];",
        "    #pragma unroll",
        f"    for (int i = 0; i < {tm}; ++i)",
        "        #pragma unroll",
        f"        for (int j = 0; j < {tn}; ++j) c[i][j] = ({acc})0;",
        f"    {acc} ra[{la}], rb[{lb}];",
        *(f"    {line}" for line in fetch("0")),
        *(f"    {line}" for line in stash("0")),
        "    __syncthreads();",
        f"    for (int kt = 0; kt < {kt}; ++kt) {{",
        "        const int s = kt & 1;",
        f"        if (kt + 1 < {kt}) {{",
        *(f"            {line}" for line in fetch(f"(kt + 1) * {bk}")),
        "        }",
        "        #pragma unroll",
        f"        for (int kk = 0; kk < {bk}; ++kk) {{",
        f"            __align__(16) {acc} a[{tm}];",
        f"            __align__(16) {acc} b[{tn}];",
        *(f"            {line}" for line in frag),
        "            #pragma unroll",
        f"            for (int i = 0; i < {tm}; ++i)",
        "                #pragma unroll",
        f"                for (int j = 0; j < {tn}; ++j) c[i][j] += a[i] * b[j];",
        "        }",
        f"        if (kt + 1 < {kt}) {{",
        *(f"            {line}" for line in stash("s ^ 1")),
        "        }",
        "        __syncthreads();",
        "    }",
        "    #pragma unroll",
        f"    for (int i = 0; i < {tm}; ++i) {{",
        "        #pragma unroll",
        f"        for (int j = 0; j < {tn}; ++j) {{",
        f"            const int m = m0 + ty * {tm} + i, n = n0 + tx * {tn} + j;",
        f"            if (m < {m} && n < {n}) epilogue(c[i][j], bz, m, n);",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(
        [
            kernel_signature(kernel.sym_name.data, pointer_params(kernel), threads),
            "{",
            f"    __shared__ __align__(16) {acc} As[2][{bk}][{pa}];",
            f"    __shared__ __align__(16) {acc} Bs[2][{bk}][{pb}];",
            *(f"    {line}" for line in body),
            "}",
            "",
        ]
    )
