"""The tensor-core matmul kernel (f16, bf16): `mma.sync.m16n8k16` with fp32 accumulation.

Main loop: tiles copied with `cp.async.cg` (16-byte chunks, zero-filled at the edges) into a
`stages`-deep ring in dynamic shared memory, stored densely with an XOR swizzle of their
16-byte chunks (`mma.swizzled`: ldmatrix phases and cp.async writes are free of bank
conflicts without padding), read with `ldmatrix`. The fragments are double-buffered in
registers: while the mma of k-slice kk runs, those of kk + 16 are loaded (the next tile's
first slice right after the barrier that makes it visible). With S stages, S - 1 tiles are
in flight: tile kt + S - 1 is issued at the start of tile kt's first slice into the stage
tile kt - 1 used (everyone passed the barrier after their last read of it), and
`cp.async.wait_group S-2` before the barrier of the last slice makes tile kt + 1 land. An
operand whose contiguous extent is not a multiple of 8 elements is copied element by
element (same swizzled layout).

Epilogue: the accumulators are rounded to the accumulator's 16-bit type (as the reference
rounds the product before its epilogue) and staged through shared memory ([block_m][block_n
+ 8]: conflict-free 32-bit writes from the fragments, 16-byte reads along N); each thread
then takes 8 consecutive columns of a row, runs the epilogue on each in fp32 and, where
`matmul/vector.py` proves the 8 results of every output land on 8 consecutive aligned
elements under one condition (plain outputs, the QKV head split with head_dim % 8 == 0),
writes them with 16-byte stores; else element by element.

Tile parameters: block_m, block_n, block_k, warps_m, warps_n, stages; block =
32·warps_m·warps_n threads; block_m a multiple of 16·warps_m, block_n of 16·warps_n,
block_k of 16, stages 2..4; `shared` = max(2·stages·(block_m + block_n)·block_k, the
staged tile 2·block_m·(block_n + 8)) bytes (`mma_shared`), at most the target's opt-in
limit (`matmul.check`; the runtime raises the kernel's limit past the default 48 KiB).

8-bit integers (an integer contraction: i8/ui8 operands, i32 accumulator) take the same
kernel on byte pairs (`byte_pairs`): a [rows][K] byte tile is a [rows][K/2] tile of 16-bit
elements, whose m16n8k16 `ldmatrix` fragments are exactly the m16n8k32 s8/u8 ones (PTX ISA
fragment tables; `common/mma.INT8_HELPERS`), so copies, swizzle, ring and fragment loads
are the 16-bit kernel's, with `mma.sync.m16n8k32` (s32 accumulators, wrapping as the
reference's i32 does) in place of m16n8k16 and the epilogue straight from the fragments.
`ldmatrix` has no .trans for 8-bit elements, so only A read [M, K] and B read [N, K]
(transpose_b = 1, a linear layer's weight) take it, with K a multiple of 16 (whole 16-byte
chunks: `int8_why_not`); block_k counts bytes and is a multiple of 32 (one k32 mma),
`shared` = stages·block_k·(block_m + block_n) bytes. Other 8-bit products take `simt`.

The kernel is printed in parts that split-K (`matmul/split_k.py`) reuses: `preamble`,
`main_loop` (over a range of K tiles given as C expressions), `epilogue` and `kernel_text`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from xdsl.dialects.builtin import Float16Type

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common import mma
from passes.codegen.common.types import CType, kernel_signature, pointer_params
from passes.codegen.matmul.problem import Problem, block_problem, epilogue_code, epilogue_lambda, head, invalid, tile_of, tile_problem
from passes.codegen.matmul.vector import vector_lambda

MMA_KEYS = ("block_m", "block_n", "block_k", "warps_m", "warps_n", "stages")
STAGE_PAD = 8
"""Elements of padding per row of the staged output tile (keeps fragment writes conflict-free)."""


PAIR = CType("unsigned short", "unsigned short", 2)
"""Two 8-bit elements along K, as the 16-bit kernel moves them."""


def int8_why_not(problem: Problem) -> str | None:
    """Why the tensor-core kernel cannot take this 8-bit integer product (None when it can)."""
    if not problem.integer_contraction:
        return f"{problem.element} operands are not an 8-bit integer contraction"
    if not problem.a_k_fast:
        return "8-bit A must be read [M, K] (no transpose_a): ldmatrix has no .trans for 8-bit elements"
    if problem.b_n_fast:
        return "8-bit B must be read [N, K] (transpose_b = 1): ldmatrix has no .trans for 8-bit elements"
    if problem.k % 16:
        return f"K = {problem.k} is not a multiple of 16 (8-bit rows are copied in whole 16-byte chunks)"
    return None


def byte_pairs(problem: Problem) -> Problem:
    """An 8-bit product that `int8_why_not` accepts, as the 16-bit kernel sees it: K/2
    elements of two bytes each, the operands' pointers read as 16-bit ones."""
    halved = lambda strides: tuple(s // 2 for s in strides)  # noqa: E731
    return replace(
        problem,
        k=problem.k // 2,
        a_batch_strides=halved(problem.a_batch_strides),
        b_batch_strides=halved(problem.b_batch_strides),
        a_param=f"((const unsigned short*){problem.a_param})",
        b_param=f"((const unsigned short*){problem.b_param})",
        operand=PAIR,
        b_operand=PAIR,
    )


def pair_tile(tile: dict[str, int]) -> dict[str, int]:
    """An 8-bit tile (block_k in bytes) in byte pairs."""
    return {**tile, "block_k": tile["block_k"] // 2}


def ring_bytes(tile: dict[str, int], element_bytes: int = 2) -> int:
    return element_bytes * tile["stages"] * tile["block_k"] * (tile["block_m"] + tile["block_n"])


def staging_bytes(tile: dict[str, int]) -> int:
    return 2 * tile["block_m"] * (tile["block_n"] + STAGE_PAD)


def mma_shared(problem: Problem, tile: dict[str, int]) -> int:
    """Dynamic shared memory of `tile`: the ring, reused for the staged output tile (8-bit
    products: the ring of bytes alone, their epilogue is not staged)."""
    if problem.integer_contraction:
        return ring_bytes(tile, 1)
    return max(ring_bytes(tile), staging_bytes(tile))


def mma_threads(tile: dict[str, int]) -> int:
    return 32 * tile["warps_m"] * tile["warps_n"]


def mma_registers(tile: dict[str, int]) -> int:
    """32-bit registers a thread needs at least: its warp's fp32 accumulators and the
    double-buffered A and B fragments."""
    mi, ni = tile["block_m"] // tile["warps_m"] // 16, tile["block_n"] // tile["warps_n"] // 8
    return mi * ni * 4 + 2 * (mi * 4 + ni * 2)


def mma_problem(problem: Problem, launch: LaunchAttr) -> str | None:
    """Why the tensor-core kernel cannot take `launch` (None when it can)."""
    why = tile_problem(launch, MMA_KEYS)
    if why is not None:
        return why
    t = tile_of(launch, MMA_KEYS)
    bm, bn, bk, wm, wn, stages = (t[k] for k in MMA_KEYS)
    if bm % (16 * wm):
        return invalid(f"block_m {bm} must be a multiple of 16·warps_m = {16 * wm}")
    if bn % (16 * wn):
        return invalid(f"block_n {bn} must be a multiple of 16·warps_n = {16 * wn}")
    step = 32 if problem.integer_contraction else 16
    if bk % step:
        what = " (bytes: the k32 of one 8-bit mma)" if problem.integer_contraction else ""
        return invalid(f"block_k {bk} must be a multiple of {step}{what}")
    if not 2 <= stages <= 4:
        return invalid(f"stages {stages} (2..4 allowed)")
    why = block_problem(launch, mma_threads(t))
    if why is not None:
        return why
    shared = mma_shared(problem, t)
    if launch.shared_bytes < shared:
        return invalid(f"the tile needs {shared} bytes of dynamic shared memory, launch gives {launch.shared_bytes}")
    return None


def _copies(problem: Problem, bm: int, bn: int, bk: int) -> tuple[mma.TileCopy, mma.TileCopy]:
    m, n, k, it = problem.m, problem.n, problem.k, problem.index_type
    copy = mma.SwizzledTileCopy
    if problem.a_k_fast:
        a = copy("As", "A", bm, bk, "m0", m, "k0", k, k, it)
    else:
        a = copy("As", "A", bk, bm, "k0", k, "m0", m, m, it)
    if problem.b_n_fast:
        b = copy("Bs", "B", bk, bn, "k0", k, "n0", n, n, it)
    else:
        b = copy("Bs", "B", bn, bk, "n0", n, "k0", k, k, it)
    return a, b


def emit_mma(kernel: FuncOp, problem: Problem, launch: LaunchAttr) -> str:
    """The tensor-core kernel for a launch `mma_problem` accepted."""
    t = tile_of(launch, MMA_KEYS)
    if problem.integer_contraction:
        return _emit_int8(kernel, problem, t)
    bk = t["block_k"]
    body = [
        *preamble(kernel, problem, t),
        *head(problem, t["block_m"], t["block_n"]),
        *(f"    {line}" for line in main_loop(problem, t, str(-(-problem.k // bk)), lambda tiles: f"{tiles} * {bk}")),
        "    OPTC_CP_ASYNC_WAIT(0);",
        "    __syncthreads();  // the ring is free: the output tile is staged in it",
        *(f"    {line}" for line in epilogue(kernel, problem, t)),
        "}",
    ]
    return kernel_text(kernel, pointer_params(kernel), t, body)


def _emit_int8(kernel: FuncOp, problem: Problem, t: dict[str, int]) -> str:
    """The 8-bit kernel: the 16-bit main loop on byte pairs with m16n8k32 products into int
    accumulators, then the epilogue straight from the fragments."""
    pairs, tp = byte_pairs(problem), pair_tile(t)
    bk = tp["block_k"]
    mma_fn = mma.int8_mma_function(problem.operand.storage, problem.b_operand.storage)
    loop = main_loop(pairs, tp, str(-(-pairs.k // bk)), lambda tiles: f"{tiles} * {bk}", mma_fn, "int")
    body = [
        *preamble(kernel, problem, t, "int"),
        *head(pairs, t["block_m"], t["block_n"]),
        *(f"    {line}" for line in loop),
        "    OPTC_CP_ASYNC_WAIT(0);",
        "    __syncthreads();  // everyone is done with the ring before the next work item's copies",
        *(f"    {line}" for line in _direct_epilogue(problem, *fragment_counts(t))),
        "}",
    ]
    return kernel_text(kernel, pointer_params(kernel), t, body, mma.HELPERS + mma.INT8_HELPERS)


def kernel_text(kernel: FuncOp, params: list[str], t: dict[str, int], body: list[str], helpers: str = mma.HELPERS) -> str:
    """The helpers, then the kernel with `params` and `body`."""
    return "\n".join(
        [
            helpers,
            kernel_signature(kernel.sym_name.data, params, mma_threads(t)),
            "{",
            *(f"    {line}" for line in body),
            "}",
            "",
        ]
    )


def fragment_counts(t: dict[str, int]) -> tuple[int, int]:
    """m16 tiles and n8 tiles of one warp."""
    return t["block_m"] // t["warps_m"] // 16, t["block_n"] // t["warps_n"] // 8


def _vector(kernel: FuncOp, problem: Problem) -> list[str] | None:
    """`epilogue8` where the staged epilogue may store 8 columns at once, else None."""
    code = epilogue_code(kernel, problem)
    return vector_lambda(problem, code, code.acc_ctype.storage) if _staged(code) else None


def _staged(code) -> bool:
    """A 16-bit float accumulator is rounded and staged through shared memory."""
    return code.acc_ctype.itemsize == 2 and code.acc_ctype.storage in ("optc_half", "optc_bf16")


def preamble(kernel: FuncOp, problem: Problem, t: dict[str, int], acc: str = "float") -> list[str]:
    """The kernel's first lines: shared memory, lane and warp, and the epilogue lambda
    (taking accumulators of C type `acc`)."""
    bm, bn, wn = t["block_m"], t["block_n"], t["warps_n"]
    return [
        "extern __shared__ __align__(16) unsigned short smem[];",
        "const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;",
        f"const int wm = (warp / {wn}) * {bm // t['warps_m']}, wn = (warp % {wn}) * {bn // wn};",
        *(_vector(kernel, problem) or epilogue_lambda(kernel, problem, acc)),  # epilogue8 stores every element
    ]


def main_loop(
    problem: Problem, t: dict[str, int], k_tiles: str, k0_of: Callable[[str], str], mma_fn: str | None = None, acc: str = "float"
) -> list[str]:
    """`acc[mi][ni][4]` of C type `acc` (zeroed), then the pipelined main loop over `k_tiles`
    tiles of block_k (a C expression); tile `kt` starts at `k0_of(kt)` along K. Copies past
    K are zero-filled. Runs inside the work loop, where A, B, m0 and n0 are set. `mma_fn`
    multiplies one k-slice of fragments (the f16/bf16 m16n8k16 one by default)."""
    bm, bn, bk, stages = t["block_m"], t["block_n"], t["block_k"], t["stages"]
    threads = mma_threads(t)
    mi_count, ni_count = fragment_counts(t)
    a_copy, b_copy = _copies(problem, bm, bn, bk)
    a_stage, b_stage = bm * bk, bk * bn

    def load_stage(stage: str, k0: str) -> list[str]:
        return [
            "{",
            f"    const int k0 = {k0};",
            f"    unsigned short* As = smem + ({stage}) * {a_stage};",
            f"    unsigned short* Bs = smem + {stages * a_stage} + ({stage}) * {b_stage};",
            *(f"    {line}" for line in a_copy.code(threads, a_copy.vectorisable)),
            *(f"    {line}" for line in b_copy.code(threads, b_copy.vectorisable)),
            "}",
        ]

    def fragments(buf: int, a_smem: str, b_smem: str, kk: int) -> list[str]:
        return [
            *mma.a_fragments_swizzled(a_smem, problem.a_k_fast, a_copy.cols, mi_count, "wm", str(kk), f"a[{buf}]"),
            *mma.b_fragments_swizzled(b_smem, problem.b_n_fast, b_copy.cols, ni_count, "wn", str(kk), f"b[{buf}]"),
        ]

    mma_fn = mma_fn or mma.mma_function("f16" if isinstance(problem.element, Float16Type) else "bf16")

    def products(buf: int) -> list[str]:
        return [
            "#pragma unroll",
            f"for (int mi = 0; mi < {mi_count}; ++mi)",
            "    #pragma unroll",
            f"    for (int ni = 0; ni < {ni_count}; ++ni) {mma_fn}(acc[mi][ni], a[{buf}][mi], b[{buf}][ni]);",
        ]

    slices = bk // 16
    stage_of = lambda tile: f"smem + (({tile}) % {stages}) * {a_stage}", lambda tile: f"smem + {stages * a_stage} + (({tile}) % {stages}) * {b_stage}"  # noqa: E731
    main: list[str] = []
    for s in range(slices):
        buf, nxt = s % 2, (s + 1) % 2
        step = [f"// k-slice {s}: the mma of slice {s} (buffer {buf}) while the next slice's fragments load"]
        if s == 0:
            step += [
                f"if (kt + {stages - 1} < {k_tiles}) {{",
                *(f"    {line}" for line in load_stage(f"(kt + {stages - 1}) % {stages}", k0_of(f"(kt + {stages - 1})"))),
                "}",
                "optc_cp_async_commit();",
            ]
        if s == slices - 1:
            if slices % 2:  # the next tile's first slice goes to buffer 0, which this slice uses
                step += products(buf)
            step += [
                f"if (kt + 1 < {k_tiles}) {{",
                f"    OPTC_CP_ASYNC_WAIT({stages - 2});  // tile kt + 1 has landed (this thread's copies)",
                "    __syncthreads();  // ... everyone's; and nobody reads tile kt - 1's stage any more",
                f"    const unsigned short* As1 = {stage_of[0]('kt + 1')};",
                f"    const unsigned short* Bs1 = {stage_of[1]('kt + 1')};",
                *(f"    {line}" for line in fragments(0, "As1", "Bs1", 0)),
                "}",
            ]
            if slices % 2 == 0:
                step += products(buf)
        else:
            step += fragments(nxt, "As", "Bs", (s + 1) * 16) + products(buf)
        main += step
    return [
        f"{acc} acc[{mi_count}][{ni_count}][4];",
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi)",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni)",
        "        #pragma unroll",
        f"        for (int q = 0; q < 4; ++q) acc[mi][ni][q] = {'0.0f' if acc == 'float' else '0'};",
        "// prologue: the first stages - 1 tiles in flight",
        "#pragma unroll",
        f"for (int s = 0; s < {stages - 1}; ++s) {{",
        f"    if (s < {k_tiles}) {{",
        *(f"        {line}" for line in load_stage("s", k0_of("s"))),
        "    }",
        "    optc_cp_async_commit();",
        "}",
        f"OPTC_CP_ASYNC_WAIT({stages - 2});",
        "__syncthreads();",
        f"unsigned a[2][{mi_count}][4], b[2][{ni_count}][2];",
        "{",
        f"    const unsigned short* As = {stage_of[0]('0')};",
        f"    const unsigned short* Bs = {stage_of[1]('0')};",
        *(f"    {line}" for line in fragments(0, "As", "Bs", 0)),
        "}",
        f"for (int kt = 0; kt < {k_tiles}; ++kt) {{",
        *(  # the slices after the first read tile kt's stage (with one slice, none does)
            [f"    const unsigned short* As = {stage_of[0]('kt')};", f"    const unsigned short* Bs = {stage_of[1]('kt')};"]
            if slices > 1
            else []
        ),
        *(f"    {line}" for line in main),
        "}",
    ]


def epilogue(kernel: FuncOp, problem: Problem, t: dict[str, int]) -> list[str]:
    """The epilogue of the tile in `acc` (the ring is free): staged through shared memory
    for a 16-bit accumulator, else straight from the fragments."""
    code = epilogue_code(kernel, problem)
    mi_count, ni_count = fragment_counts(t)
    if _staged(code):
        return _staged_epilogue(problem, code, t["block_m"], t["block_n"], mi_count, ni_count, mma_threads(t))
    return _direct_epilogue(problem, mi_count, ni_count)


def _direct_epilogue(problem: Problem, mi_count: int, ni_count: int) -> list[str]:
    """The epilogue straight from the fragments (an accumulator that is not 16-bit)."""
    return [
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi) {{",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni) {{",
        "        #pragma unroll",
        "        for (int q = 0; q < 4; ++q) {",
        "            const int m = m0 + wm + mi * 16 + (lane >> 2) + (q >> 1) * 8;",
        "            const int n = n0 + wn + ni * 8 + (lane & 3) * 2 + (q & 1);",
        f"            if (m < {problem.m} && n < {problem.n}) epilogue(acc[mi][ni][q], bz, m, n);",
        "        }",
        "    }",
        "}",
    ]


def _staged_epilogue(problem: Problem, code, bm: int, bn: int, mi_count: int, ni_count: int, threads: int) -> list[str]:
    """Accumulators rounded to 16 bits into a [bm][bn + 8] tile, then 8 columns per thread
    through `epilogue8` (vector stores) or `epilogue` (one element at a time)."""
    ld, chunks = bn + STAGE_PAD, bn // 8
    narrow = code.acc_ctype.narrow
    vector = vector_lambda(problem, code, code.acc_ctype.storage) is not None
    storage = code.acc_ctype.storage
    if vector:
        store = ["    epilogue8(raw, bz, m, n);"]
    else:
        store = [
            f"    const {storage}* rv = (const {storage}*)&raw;",
            "    #pragma unroll",
            "    for (int j = 0; j < 8; ++j)",
            f"        if (n + j < {problem.n}) epilogue(optc_widen(rv[j]), bz, m, n + j);",
        ]
    return [
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi)",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni)",
        "        #pragma unroll",
        "        for (int h = 0; h < 2; ++h) {",
        "            const int r = wm + mi * 16 + (lane >> 2) + h * 8, c = wn + ni * 8 + (lane & 3) * 2;",
        f"            *(unsigned*)(smem + r * {ld} + c) = (unsigned){narrow}(acc[mi][ni][2 * h]).bits | ((unsigned){narrow}(acc[mi][ni][2 * h + 1]).bits << 16);",
        "        }",
        "__syncthreads();",
        *mma._strided_loop("c", bm * chunks, threads),
        f"    const int r = c / {chunks}, cc = (c % {chunks}) * 8;",
        f"    const int m = m0 + r, n = n0 + cc;",
        f"    if (m >= {problem.m} || n >= {problem.n}) continue;",
        f"    const uint4 raw = *(const uint4*)(smem + r * {ld} + cc);",
        *store,
        "}",
        "__syncthreads();  // the next work item's copies overwrite the staged tile",
    ]
