"""CUDA generators for matrix products: `fused.matmul`, and `graph.matmul` / `graph.gemm`
left on their own (without `fuse-epilogue`).

Every kernel computes C[b] = A[b] · B[b] for each batch b of the accumulator, one output
tile per block, then runs the epilogue on each element it holds in registers and stores
the results. Either operand may be stored in either orientation (`transpose_a`/`transpose_b`,
gemm's `trans_a`/`trans_b`): every tile loads it along its contiguous axis, and the
tensor-core kernel reads a k-major A or n-major B tile with `ldmatrix .trans`. Two main
loops share that frame:

- `simt` (f32, f64, integers): shared-memory tiles of A and B (two stages, the next tile
  staged through registers while the current one is multiplied), each thread a
  `thread_m` x `thread_n` register tile; exact fp32 (no TF32), integers wrap as numpy's do.
- `mma` (f16, bf16): tensor cores, `mma.sync.m16n8k16` with fp32 accumulation, tiles
  copied with `cp.async` (16-byte chunks, zero-filled at the edges) into a `stages`-deep
  ring of XOR-swizzled tiles in dynamic shared memory, read with `ldmatrix` into
  double-buffered fragments (`common/mma.py`); the output tile is staged through shared
  memory and stored 8 columns at a time with 16-byte stores where `matmul/vector.py`
  proves it safe (`matmul/mma.py`); an operand whose contiguous extent is not a
  multiple of 8 elements is copied element by element instead.

Shapes are static, so M, N, K, batch strides and the epilogue's broadcasting are constants.
Blocks walk (batch, m tile, n tile) in a grid-stride loop over `grid.x`, so any grid is
correct; `configure` sizes it to the work. The epilogue (a C++ lambda called per element)
is printed from the fused region: elementwise ops through `elementwise.elementwise.scalar_code`,
then views, transposes, splits and slices as index arithmetic on the stores.

Modules: `matmul/problem.py` (what is multiplied, the epilogue, the shared frame),
`matmul/simt.py` and `matmul/mma.py` (the two kernels), this one (tile choice and
dispatch). Tile parameters (`#kernel.launch` `tile`), all checked by `emit`:
- simt: block_m, block_n, block_k, thread_m, thread_n; block = (block_m/thread_m)·(block_n/thread_n)
  threads (32..1024), static shared memory of 2·block_k·(block_m + block_n + 8) elements (≤ 48 KiB);
- mma: block_m, block_n, block_k, warps_m, warps_n, stages; block = 32·warps_m·warps_n threads;
  block_m a multiple of 16·warps_m, block_n of 16·warps_n, block_k of 16, stages 2..4;
  `shared` = max(ring 2·stages·block_k·(block_m + block_n), staged output 2·block_m·(block_n + 8))
  bytes ≤ MAX_SHARED = 160 KiB (XOR-swizzled tiles, no padding; configure's large tiles need
  64–72 KiB: the runtime raises the kernel's dynamic shared limit past 48 KiB).
Tile choice (tensor cores): the candidate with the least waves·tile-area/rate over the target's SMs
(`_pick_mma`): 128x256 / 256x128 (8 warps of 64x64) for large problems, 128x128 (4 warps
of 64x64) where the large tile would leave a last wave nearly empty, small tiles for M ≤ 512.
"""

from __future__ import annotations

from dialects import graph
from dialects.fused import MatmulOp
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.generator import Generator
from passes.codegen.matmul.mma import MAX_SHARED, MMA_KEYS, emit_mma, mma_shared
from passes.codegen.matmul.problem import Problem, problem_of
from passes.codegen.matmul.simt import SIMT_KEYS, STATIC_SHARED, emit_simt, simt_threads
from passes.codegen.target import DEFAULT

__all__ = ["GENERATORS", "MAX_SHARED", "MMA_KEYS", "SIMT_KEYS", "STATIC_SHARED", "configure", "emit", "mma_shared", "problem_of", "simt_threads"]

MAX_GRID = 2**31 - 1

SIMT_CONFIGS = [  # largest first: (block_m, block_n, block_k, thread_m, thread_n)
    (128, 128, 8, 8, 8),
    (64, 64, 16, 4, 4),
    (32, 64, 16, 2, 4),
]
SIMT_SKINNY = (16, 128, 16, 1, 8)
"""For M <= 16 (GEMV-like): 16 rows, wide in N."""
MMA_CONFIGS = [  # (block_m, block_n, block_k, warps_m, warps_n, stages), relative rate per SM
    ((128, 256, 32, 2, 4, 3), 1.0),  # 8 warps of 64x64: ring 72 KiB, staged tile 66 KiB
    ((256, 128, 32, 4, 2, 3), 1.0),
    ((128, 128, 32, 2, 2, 4), 0.9),  # 4 warps of 64x64, two blocks per SM
    ((128, 64, 32, 2, 2, 4), 0.75),
    ((64, 128, 32, 2, 2, 4), 0.75),
    ((64, 64, 32, 2, 2, 4), 0.6),
    ((32, 64, 32, 2, 2, 4), 0.4),
]
MMA_SKINNY = (16, 64, 32, 1, 4, 4)
"""For M <= 16 (GEMV-like): 16 rows (the m16 of one mma), wide in N."""


# --- configure ---------------------------------------------------------------------------


def _tiles(problem: Problem, bm: int, bn: int) -> int:
    return max(1, -(-problem.m // bm)) * max(1, -(-problem.n // bn)) * max(1, problem.batch_count)


def _pick(problem: Problem, configs: list[tuple], skinny: tuple) -> tuple:
    """The largest tile that still gives every SM a block; the smallest if none does."""
    if problem.m <= 16:
        return skinny
    for config in configs:
        if _tiles(problem, config[0], config[1]) >= DEFAULT.sm_count:
            return config
    return configs[-1]


def _pick_mma(problem: Problem) -> tuple:
    """The tensor-core tile with the least estimated time: waves of blocks over the SMs
    (a last partial wave costs a whole one) times one tile's work at the tile's rate
    (bigger tiles reuse each loaded element more). Ties go to the earlier (larger) tile."""
    if problem.m <= 16:
        return MMA_SKINNY

    def cost(entry: tuple) -> float:
        (bm, bn, *_), rate = entry
        # a tile mostly outside the matrix does no useful work: count what it covers
        waves = -(-_tiles(problem, bm, bn) // DEFAULT.sm_count)
        return waves * bm * bn / rate

    return min(MMA_CONFIGS, key=cost)[0]


def configure(kernel: FuncOp) -> LaunchAttr:
    """Tensor cores for f16/bf16, SIMT otherwise; tiles by shape (waves over the SMs)."""
    problem = problem_of(kernel)
    if problem.tensor_cores:
        tile = dict(zip(MMA_KEYS, _pick_mma(problem)))
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
