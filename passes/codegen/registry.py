"""Which generator makes the CUDA of each kernel: the op a kernel.func computes, by class,
one line per family. A kernel whose op is not here cannot run on the GPU, and says so."""

from __future__ import annotations

from xdsl.ir import Operation

from dialects.errors import OptcError
from dialects.kernel import FuncOp
from passes.codegen import (
    cuda_attention,
    cuda_conv,
    cuda_elementwise,
    cuda_matmul,
    cuda_movement,
    cuda_pool,
    cuda_reduction,
)
from passes.codegen.generator import Generator

GENERATORS: dict[type[Operation], Generator] = {
    **cuda_elementwise.GENERATORS,  # fused.elementwise, lone elementwise/activation ops
    **cuda_reduction.GENERATORS,  # fused.reduction, softmax, log_softmax, layer_norm, reduce_*, arg_*
    **cuda_pool.GENERATORS,  # max/average/global pools, batch_norm, instance_norm, cum_sum
    **cuda_matmul.GENERATORS,  # fused.matmul, graph.matmul, graph.gemm
    **cuda_conv.GENERATORS,  # fused.conv, graph.conv, graph.conv_transpose
    **cuda_attention.GENERATORS,  # fused.attention
    **cuda_movement.GENERATORS,  # transpose, concat, slice, pad, gather*, scatter_nd, tile, expand, split, resize, ...
}


def generator_for(kernel: FuncOp) -> Generator:
    op = kernel.computation
    generator = GENERATORS.get(type(op))
    if generator is None:
        raise OptcError(f"@{kernel.sym_name.data}: '{op.name}' has no CUDA generator, so it cannot run on the GPU")
    return generator
