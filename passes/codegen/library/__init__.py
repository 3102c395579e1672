"""Library tactics: kernels a vendor library runs (cuBLASLt, cuDNN), with the generated code
around them. Each keeps the tactic contract (`generator.py`) under its own tactic name and
is declared here per op class, beside the families' generators: `registry.tactics` offers
them after the family's own (a tie keeps optc's code, which needs no vendor library),
and `registry.generator_for(kernel, launch)` hands a library tactic's launch to its
library. A library's tactics emit the CUDA that runs after the call (an epilogue
kernel), or nothing where the call writes the kernel's result itself; what the call is
(`library_call`: the library's call on this GPU, its algorithm and version) the engine
build records in the plan. What the tactics share is `base.py`."""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.ir import Operation

from dialects import graph
from dialects.fused import AttentionOp, ConvOp, MatmulOp
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.generator import Generator
from passes.codegen.library import cublaslt, cudnn

MODULES = {cublaslt.TACTIC: cublaslt, cudnn.TACTIC: cudnn}
"""Tactic name → its module (`unavailable`, `library_call`, `GENERATOR`)."""

TACTICS: dict[type[Operation], dict[str, Generator]] = {
    **{op_class: {cublaslt.TACTIC: cublaslt.GENERATOR} for op_class in (MatmulOp, graph.MatMulOp, graph.GemmOp)},
    **{op_class: {cudnn.TACTIC: cudnn.GENERATOR} for op_class in (ConvOp, graph.ConvOp, AttentionOp)},
}
"""Op class → its library tactics by name."""

NAMES = frozenset(name for tactics in TACTICS.values() for name in tactics)
"""Every library tactic's name."""


def library_tactics(kernel: FuncOp) -> dict[str, Generator]:
    """The library tactics of a kernel's op class, by name."""
    return TACTICS.get(type(kernel.computation), {})


def is_library(launch: LaunchAttr) -> bool:
    """Whether a launch names a library tactic."""
    return launch.tactic_name in NAMES


def unavailable(kernels: Iterable[FuncOp]) -> str | None:
    """Why the library tactics some of `kernels` could take are not offered here (one line
    for the tune report, each missing library once), or None."""
    wanted = {name for kernel in kernels for name in library_tactics(kernel)}
    whys = [why for name, module in MODULES.items() if name in wanted and (why := module.unavailable()) is not None]
    return f"vendor tactics unavailable: {'; '.join(whys)}" if whys else None


def library_call(kernel: FuncOp, launch: LaunchAttr):
    """The library call (`runtime.engine.plan.LibraryCall`) of a kernel whose launch names a
    library tactic, resolved on this GPU."""
    return MODULES[launch.tactic_name].library_call(kernel, launch)
