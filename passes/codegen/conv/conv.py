"""CUDA generators for the convolution family: `fused.conv` (a conv and its epilogue
region), `graph.conv` (optionally with a bias) and `graph.conv_transpose`.

Which kernel a convolution gets:
- depthwise (group = input channels): a direct kernel, threads on output elements
  (`direct.emit_depthwise`);
- f16/bf16, NHWC, group 1, C_in % 8 == 0: implicit GEMM on tensor cores
  (`mma.py`, fp32 accumulation);
- every other conv, 1-D/2-D/3-D, NCHW or NHWC, any group: implicit GEMM on a tiled SIMT
  kernel with fp32 accumulation (`gemm.py`), tile chosen from the shapes; the only
  kernel that reads its input in the other layout than it writes (fused.conv's
  `input_layout`: the RGB stem reading the model's NCHW input into NHWC);
- conv_transpose: a direct gather kernel (`direct.emit_transpose`).

f16 and bf16 accumulate in float (on tensor cores where `mma.py` applies); f64 in
double. Integer convolutions are refused by name.
"""

from __future__ import annotations

from xdsl.ir import Operation

from dialects import fused, graph
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.conv import direct, gemm, mma
from passes.codegen.conv.geometry import Epilogue, geometry, kernel_error
from passes.codegen.generator import Generator


def _kind(kernel: FuncOp, geo) -> str:
    if isinstance(kernel.computation, graph.ConvTransposeOp):
        if geo.channels_last:
            raise kernel_error(kernel, "channels-last conv_transpose is not supported")
        return "transpose"
    if direct.is_depthwise(geo):
        if geo.input_layout != geo.layout:
            why = f"the depthwise kernel reads its input in its own layout {geo.layout}, got input_layout {geo.input_layout}"
            raise kernel_error(kernel, why)
        return "depthwise"
    return "mma" if mma.applies(geo) else "gemm"


def configure(kernel: FuncOp) -> LaunchAttr:
    geo = geometry(kernel)
    kind = _kind(kernel, geo)
    if kind == "mma":
        return mma.configure(geo)
    if kind == "gemm":
        return gemm.configure(geo)
    return direct.configure(geo)


def emit(kernel: FuncOp, launch: LaunchAttr) -> str:
    geo = geometry(kernel)
    epilogue = Epilogue(kernel)
    kind = _kind(kernel, geo)
    if kind == "mma":
        return mma.emit(kernel, launch, geo, epilogue)
    if kind == "gemm":
        return gemm.emit(kernel, launch, geo, epilogue)
    if launch.block_dims[1:] != (1, 1):
        raise kernel_error(kernel, f"the direct kernel takes a 1-D block, got {list(launch.block_dims)}")
    if kind == "depthwise":
        return direct.emit_depthwise(kernel, launch, geo, epilogue)
    return direct.emit_transpose(kernel, launch, geo, epilogue)


GENERATORS: dict[type[Operation], Generator] = {
    op: Generator(configure, emit) for op in (fused.ConvOp, graph.ConvOp, graph.ConvTransposeOp)
}


