"""A generator makes the CUDA of one family of kernels. Its unit of choice is the **tactic**
(DESIGN.md, "Tactics and tuning"): one way to run one kernel, named in the IR as
`#kernel.launch<tactic = NAME, grid, block, shared, tile>`: the variant of the family's
code (`simt` or `mma`, `tiled` or `grid_stride`, ...) with its configuration (tiles,
stages, vector width, ...). The contract, which an autotuner sits inside:

- `configure(kernel, target) -> LaunchAttr`: the heuristic's tactic for this kernel's
  shapes on `target`, what runs untuned (`configure-kernels` stores it on the kernel.func);
- `candidates(kernel, target) -> [LaunchAttr]`: every tactic worth timing, from tables the
  family declares beside its configure (never computed inside emit);
- `check(kernel, launch, target) -> str | None`: why this tactic cannot run this kernel on
  `target` (shared memory past the target's opt-in limit, registers, a vector width or
  alignment the shapes do not allow, a tile the code cannot take), or None. Cheap (nothing
  is compiled) and in agreement with emit: whatever check accepts, emit accepts;
- `emit(kernel, launch) -> str`: the CUDA C of exactly that tactic: one `extern "C"
  __global__` function named after the kernel.func, whose parameters are a pointer per
  argument then a pointer per result (`common.types.pointer_params`). It dispatches on
  `launch.tactic_name`: the variant is decided once, in the tactic, and a tactic the
  family does not have, or one this kernel cannot take (`mma` on f32), is an OptcError
  naming the kernel, the tactic and why;
- `workspace(kernel, launch) -> int`: bytes of scratch device memory the tactic needs (0 for
  most: split-K's partial sums and tile counters, a library's workspace). A tactic with a
  workspace takes one more pointer after its results, `unsigned char* __restrict__
  workspace` (`common.types.WORKSPACE_PARAM`). The engine places it in the arena, past
  every planned buffer, zeroed when the engine loads; a tactic that needs zeros there
  (counters) leaves them zero when it ends, so that every launch and CUDA-graph replay
  finds them so. Library tactics (`passes/codegen/library/`) leave theirs dirty, so they
  share a second range past that one (`compiler.engine_build`).

What emit refuses does not depend on the target (emit is not given one); the target's
limits are check's. Families register their generators by op class in `registry.py`,
which also lists a kernel's tactics (`registry.tactics`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.target import Target


def no_candidates(kernel: FuncOp, target: Target) -> Sequence[LaunchAttr]:
    """A family with nothing to offer beyond configure's tactic."""
    return ()


def always_fits(kernel: FuncOp, launch: LaunchAttr, target: Target) -> str | None:
    """A family whose every tactic emit takes also runs on every target."""
    return None


def no_workspace(kernel: FuncOp, launch: LaunchAttr) -> int:
    """A tactic that needs no scratch memory."""
    return 0


@dataclass(frozen=True)
class Generator:
    configure: Callable[[FuncOp, Target], LaunchAttr]
    """The heuristic's tactic: what runs untuned."""
    emit: Callable[[FuncOp, LaunchAttr], str]
    """CUDA C for exactly that tactic."""
    candidates: Callable[[FuncOp, Target], Sequence[LaunchAttr]] = no_candidates
    """Every tactic worth timing, from the family's declared tables."""
    check: Callable[[FuncOp, LaunchAttr, Target], str | None] = always_fits
    """Why a tactic cannot run on a target, or None."""
    workspace: Callable[[FuncOp, LaunchAttr], int] = no_workspace
    """Bytes of zeroed scratch memory the tactic needs (an extra trailing pointer)."""


def unknown_tactic(family: str, tactic: str, known: Iterable[str]) -> str:
    """Why emit refuses a tactic its family does not have."""
    return f"tactic '{tactic}' is not one of the {family} tactics ({', '.join(known)})"


def refused_tactic(tactic: str, why: str) -> str:
    """Why emit refuses a tactic of its family that this kernel cannot take."""
    return f"tactic '{tactic}' cannot run this kernel: {why}"


def grid_stride_blocks(elements: int, block: int, per_thread: int = 1, max_blocks: int = 65535 * 8) -> int:
    """Blocks for a grid-stride loop over `elements` (each thread taking `per_thread`)."""
    return max(1, min(max_blocks, -(-elements // (block * per_thread))))
