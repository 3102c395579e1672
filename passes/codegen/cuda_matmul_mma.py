"""The tensor-core matmul kernel (f16, bf16): `mma.sync.m16n8k16` with fp32
accumulation, tiles copied with `cp.async` (16-byte chunks, zero-filled at the edges) into
a `stages`-deep ring in dynamic shared memory and read with `ldmatrix` (building blocks in
`cuda_mma.py`); an operand whose contiguous extent is not a multiple of 8 elements is
copied element by element instead.

Tile parameters: block_m, block_n, block_k, warps_m, warps_n, stages; block =
32·warps_m·warps_n threads; block_m a multiple of 16·warps_m, block_n of 16·warps_n,
block_k of 16, stages 2..4; `shared` = 2·stages·(A tile + B tile) bytes with 8 elements of
padding per row (configure's choices stay under 48 KiB; an autotuner may go to MAX_SHARED).
"""

from __future__ import annotations

from xdsl.dialects.builtin import Float16Type

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen import cuda_mma
from passes.codegen.cuda_matmul_problem import Problem, check, check_block, epilogue_lambda, head, tile_of
from passes.codegen.cuda_types import kernel_signature, pointer_params

MMA_KEYS = ("block_m", "block_n", "block_k", "warps_m", "warps_n", "stages")
MAX_SHARED = 99 * 1024
"""Dynamic shared memory an mma config may ask for (sm_80..sm_90 all allow it once the
runtime raises the kernel's limit with cuFuncSetAttribute)."""


def mma_shared(problem: Problem, tile: dict[str, int]) -> int:
    bm, bn, bk, stages = tile["block_m"], tile["block_n"], tile["block_k"], tile["stages"]
    a = bm * (bk + cuda_mma.PAD) if problem.a_k_fast else bk * (bm + cuda_mma.PAD)
    b = bk * (bn + cuda_mma.PAD) if problem.b_n_fast else bn * (bk + cuda_mma.PAD)
    return 2 * stages * (a + b)



def emit_mma(kernel: FuncOp, problem: Problem, launch: LaunchAttr) -> str:
    t = tile_of(problem, launch, MMA_KEYS)
    bm, bn, bk, wm, wn, stages = (t[k] for k in MMA_KEYS)
    check(problem, bm % (16 * wm) == 0, f"block_m {bm} must be a multiple of 16·warps_m = {16 * wm}")
    check(problem, bn % (16 * wn) == 0, f"block_n {bn} must be a multiple of 16·warps_n = {16 * wn}")
    check(problem, bk % 16 == 0, f"block_k {bk} must be a multiple of 16")
    check(problem, 2 <= stages <= 4, f"stages {stages} (2..4 allowed)")
    threads = 32 * wm * wn
    check_block(problem, launch, threads)
    shared = mma_shared(problem, t)
    check(problem, shared <= MAX_SHARED, f"{shared} bytes of shared memory (at most {MAX_SHARED})")
    check(problem, launch.shared_bytes >= shared, f"the tile needs {shared} bytes of dynamic shared memory, launch gives {launch.shared_bytes}")
    m, n, k, it = problem.m, problem.n, problem.k, problem.index_type
    mi_count, ni_count = bm // wm // 16, bn // wn // 8
    pad = cuda_mma.PAD
    a_stage = bm * (bk + pad) if problem.a_k_fast else bk * (bm + pad)
    b_stage = bk * (bn + pad) if problem.b_n_fast else bn * (bk + pad)
    if problem.a_k_fast:
        a_copy = cuda_mma.TileCopy("As", "A", bm, bk, "m0", m, "k0", k, k, it)
    else:
        a_copy = cuda_mma.TileCopy("As", "A", bk, bm, "k0", k, "m0", m, m, it)
    if problem.b_n_fast:
        b_copy = cuda_mma.TileCopy("Bs", "B", bk, bn, "k0", k, "n0", n, n, it)
    else:
        b_copy = cuda_mma.TileCopy("Bs", "B", bn, bk, "n0", n, "k0", k, k, it)
    a_vec, b_vec = a_copy.vectorisable, b_copy.vectorisable

    def load_stage(stage: str, k0: str) -> list[str]:
        return [
            "{",
            f"    const int k0 = {k0};",
            f"    unsigned short* As = smem + ({stage}) * {a_stage};",
            f"    unsigned short* Bs = smem + {stages * a_stage} + ({stage}) * {b_stage};",
            *(f"    {line}" for line in a_copy.code(threads, a_vec)),
            *(f"    {line}" for line in b_copy.code(threads, b_vec)),
            "}",
        ]

    kt = -(-k // bk)
    mma = cuda_mma.mma_function("f16" if isinstance(problem.element, Float16Type) else "bf16")
    body = [
        "extern __shared__ __align__(16) unsigned short smem[];",
        "const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;",
        f"const int wm = (warp / {wn}) * {bm // wm}, wn = (warp % {wn}) * {bn // wn};",
        *epilogue_lambda(kernel, problem, "float"),
        *head(problem, bm, bn),
        f"    float acc[{mi_count}][{ni_count}][4];",
        "    #pragma unroll",
        f"    for (int mi = 0; mi < {mi_count}; ++mi)",
        "        #pragma unroll",
        f"        for (int ni = 0; ni < {ni_count}; ++ni)",
        "            #pragma unroll",
        "            for (int q = 0; q < 4; ++q) acc[mi][ni][q] = 0.0f;",
        "    // prologue: the first stages - 1 tiles in flight",
        "    #pragma unroll",
        f"    for (int s = 0; s < {stages - 1}; ++s) {{",
        f"        if (s < {kt}) {{",
        *(f"            {line}" for line in load_stage("s", f"s * {bk}")),
        "        }",
        "        optc_cp_async_commit();",
        "    }",
        f"    for (int kt = 0; kt < {kt}; ++kt) {{",
        f"        OPTC_CP_ASYNC_WAIT({stages - 2});  // tile kt has landed (this thread's copies)",
        "        __syncthreads();  // ... everyone's; and everyone is done with tile kt - 1",
        f"        if (kt + {stages - 1} < {kt}) {{",
        *(f"            {line}" for line in load_stage(f"(kt + {stages - 1}) % {stages}", f"(kt + {stages - 1}) * {bk}")),
        "        }",
        "        optc_cp_async_commit();",
        f"        const unsigned short* As = smem + (kt % {stages}) * {a_stage};",
        f"        const unsigned short* Bs = smem + {stages * a_stage} + (kt % {stages}) * {b_stage};",
        "        #pragma unroll",
        f"        for (int kk = 0; kk < {bk}; kk += 16) {{",
        f"            unsigned a[{mi_count}][4], b[{ni_count}][2];",
        *(f"            {line}" for line in cuda_mma.a_fragments("As", problem.a_k_fast, a_copy.row_length, mi_count, "wm", "kk")),
        *(f"            {line}" for line in cuda_mma.b_fragments("Bs", problem.b_n_fast, b_copy.row_length, ni_count, "wn", "kk")),
        "            #pragma unroll",
        f"            for (int mi = 0; mi < {mi_count}; ++mi)",
        "                #pragma unroll",
        f"                for (int ni = 0; ni < {ni_count}; ++ni) {mma}(acc[mi][ni], a[mi], b[ni]);",
        "        }",
        "    }",
        "    OPTC_CP_ASYNC_WAIT(0);",
        "    __syncthreads();  // the next work item refills stage 0",
        "    #pragma unroll",
        f"    for (int mi = 0; mi < {mi_count}; ++mi) {{",
        "        #pragma unroll",
        f"        for (int ni = 0; ni < {ni_count}; ++ni) {{",
        "            #pragma unroll",
        "            for (int q = 0; q < 4; ++q) {",
        "                const int m = m0 + wm + mi * 16 + (lane >> 2) + (q >> 1) * 8;",
        "                const int n = n0 + wn + ni * 8 + (lane & 3) * 2 + (q & 1);",
        f"                if (m < {m} && n < {n}) epilogue(acc[mi][ni][q], bz, m, n);",
        "            }",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(
        [
            cuda_mma.HELPERS,
            kernel_signature(kernel.sym_name.data, pointer_params(kernel), threads),
            "{",
            *(f"    {line}" for line in body),
            "}",
            "",
        ]
    )
