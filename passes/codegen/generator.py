"""A generator makes the CUDA of one family of kernels, in two steps that stay apart so an
autotuner can sit between them:

- `configure(kernel) -> LaunchAttr`: grid, block, dynamic shared memory and the tile
  parameters, chosen for this kernel's shapes (`configure-kernels` stores it on the
  kernel.func as `launch = #kernel.launch<...>`);
- `emit(kernel, launch) -> str`: the kernel's CUDA C for that configuration: one
  `extern "C" __global__` function named after the kernel.func, whose parameters are a
  pointer per argument then a pointer per result (`common.types.pointer_params`).

Families register their generators by op class in `passes/codegen/registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from dialects.kernel import FuncOp, LaunchAttr


@dataclass(frozen=True)
class Generator:
    configure: Callable[[FuncOp], LaunchAttr]
    emit: Callable[[FuncOp, LaunchAttr], str]


def grid_stride_blocks(elements: int, block: int, per_thread: int = 1, max_blocks: int = 65535 * 8) -> int:
    """Blocks for a grid-stride loop over `elements` (each thread taking `per_thread`)."""
    return max(1, min(max_blocks, -(-elements // (block * per_thread))))
