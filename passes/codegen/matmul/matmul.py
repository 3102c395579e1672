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
  `thread_m` x `thread_n` register tile; exact fp32 (no TF32), integers wrap as numpy's do
  (an integer contraction's 8-bit operands, i8 x ui8 mixes too, wrap in 32 bits as its
  i32 accumulator does).
- `mma` (f16, bf16): tensor cores, `mma.sync.m16n8k16` with fp32 accumulation, tiles
  copied with `cp.async` (16-byte chunks, zero-filled at the edges) into a `stages`-deep
  ring of XOR-swizzled tiles in dynamic shared memory, read with `ldmatrix` into
  double-buffered fragments (`common/mma.py`); the output tile is staged through shared
  memory and stored 8 columns at a time with 16-byte stores where `matmul/vector.py`
  proves it safe (`matmul/mma.py`); an operand whose contiguous extent is not a
  multiple of 8 elements is copied element by element instead. Integer contractions
  (i8/ui8 into i32) run the same kernel on byte pairs with `mma.sync.m16n8k32` s8/u8 and
  s32 accumulators where A is read [M, K], B [N, K] and K % 16 == 0 (`mma.int8_why_not`),
  their epilogue straight from the fragments; the rest take `simt`.
- `mma_split_k` (f16, bf16): split-K on `mma`'s main loop, for outputs with fewer tiles
  than the GPU has SMs (`matmul/split_k.py`): `splits` blocks share each output tile, each
  multiplying one range of K into an fp32 partial tile in the workspace; the last to
  arrive (an atomic counter per tile) sums the partials in split order (deterministic),
  leaves the workspace zeroed and runs `mma`'s epilogue.

Shapes are static, so M, N, K, batch strides and the epilogue's broadcasting are constants.
Blocks walk (batch, m tile, n tile) in a grid-stride loop over `grid.x`, so any grid is
correct; `configure` sizes it to the work. The epilogue (a C++ lambda called per element)
is printed from the fused region: elementwise ops through `elementwise.elementwise.scalar_code`,
then views, transposes, splits and slices as index arithmetic on the stores.

Modules: `matmul/problem.py` (what is multiplied, the epilogue, the shared frame),
`matmul/simt.py`, `matmul/mma.py` and `matmul/split_k.py` (the kernels), this one (the
tactics: tables, choice, check and dispatch). Tactics (`#kernel.launch` tactic and tile):
- `simt` (f32, f64, integers): block_m, block_n, block_k, thread_m, thread_n; block =
  (block_m/thread_m)·(block_n/thread_n) threads (32..1024), static shared memory of
  2·block_k·(block_m + block_n + 8) elements, within the target's `shared_per_block`;
- `mma` (f16, bf16; 8-bit integer contractions): block_m, block_n, block_k, warps_m,
  warps_n, stages; block = 32·warps_m·warps_n threads; block_m a multiple of 16·warps_m,
  block_n of 16·warps_n, block_k of 16 (8-bit: of 32, in bytes), stages 2..4; `shared` =
  max(ring 2·stages·block_k·(block_m + block_n), staged output 2·block_m·(block_n + 8))
  bytes (8-bit: the ring of stages·block_k·(block_m + block_n) bytes alone), within the
  target's opt-in limit (configure's large tiles need 64–72 KiB: the runtime raises the
  kernel's dynamic shared limit past 48 KiB).
- `mma_split_k` (f16, bf16): `mma`'s tile parameters and `splits` (2..32, at most one per
  block_k tile of K); grid = output tiles × splits; a workspace (`split_k_workspace`) of a
  counter per output tile (rounded up to 256 bytes) and splits × tiles × block_m·block_n
  fp32 partials. `check` also refuses splits with less than 2·block_k of K each and a
  workspace past MAX_WORKSPACE (64 MiB).
Candidates: every tile of the family's table (SIMT_CONFIGS and SIMT_SKINNY, or MMA_CONFIGS
and MMA_SKINNY; an 8-bit product on tensor cores: MMA_INT8_CONFIGS and MMA_INT8_SKINNY,
then the SIMT tiles, exact as well); for f16/bf16 products whose output has fewer tiles
(at configure's tile) than the target has SMs, first the split-K tiles (SPLIT_K_TILES ×
SPLITS), the cheapest estimate first, so a `fast` tuning times them. Tile choice (configure, tensor cores: never
split-K): the candidate with the least waves·tile-area/rate
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
from passes.codegen.matmul.mma import MMA_KEYS, emit_mma, int8_why_not, mma_problem, mma_registers, mma_shared, mma_threads
from passes.codegen.matmul.problem import Problem, problem_of, tile_of
from passes.codegen.matmul.simt import SIMT_KEYS, emit_simt, simt_problem, simt_registers, simt_shared, simt_threads
from passes.codegen.matmul.split_k import SPLIT_K_KEYS, emit_split_k, split_k_problem, split_k_workspace
from passes.codegen.target import DEFAULT, Target

__all__ = [
    "GENERATORS", "MMA_KEYS", "SIMT_KEYS", "SPLIT_K_KEYS",
    "candidates", "check", "configure", "emit", "mma_shared", "problem_of", "simt_threads", "workspace",
]  # fmt: skip

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
MMA_INT8_CONFIGS = [((bm, bn, 2 * bk, wm, wn, stages), rate) for (bm, bn, bk, wm, wn, stages), rate in MMA_CONFIGS]
"""The 8-bit tiles: MMA_CONFIGS with block_k counted in bytes and twice as deep (64 bytes:
two k32 mma steps per tile, the ring bytes of the 16-bit tile)."""
MMA_INT8_SKINNY = (16, 64, 64, 1, 4, 4)

SPLITS = (2, 3, 4, 6, 8, 12, 16)
"""The split counts `candidates` offers a product with fewer output tiles than SMs."""
SPLIT_K_TILES = [  # small tensor-core tiles, relative rate per SM (as MMA_CONFIGS)
    ((64, 64, 32, 2, 2, 4), 0.6),
    ((32, 64, 32, 2, 2, 4), 0.4),
    (MMA_SKINNY, 0.3),
]
REDUCE_K = 16
"""The last split's reading and zeroing of one fp32 partial tile, in the k (of the main
loop over the same tile) it costs about as much as: an estimate, only for the order of the
split-K candidates (the tuner measures)."""
MAX_WORKSPACE = 64 * 2**20
"""The most workspace (bytes) `check` lets a split-K tactic take from the engine's arena."""

KEYS = {"simt": SIMT_KEYS, "mma": MMA_KEYS, "mma_split_k": SPLIT_K_KEYS}
"""The tactics, with their tile parameters."""
TABLES = {
    "simt": [*SIMT_CONFIGS, SIMT_SKINNY],
    "mma": [*(config for config, _ in MMA_CONFIGS), MMA_SKINNY],
    "mma_int8": [*(config for config, _ in MMA_INT8_CONFIGS), MMA_INT8_SKINNY],
}
"""Every tile `candidates` offers, by table (`_table`; split-K's: SPLITS × SPLIT_K_TILES)."""


# --- the tactics -------------------------------------------------------------------------


def _int8_tensor_cores(problem: Problem) -> bool:
    return problem.integer_contraction and int8_why_not(problem) is None


def _tactic(problem: Problem) -> str:
    """configure's tactic for a product's element type: tensor cores for f16/bf16 (whose
    accumulator the kernel rounds to 16 bits before the epilogue, as the reference does;
    `mma_split_k` is their candidate too) and for the 8-bit integer contractions the
    tensor-core kernel takes (`mma.int8_why_not`), SIMT for everything else."""
    return "mma" if problem.tensor_cores or _int8_tensor_cores(problem) else "simt"


def _table(problem: Problem, tactic: str) -> str:
    """The TABLES entry of a tactic for this product (8-bit products have their own mma tiles)."""
    return "mma_int8" if tactic == "mma" and problem.integer_contraction else tactic


def _tiles(problem: Problem, bm: int, bn: int) -> int:
    return max(1, -(-problem.m // bm)) * max(1, -(-problem.n // bn)) * max(1, problem.batch_count)


def _launch(problem: Problem, tactic: str, config: tuple) -> LaunchAttr:
    """The launch of one tile of the table: a block per output tile (per split of it for
    split-K; the kernel's work loop strides over any grid), the tile's threads and dynamic
    shared memory."""
    tile = dict(zip(KEYS[tactic], config))
    if tactic == "simt":
        threads, shared = simt_threads(tile), 0
    else:
        threads, shared = mma_threads(tile), mma_shared(problem, tile)
    blocks = min(MAX_GRID, _tiles(problem, tile["block_m"], tile["block_n"]) * tile.get("splits", 1))
    return LaunchAttr(tactic, [blocks], [threads], shared, tile)


TENSOR_CORE_TACTICS = ("mma", "mma_split_k")


def _tactic_problem(problem: Problem, tactic: str) -> str | None:
    if tactic not in KEYS:
        return unknown_tactic("matmul", tactic, KEYS)
    if problem.integer_contraction:
        return _integer_tactic_problem(problem, tactic)
    if (tactic in TENSOR_CORE_TACTICS) != problem.tensor_cores:
        why = (
            f"tensor cores take f16 and bf16 operands, these are {problem.element}"
            if tactic in TENSOR_CORE_TACTICS
            else f"{problem.element} operands take the tensor-core kernel (tactic 'mma'), which rounds the accumulator as the reference does"
        )
        return refused_tactic(tactic, why)
    return None


def _integer_tactic_problem(problem: Problem, tactic: str) -> str | None:
    """8-bit integer products run `simt` always (exact) and `mma` where it applies."""
    if tactic == "mma_split_k":
        return refused_tactic(tactic, "split-K sums fp32 partials of f16/bf16 products; 8-bit products take 'mma' or 'simt'")
    if tactic == "mma" and not _int8_tensor_cores(problem):
        return refused_tactic(tactic, f"{int8_why_not(problem)}; tactic 'simt' takes it")
    return None


PROBLEMS = {"simt": simt_problem, "mma": mma_problem, "mma_split_k": split_k_problem}
EMITTERS = {"simt": emit_simt, "mma": emit_mma, "mma_split_k": emit_split_k}


def _launch_problem(problem: Problem, launch: LaunchAttr) -> str | None:
    """Why emit refuses `launch` for this product (None when it takes it)."""
    tactic = launch.tactic_name
    return _tactic_problem(problem, tactic) or PROBLEMS[tactic](problem, launch)


def _target_problem(problem: Problem, launch: LaunchAttr, target: Target) -> str | None:
    """Why a launch emit takes cannot run on `target`: shared memory or registers (and for
    split-K, splits too short in K or a workspace past MAX_WORKSPACE)."""
    tile = tile_of(launch, KEYS[launch.tactic_name])
    threads = launch.block_dims[0]
    if launch.tactic_name == "simt":
        shared, limit, registers = simt_shared(problem, tile), target.shared_per_block, simt_registers(problem, tile)
        what = "static shared memory"
    else:
        shared, limit, registers = mma_shared(problem, tile), target.shared_per_block_optin, mma_registers(tile)
        what = "dynamic shared memory"
    if shared > limit:
        return f"the tile needs {shared} bytes of {what}, {target.name} ({target.arch}) allows {limit}"
    if threads * registers > target.registers_per_sm:
        return f"{threads} threads of at least {registers} registers exceed {target.name}'s {target.registers_per_sm} per SM"
    if launch.tactic_name == "mma_split_k":
        return _split_k_fit(problem, tile)
    return None


def _short_k(problem: Problem, block_k: int, splits: int) -> str | None:
    """Why `splits` splits leave some split less than 2·block_k of K (too little work to
    pay for its partial tile), or None."""
    if problem.k < 2 * block_k * splits:
        return f"K = {problem.k} is too short for {splits} splits of at least 2·block_k = {2 * block_k}"
    return None


def _split_k_fit(problem: Problem, tile: dict[str, int]) -> str | None:
    """Why a split-K tile emit takes is not worth running: splits too short in K, or a
    workspace past MAX_WORKSPACE."""
    why = _short_k(problem, tile["block_k"], tile["splits"])
    if why is not None:
        return why
    need = split_k_workspace(problem, tile)
    if need > MAX_WORKSPACE:
        return f"split-K needs {need} bytes of workspace, more than the {MAX_WORKSPACE} allowed"
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
    configs, skinny = (MMA_INT8_CONFIGS, MMA_INT8_SKINNY) if problem.integer_contraction else (MMA_CONFIGS, MMA_SKINNY)
    if problem.m <= 16:
        return skinny
    fitting = [entry for entry in configs if _target_problem(problem, _launch(problem, "mma", entry[0]), target) is None]
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


def _split_k_candidates(problem: Problem, target: Target) -> list[LaunchAttr]:
    """For a tensor-core product whose output has fewer tiles (at configure's tile) than the
    target has SMs: each small tile of SPLIT_K_TILES with each split count of SPLITS that
    leaves every split at least 2·block_k of K, cheapest estimate first: waves of blocks
    over the SMs times one block's work (its share of K and its part of the reduction) at
    the tile's rate."""
    if not problem.tensor_cores:
        return []
    bm, bn, *_ = _pick_mma(problem, target)
    if _tiles(problem, bm, bn) >= target.sm_count:
        return []
    costed = []
    for config, rate in SPLIT_K_TILES:
        tm, tn, bk, *_ = config
        for splits in SPLITS:
            if _short_k(problem, bk, splits) is not None:
                continue
            waves = -(-_tiles(problem, tm, tn) * splits // target.sm_count)
            k_per_split = -(-problem.k // (bk * splits)) * bk
            costed.append((waves * tm * tn * (k_per_split + REDUCE_K * splits) / rate, (*config, splits)))
    return [_launch(problem, "mma_split_k", config) for _, config in sorted(costed, key=lambda entry: entry[0])]


def candidates(kernel: FuncOp, target: Target = DEFAULT) -> list[LaunchAttr]:
    """Split-K first where the output has fewer tiles than SMs (what a `fast` tuning tries
    after configure's tactic), then every tile of the table of the tactic this product takes
    (an 8-bit product on tensor cores: its mma tiles, then the SIMT ones, exact as well)."""
    problem = problem_of(kernel)
    tactic = _tactic(problem)
    tactics = [tactic, "simt"] if problem.integer_contraction and tactic == "mma" else [tactic]
    tiles = [_launch(problem, t, config) for t in tactics for config in TABLES[_table(problem, t)]]
    return [*_split_k_candidates(problem, target), *tiles]


def check(kernel: FuncOp, launch: LaunchAttr, target: Target = DEFAULT) -> str | None:
    """Why `launch` cannot run this product on `target` (None when it can)."""
    problem = problem_of(kernel)
    return _launch_problem(problem, launch) or _target_problem(problem, launch, target)


def _accepted(kernel: FuncOp, launch: LaunchAttr) -> Problem:
    """The product, when emit takes `launch` for it (else an OptcError saying why)."""
    problem = problem_of(kernel)
    why = _launch_problem(problem, launch)
    if why is not None:
        raise OptcError(f"cuda codegen of {problem.kernel}: {why}")
    return problem


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    """The kernel's CUDA C for `launch` (any valid tactic; invalid ones are OptcErrors)."""
    problem = _accepted(kernel, launch)
    return EMITTERS[launch.tactic_name](kernel, problem, launch)


def workspace(kernel: FuncOp, launch: LaunchAttr) -> int:
    """Bytes of zeroed scratch memory `launch` takes: split-K's counters and partials."""
    problem = _accepted(kernel, launch)
    return split_k_workspace(problem, tile_of(launch, SPLIT_K_KEYS)) if launch.tactic_name == "mma_split_k" else 0


GENERATORS: dict[type, Generator] = {
    op_class: Generator(configure, emit, candidates, check, workspace) for op_class in (MatmulOp, graph.MatMulOp, graph.GemmOp)
}
