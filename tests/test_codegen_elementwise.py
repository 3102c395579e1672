"""CUDA codegen of pointwise kernels: every emitted kernel compiles with NVRTC (sm_80 and
sm_90, no GPU needed), unsupported ops and types are refused by name, and on a GPU each
kernel matches the reference interpreter running the same kernel.func."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.interpreter import Interpreter
from xdsl.interpreters.func import FuncFunctions

from dialects.errors import OptcError
from dialects.kernel import FuncOp
from dialects.weights import WeightStore
from passes.codegen.cuda_elementwise import BLOCK_SIZE, emit_kernel, emit_module
from runtime.cuda import compile_cuda
from runtime.reference.fused import FusedReference
from runtime.reference.interpreter import GraphReference
from runtime.reference.kernel import KernelReference
from dialects.dtypes import numpy_dtype
from tests.support import apply_pipeline, parse

# Five kernels: broadcasting ([2,3,4] with [4] and [3,1]); where over a comparison with a
# cast and inlined constants; clip, gelu (both), erf, tanh, exp with two results; integer
# and boolean ops; a lone graph op.
KERNELS = """
func.func @main(%x: tensor<2x3x4xf32>, %b: tensor<4xf32>, %c: tensor<3x1xf32>, %i: tensor<3x4xi64>,
                %j: tensor<2x3x4xi32>) -> (tensor<2x3x4xf32>, tensor<3x4xf32>, tensor<2x3x4xf32>,
                tensor<2x3x4xf32>, tensor<2x3x4xi32>, tensor<2x3x4xi1>, tensor<2x3x4xf32>) {
  %0 = fused.elementwise (%x, %b, %c) : (tensor<2x3x4xf32>, tensor<4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32> {
  ^bb0(%xa: tensor<2x3x4xf32>, %ba: tensor<4xf32>, %ca: tensor<3x1xf32>):
    %s = graph.add %xa, %ba : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
    %m = graph.mul %s, %ca : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %d = graph.div %m, %ca : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %n = graph.sub %d, %xa : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    %r = graph.relu %n : tensor<2x3x4xf32>
    fused.yield %r : tensor<2x3x4xf32>
  }
  %1 = fused.elementwise (%i, %b) : (tensor<3x4xi64>, tensor<4xf32>) -> tensor<3x4xf32> {
  ^bb0(%ia: tensor<3x4xi64>, %ba: tensor<4xf32>):
    %f = graph.cast %ia : tensor<3x4xi64> -> tensor<3x4xf32>
    %k = graph.constant dense<[0.5, -1.0, 2.0, 0.0]> : tensor<4xf32>
    %z = graph.constant dense<0.25> : tensor<3x4xf32>
    %g = graph.greater %f, %k : (tensor<3x4xf32>, tensor<4xf32>) -> tensor<3x4xi1>
    %w = graph.where %g, %ba, %z : (tensor<3x4xi1>, tensor<4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
    %p = graph.mul %w, %f : (tensor<3x4xf32>, tensor<3x4xf32>) -> tensor<3x4xf32>
    fused.yield %p : tensor<3x4xf32>
  }
  %2:2 = fused.elementwise (%x) : (tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  ^bb0(%xa: tensor<2x3x4xf32>):
    %cl = graph.clip %xa {min = -1.5 : f32, max = 2.0 : f32} : tensor<2x3x4xf32>
    %g0 = graph.gelu %cl {approximate = "none"} : tensor<2x3x4xf32>
    %g1 = graph.gelu %xa {approximate = "tanh"} : tensor<2x3x4xf32>
    %e = graph.erf %g1 : tensor<2x3x4xf32>
    %t = graph.tanh %e : tensor<2x3x4xf32>
    %ex = graph.exp %t : tensor<2x3x4xf32>
    %si = graph.silu %ex : tensor<2x3x4xf32>
    %hs = graph.hard_swish %si : tensor<2x3x4xf32>
    %hg = graph.hard_sigmoid %g0 {alpha = 0.2 : f32, beta = 0.5 : f32} : tensor<2x3x4xf32>
    %lr = graph.leaky_relu %hs {alpha = 0.01 : f32} : tensor<2x3x4xf32>
    %mx = graph.max %lr, %hg : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
    fused.yield %g0, %mx : tensor<2x3x4xf32>, tensor<2x3x4xf32>
  }
  %3:2 = fused.elementwise (%j, %i) : (tensor<2x3x4xi32>, tensor<3x4xi64>) -> (tensor<2x3x4xi32>, tensor<2x3x4xi1>) {
  ^bb0(%ja: tensor<2x3x4xi32>, %ia: tensor<3x4xi64>):
    %c32 = graph.cast %ia : tensor<3x4xi64> -> tensor<3x4xi32>
    %a = graph.abs %ja : tensor<2x3x4xi32>
    %mn = graph.min %a, %c32 : (tensor<2x3x4xi32>, tensor<3x4xi32>) -> tensor<2x3x4xi32>
    %ng = graph.neg %mn : tensor<2x3x4xi32>
    %lt = graph.less %ja, %c32 : (tensor<2x3x4xi32>, tensor<3x4xi32>) -> tensor<2x3x4xi1>
    %bo = graph.cast %ja : tensor<2x3x4xi32> -> tensor<2x3x4xi1>
    %an = graph.and %lt, %bo : (tensor<2x3x4xi1>, tensor<2x3x4xi1>) -> tensor<2x3x4xi1>
    %nt = graph.not %an : tensor<2x3x4xi1>
    fused.yield %ng, %nt : tensor<2x3x4xi32>, tensor<2x3x4xi1>
  }
  %4 = graph.sigmoid %x : tensor<2x3x4xf32>
  func.return %0, %1, %2#0, %2#1, %3#0, %3#1, %4 : tensor<2x3x4xf32>, tensor<3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>, tensor<2x3x4xi32>, tensor<2x3x4xi1>, tensor<2x3x4xf32>
}
"""


def outlined(text: str):
    module = parse(text)
    apply_pipeline(module, "outline-kernels")
    return module


def kernels_of(module) -> list[FuncOp]:
    return [op for op in module.ops if isinstance(op, FuncOp)]


KERNEL_NAMES = [k.sym_name.data for k in kernels_of(outlined(KERNELS))]


def test_every_kernel_is_emitted():
    assert KERNEL_NAMES == [
        "k0_fused_elementwise",
        "k1_fused_elementwise",
        "k2_fused_elementwise",
        "k3_fused_elementwise",
        "k4_graph_sigmoid",
    ]
    source = emit_module(outlined(KERNELS))
    assert source.count('extern "C" __global__') == 5
    assert "in1[i2]" in source and "in2[i1]" in source  # [4] and [3,1] inside [2,3,4]


@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
def test_every_emitted_kernel_compiles(arch):
    """CI compiles every emitted pointwise kernel: the whole module's source, one program."""
    module = outlined(KERNELS)
    source = emit_module(module)
    assert compile_cuda(source, "elementwise.cu", arch)[:4] == b"\x7fELF"
    for kernel in kernels_of(module):
        assert compile_cuda(emit_kernel(kernel), f"{kernel.sym_name.data}.cu", arch)[:4] == b"\x7fELF"


def test_op_without_template_is_named():
    module = outlined("""
func.func @main(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = fused.elementwise (%x) : (tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    %s = graph.sin %a : tensor<4xf32>
    fused.yield %s : tensor<4xf32>
  }
  func.return %0 : tensor<4xf32>
}
""")
    with pytest.raises(OptcError, match=r"@k0_fused_elementwise: 'graph.sin' has no CUDA template"):
        emit_module(module)


def test_f16_is_refused_by_name():
    module = outlined("""
func.func @main(%x: tensor<4xf16>) -> tensor<4xf16> {
  %0 = graph.relu %x : tensor<4xf16>
  func.return %0 : tensor<4xf16>
}
""")
    with pytest.raises(OptcError, match=r"@k0_graph_relu: element type f16 is not supported yet"):
        emit_module(module)


def test_non_pointwise_kernel_is_refused():
    module = outlined("""
func.func @main(%x: tensor<2x4xf32>) -> tensor<4x2xf32> {
  %0 = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
  func.return %0 : tensor<4x2xf32>
}
""")
    with pytest.raises(OptcError, match=r"@k0_graph_transpose: 'graph.transpose' is not a pointwise kernel"):
        emit_module(module)


# -- on a GPU ------------------------------------------------------------------------------


def random_input(t, rng) -> np.ndarray:
    shape, dtype = tuple(t.get_shape()), numpy_dtype(t.element_type)
    if dtype == np.bool_:
        return rng.random(shape) < 0.5
    if np.issubdtype(dtype, np.integer):
        return rng.integers(-5, 6, shape).astype(dtype)
    return rng.uniform(-3, 3, shape).astype(dtype)


def reference(module, kernel: FuncOp, args: list[np.ndarray]) -> list[np.ndarray]:
    """The kernel.func's body through the reference interpreter."""
    interpreter = Interpreter(module)
    interpreter.register_implementations(FuncFunctions())
    interpreter.register_implementations(GraphReference(WeightStore()))
    interpreter.register_implementations(FusedReference())
    interpreter.register_implementations(KernelReference())
    return list(interpreter.call_op(kernel, tuple(args)))


@pytest.mark.gpu
@pytest.mark.parametrize("name", KERNEL_NAMES)
def test_kernel_matches_reference(gpu, name):
    from runtime.cuda import DeviceBuffer, Module, synchronize

    module = outlined(KERNELS)
    kernel = next(k for k in kernels_of(module) if k.sym_name.data == name)
    rng = np.random.default_rng(0)
    args = [random_input(t, rng) for t in kernel.function_type.inputs.data]
    want = reference(module, kernel, args)
    cubin = compile_cuda(emit_kernel(kernel), f"{name}.cu", gpu.arch)
    function = Module(cubin, name).function(name)
    inputs = [DeviceBuffer.from_numpy(np.ascontiguousarray(a)) for a in args]
    outputs = [DeviceBuffer.empty(w.shape, w.dtype) for w in want]
    n = want[0].size
    function.launch((n + BLOCK_SIZE - 1) // BLOCK_SIZE, BLOCK_SIZE, [*inputs, *outputs, np.int64(n)])
    synchronize()
    for w, out in zip(want, outputs):
        got = out.copy_to_host(np.empty(w.shape, w.dtype))
        if np.issubdtype(w.dtype, np.floating):
            np.testing.assert_allclose(got, w, rtol=1e-5, atol=1e-5)
        else:
            np.testing.assert_array_equal(got, w)
