"""Which generator makes the CUDA of each kernel: the op a kernel.func computes, by class,
one line per family. A kernel whose op is not here cannot run on the GPU, and says so.
Library tactics (`library/`: cuBLASLt, cuDNN) are declared per op class beside them; a launch
naming one goes to its library. `tactics` lists what an autotuner may time for a kernel
on a target."""

from __future__ import annotations

from xdsl.ir import Operation

from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.attention import attention
from passes.codegen.conv import conv
from passes.codegen.elementwise import elementwise
from passes.codegen.generator import Generator
from passes.codegen.library import library_tactics
from passes.codegen.matmul import matmul
from passes.codegen.movement import movement
from passes.codegen.pool import pool
from passes.codegen.reduction import reduction
from passes.codegen.target import Target

GENERATORS: dict[type[Operation], Generator] = {
    **elementwise.GENERATORS,  # fused.elementwise, lone elementwise/activation ops
    **reduction.GENERATORS,  # fused.reduction, softmax, log_softmax, layer_norm, reduce_*, arg_*
    **pool.GENERATORS,  # max/average/global pools, batch_norm, instance_norm, cum_sum
    **matmul.GENERATORS,  # fused.matmul, graph.matmul, graph.gemm
    **conv.GENERATORS,  # fused.conv, graph.conv, graph.conv_transpose
    **attention.GENERATORS,  # fused.attention
    **movement.GENERATORS,  # transpose, concat, slice, pad, gather*, scatter_nd, tile, expand, split, resize, ...
}


def generator_for(kernel: FuncOp, launch: LaunchAttr | None = None) -> Generator:
    """The family's generator of the kernel's op; with a `launch` that names a library
    tactic, that library's."""
    op = kernel.computation
    if launch is not None and launch.tactic_name in (library := library_tactics(kernel)):
        return library[launch.tactic_name]
    generator = GENERATORS.get(type(op))
    if generator is None:
        raise OptcError(f"@{kernel.sym_name.data}: '{op.name}' has no CUDA generator, so it cannot run on the GPU")
    return generator


def tactics(kernel: FuncOp, target: Target) -> list[LaunchAttr]:
    """The tactics worth timing for `kernel` on `target`: configure's first (what runs
    untuned, and the tie-breaker), then every candidate that `check` accepts, each once:
    the family's, then its op's library tactics' (offered where the library is here)."""
    family = generator_for(kernel)
    chosen = [family.configure(kernel, target)]
    for generator in (family, *library_tactics(kernel).values()):
        for launch in generator.candidates(kernel, target):
            if launch not in chosen and generator.check(kernel, launch, target) is None:
                chosen.append(launch)
    return chosen


def workspace_bytes(kernel: FuncOp, launch: LaunchAttr) -> int:
    """Bytes of scratch memory `launch` needs for `kernel` (generator.py)."""
    return generator_for(kernel, launch).workspace(kernel, launch)
