"""CUDA generators for matrix products: `fused.matmul`, and `graph.matmul` / `graph.gemm`
left on their own (without `fuse-epilogue`).

Every kernel computes C[b] = A[b] · B[b] for each batch b of the accumulator, one output
tile per block, then runs the epilogue on each element it holds in registers and stores
the results. Two main loops share that frame:

- `simt` (f32, f64, integers): shared-memory tiles of A and B (two stages, the next tile
  staged through registers while the current one is multiplied), each thread a
  `thread_m` x `thread_n` register tile; exact fp32 (no TF32), integers wrap as numpy's do.
- `mma` (f16, bf16): tensor cores, `mma.sync.m16n8k16` with fp32 accumulation, tiles
  copied with `cp.async` (16-byte chunks, zero-filled at the edges) into a `stages`-deep
  ring in dynamic shared memory and read with `ldmatrix` (`cuda_mma.py`); an operand whose
  contiguous extent is not a multiple of 8 elements is copied element by element instead.

Shapes are static, so M, N, K, batch strides and the epilogue's broadcasting are constants.
Blocks walk (batch, m tile, n tile) in a grid-stride loop over `grid.x`, so any grid is
correct; `configure` sizes it to the work. The epilogue (a C++ lambda called per element)
is printed from the fused region: elementwise ops through `cuda_elementwise.scalar_code`,
then views, transposes, splits and slices as index arithmetic on the stores.

Modules: `cuda_matmul_problem` (what is multiplied, the epilogue, the shared frame),
`cuda_matmul_simt` and `cuda_matmul_mma` (the two kernels), this one (tile choice and
dispatch). Tile parameters (`#kernel.launch` `tile`), all checked by `emit`:
- simt: block_m, block_n, block_k, thread_m, thread_n; block = (block_m/thread_m)·(block_n/thread_n)
  threads (32..1024), static shared memory of 2·block_k·(block_m + block_n + 8) elements (≤ 48 KiB);
- mma: block_m, block_n, block_k, warps_m, warps_n, stages; block = 32·warps_m·warps_n threads;
  block_m a multiple of 16·warps_m, block_n of 16·warps_n, block_k of 16, stages 2..4;
  `shared` = 2·stages·(A tile + B tile) bytes with 8 elements of padding per row
  (configure's choices stay under 48 KiB; an autotuner may go to MAX_SHARED).
"""

from __future__ import annotations

from dialects import graph
from dialects.fused import MatmulOp
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.cuda_matmul_mma import MAX_SHARED, MMA_KEYS, emit_mma, mma_shared
from passes.codegen.cuda_matmul_problem import Problem, problem_of
from passes.codegen.cuda_matmul_simt import SIMT_KEYS, STATIC_SHARED, emit_simt, simt_threads
from passes.codegen.generator import Generator

__all__ = ["GENERATORS", "MAX_SHARED", "MMA_KEYS", "SIMT_KEYS", "STATIC_SHARED", "configure", "emit", "mma_shared", "problem_of", "simt_threads"]

SMS = 132
"""Streaming multiprocessors to fill (an H100 SXM); configure prefers tiles giving this many blocks."""
MAX_GRID = 2**31 - 1

SIMT_CONFIGS = [  # largest first: (block_m, block_n, block_k, thread_m, thread_n)
    (128, 128, 8, 8, 8),
    (64, 64, 16, 4, 4),
    (32, 64, 16, 2, 4),
]
SIMT_SKINNY = (16, 128, 16, 1, 8)
"""For M <= 16 (GEMV-like): 16 rows, wide in N."""
MMA_CONFIGS = [  # largest first: (block_m, block_n, block_k, warps_m, warps_n, stages)
    (128, 128, 32, 2, 4, 2),
    (128, 64, 32, 2, 2, 3),
    (64, 64, 32, 2, 2, 3),
    (32, 64, 32, 2, 2, 3),
]
MMA_SKINNY = (16, 64, 32, 1, 4, 3)


# --- configure ---------------------------------------------------------------------------


def _tiles(problem: Problem, bm: int, bn: int) -> int:
    return max(1, -(-problem.m // bm)) * max(1, -(-problem.n // bn)) * max(1, problem.batch_count)


def _pick(problem: Problem, configs: list[tuple], skinny: tuple) -> tuple:
    """The largest tile that still gives every SM a block; the smallest if none does."""
    if problem.m <= 16:
        return skinny
    for config in configs:
        if _tiles(problem, config[0], config[1]) >= SMS:
            return config
    return configs[-1]


def configure(kernel: FuncOp) -> LaunchAttr:
    """Tensor cores for f16/bf16, SIMT otherwise; tiles as large as the SMs allow."""
    problem = problem_of(kernel)
    if problem.tensor_cores:
        tile = dict(zip(MMA_KEYS, _pick(problem, MMA_CONFIGS, MMA_SKINNY)))
        threads, shared = 32 * tile["warps_m"] * tile["warps_n"], mma_shared(problem, tile)
    else:
        tile = dict(zip(SIMT_KEYS, _pick(problem, SIMT_CONFIGS, SIMT_SKINNY)))
        threads, shared = simt_threads(tile), 0
    blocks = min(MAX_GRID, _tiles(problem, tile["block_m"], tile["block_n"]))
    return LaunchAttr([blocks], [threads], shared, tile)



def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The kernel's CUDA C for `launch` (any valid tile; invalid ones are OptcErrors)."""
    problem = problem_of(kernel)
    if problem.tensor_cores:
        return emit_mma(kernel, problem, launch)
    return emit_simt(kernel, problem, launch)


GENERATORS: dict[type, Generator] = {
    op_class: Generator(configure, emit) for op_class in (MatmulOp, graph.MatMulOp, graph.GemmOp)
}
