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
`matmul/simt.py` and `matmul/mma.py` (the two kernels), this one (the tactics: tables,
choice, check and dispatch). Tactics (`#kernel.launch` tactic and tile):
- `simt` (f32, f64, integers): block_m, block_n, block_k, thread_m, thread_n; block =
  (block_m/thread_m)·(block_n/thread_n) threads (32..1024), static shared memory of
  2·block_k·(block_m + block_n + 8) elements, within the target's `shared_per_block`;
- `mma` (f16, bf16): block_m, block_n, block_k, warps_m, warps_n, stages; block =
  32·warps_m·warps_n threads; block_m a multiple of 16·warps_m, block_n of 16·warps_n,
  block_k of 16, stages 2..4; `shared` = max(ring 2·stages·block_k·(block_m + block_n),
  staged output 2·block_m·(block_n + 8)) bytes, within the target's opt-in limit
  (configure's large tiles need 64–72 KiB: the runtime raises the kernel's dynamic shared
  limit past 48 KiB).
Candidates: every tile of the family's table (SIMT_CONFIGS and SIMT_SKINNY, or MMA_CONFIGS
and MMA_SKINNY). Tile choice (tensor cores): the candidate with the least waves·tile-area/rate
over the target's SMs (`_pick_mma`): 128x256 / 256x128 (8 warps of 64x64) for large
problems, 128x128 (4 warps of 64x64) where the large tile would leave a last wave nearly
empty, small tiles for M ≤ 512.
"""

from __future__ import annotations

from dialects import graph
from dialects.errors import OptcError
from dialects.fused import MatmulOp
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.generator import Generator, refused_tactic, unknown_tactic
from passes.codegen.matmul.mma import MMA_KEYS, emit_mma, mma_problem, mma_registers, mma_shared, mma_threads
from passes.codegen.matmul.problem import Problem, problem_of, tile_of
from passes.codegen.matmul.simt import SIMT_KEYS, emit_simt, simt_problem, simt_registers, simt_shared, simt_threads
from passes.codegen.target import DEFAULT, Target

__all__ = ["GENERATORS", "MMA_KEYS", "SIMT_KEYS", "candidates", "check", "configure", "emit", "mma_shared", "problem_of", "simt_threads"]

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

KEYS = {"simt": SIMT_KEYS, "mma": MMA_KEYS}
"""The tactics, with their tile parameters."""
TABLES = {
    "simt": [*SIMT_CONFIGS, SIMT_SKINNY],
    "mma": [*(config for config, _ in MMA_CONFIGS), MMA_SKINNY],
}
"""Every tile `candidates` offers, by tactic."""


# --- the tactics -------------------------------------------------------------------------


def _tactic(problem: Problem) -> str:
    """The one tactic a product's element type takes: tensor cores for f16/bf16 (whose
    accumulator the kernel rounds to 16 bits before the epilogue, as the reference does),
    SIMT for everything else."""
    return "mma" if problem.tensor_cores else "simt"


def _tiles(problem: Problem, bm: int, bn: int) -> int:
    return max(1, -(-problem.m // bm)) * max(1, -(-problem.n // bn)) * max(1, problem.batch_count)


def _launch(problem: Problem, tactic: str, config: tuple) -> LaunchAttr:
    """The launch of one tile of the table: a block per output tile (the kernel's work loop
    strides over any grid), the tile's threads and dynamic shared memory."""
    tile = dict(zip(KEYS[tactic], config))
    if tactic == "mma":
        threads, shared = mma_threads(tile), mma_shared(problem, tile)
    else:
        threads, shared = simt_threads(tile), 0
    blocks = min(MAX_GRID, _tiles(problem, tile["block_m"], tile["block_n"]))
    return LaunchAttr(tactic, [blocks], [threads], shared, tile)


def _tactic_problem(problem: Problem, tactic: str) -> str | None:
    if tactic not in KEYS:
        return unknown_tactic("matmul", tactic, KEYS)
    if tactic != _tactic(problem):
        why = (
            f"tensor cores take f16 and bf16 operands, these are {problem.element}"
            if tactic == "mma"
            else f"{problem.element} operands take the tensor-core kernel (tactic 'mma'), which rounds the accumulator as the reference does"
        )
        return refused_tactic(tactic, why)
    return None


PROBLEMS = {"simt": simt_problem, "mma": mma_problem}
EMITTERS = {"simt": emit_simt, "mma": emit_mma}


def _launch_problem(problem: Problem, launch: LaunchAttr) -> str | None:
    """Why emit refuses `launch` for this product (None when it takes it)."""
    tactic = launch.tactic_name
    return _tactic_problem(problem, tactic) or PROBLEMS[tactic](problem, launch)


def _target_problem(problem: Problem, launch: LaunchAttr, target: Target) -> str | None:
    """Why a launch emit takes cannot run on `target`: shared memory or registers."""
    tile = tile_of(launch, KEYS[launch.tactic_name])
    threads = launch.block_dims[0]
    if launch.tactic_name == "mma":
        shared, limit, registers = mma_shared(problem, tile), target.shared_per_block_optin, mma_registers(tile)
        what = "dynamic shared memory"
    else:
        shared, limit, registers = simt_shared(problem, tile), target.shared_per_block, simt_registers(problem, tile)
        what = "static shared memory"
    if shared > limit:
        return f"the tile needs {shared} bytes of {what}, {target.name} ({target.arch}) allows {limit}"
    if threads * registers > target.registers_per_sm:
        return f"{threads} threads of at least {registers} registers exceed {target.name}'s {target.registers_per_sm} per SM"
    return None


# --- configure ---------------------------------------------------------------------------


def _pick(problem: Problem, target: Target) -> tuple:
    """The largest SIMT tile that still gives every SM a block; the smallest if none does."""
    if problem.m <= 16:
        return SIMT_SKINNY
    for config in SIMT_CONFIGS:
        if _tiles(problem, config[0], config[1]) >= target.sm_count:
            return config
    return SIMT_CONFIGS[-1]


def _pick_mma(problem: Problem, target: Target) -> tuple:
    """The tensor-core tile with the least estimated time: waves of blocks over the SMs
    (a last partial wave costs a whole one) times one tile's work at the tile's rate
    (bigger tiles reuse each loaded element more). Ties go to the earlier (larger) tile.
    Only tiles whose shared memory the target grants are considered."""
    if problem.m <= 16:
        return MMA_SKINNY
    fitting = [entry for entry in MMA_CONFIGS if _target_problem(problem, _launch(problem, "mma", entry[0]), target) is None]
    if not fitting:
        raise OptcError(f"cuda codegen of {problem.kernel}: no tensor-core matmul tile fits {target.name} ({target.arch})")

    def cost(entry: tuple) -> float:
        (bm, bn, *_), rate = entry
        # a tile mostly outside the matrix does no useful work: count what it covers
        waves = -(-_tiles(problem, bm, bn) // target.sm_count)
        return waves * bm * bn / rate

    return min(fitting, key=cost)[0]


def configure(kernel: FuncOp, target: Target = DEFAULT) -> LaunchAttr:
    """Tensor cores for f16/bf16, SIMT otherwise; tiles by shape (waves over the SMs)."""
    problem = problem_of(kernel)
    if _tactic(problem) == "mma":
        return _launch(problem, "mma", _pick_mma(problem, target))
    return _launch(problem, "simt", _pick(problem, target))


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """Every tile of the table of the tactic this product takes."""
    problem = problem_of(kernel)
    tactic = _tactic(problem)
    return [_launch(problem, tactic, config) for config in TABLES[tactic]]


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    """Why `launch` cannot run this product on `target` (None when it can)."""
    problem = problem_of(kernel)
    return _launch_problem(problem, launch) or _target_problem(problem, launch, target)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The kernel's CUDA C for `launch` (any valid tactic; invalid ones are OptcErrors)."""
    problem = problem_of(kernel)
    why = _launch_problem(problem, launch)
    if why is not None:
        raise OptcError(f"cuda codegen of {problem.kernel}: {why}")
    return EMITTERS[launch.tactic_name](kernel, problem, launch)


GENERATORS: dict[type, Generator] = {
    op_class: Generator(configure, emit, candidates, check) for op_class in (MatmulOp, graph.MatMulOp, graph.GemmOp)
}
