"""Split-K on the tensor cores (`mma_split_k`, f16/bf16): for products whose output has too
few tiles to fill the GPU (BERT, GPT-2 and ViT at batch 1: M of 16..197 rows, K up to 3072),
`splits` blocks share each output tile, each multiplying one range of K.

Work items are (split, output tile) pairs, split-major, in the grid-stride loop, so any grid
is correct. Of the KT = ceil(K / block_k) tiles of K, split s takes [s·KT/splits,
(s+1)·KT/splits): whole block_k tiles, ranges whose lengths differ by at most one, the last
ending at K (its tail zero-filled as `mma` does). Each work item runs `mma`'s main loop over
its range, then:

1. writes its fp32 partial tile to the workspace in the fragment layout (a thread's four
   accumulators of one m16n8 tile are one 16-byte store, a warp's stores 512 consecutive
   bytes); after a barrier, thread 0 fences (`__threadfence()`), counts the partial on the
   tile's counter (`atomicAdd`) and fences again, and the barrier's vote
   (`__syncthreads_or`) tells the block whether it was the last of the tile's splits;
2. the last block sums the partials **in split order**, whichever arrived last, so the
   result does not depend on the order of arrival (deterministic); it zeroes each partial
   as it reads it, resets the counter to 0 and runs `mma`'s epilogue on the sum (the same
   lambda and stores: every fused epilogue works). The others go on to their next work item:
   no block ever waits for another, so any grid runs, however many blocks are resident.

The workspace therefore ends every launch as it began, all zeros: the next launch or
CUDA-graph replay finds its counters at 0, and so does any other split-K kernel of the engine
(they all share one workspace range, `docs/kernel-level.md`), whatever its layout.

Workspace (`split_k_workspace`): one unsigned counter per output tile (over the batch),
rounded up to `COUNTER_ALIGN` bytes, then splits × tiles fp32 partial tiles of
block_m·block_n. Tile parameters: `mma`'s, then `splits` (2..MAX_SPLITS, at most one per
block_k tile of K).
"""

from __future__ import annotations

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import WORKSPACE_PARAM, pointer_params
from passes.codegen.generator import refused_tactic
from passes.codegen.matmul.mma import MMA_KEYS, epilogue, fragment_counts, kernel_text, main_loop, mma_problem, mma_threads, preamble
from passes.codegen.matmul.problem import Problem, head, invalid, tile_of, tile_problem

SPLIT_K_KEYS = (*MMA_KEYS, "splits")
MAX_SPLITS = 32
COUNTER_ALIGN = 256
"""The partials start this many bytes apart from the workspace's start at least (16-byte
vector stores; whole L2 sectors)."""


def output_tiles(problem: Problem, t: dict[str, int]) -> int:
    """Output tiles over the batch (at least one: the workspace is never empty)."""
    return max(1, -(-problem.m // t["block_m"])) * max(1, -(-problem.n // t["block_n"])) * max(1, problem.batch_count)


def k_tiles(problem: Problem, t: dict[str, int]) -> int:
    """block_k tiles of K (the last may be partial)."""
    return -(-problem.k // t["block_k"])


def _counter_bytes(problem: Problem, t: dict[str, int]) -> int:
    return -(-4 * output_tiles(problem, t) // COUNTER_ALIGN) * COUNTER_ALIGN


def split_k_workspace(problem: Problem, t: dict[str, int]) -> int:
    """Bytes of workspace of the split-K tile `t`: the counters, then the fp32 partials."""
    return _counter_bytes(problem, t) + t["splits"] * output_tiles(problem, t) * t["block_m"] * t["block_n"] * 4


def split_k_problem(problem: Problem, launch: LaunchAttr) -> str | None:
    """Why the split-K kernel cannot take `launch` (None when it can), naming the tactic."""
    why = _tile_problem(problem, launch)
    return None if why is None else refused_tactic("mma_split_k", why)


def _tile_problem(problem: Problem, launch: LaunchAttr) -> str | None:
    why = tile_problem(launch, SPLIT_K_KEYS) or mma_problem(problem, launch)
    if why is not None:
        return why
    t = tile_of(launch, SPLIT_K_KEYS)
    splits, kt = t["splits"], k_tiles(problem, t)
    if not 2 <= splits <= MAX_SPLITS:
        return invalid(f"splits {splits} (2..{MAX_SPLITS} allowed)")
    if splits > kt:
        return invalid(f"splits {splits} exceed the {kt} block_k tile(s) of K = {problem.k}: a split would have no K")
    return None


def emit_split_k(kernel: FuncOp, problem: Problem, launch: LaunchAttr) -> str:
    """The split-K kernel for a launch `split_k_problem` accepted."""
    t = tile_of(launch, SPLIT_K_KEYS)
    bm, bn, bk, splits = t["block_m"], t["block_n"], t["block_k"], t["splits"]
    kt, tiles, chunks = k_tiles(problem, t), output_tiles(problem, t), bm * bn // 4
    body = [
        *preamble(kernel, problem, t),
        "unsigned* __restrict__ counters = (unsigned*)workspace;  // per output tile: its splits done",
        f"float4* __restrict__ partials = (float4*)(workspace + {_counter_bytes(problem, t)});  // [split][tile][block_m·block_n] fp32",
        *head(problem, bm, bn, splits),
        f"    // this split's block_k tiles of K: [kt_first, kt_first + k_tiles) of {kt}, the last split's ending at K",
        f"    const int kt_first = split * {kt} / {splits}, k_tiles = (split + 1) * {kt} / {splits} - kt_first;",
        *(f"    {line}" for line in main_loop(problem, t, "k_tiles", lambda tiles_: f"(kt_first + {tiles_}) * {bk}")),
        "    OPTC_CP_ASYNC_WAIT(0);",
        *(f"    {line}" for line in _publish(t, tiles, chunks)),
        *(f"    {line}" for line in _reduce(t, tiles, chunks)),
        *(f"    {line}" for line in epilogue(kernel, problem, t)),
        "}",
    ]
    return kernel_text(kernel, [*pointer_params(kernel), WORKSPACE_PARAM], t, body)


def _fragments(t: dict[str, int], statement: list[str]) -> list[str]:
    """`statement` for each of a thread's m16n8 accumulator tiles (mi, ni), whose 4 floats
    are the 16 bytes at `[(mi·ni_count + ni)·threads]` of the thread's partial pointer."""
    mi_count, ni_count = fragment_counts(t)
    return [
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi)",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni) {{",
        f"        const int at = (mi * {ni_count} + ni) * {mma_threads(t)};",
        *(f"        {line}" for line in statement),
        "    }",
    ]


def _publish(t: dict[str, int], tiles: int, chunks: int) -> list[str]:
    """This split's partial tile to the workspace, then its count on the tile's counter; a
    block that did not bring the count to `splits` goes on to its next work item.

    The pattern of CUTLASS's semaphore: the barrier orders every thread's stores before
    thread 0's fence (cumulative), which orders them before its count (release); thread 0
    of the last block fences after its count (acquire) before the barrier lets its block
    read the partials. The barrier's vote (`__syncthreads_or`) tells every thread whether
    its block was the last, with no static shared memory (which would count against the
    launch's dynamic shared memory limit)."""
    return [
        "// this split's fp32 partial tile, in the fragment layout",
        f"float4* mine = partials + ((long long)split * {tiles} + item) * {chunks} + threadIdx.x;",
        *_fragments(t, ["mine[at] = make_float4(acc[mi][ni][0], acc[mi][ni][1], acc[mi][ni][2], acc[mi][ni][3]);"]),
        "__syncthreads();  // every thread's partial is written",
        "unsigned arrived = 0u;",
        "if (threadIdx.x == 0) {",
        "    __threadfence();  // ... and visible to every block before the counter counts it",
        "    arrived = atomicAdd(counters + item, 1u) + 1u;",
        "    __threadfence();  // the last to arrive sees every split's partial (each was fenced before its count)",
        "}",
        f"if (!__syncthreads_or(arrived == {t['splits']}u)) continue;  // the last split to arrive finishes the tile",
    ]


def _reduce(t: dict[str, int], tiles: int, chunks: int) -> list[str]:
    """The last split's block: `acc` = the sum of the partials in split order, each zeroed
    as it is read, and the tile's counter back to 0 (the workspace all zeros again)."""
    mi_count, ni_count = fragment_counts(t)
    return [
        "// the partials summed in split order, whichever arrived last (deterministic), each zeroed once read",
        "#pragma unroll",
        f"for (int mi = 0; mi < {mi_count}; ++mi)",
        "    #pragma unroll",
        f"    for (int ni = 0; ni < {ni_count}; ++ni)",
        "        #pragma unroll",
        "        for (int q = 0; q < 4; ++q) acc[mi][ni][q] = 0.0f;",
        f"for (int s = 0; s < {t['splits']}; ++s) {{",
        f"    float4* part = partials + ((long long)s * {tiles} + item) * {chunks} + threadIdx.x;",
        *(
            f"    {line}"
            for line in _fragments(
                t,
                [
                    "const float4 v = part[at];",
                    "part[at] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);",
                    "acc[mi][ni][0] += v.x; acc[mi][ni][1] += v.y; acc[mi][ni][2] += v.z; acc[mi][ni][3] += v.w;",
                ],
            )
        ),
        "}",
        "if (threadIdx.x == 0) counters[item] = 0u;  // for the next launch",
    ]
