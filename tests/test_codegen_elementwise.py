"""CUDA codegen of pointwise kernels: the generator contract (configure picks the vector
and the grid, emit honours any valid vector and grid), vector loads and tails, broadcast
operands, views and constants inside a region, 32/64-bit indices, and the errors it
promises. The op × dtype table is in `test_codegen_elementwise_ops.py`.

Besides NVRTC (every kernel compiles for sm_80 and sm_90) and the GPU (marker `gpu`),
the kernels also run here, on the host: pointwise kernels are plain C++ apart from a few
CUDA built-ins, so `run_on_host` compiles them with the host's C++ compiler over a shim
of those built-ins and runs every block and thread in turn. That checks index math,
vector loads, tails and templates against the reference interpreter without a GPU (it
cannot check libdevice's accuracy, nor anything about concurrency, which a pointwise
kernel does not have).
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest
from xdsl.dialects.builtin import BFloat16Type

from dialects.dtypes import numpy_dtype, round_to_bf16
from dialects.errors import OptcError
from dialects.kernel import LAUNCH_ATTR, FuncOp, LaunchAttr
from passes.codegen.common.low_precision import pointer_params
from passes.codegen.common.types import PRELUDE
from passes.codegen.cuda import emit_module, kernels_of
from passes.codegen.common.scalar import scalar_code
from passes.codegen.elementwise.elementwise import VECTORS, configure, emit
from runtime.reference.inputs import random_inputs
from runtime.reference.interpreter import run
from tests.cuda_support import ARCHS, assert_gpu_matches_reference, compile_clean, compile_kernels, lower
from tests.support import apply_pipeline, parse

# --- running kernels on the host ------------------------------------------------------------

HOST_SHIM = r"""
#include <math.h>
#include <string.h>
struct optc_dim3 { unsigned x, y, z; };
static optc_dim3 blockIdx, blockDim, gridDim, threadIdx;
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__ __restrict
#define __align__(n) alignas(n)
struct alignas(16) uint4 { unsigned x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
struct optc_half { unsigned short bits; };
struct optc_bf16 { unsigned short bits; };
inline float __uint_as_float(unsigned u) { float f; memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; memcpy(&f, &u, 4); return f; }
inline double __longlong_as_double(long long u) { double f; memcpy(&f, &u, 8); return f; }
inline long long __double_as_longlong(double f) { long long u; memcpy(&u, &f, 8); return u; }
inline float optc_widen(optc_half h) { _Float16 f; memcpy(&f, &h.bits, 2); return (float)f; }
inline float optc_widen(optc_bf16 h) { return __uint_as_float(((unsigned)h.bits) << 16); }
inline optc_half optc_to_half(float f) { _Float16 h = (_Float16)f; optc_half r; memcpy(&r.bits, &h, 2); return r; }
inline optc_bf16 optc_to_bf16(float f) {
    unsigned u; memcpy(&u, &f, 4); optc_bf16 r;
    if ((u & 0x7fffffffu) > 0x7f800000u) r.bits = (unsigned short)((u >> 16) | 0x40u);
    else r.bits = (unsigned short)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    return r;
}
"""


def host_compiler() -> str | None:
    return shutil.which("g++")


needs_host_compiler = pytest.mark.skipif(host_compiler() is None, reason="no host C++ compiler (g++)")


def _host_launcher(kernel: FuncOp, launch: LaunchAttr) -> str:
    """`run_<name>(void** args)`: every block and thread of the launch, in turn."""
    name = kernel.sym_name.data
    params = pointer_params(kernel)
    casts = ", ".join(f"({p.rsplit(' ', 2)[0].replace(' __restrict__', '')})a[{j}]" for j, p in enumerate(params))
    grid, block = launch.grid_dims[0], launch.block_dims[0]
    return (
        f'extern "C" void run_{name}(void** a) {{\n'
        f"    gridDim.x = {grid}; blockDim.x = {block};\n"
        f"    for (unsigned b = 0; b < {grid}; ++b) for (unsigned t = 0; t < {block}; ++t) {{\n"
        f"        blockIdx.x = b; threadIdx.x = t; {name}({casts});\n"
        "    }\n}\n"
    )


_LIBRARIES: dict[str, ctypes.CDLL] = {}


def host_library(kernels: list[FuncOp]) -> ctypes.CDLL:
    """The kernels (each for its `launch`, or `configure`'s) compiled for the host."""
    parts = [HOST_SHIM]
    for kernel in kernels:
        launch = kernel.launch or configure(kernel)
        parts += [emit(kernel, launch), _host_launcher(kernel, launch)]
    source = "\n".join(parts)
    key = hashlib.sha256(source.encode()).hexdigest()[:16]
    if key not in _LIBRARIES:
        folder = Path(tempfile.mkdtemp(prefix="optc_host_"))
        (folder / "k.cpp").write_text(source)
        command = [host_compiler(), "-std=c++17", "-O1", "-w", "-shared", "-fPIC", "-o", str(folder / "k.so"), str(folder / "k.cpp")]
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode:
            raise AssertionError(f"host compile failed:\n{result.stderr[:4000]}")
        _LIBRARIES[key] = ctypes.CDLL(str(folder / "k.so"))
    return _LIBRARIES[key]


def to_device_bytes(array: np.ndarray, element_type) -> np.ndarray:
    """How the GPU holds a reference array: bf16 as its top 16 bits, the rest as numpy's."""
    if isinstance(element_type, BFloat16Type):
        return (np.ascontiguousarray(round_to_bf16(array), dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16)
    return np.ascontiguousarray(array, dtype=numpy_dtype(element_type))


def from_device_bytes(array: np.ndarray, element_type) -> np.ndarray:
    if isinstance(element_type, BFloat16Type):
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array


def run_on_host(module, feeds: dict[str, np.ndarray], library: ctypes.CDLL | None = None) -> dict[str, np.ndarray]:
    """Run a kernel-level module's launches in order on the host (from `library` if given,
    one that holds its kernels); outputs by name."""
    from runtime.reference.interpreter import entry, io_names

    kernels = {k.sym_name.data: k for k in kernels_of(module)}
    library = library or host_library(list(kernels.values()))
    fn = entry(module)
    values = {arg: to_device_bytes(feeds[name], arg.type.element_type) for arg, name in zip(fn.args, io_names(fn))}
    for op in fn.body.block.ops:
        if op.name == "kernel.launch":
            kernel = kernels[op.callee.root_reference.data]
            outs = [np.empty(r.type.get_shape(), to_device_bytes(np.zeros(0), r.type.element_type).dtype) for r in op.results]
            pointers = [values[v].ctypes.data for v in op.operands] + [o.ctypes.data for o in outs]
            getattr(library, f"run_{kernel.sym_name.data}")((ctypes.c_void_p * len(pointers))(*pointers))
            values.update(zip(op.results, outs))
        elif op.name == "func.return":
            return {
                name: from_device_bytes(values[v], v.type.element_type)
                for name, v in zip(io_names(fn, results=True), op.operands)
            }
        else:
            raise AssertionError(f"run_on_host runs kernel.launch only, got {op.name}")
    raise AssertionError("no func.return")


def assert_host_matches_reference(ir, rtol=1e-5, atol=1e-5, inputs=None, pipeline="outline-kernels", seed=0, launch=None):
    """`ir` through `pipeline` (each kernel given `launch` if set), run on the host, against
    the reference interpreter on `ir` itself."""
    module = parse(ir) if isinstance(ir, str) else ir
    feeds = dict(inputs) if inputs is not None else random_inputs(module, seed=seed)
    expected = run(module, feeds)
    lowered = apply_pipeline(module.clone(), pipeline)
    if launch is not None:
        for kernel in kernels_of(lowered):
            kernel.attributes[LAUNCH_ATTR] = launch
    got = run_on_host(lowered, feeds)
    for name, want in expected.items():
        want = np.asarray(want)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got[name].astype(np.float64), want.astype(np.float64), rtol=rtol, atol=atol, err_msg=name)
        else:
            np.testing.assert_array_equal(got[name], want, err_msg=name)
    return got


# --- IR -----------------------------------------------------------------------------------

# Broadcasting ([2,3,4] with [4] and [3,1]); where over a comparison with a cast and
# inlined constants; many activations with two results; integer and boolean ops; a lone op.
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


def bias_act(rows: int, cols: int, dtype: str = "f32", act: str = "graph.relu %s") -> str:
    """y = act(x + b), x [rows, cols], b [cols]: the usual epilogue left for a pointwise kernel."""
    t, v = f"tensor<{rows}x{cols}x{dtype}>", f"tensor<{cols}x{dtype}>"
    return f"""
func.func @main(%x: {t}, %b: {v}) -> {t} {{
  %y = fused.elementwise (%x, %b) : ({t}, {v}) -> {t} {{
  ^bb0(%xa: {t}, %ba: {v}):
    %s = graph.add %xa, %ba : ({t}, {v}) -> {t}
    %r = {act} : {t}
    fused.yield %r : {t}
  }}
  func.return %y : {t}
}}
"""


# Views inside a region: a [6, 4] value reshaped to [2, 3, 4]; a [3] vector computed,
# then unsqueezed to [3, 1] and broadcast (its flat index is not the output's); a flatten
# and a squeeze that change the rank of full-size values.
VIEWS = """
func.func @main(%x: tensor<6x4xf32>, %v: tensor<3xf32>, %z: tensor<2x1x12xf32>) -> (tensor<2x3x4xf32>, tensor<2x12xf32>) {
  %y:2 = fused.elementwise (%x, %v, %z) : (tensor<6x4xf32>, tensor<3xf32>, tensor<2x1x12xf32>) -> (tensor<2x3x4xf32>, tensor<2x12xf32>) {
  ^bb0(%xa: tensor<6x4xf32>, %va: tensor<3xf32>, %za: tensor<2x1x12xf32>):
    %r = graph.relu %xa : tensor<6x4xf32>
    %rr = graph.reshape %r : tensor<6x4xf32> -> tensor<2x3x4xf32>
    %w = graph.exp %va : tensor<3xf32>
    %wu = graph.unsqueeze %w {axes = array<i64: 1>} : tensor<3xf32> -> tensor<3x1xf32>
    %s = graph.mul %rr, %wu : (tensor<2x3x4xf32>, tensor<3x1xf32>) -> tensor<2x3x4xf32>
    %f = graph.flatten %s {axis = 1 : i64} : tensor<2x3x4xf32> -> tensor<2x12xf32>
    %zs = graph.squeeze %za {axes = array<i64: 1>} : tensor<2x1x12xf32> -> tensor<2x12xf32>
    %t = graph.add %f, %zs : (tensor<2x12xf32>, tensor<2x12xf32>) -> tensor<2x12xf32>
    fused.yield %s, %t : tensor<2x3x4xf32>, tensor<2x12xf32>
  }
  func.return %y#0, %y#1 : tensor<2x3x4xf32>, tensor<2x12xf32>
}
"""

# Broadcasting of every kind in one kernel: no full-size operand at all ([4,1,6] and
# [5,1] make [4,5,6]), a scalar, a [6] row (vectorisable for vectors dividing 6 only).
BROADCASTS = """
func.func @main(%a: tensor<4x1x6xf16>, %b: tensor<5x1xf16>, %s: tensor<f16>, %r: tensor<6xf16>) -> tensor<4x5x6xf16> {
  %y = fused.elementwise (%a, %b, %s, %r) : (tensor<4x1x6xf16>, tensor<5x1xf16>, tensor<f16>, tensor<6xf16>) -> tensor<4x5x6xf16> {
  ^bb0(%aa: tensor<4x1x6xf16>, %ba: tensor<5x1xf16>, %sa: tensor<f16>, %ra: tensor<6xf16>):
    %0 = graph.add %aa, %ba : (tensor<4x1x6xf16>, tensor<5x1xf16>) -> tensor<4x5x6xf16>
    %1 = graph.mul %0, %sa : (tensor<4x5x6xf16>, tensor<f16>) -> tensor<4x5x6xf16>
    %2 = graph.sub %1, %ra : (tensor<4x5x6xf16>, tensor<6xf16>) -> tensor<4x5x6xf16>
    fused.yield %2 : tensor<4x5x6xf16>
  }
  func.return %y : tensor<4x5x6xf16>
}
"""

# Mixed widths: an f64 input, f16 and bool results (the vector is 16 bytes of f64).
MIXED = """
func.func @main(%x: tensor<37xf64>, %h: tensor<37xf16>) -> (tensor<37xf16>, tensor<37xi1>, tensor<37xf64>) {
  %y:3 = fused.elementwise (%x, %h) : (tensor<37xf64>, tensor<37xf16>) -> (tensor<37xf16>, tensor<37xi1>, tensor<37xf64>) {
  ^bb0(%xa: tensor<37xf64>, %ha: tensor<37xf16>):
    %c = graph.cast %xa : tensor<37xf64> -> tensor<37xf16>
    %s = graph.add %c, %ha : (tensor<37xf16>, tensor<37xf16>) -> tensor<37xf16>
    %g = graph.greater %s, %ha : (tensor<37xf16>, tensor<37xf16>) -> tensor<37xi1>
    %w = graph.cast %s : tensor<37xf16> -> tensor<37xf64>
    %t = graph.tanh %xa : tensor<37xf64>
    %m = graph.mul %w, %t : (tensor<37xf64>, tensor<37xf64>) -> tensor<37xf64>
    fused.yield %s, %g, %m : tensor<37xf16>, tensor<37xi1>, tensor<37xf64>
  }
  func.return %y#0, %y#1, %y#2 : tensor<37xf16>, tensor<37xi1>, tensor<37xf64>
}
"""

CASES = {
    "kernels": (KERNELS, 1e-5),
    "bias_relu_odd": (bias_act(7, 13), 1e-5),
    "bias_relu_f16": (bias_act(9, 24, "f16"), 2e-3),
    "bias_gelu_bf16": (bias_act(5, 40, "bf16", 'graph.gelu %s {approximate = "tanh"}'), 1e-2),
    "size_one": (bias_act(1, 1), 1e-5),
    "views": (VIEWS, 1e-5),
    "broadcasts": (BROADCASTS, 2e-3),
    "mixed": (MIXED, 2e-3),
}


def outlined(text: str):
    return apply_pipeline(parse(text), "outline-kernels")


def first_kernel(text: str) -> FuncOp:
    return kernels_of(outlined(text))[0]


# --- CPU ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_compile(name):
    """Through lower-to-kernels (configure-kernels picks the launch), for sm_80 and sm_90."""
    sources = compile_kernels(CASES[name][0])
    assert all('extern "C" __global__' in s for s in sources.values())


def test_configure_picks_16_byte_vectors_and_fills_the_gpu():
    launch = configure(first_kernel(bias_act(65536, 1024)))
    assert launch.tile_params == {"vector": 4} and launch.block_dims == (256, 1, 1)
    assert launch.grid_dims == (132 * 8, 1, 1)  # grid-stride: enough blocks for 132 SMs
    assert configure(first_kernel(bias_act(64, 64, "f16"))).tile_params == {"vector": 8}
    assert configure(first_kernel(bias_act(3, 5, "f64"))).grid_dims == (1, 1, 1)
    assert configure(first_kernel(MIXED)).tile_params == {"vector": 2}  # f64 is the widest


def test_vector_loads_and_tail():
    """[7, 13] + [13]: x is loaded a vector at a time, the bias (13 is no multiple of 4)
    per element; 91 = 22 * 4 + 3 elements leave a tail of 3."""
    source = emit(first_kernel(bias_act(7, 13)), LaunchAttr("grid_stride", [2], [256], 0, {"vector": 4}))
    assert "reinterpret_cast<const uint4*>(in0 + i)[0]" in source
    assert "in1[i1]" in source and "base < 88" in source and "i = 88 + " in source
    assert "reinterpret_cast<uint4*>(out0 + base)[0]" in source


def test_broadcast_rows_are_vector_loaded_when_the_vector_divides_them():
    source = emit(first_kernel(bias_act(8, 16, "f16")), LaunchAttr("grid_stride", [1], [128], 0, {"vector": 8}))
    assert "reinterpret_cast<const uint4*>(in1 + i1)[0]" in source
    assert "in1[" not in source.split("#pragma unroll")[1]  # the lanes read the local arrays


def test_no_tail_when_the_vector_divides_the_size():
    source = emit(first_kernel(bias_act(4, 16)), LaunchAttr("grid_stride", [1], [256], 0, {"vector": 4}))
    assert source.count("for (") == 2  # the vector loop and its lanes


def test_index_math_is_64_bit_only_when_needed():
    small = emit(first_kernel(bias_act(4, 16)), LaunchAttr("grid_stride", [1], [256], 0, {"vector": 4}))
    assert "long long" not in small
    big_ir = bias_act(3, 2**30, "f16")  # 3 * 2^30 elements > 2^31
    kernel = first_kernel(big_ir)
    big = emit(kernel, configure(kernel))
    assert "for (long long base" in big
    for arch in ARCHS:
        compile_clean(PRELUDE + big, "big.cu", arch)


@pytest.mark.parametrize("vector", VECTORS)
def test_emit_honours_every_vector(vector):
    module = outlined(KERNELS)
    for kernel in kernels_of(module):
        kernel.attributes[LAUNCH_ATTR] = LaunchAttr("grid_stride", [3], [64], 0, {"vector": vector})
    source = emit_module(module)
    for arch in ARCHS:
        assert compile_clean(source, f"vector{vector}.cu", arch)[:4] == b"\x7fELF"


def test_lone_op_and_names_of_broadcast_loads():
    source = emit_module(outlined(KERNELS))
    assert source.count('extern "C" __global__') == 5
    assert "k4_graph_sigmoid" in source
    assert "in2[i1]" in source  # [3,1] inside [2,3,4]


def test_scalar_code_prints_an_epilogue():
    """The API other families use: ops in order, names in, v<k> out."""
    kernel = first_kernel(bias_act(2, 4))
    region = kernel.computation.body.block
    names = {region.args[0]: "acc", region.args[1]: "bias"}
    ops = [op for op in region.ops if op.name != "fused.yield"]
    lines = scalar_code(ops, names, lambda shape: "i1", "e")
    assert lines == ["float e0 = (acc + bias);", "float e1 = (e0 < 0 ? 0.0f : e0);"]
    assert names[ops[1].results[0]] == "e1"


# --- host emulation ---------------------------------------------------------------------


@needs_host_compiler
@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_run_on_host(name):
    ir, tol = CASES[name]
    assert_host_matches_reference(ir, rtol=tol, atol=tol)


@needs_host_compiler
@pytest.mark.parametrize("vector", VECTORS)
@pytest.mark.parametrize("name", ["kernels", "views", "broadcasts", "mixed", "bias_relu_f16"])
def test_every_vector_runs_on_host(name, vector):
    """Any valid vector, on a grid of 3 blocks of 32 threads (so the grid-stride loops go round)."""
    ir, tol = CASES[name]
    assert_host_matches_reference(ir, rtol=tol, atol=tol, launch=LaunchAttr("grid_stride", [3], [32], 0, {"vector": vector}))


# --- errors ---------------------------------------------------------------------------------


def _error(text: str, launch: LaunchAttr | None = None) -> str:
    module = outlined(text)
    kernel = kernels_of(module)[0]
    with pytest.raises(OptcError) as info:
        emit(kernel, launch or configure(kernel))
    return str(info.value)


def test_non_pointwise_kernel_is_refused():
    message = _error("""
func.func @main(%x: tensor<2x4xf32>) -> tensor<4x2xf32> {
  %0 = graph.transpose %x {perm = array<i64: 1, 0>} : tensor<2x4xf32> -> tensor<4x2xf32>
  func.return %0 : tensor<4x2xf32>
}
""", LaunchAttr("grid_stride", [1], [256]))
    assert "@k0_graph_transpose: 'graph.transpose' is not a pointwise kernel" in message


def test_invalid_vector_is_refused():
    message = _error(bias_act(2, 4), LaunchAttr("grid_stride", [1], [256], 0, {"vector": 3}))
    assert "@k0_fused_elementwise: tile parameter vector = 3 is not one of 1, 2, 4, 8, 16" in message


def test_results_of_different_sizes_are_refused():
    message = _error("""
func.func @main(%x: tensor<2x3xf32>, %b: tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>) {
  %0:2 = fused.elementwise (%x, %b) : (tensor<2x3xf32>, tensor<3xf32>) -> (tensor<2x3xf32>, tensor<3xf32>) {
  ^bb0(%a: tensor<2x3xf32>, %c: tensor<3xf32>):
    %s = graph.add %a, %c : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2x3xf32>
    %e = graph.exp %c : tensor<3xf32>
    fused.yield %s, %e : tensor<2x3xf32>, tensor<3xf32>
  }
  func.return %0#0, %0#1 : tensor<2x3xf32>, tensor<3xf32>
}
""")
    assert "@k0_fused_elementwise: results of different sizes" in message


# --- on a GPU ---------------------------------------------------------------------------------


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_cases_match_reference(name):
    ir, tol = CASES[name]
    assert_gpu_matches_reference(ir, rtol=tol, atol=tol)


@pytest.mark.gpu
@pytest.mark.parametrize("vector", VECTORS)
@pytest.mark.parametrize("name", ["kernels", "views", "broadcasts", "mixed"])
def test_every_vector_matches_reference(name, vector):
    """Kernels configured by hand (configure-kernels keeps them) with each vector, 3 blocks."""
    ir, tol = CASES[name]
    module = lower(ir, "outline-kernels")
    for kernel in kernels_of(module):
        kernel.attributes[LAUNCH_ATTR] = LaunchAttr("grid_stride", [3], [64], 0, {"vector": vector})
    assert_gpu_matches_reference(module, pipeline="configure-kernels,plan-memory", rtol=tol, atol=tol)


@pytest.mark.gpu
def test_large_bias_gelu_matches_reference():
    """Many blocks, a grid-stride loop that goes round, a tail: [1001, 1027] f16."""
    assert_gpu_matches_reference(bias_act(1001, 1027, "f16", 'graph.gelu %s {approximate = "none"}'), rtol=2e-3, atol=2e-3)
