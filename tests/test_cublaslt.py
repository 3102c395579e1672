"""The cuBLASLt tactic of the matmul family (passes/codegen/library/cublaslt.py) on the CPU:
which kernels it takes and why not, its candidates (only where the library is here), its
workspace, and its epilogue kernel: compiled with NVRTC without warnings, and run on the
host (tests/host_emulation.py) on the exact product, as cuBLASLt would leave it, giving the
reference's answer. The engine and the tuner with a library tactic are
tests/test_cublaslt_engine.py; cuBLASLt itself on a GPU is tests/test_cublaslt_gpu.py."""

from __future__ import annotations

import ctypes
import shutil
import subprocess
import tempfile
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
from xdsl.dialects.builtin import BFloat16Type

from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen import library, registry
from passes.codegen.common.types import ctype_of, pointer_params
from passes.codegen.cuda import emit_kernel, kernel_source, kernels_of
from passes.codegen.library import cublaslt
from passes.codegen.target import SM_90
from runtime.reference import run
from runtime.reference.inputs import random_inputs
from tests.cuda_support import ARCHS, compile_clean, lower
from tests.host_emulation import HOST_PRELUDE, from_buffer, to_buffer
from tests.support import parse
from tests.test_codegen_matmul import TOLERANCE, _split_heads, fused_matmul, gemm, graph_matmul


@pytest.fixture
def here(monkeypatch):
    """cuBLASLt is here (as where nvmath-python loads it)."""
    monkeypatch.setattr(cublaslt, "unavailable", lambda: None)


@pytest.fixture
def absent(monkeypatch):
    monkeypatch.setattr(cublaslt, "unavailable", lambda: "cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'")


def kernel_of(ir: str) -> FuncOp:
    (kernel,) = kernels_of(lower(ir))
    return kernel


def with_launch(kernel: FuncOp, algo: int = 0) -> FuncOp:
    """`kernel` set to run cuBLASLt's algorithm `algo` (as a tuner's choice would)."""
    kernel.attributes["launch"] = LaunchAttr("cublaslt", [cublaslt.epilogue_blocks(kernel, SM_90.sm_count)], [256], 0, {"algo": algo})
    return kernel


F16_BIAS_GELU = fused_matmul("f16", [2, 48, 64], [64, 40], epilogue="bias_gelu")
F16_PLAIN = fused_matmul("f16", [48, 64], [64, 40])


# --- which kernels, which candidates ----------------------------------------------------------


def test_candidates_appear_only_where_cublaslt_is_here(here):
    kernel = kernel_of(F16_BIAS_GELU)
    offered = [t for t in registry.tactics(kernel, SM_90) if t.tactic_name == "cublaslt"]
    assert [t.tile_params for t in offered] == [{"algo": i} for i in range(cublaslt.ALGORITHMS)]
    assert registry.tactics(kernel, SM_90)[0].tactic_name == "mma"  # configure's stays first
    assert all(registry.generator_for(kernel, t) is cublaslt.GENERATOR for t in offered)


def test_no_candidates_and_one_note_where_it_is_not(absent):
    kernel = kernel_of(F16_BIAS_GELU)
    assert {t.tactic_name for t in registry.tactics(kernel, SM_90)} == {"mma"}
    note = library.unavailable([kernel, kernel])
    assert note == "vendor tactics unavailable: cuBLASLt tactics need nvmath-python (pip install 'optc[cuda-libs]'): No module named 'nvmath'"
    relu = kernel_of("func.func @main(%x: tensor<8xf32>) -> tensor<8xf32> {\n  %y = graph.relu %x : tensor<8xf32>\n  func.return %y : tensor<8xf32>\n}")
    assert library.unavailable([relu]) is None  # nothing a library could run: nothing to say


def test_available_says_why_here():
    """This machine has no nvmath-python (or no driver for the cuBLASLt it loads)."""
    why = cublaslt.unavailable()
    assert why is not None and ("nvmath" in why or "cuBLASLt" in why), why


INTEGER_MATMUL = """
func.func @main(%a: tensor<4x40xi8>, %b: tensor<40x6xi8>) -> tensor<4x6xi32> {
  %y = fused.matmul %a, %b {transpose_b = 0 : i64} : (tensor<4x40xi8>, tensor<40x6xi8>) -> tensor<4x6xi32> {
  ^bb0(%acc: tensor<4x6xi32>):
    fused.yield %acc : tensor<4x6xi32>
  }
  func.return %y : tensor<4x6xi32>
}"""
REFUSED = {
    "int8": (INTEGER_MATMUL, r"cuBLASLt takes f16, bf16 or f32 operands, got i8"),
    "f64": (fused_matmul("f64", [4, 40], [40, 6]), r"cuBLASLt takes f16, bf16 or f32 operands, got f64"),
    "partial_broadcast": (
        fused_matmul("f16", [3, 1, 9, 64], [4, 33, 64], transpose_b=True),
        r"cuBLASLt takes one batch stride per operand; this operand is broadcast over some batch dims only",
    ),
    "gemm_alpha": (gemm("f32", 17, 9, 31, alpha=0.5, beta=0.0), r"cuBLASLt runs graph.gemm only as a plain product \(alpha = 1, no C\), this one has alpha = 0.5"),
    "gemm_c": (gemm("f32", 8, 12, 5, trans_b=1, c=[8, 12]), r"cuBLASLt runs graph.gemm only as a plain product \(alpha = 1, no C\), this one has alpha = 1 and a C"),
}


@pytest.mark.parametrize(("ir", "why"), REFUSED.values(), ids=REFUSED.keys())
def test_kernels_cublaslt_cannot_run_say_why_and_get_no_candidates(here, ir, why):
    import re

    kernel = kernel_of(ir)
    assert re.search(why, cublaslt.why_not(kernel)), cublaslt.why_not(kernel)
    assert not any(t.tactic_name == "cublaslt" for t in registry.tactics(kernel, SM_90))
    launch = LaunchAttr("cublaslt", [1], [256], 0, {"algo": 0})
    assert re.search(rf"tactic 'cublaslt' cannot run this kernel: {why}", cublaslt.check(kernel, launch, SM_90))
    with pytest.raises(OptcError, match=rf"cuda codegen of @{kernel.sym_name.data}: tactic 'cublaslt' cannot run this kernel: {why}"):
        emit_kernel(with_launch(kernel))


def test_a_whole_broadcast_operand_has_stride_zero_and_a_batched_one_its_matrix():
    call = cublaslt.lt_call(kernel_of(fused_matmul("bf16", [2, 3, 17, 40], [40, 24])))
    assert (call.batch, call.a_batch_stride, call.b_batch_stride) == (6, 17 * 40, 0)
    assert (call.m, call.n, call.k, call.dtype, call.d_dtype) == (17, 24, 40, "bfloat16", "bfloat16")
    t = cublaslt.lt_call(kernel_of(fused_matmul("f32", [72, 100], [40, 72], transpose_b=True, transpose_a=True)))
    assert (t.m, t.n, t.k, t.a_k_fast, t.b_n_fast, t.batch) == (100, 40, 72, False, False, 1)


@pytest.mark.parametrize(
    ("launch", "why"),
    [
        (LaunchAttr("cublaslt", [1], [256], 0, {"algo": 4}), r"a cuBLASLt tile is \{algo = 0..3\}"),
        (LaunchAttr("cublaslt", [1], [256], 0, {"algo": 0, "split": 2}), r"a cuBLASLt tile is \{algo = 0..3\}"),
        (LaunchAttr("cublaslt", [1], [128], 0, {"algo": 0}), r"the epilogue kernel runs blocks of \[256, 1, 1\]"),
        (LaunchAttr("cudnn", [1], [256], 0, {"algo": 0}), r"tactic 'cudnn' is not one of the cuBLASLt tactics \(cublaslt\)"),
    ],
    ids=["algo_past_the_list", "other_tile_keys", "block", "other_tactic"],
)
def test_bad_launches_are_refused(launch, why):
    import re

    kernel = kernel_of(F16_BIAS_GELU)
    assert re.search(why, cublaslt.check(kernel, launch, SM_90))
    with pytest.raises(OptcError, match=why):
        cublaslt.emit(kernel, launch)


def test_the_library_is_never_the_heuristics_choice():
    kernel = kernel_of(F16_BIAS_GELU)
    with pytest.raises(OptcError, match=r"cuBLASLt is a tactic the tuner may choose, not the heuristic's"):
        cublaslt.configure(kernel, SM_90)


# --- direct or through the epilogue kernel; the workspace --------------------------------------


def test_a_plain_product_is_written_by_cublaslt_and_has_no_kernel():
    for ir in (F16_PLAIN, graph_matmul("f32", [3, 10, 20], [20, 30]), gemm("f16", 64, 32, 48, trans_a=1)):
        kernel = with_launch(kernel_of(ir))
        assert cublaslt.direct(kernel) and cublaslt.product_bytes(kernel) == 0
        assert emit_kernel(kernel) == "" and kernel_source(kernel) == ""
        a, b, d = cublaslt.operands(kernel)
        assert (a, b, d) == (0, 1, 2)
        assert registry.workspace_bytes(kernel, kernel.launch) == cublaslt.WORKSPACE_CAP


def test_an_epilogue_takes_the_product_in_the_workspace_then_cublaslts_workspace():
    kernel = with_launch(kernel_of(F16_BIAS_GELU))  # [2, 48, 40] f16 product: 7680 bytes
    assert not cublaslt.direct(kernel) and cublaslt.operands(kernel) == (0, 1, None)
    assert cublaslt.product_bytes(kernel) == 2 * 48 * 40 * 2
    assert cublaslt.library_offset(kernel) == 7680  # a multiple of 256 already
    assert registry.workspace_bytes(kernel, kernel.launch) == 7680 + cublaslt.WORKSPACE_CAP
    odd = with_launch(kernel_of(fused_matmul("f32", [7, 48], [48, 33], epilogue="multi")))  # 924 bytes
    assert cublaslt.library_offset(odd) == 1024
    cast = with_launch(kernel_of(fused_matmul("f16", [5, 64], [64, 16], epilogue="cast")))
    assert not cublaslt.direct(cast) and cublaslt.lt_call(cast).d_dtype == "float16"  # the cast runs in the epilogue
    bias = with_launch(kernel_of(graph_matmul("f32", [3, 10, 20], [20, 30], bias=True)))
    assert not cublaslt.direct(bias) and "product" in emit_kernel(bias)


def test_the_epilogue_kernel_reads_the_product_after_the_kernels_own_parameters():
    kernel = with_launch(kernel_of(F16_BIAS_GELU))
    source = emit_kernel(kernel)
    params = [*pointer_params(kernel), "const optc_half* __restrict__ product"]
    assert source.startswith(f'extern "C" __global__ void __launch_bounds__(256) {kernel.sym_name.data}(\n    ' + ",\n    ".join(params) + ")")
    assert "epilogue(optc_widen(product[f]), bz, m, n);" in source


# --- the epilogue kernel compiles and, fed the product, gives the reference's answer --------------

EPILOGUES = {
    "f16_bias_gelu_batched": F16_BIAS_GELU,
    "bf16_bias_residual": fused_matmul("bf16", [1, 100, 72], [72, 40], epilogue="bias_residual"),
    "f32_multi_result": fused_matmul("f32", [7, 48], [48, 33], epilogue="multi"),
    "f16_cast_to_f32": fused_matmul("f16", [5, 64], [64, 16], epilogue="cast"),
    "f16_qkv_split_heads": _split_heads("f16", 12, 2, 16),
    "bf16_transpose_a_bias_gelu": fused_matmul("bf16", [2, 72, 40], [72, 48], epilogue="bias_gelu", transpose_a=True),
    "f32_transpose_ab_bias_residual": fused_matmul("f32", [72, 100], [40, 72], transpose_b=True, epilogue="bias_residual", transpose_a=True),
    "f32_batched_b_bias_gelu": fused_matmul("f32", [2, 3, 17, 40], [2, 3, 40, 24], epilogue="bias_gelu"),
    "graph_matmul_f16_bias": graph_matmul("f16", [3, 10, 20], [20, 30], bias=True),
}


@pytest.mark.parametrize("name", sorted(EPILOGUES))
def test_the_epilogue_kernel_compiles_without_warnings(name):
    kernel = with_launch(kernel_of(EPILOGUES[name]))
    source = kernel_source(kernel)
    for arch in ARCHS:
        compile_clean(source, f"{name}.cu", arch)


def _product(kernel: FuncOp, feeds: list[np.ndarray]) -> np.ndarray:
    """A·B as cuBLASLt leaves it: summed in fp32, rounded once to the accumulator's type,
    flat in (batch, m, n) order; in the device's storage (bf16 as its 16 bits)."""
    a_index, b_index, _ = cublaslt.operands(kernel)
    call = cublaslt.lt_call(kernel)
    a, b = (np.asarray(feeds[i], np.float32) for i in (a_index, b_index))
    if not call.a_k_fast:
        a = np.swapaxes(a, -1, -2)
    if not call.b_n_fast:
        b = np.swapaxes(b, -1, -2)
    element = cublaslt.acc_element(kernel)
    rounded = ml_dtypes.bfloat16 if isinstance(element, BFloat16Type) else numpy_dtype(element)
    product = np.matmul(a, b).astype(rounded).astype(np.float32 if rounded == ml_dtypes.bfloat16 else rounded)
    return np.ascontiguousarray(to_buffer(product, element).reshape(-1))


def run_epilogue_on_cpu(kernel: FuncOp, feeds: list[np.ndarray], product: np.ndarray) -> list[np.ndarray]:
    """The epilogue kernel built with g++ for the host and run serially over its grid."""
    launch = kernel.launch
    acc = ctype_of(cublaslt.acc_element(kernel), "the test")
    params = [*pointer_params(kernel), f"const {acc.storage}* __restrict__ product"]
    casts = ", ".join(f"({p.rsplit(' ', 1)[0]})ptrs[{j}]" for j, p in enumerate(params))
    (gx, _, _), (bx, _, _) = launch.grid_dims, launch.block_dims
    launcher = (
        'extern "C" void optc_launch(void** ptrs) {\n'
        f"    gridDim = {{{gx}, 1, 1}}; blockDim = {{{bx}, 1, 1}};\n"
        f"    for (unsigned b = 0; b < {gx}; ++b) for (unsigned t = 0; t < {bx}; ++t) {{\n"
        "        blockIdx = {b, 0, 0}; threadIdx = {t, 0, 0};\n"
        f"        {kernel.sym_name.data}({casts});\n"
        "    }\n}\n"
    )
    types = kernel.function_type
    inputs = [to_buffer(x, t.element_type) for x, t in zip(feeds, types.inputs.data)]
    outputs = [
        np.zeros(t.get_shape(), to_buffer(np.zeros(0, numpy_dtype(t.element_type)), t.element_type).dtype)
        for t in types.outputs.data
    ]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.cpp").write_text(HOST_PRELUDE + emit_kernel(kernel) + launcher)
        subprocess.run(["g++", "-O1", "-w", "-shared", "-fPIC", "-o", f"{tmp}/k.so", f"{tmp}/k.cpp"], check=True)
        lib = ctypes.CDLL(f"{tmp}/k.so")
        buffers = [*inputs, *outputs, product]
        ptrs = (ctypes.c_void_p * len(buffers))(*[x.ctypes.data for x in buffers])
        lib.optc_launch(ptrs)
    return [from_buffer(o, t.element_type) for o, t in zip(outputs, types.outputs.data)]


@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")
@pytest.mark.parametrize("name", sorted(EPILOGUES))
def test_the_epilogue_kernel_on_the_product_gives_the_references_answer(name):
    ir = EPILOGUES[name]
    feeds = random_inputs(parse(ir), seed=1)
    expected = run(parse(ir), feeds)
    kernel = with_launch(kernel_of(ir))
    values = list(feeds.values())
    got = run_epilogue_on_cpu(kernel, values, _product(kernel, values))
    dtype = next(d for d in ("bf16", "f16", "f32") if d in ir)
    rtol, atol = TOLERANCE[dtype]
    assert len(got) == len(expected)
    for g, (out, want) in zip(got, expected.items()):
        np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(want).astype(np.float64), rtol=rtol, atol=atol, err_msg=out)
