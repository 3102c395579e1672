"""What every library tactic shares (cuBLASLt's and cuDNN's): whether the library is here,
asked once; the launch a library tactic's candidate is (`#kernel.launch<tactic = NAME,
grid = [blocks], block = [BLOCK], shared = 0, tile = {KEY = i}>`: the i-th algorithm of the
library's heuristic list, grid and block the epilogue kernel's); the check of such a
launch; the product's place at the start of the kernel's workspace and the library's own
workspace after it; the epilogue kernel's grid-stride loop."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.generator import refused_tactic, unknown_tactic

ALIGNMENT = 256
"""Where a library's workspace starts after the product (the alignment its algorithms assume)."""
BLOCK = 256
"""Threads per block of an epilogue kernel (a grid-stride loop over the product)."""
BLOCKS_PER_SM = 8


def availability(version: Callable[[], str], unavailable_error: type[Exception]) -> Callable[[], str | None]:
    """A function that says once why the library cannot load in this process (the message
    of `version()`'s `unavailable_error`), or None when it loads."""

    @functools.cache
    def why() -> str | None:
        try:
            version()
        except unavailable_error as exc:
            return str(exc)
        return None

    return why


def aligned(nbytes: int) -> int:
    """`nbytes` rounded up to ALIGNMENT: where the library's workspace starts after a product."""
    return -(-nbytes // ALIGNMENT) * ALIGNMENT


def epilogue_blocks(elements: int, sm_count: int) -> int:
    """Blocks of an epilogue kernel over `elements`: one element per thread, at most
    BLOCKS_PER_SM waves' worth (the loop strides over the rest)."""
    return max(1, min(math.ceil(elements / BLOCK), sm_count * BLOCKS_PER_SM))


def launch(tactic: str, key: str, index: int, elements: int, sm_count: int) -> LaunchAttr:
    """The launch of a library candidate: algorithm `index`, the epilogue kernel's grid."""
    return LaunchAttr(tactic, [epilogue_blocks(elements, sm_count)], [BLOCK], 0, {key: index})


def launch_problem(kernel: FuncOp, launch: LaunchAttr, tactic: str, title: str, key: str, count: int, why_not: Callable[[FuncOp], str | None]) -> str | None:
    """Why a library tactic cannot take `launch` for this kernel (None when it can): another
    tactic, a kernel the library cannot run (`why_not`), a tile other than {key = 0..count-1},
    or another block than the epilogue kernel's."""
    if launch.tactic_name != tactic:
        return unknown_tactic(title, launch.tactic_name, [tactic])
    why = why_not(kernel)
    if why is not None:
        return refused_tactic(tactic, why.removeprefix(f"@{kernel.sym_name.data}: "))
    index = launch.tile_params.get(key)
    if set(launch.tile_params) != {key} or not 0 <= index < count:
        return f"invalid launch: a {title} tile is {{{key} = 0..{count - 1}}}, got {launch.tile_params}"
    if launch.block_dims != (BLOCK, 1, 1) or launch.shared_bytes:
        return (f"invalid launch: the epilogue kernel runs blocks of [{BLOCK}, 1, 1] without shared memory, launch has {list(launch.block_dims)} and {launch.shared_bytes} bytes")
    return None


def grid_stride_loop(total: int, body: list[str]) -> list[str]:
    """`body` (reading `f`) for every flat index f < total, a grid-stride loop."""
    return [
        f"for (long long f = (long long)blockIdx.x * blockDim.x + threadIdx.x; f < {total}LL; f += (long long)gridDim.x * blockDim.x) {{",
        *(f"    {line}" for line in body),
        "}",
    ]
