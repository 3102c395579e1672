"""The cuDNN tactic of convolutions and attention (passes/codegen/library/cudnn.py) on the CPU:
which kernels it takes and why not, its candidates (only where cudnn-frontend loads cuDNN),
the graph it asks cuDNN for (`ConvFprop`, `Sdpa`: dims and strides as cuDNN reads them),
the epilogue split (what cuDNN fuses, and the epilogue kernel for what it cannot: compiled
with NVRTC without warnings, and run on the host on the conv as cuDNN leaves it, giving
the reference's answer), its workspace and its launches. The engine and the tuner with a
cuDNN tactic are tests/test_cudnn_engine.py; cuDNN itself on a GPU is tests/test_cudnn_gpu.py."""

from __future__ import annotations

import ctypes
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from dialects.dtypes import numpy_dtype
from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen import library, registry
from passes.codegen.common.types import ctype_of, pointer_params
from passes.codegen.cuda import emit_kernel, kernel_source, kernels_of
from passes.codegen.library import cudnn
from passes.codegen.target import SM_90
from runtime.library.cudnn import ConvFprop, Sdpa
from runtime.reference import run
from runtime.reference.inputs import random_inputs
from tests.cuda_support import ARCHS, compile_clean, lower
from tests.host_emulation import HOST_PRELUDE, from_buffer, to_buffer
from tests.support import parse
from tests.test_codegen_attention import Case

ABSENT = "cuDNN tactics need nvidia-cudnn-frontend and cuDNN 9 (pip install 'optc[cuda-libs]'; torch brings cuDNN): No module named 'cudnn'"


@pytest.fixture
def here(monkeypatch):
    """cuDNN is here (as where cudnn-frontend loads it)."""
    monkeypatch.setattr(cudnn, "unavailable", lambda: None)


@pytest.fixture
def absent(monkeypatch):
    monkeypatch.setattr(cudnn, "unavailable", lambda: ABSENT)


def conv_ir(
    dtype: str = "f16", x=(2, 9, 7, 24), cout: int = 40, kernel=(3, 3), strides=(2, 2), pads=(1, 1, 1, 1),
    dilations=(1, 1), group: int = 1, epilogue: str = "bias_relu", layout: str = "NHWC",
) -> str:
    """A fused.conv (channels-last unless `layout` says NCHW) and its region: `epilogue` names
    a row of REGIONS (its extras: a bias over the channels, a residual of the output's shape)."""
    n, *spatial, c = x if layout == "NHWC" else (x[0], *x[2:], x[1])
    out = [(s + p0 + p1 - d * (k - 1) - 1) // st + 1 for s, k, st, d, p0, p1 in zip(spatial, kernel, strides, dilations, pads[: len(spatial)], pads[len(spatial) :])]
    dims = lambda *d: "x".join(map(str, d))  # noqa: E731
    if layout == "NHWC":
        xt, wt, yt = f"tensor<{dims(n, *spatial, c)}x{dtype}>", f"tensor<{dims(cout, *kernel, c // group)}x{dtype}>", f"tensor<{dims(n, *out, cout)}x{dtype}>"
        bias = f"tensor<{dims(*([1] * (len(spatial) + 1)), cout)}x{dtype}>"
    else:
        xt, wt, yt = f"tensor<{dims(n, c, *spatial)}x{dtype}>", f"tensor<{dims(cout, c // group, *kernel)}x{dtype}>", f"tensor<{dims(n, cout, *out)}x{dtype}>"
        bias = f"tensor<{dims(1, cout, *([1] * len(spatial)))}x{dtype}>"
    extras, region, result = REGIONS[epilogue](yt, bias)
    args = "".join(f", %e{i}: {t}" for i, t in enumerate(extras))
    uses = f" extras({', '.join(f'%e{i}' for i in range(len(extras)))} : {', '.join(extras)})" if extras else ""
    block = "".join(f", %b{i}: {t}" for i, t in enumerate(extras))
    props = (
        f"strides = array<i64: {', '.join(map(str, strides))}>, pads = array<i64: {', '.join(map(str, pads))}>, "
        f"dilations = array<i64: {', '.join(map(str, dilations))}>, group = {group} : i64, layout = \"{layout}\""
    )
    result_type = result or yt
    body = "\n    ".join(line.format(y=yt, acc="%acc") for line in region)
    return f"""func.func @main(%x: {xt}, %w: {wt}{args}) -> {result_type} {{
  %y = fused.conv %x, %w{uses} {{{props}}} : ({xt}, {wt}) -> {result_type} {{
  ^bb0(%acc: {yt}{block}):
    {body}
  }}
  func.return %y : {result_type}
}}
"""


def _unary(op: str, attrs: str = ""):
    return lambda y, bias: ([], [f"%r = graph.{op} {{acc}}{attrs} : {{y}}", "fused.yield %r : {y}"], None)


REGIONS = {
    "none": lambda y, bias: ([], ["fused.yield {acc} : {y}"], None),
    "bias_relu": lambda y, bias: ([bias], [f"%t = graph.add {{acc}}, %b0 : ({{y}}, {bias}) -> {{y}}", "%r = graph.relu %t : {y}", "fused.yield %r : {y}"], None),
    "bias_residual_relu": lambda y, bias: (
        [bias, y],
        [f"%t = graph.add {{acc}}, %b0 : ({{y}}, {bias}) -> {{y}}", "%s = graph.add %b1, %t : ({y}, {y}) -> {y}", "%r = graph.relu %s : {y}", "fused.yield %r : {y}"],
        None,
    ),
    "gelu": _unary("gelu", ' {{approximate = "none"}}'),
    "gelu_tanh": _unary("gelu", ' {{approximate = "tanh"}}'),
    "silu": _unary("silu"),
    "sigmoid": _unary("sigmoid"),
    "tanh": _unary("tanh"),
    # what cuDNN's graph does not express: the epilogue kernel runs these
    "leaky_relu": _unary("leaky_relu", " {{alpha = 0.1 : f32}}"),
    "bias_then_hard_swish": lambda y, bias: ([bias], [f"%t = graph.add {{acc}}, %b0 : ({{y}}, {bias}) -> {{y}}", "%r = graph.hard_swish %t : {y}", "fused.yield %r : {y}"], None),
    "relu_twice_used": lambda y, bias: ([], ["%r = graph.relu {acc} : {y}", "%s = graph.add %r, %r : ({y}, {y}) -> {y}", "fused.yield %s : {y}"], None),
}


def kernel_of(ir: str) -> FuncOp:
    (kernel,) = kernels_of(lower(ir))
    return kernel


def with_launch(kernel: FuncOp, plan: int = 0) -> FuncOp:
    """`kernel` set to run cuDNN's plan `plan` (as a tuner's choice would)."""
    kernel.attributes["launch"] = LaunchAttr("cudnn", [8], [256], 0, {"plan": plan})
    return kernel


def attention_ir(**changes) -> str:
    fields = {"dtype": "f16", "b": 2, "h": 3, "s_q": 64, "s_k": 64, "d": 64} | changes
    return Case(**fields).ir()


# --- which kernels, which candidates ----------------------------------------------------------


@pytest.mark.parametrize("ir", [conv_ir(), attention_ir()], ids=["conv", "attention"])
def test_candidates_appear_only_where_cudnn_is_here(here, ir):
    kernel = kernel_of(ir)
    tactics = registry.tactics(kernel, SM_90)
    offered = [t for t in tactics if t.tactic_name == "cudnn"]
    assert [t.tile_params for t in offered] == [{"plan": i} for i in range(cudnn.PLANS)]
    assert tactics[0].tactic_name != "cudnn"  # configure's stays first
    assert all(registry.generator_for(kernel, t) is cudnn.GENERATOR for t in offered)
    assert all(cudnn.check(kernel, t, SM_90) is None for t in offered)


def test_no_candidates_and_one_note_where_it_is_not(absent, monkeypatch):
    from passes.codegen.library import cublaslt

    conv, attention = kernel_of(conv_ir()), kernel_of(attention_ir())
    assert not any(t.tactic_name == "cudnn" for k in (conv, attention) for t in registry.tactics(k, SM_90))
    assert library.unavailable([conv, attention, conv]) == f"vendor tactics unavailable: {ABSENT}"
    monkeypatch.setattr(cublaslt, "unavailable", lambda: "no nvmath")
    matmul = kernel_of("func.func @main(%a: tensor<8x16xf16>, %b: tensor<16x8xf16>) -> tensor<8x8xf16> {\n"
                       "  %y = graph.matmul %a, %b : (tensor<8x16xf16>, tensor<16x8xf16>) -> tensor<8x8xf16>\n  func.return %y : tensor<8x8xf16>\n}")  # fmt: skip
    assert library.unavailable([conv, matmul]) == f"vendor tactics unavailable: no nvmath; {ABSENT}"  # each library once


def test_unavailable_says_why_here():
    """This machine has no cudnn-frontend (or no cuDNN 9 for it to load)."""
    why = cudnn.unavailable()
    assert why is not None and ("cudnn" in why.lower()), why


REFUSED = {
    "nchw": (conv_ir(layout="NCHW", x=(2, 24, 9, 7)), r"cuDNN's tactic runs channels-last \(NHWC\) convs; this one is NCHW"),
    "f64": (conv_ir(dtype="f64"), r"cuDNN takes f16, bf16, f32 convs, got f64"),
    "grouped": (conv_ir(group=2), r"a grouped conv \(group 2, 24 input channels\): cuDNN's tactic runs group-1 convs"),
    "depthwise": (conv_ir(group=24, cout=24), r"a depthwise conv \(group 24, 24 input channels\)"),
    "dilated": (conv_ir(dilations=(2, 2)), r"a dilated conv \(dilations \[2, 2\]\): cuDNN's tactic runs undilated convs"),
    "asymmetric_pads": (conv_ir(pads=(0, 0, 1, 1)), r"asymmetric padding \(pads \[0, 0, 1, 1\], begins then ends\)"),
    "conv_1d": (conv_ir(x=(2, 9, 24), kernel=(3,), strides=(1,), pads=(1, 1), dilations=(1,)), r"a 1-D conv: cuDNN's tactic runs 2-D convs"),
    "f32_attention": (attention_ir(dtype="f32"), r"cuDNN takes f16, bf16 attention, got f32"),
    "head_dim_33": (attention_ir(d=33), r"head dims 33 \(q, k\) and 33 \(v\): cuDNN's flash attention takes multiples of 8 up to 128"),
    "head_dim_256": (attention_ir(d=256), r"head dims 256 \(q, k\) and 256 \(v\)"),
    "bool_mask": (attention_ir(mask="2x1x64x64xi1"), r"an i1 mask: cuDNN's SDPA adds a bias, it takes no boolean mask"),
    "f32_mask": (attention_ir(mask="1x1x64x64xf32"), r"a f32 mask on f16 attention: cuDNN's SDPA bias has the operands' type"),
    "padding_mask": (attention_ir(mask="2x1x1x64xf16"), r"mask tensor<2x1x1x64xf16> broadcasts over a sequence axis: cuDNN's SDPA bias varies over both"),
    "causal_more_queries": (attention_ir(s_q=128, s_k=64, causal=True), r"a causal attention with more queries \(128\) than keys \(64\)"),
    "causal_offset_mask": (attention_ir(s_q=32, s_k=64, causal=True, mask="1x1x32x64xf16"), r"a mask with a bottom-right causal diagonal"),
}


@pytest.mark.parametrize(("ir", "why"), REFUSED.values(), ids=REFUSED.keys())
def test_kernels_cudnn_cannot_run_say_why_and_get_no_candidates(here, ir, why):
    kernel = kernel_of(ir)
    assert re.search(why, cudnn.why_not(kernel) or ""), cudnn.why_not(kernel)
    assert cudnn.why_not(kernel).startswith(f"@{kernel.sym_name.data}: ")
    assert not any(t.tactic_name == "cudnn" for t in registry.tactics(kernel, SM_90))
    launch = LaunchAttr("cudnn", [1], [256], 0, {"plan": 0})
    assert re.search(rf"tactic 'cudnn' cannot run this kernel: {why}", cudnn.check(kernel, launch, SM_90))
    with pytest.raises(OptcError, match=rf"cuda codegen of @{kernel.sym_name.data}: tactic 'cudnn' cannot run this kernel: {why}"):
        emit_kernel(with_launch(kernel))


def test_the_library_is_never_the_heuristics_choice():
    with pytest.raises(OptcError, match=r"cuDNN is a tactic the tuner may choose, not the heuristic's"):
        cudnn.configure(kernel_of(conv_ir()), SM_90)


@pytest.mark.parametrize(
    ("launch", "why"),
    [
        (LaunchAttr("cudnn", [1], [256], 0, {"plan": 4}), r"a cuDNN tile is \{plan = 0..3\}"),
        (LaunchAttr("cudnn", [1], [256], 0, {"plan": 0, "algo": 1}), r"a cuDNN tile is \{plan = 0..3\}"),
        (LaunchAttr("cudnn", [1], [128], 0, {"plan": 0}), r"the epilogue kernel runs blocks of \[256, 1, 1\]"),
        (LaunchAttr("cublaslt", [1], [256], 0, {"algo": 0}), r"tactic 'cublaslt' is not one of the cuDNN tactics \(cudnn\)"),
    ],
    ids=["plan_past_the_list", "other_tile_keys", "block", "other_tactic"],
)
def test_bad_launches_are_refused(launch, why):
    kernel = kernel_of(conv_ir(epilogue="leaky_relu"))
    assert re.search(why, cudnn.check(kernel, launch, SM_90))
    with pytest.raises(OptcError, match=why):
        cudnn.emit(kernel, launch)


# --- what cuDNN is asked for --------------------------------------------------------------------


def test_a_conv_is_described_in_nchw_order_with_channels_last_strides():
    call = cudnn.cudnn_call(kernel_of(conv_ir()))
    assert call == ConvFprop("float16", 2, 24, 40, (9, 7), (3, 3), (5, 4), (2, 2), (1, 1), ("bias", "relu"))
    assert call.x() == ([2, 24, 9, 7], [9 * 7 * 24, 1, 7 * 24, 24])
    assert call.w() == ([40, 24, 3, 3], [3 * 3 * 24, 1, 3 * 24, 24])
    assert call.y() == ([2, 40, 5, 4], [5 * 4 * 40, 1, 4 * 40, 40])
    assert call.bias() == ([1, 40, 1, 1], [40, 1, 40, 40])
    assert call.reads() == [("x", "float16", 2 * 9 * 7 * 24), ("w", "float16", 40 * 9 * 24), ("bias", "float16", 40)]
    assert call.writes() == ("float16", 2 * 5 * 4 * 40)


def test_attention_is_described_with_its_layout_and_bias():
    call = cudnn.cudnn_call(kernel_of(attention_ir(dtype="bf16", s_q=32, s_k=48, d=64, d_v=32, mask="1x3x32x48xbf16", layout="bshd")))
    assert call == Sdpa("bfloat16", 2, 3, 32, 48, 64, 32, 0.125, False, "bshd", (1, 3, 32, 48))
    assert call.o() == ([2, 3, 32, 32], [32 * 3 * 32, 32, 3 * 32, 1])  # [b, s, h, d] in memory
    assert call.q() == ([2, 3, 32, 64], [3 * 32 * 64, 32 * 64, 64, 1])
    assert [r for r, _, _ in call.reads()] == ["q", "k", "v", "bias"] and call.reads()[3][2] == 3 * 32 * 48
    causal = cudnn.cudnn_call(kernel_of(attention_ir(s_q=16, s_k=64, causal=True)))
    assert causal.causal and causal.bias == () and causal.layout == "bhsd"


@pytest.mark.parametrize(
    ("make", "why"),
    [
        (lambda: ConvFprop("int8", 1, 8, 8, (4, 4), (3, 3), (2, 2), (1, 1), (0, 0)), r"element type int8 is not one of"),
        (lambda: ConvFprop("float16", 1, 8, 8, (4, 4), (3, 3), (3, 3), (1, 1), (0, 0)), r"give 2 outputs, not 3"),
        (lambda: ConvFprop("float16", 1, 8, 8, (4, 4), (3, 3), (2, 2), (1, 1), (0, 0), ("prelu",)), r"epilogue node\(s\) prelu not among"),
        (lambda: ConvFprop("float16", 1, 8, 8, (4,), (3,), (2,), (1,), (0,)), r"each have 2 spatial dims"),
        (lambda: Sdpa("float32", 1, 1, 8, 8, 64, 64, 0.125), r"element type float32 is not one of float16, bfloat16"),
        (lambda: Sdpa("float16", 1, 1, 8, 8, 64, 64, 0.125, bias=(1, 1, 8, 1)), r"bias dims \[1, 1, 8, 1\] are not \[1 or 1, 1 or 1, 8, 8\]"),
        (lambda: Sdpa("float16", 1, 1, 8, 8, 64, 64, float("nan")), r"scale nan is not finite"),
    ],
    ids=["dtype", "out_size", "epilogue", "rank", "sdpa_dtype", "bias_dims", "scale"],
)
def test_calls_refuse_what_cudnn_is_not_asked(make, why):
    with pytest.raises(OptcError, match=why):
        make()


# --- the epilogue split; the workspace -------------------------------------------------------------

FUSED = {
    "none": (),
    "bias_relu": ("bias", "relu"),
    "bias_residual_relu": ("bias", "add", "relu"),
    "gelu": ("gelu",),
    "gelu_tanh": ("gelu_tanh",),
    "silu": ("swish",),
    "sigmoid": ("sigmoid",),
    "tanh": ("tanh",),
}


@pytest.mark.parametrize(("epilogue", "nodes"), FUSED.items(), ids=FUSED.keys())
def test_a_region_cudnn_expresses_is_fused_into_its_graph_and_has_no_kernel(epilogue, nodes):
    kernel = with_launch(kernel_of(conv_ir(epilogue=epilogue)))
    assert cudnn.cudnn_call(kernel).epilogue == nodes and cudnn.direct(kernel)
    reads, d = cudnn.operands(kernel)
    extras = len(kernel.function_type.inputs.data) - 2
    assert reads == [0, 1, *range(2, 2 + extras)] and d == 2 + extras  # x, w, bias, residual; then the result
    assert emit_kernel(kernel) == "" and kernel_source(kernel) == ""
    assert cudnn.product_bytes(kernel) == 0 and registry.workspace_bytes(kernel, kernel.launch) == cudnn.WORKSPACE_CAP


def test_a_graph_conv_with_a_bias_is_fused_and_attention_is_always_direct():
    ir = ("func.func @main(%x: tensor<1x8x8x16xf16>, %w: tensor<32x3x3x16xf16>, %b: tensor<32xf16>) -> tensor<1x8x8x32xf16> {\n"
          "  %y = graph.conv %x, %w, %b {strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = \"NHWC\"}"
          " : (tensor<1x8x8x16xf16>, tensor<32x3x3x16xf16>, tensor<32xf16>) -> tensor<1x8x8x32xf16>\n  func.return %y : tensor<1x8x8x32xf16>\n}")  # fmt: skip
    kernel = kernel_of(ir)
    assert kernel.computation.name == "graph.conv"
    assert cudnn.cudnn_call(kernel).epilogue == ("bias",) and cudnn.direct(kernel) and cudnn.operands(kernel) == ([0, 1, 2], 3)
    attention = kernel_of(attention_ir(mask="2x3x64x64xf16"))
    assert cudnn.direct(attention) and cudnn.operands(attention) == ([0, 1, 2, 3], 4)


EPILOGUE_KERNELS = {
    "f16_leaky_relu": {"epilogue": "leaky_relu"},
    "bf16_bias_hard_swish": {"dtype": "bf16", "epilogue": "bias_then_hard_swish"},
    "f32_relu_used_twice": {"dtype": "f32", "x": (1, 6, 6, 8), "cout": 12, "strides": (1, 1), "epilogue": "relu_twice_used"},
}
"""conv_ir's arguments of convs whose region cuDNN cannot express."""


def test_a_region_cudnn_cannot_express_runs_in_the_epilogue_kernel_on_the_conv():
    kernel = with_launch(kernel_of(conv_ir(**EPILOGUE_KERNELS["bf16_bias_hard_swish"])))
    assert not cudnn.direct(kernel) and cudnn.cudnn_call(kernel).epilogue == ()  # cuDNN: the conv alone
    assert cudnn.operands(kernel) == ([0, 1], None)  # the bias is the epilogue kernel's to read
    assert cudnn.product_bytes(kernel) == 2 * 5 * 4 * 40 * 2 and cudnn.library_offset(kernel) == 3328  # 3200, aligned
    assert registry.workspace_bytes(kernel, kernel.launch) == 3328 + cudnn.WORKSPACE_CAP
    source = emit_kernel(kernel)
    params = [*pointer_params(kernel), "const optc_bf16* __restrict__ product"]
    assert source.startswith(f'extern "C" __global__ void __launch_bounds__(256) {kernel.sym_name.data}(\n    ' + ",\n    ".join(params) + ")")
    assert "const float acc = optc_widen(product[f]);" in source and "f < 1600LL" in source


@pytest.mark.parametrize("name", sorted(EPILOGUE_KERNELS))
def test_the_epilogue_kernel_compiles_without_warnings(name):
    source = kernel_source(with_launch(kernel_of(conv_ir(**EPILOGUE_KERNELS[name]))))
    for arch in ARCHS:
        compile_clean(source, f"{name}.cu", arch)


def _conv_as_cudnn_leaves_it(arguments: dict, feeds: list[np.ndarray]) -> tuple[np.ndarray, object]:
    """The conv alone (the same conv with a region that only yields it) on the same x and w,
    as the reference computes it (rounded once to the element type), in the device's
    storage, flat NHWC."""
    module = parse(conv_ir(**{**arguments, "epilogue": "none"}))
    (conv,) = run(module, dict(zip(("input0", "input1"), feeds[:2]))).values()
    element = next(op for op in module.walk() if op.name == "fused.conv").results[0].type.element_type
    return np.ascontiguousarray(to_buffer(np.asarray(conv), element).reshape(-1)), element


def run_epilogue_on_cpu(kernel: FuncOp, feeds: list[np.ndarray], product: np.ndarray, element) -> list[np.ndarray]:
    """The epilogue kernel built with g++ for the host and run serially over its grid."""
    params = [*pointer_params(kernel), f"const {ctype_of(element, 'the test').storage}* __restrict__ product"]
    casts = ", ".join(f"({p.rsplit(' ', 1)[0]})ptrs[{j}]" for j, p in enumerate(params))
    gx, bx = kernel.launch.grid_dims[0], kernel.launch.block_dims[0]
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
    outputs = [np.zeros(t.get_shape(), to_buffer(np.zeros(0, numpy_dtype(t.element_type)), t.element_type).dtype) for t in types.outputs.data]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.cpp").write_text(HOST_PRELUDE + emit_kernel(kernel) + launcher)
        subprocess.run(["g++", "-O1", "-w", "-shared", "-fPIC", "-o", f"{tmp}/k.so", f"{tmp}/k.cpp"], check=True)
        lib = ctypes.CDLL(f"{tmp}/k.so")
        buffers = [*inputs, *outputs, product]
        ptrs = (ctypes.c_void_p * len(buffers))(*[x.ctypes.data for x in buffers])
        lib.optc_launch(ptrs)
    return [from_buffer(o, t.element_type) for o, t in zip(outputs, types.outputs.data)]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")
@pytest.mark.parametrize("name", sorted(EPILOGUE_KERNELS))
def test_the_epilogue_kernel_on_the_conv_gives_the_references_answer(name):
    ir = conv_ir(**EPILOGUE_KERNELS[name])
    feeds = random_inputs(parse(ir), seed=1)
    (want,) = run(parse(ir), feeds).values()
    kernel = with_launch(kernel_of(ir))
    product, element = _conv_as_cudnn_leaves_it(EPILOGUE_KERNELS[name], list(feeds.values()))
    (got,) = run_epilogue_on_cpu(kernel, list(feeds.values()), product, element)
    tolerance = {"bf16": 2e-2, "f16": 2e-3, "f32": 1e-5}[name.split("_")[0]]
    np.testing.assert_allclose(np.asarray(got, np.float64), np.asarray(want).astype(np.float64), rtol=tolerance, atol=tolerance)
