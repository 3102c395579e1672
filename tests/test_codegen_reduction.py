"""CUDA codegen of reduction kernels (passes/codegen/reduction/): every case of the
table compiles with NVRTC for sm_80 and sm_90 (no GPU needed); on a GPU (marker `gpu`) each
matches the reference interpreter; fused.reduction kernels from real pipelines (ONNX
softmax, LayerNorm with the residual add, ReduceMean, global pooling) compile; the
refusals are OptcErrors naming the kernel.

Tolerances: f32 and f64 rtol = atol = 1e-5 (sums of up to 4097 terms in a different order
than numpy's pairwise sum: a few ulps of the row total); f16/bf16 results are rounded once
from float, so they may differ by one unit in the last place of the 2-byte type (2^-10 for
f16, 2^-7 for bf16), so rtol = atol = 1e-2 (bf16 2e-2)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from pathlib import Path

from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.kernel import FuncOp, LaunchAttr
from passes.codegen.common.types import PRELUDE
from passes.codegen.cuda import emit_kernel, kernel_source, kernels_of
from passes.codegen.reduction.reduction import GENERATORS
from tests.cuda_support import assert_gpu_matches_reference, compile_clean, compile_kernels, lower
from tests.support import apply_pipeline, make_model

TOL = {"f32": 1e-5, "f64": 1e-5, "f16": 1e-2, "bf16": 2e-2, "i32": 0, "i64": 0, "i8": 0}


def _t(shape, dtype) -> str:
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}{dtype}>"


def _reduced(shape, axes, keepdims) -> list[int]:
    return [1 if k in axes else d for k, d in enumerate(shape) if keepdims or k not in axes]


def reduce_ir(op: str, shape, axes, keepdims=1, dtype="f32") -> str:
    x, y = _t(shape, dtype), _t(_reduced(shape, axes, keepdims), dtype)
    return f"""
func.func @main(%x: {x}) -> {y} {{
  %y = graph.{op} %x {{axes = array<i64{': ' if axes else ''}{', '.join(map(str, axes))}>, keepdims = {keepdims} : i64}} : {x} -> {y}
  func.return %y : {y}
}}"""


def arg_ir(op: str, shape, axis, keepdims=1, last=0, dtype="f32") -> str:
    a = axis % len(shape)
    x, y = _t(shape, dtype), _t(_reduced(shape, [a], keepdims), "i64")
    return f"""
func.func @main(%x: {x}) -> {y} {{
  %y = graph.{op} %x {{axis = {a} : i64, keepdims = {keepdims} : i64, select_last_index = {last} : i64}} : {x} -> {y}
  func.return %y : {y}
}}"""


def softmax_ir(op: str, shape, axis, dtype="f32") -> str:
    x = _t(shape, dtype)
    return f"""
func.func @main(%x: {x}) -> {x} {{
  %y = graph.{op} %x {{axis = {axis} : i64}} : {x}
  func.return %y : {x}
}}"""


def layer_norm_ir(shape, axis, dtype="f32", bias=True, stats=False) -> str:
    a = axis % len(shape)
    x, s = _t(shape, dtype), _t(shape[a:], dtype)
    st = _t([*shape[:a], *[1] * (len(shape) - a)], "f32")
    args = f"%x: {x}, %s: {s}" + (f", %b: {s}" if bias else "")
    operands = "%x, %s" + (", %b" if bias else "")
    types = f"{x}, {s}" + (f", {s}" if bias else "")
    if stats:
        return f"""
func.func @main({args}) -> ({x}, {st}, {st}) {{
  %y, %m, %v = graph.layer_norm {operands} {{axis = {axis} : i64, epsilon = 1.0e-05 : f32}} : ({types}) -> {x}, {st}, {st}
  func.return %y, %m, %v : {x}, {st}, {st}
}}"""
    return f"""
func.func @main({args}) -> {x} {{
  %y = graph.layer_norm {operands} {{axis = {axis} : i64, epsilon = 1.0e-05 : f32}} : ({types}) -> {x}
  func.return %y : {x}
}}"""


FUSED_LAYER_NORM = """
func.func @main(%x: tensor<4x33xf32>, %r: tensor<4x33xf32>, %s: tensor<33xf32>, %b: tensor<33xf32>) -> (tensor<4x33xf32>, tensor<4x33xf32>) {
  %e, %y = fused.reduction (%x, %r, %s, %b) : (tensor<4x33xf32>, tensor<4x33xf32>, tensor<33xf32>, tensor<33xf32>) -> (tensor<4x33xf32>, tensor<4x33xf32>) {
  ^bb0(%xa: tensor<4x33xf32>, %ra: tensor<4x33xf32>, %sa: tensor<33xf32>, %ba: tensor<33xf32>):
    %a = graph.add %xa, %ra : (tensor<4x33xf32>, tensor<4x33xf32>) -> tensor<4x33xf32>
    %n = graph.layer_norm %a, %sa, %ba {axis = 1 : i64, epsilon = 1.0e-05 : f32} : (tensor<4x33xf32>, tensor<33xf32>, tensor<33xf32>) -> tensor<4x33xf32>
    %g = graph.relu %n : tensor<4x33xf32>
    fused.yield %a, %g : tensor<4x33xf32>, tensor<4x33xf32>
  }
  func.return %e, %y : tensor<4x33xf32>, tensor<4x33xf32>
}"""

FUSED_SOFTMAX = """
func.func @main(%x: tensor<2x4x8x64xf16>, %m: tensor<2x1x1x64xf16>) -> tensor<2x4x8x64xf16> {
  %y = fused.reduction (%x, %m) : (tensor<2x4x8x64xf16>, tensor<2x1x1x64xf16>) -> tensor<2x4x8x64xf16> {
  ^bb0(%xa: tensor<2x4x8x64xf16>, %ma: tensor<2x1x1x64xf16>):
    %c = graph.constant dense<1.250000e-01> : tensor<f16>
    %s = graph.mul %xa, %c : (tensor<2x4x8x64xf16>, tensor<f16>) -> tensor<2x4x8x64xf16>
    %a = graph.add %s, %ma : (tensor<2x4x8x64xf16>, tensor<2x1x1x64xf16>) -> tensor<2x4x8x64xf16>
    %p = graph.softmax %a {axis = -1 : i64} : tensor<2x4x8x64xf16>
    fused.yield %p : tensor<2x4x8x64xf16>
  }
  func.return %y : tensor<2x4x8x64xf16>
}"""

FUSED_MEAN_EPILOGUE = """
func.func @main(%x: tensor<3x5x7xf32>, %b: tensor<3x1x7xf32>) -> tensor<3x1x7xf32> {
  %y = fused.reduction (%x, %b) : (tensor<3x5x7xf32>, tensor<3x1x7xf32>) -> tensor<3x1x7xf32> {
  ^bb0(%xa: tensor<3x5x7xf32>, %ba: tensor<3x1x7xf32>):
    %q = graph.mul %xa, %xa : (tensor<3x5x7xf32>, tensor<3x5x7xf32>) -> tensor<3x5x7xf32>
    %m = graph.reduce_mean %q {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<3x5x7xf32> -> tensor<3x1x7xf32>
    %c = graph.constant dense<1.0e-05> : tensor<f32>
    %e = graph.add %m, %c : (tensor<3x1x7xf32>, tensor<f32>) -> tensor<3x1x7xf32>
    %s = graph.sqrt %e : tensor<3x1x7xf32>
    %o = graph.add %s, %ba : (tensor<3x1x7xf32>, tensor<3x1x7xf32>) -> tensor<3x1x7xf32>
    fused.yield %o : tensor<3x1x7xf32>
  }
  func.return %y : tensor<3x1x7xf32>
}"""

FUSED_INSTANCE_NORM_NHWC = """
func.func @main(%x: tensor<2x5x3x24xf32>, %s: tensor<24xf32>, %b: tensor<24xf32>) -> tensor<2x5x3x24xf32> {
  %y = fused.reduction (%x, %s, %b) : (tensor<2x5x3x24xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<2x5x3x24xf32> {
  ^bb0(%xa: tensor<2x5x3x24xf32>, %sa: tensor<24xf32>, %ba: tensor<24xf32>):
    %n = graph.instance_norm %xa, %sa, %ba {epsilon = 1.0e-05 : f32, layout = "NHWC"} : (tensor<2x5x3x24xf32>, tensor<24xf32>, tensor<24xf32>) -> tensor<2x5x3x24xf32>
    fused.yield %n : tensor<2x5x3x24xf32>
  }
  func.return %y : tensor<2x5x3x24xf32>
}"""

FUSED_INSTANCE_NORM_NCHW = """
func.func @main(%x: tensor<2x6x5x7xf16>, %s: tensor<6xf16>, %b: tensor<6xf16>) -> tensor<2x6x5x7xf16> {
  %y = fused.reduction (%x, %s, %b) : (tensor<2x6x5x7xf16>, tensor<6xf16>, tensor<6xf16>) -> tensor<2x6x5x7xf16> {
  ^bb0(%xa: tensor<2x6x5x7xf16>, %sa: tensor<6xf16>, %ba: tensor<6xf16>):
    %n = graph.instance_norm %xa, %sa, %ba {epsilon = 1.0e-05 : f32} : (tensor<2x6x5x7xf16>, tensor<6xf16>, tensor<6xf16>) -> tensor<2x6x5x7xf16>
    fused.yield %n : tensor<2x6x5x7xf16>
  }
  func.return %y : tensor<2x6x5x7xf16>
}"""

FUSED_GLOBAL_POOLS = """
func.func @main(%x: tensor<2x7x7x40xf32>, %z: tensor<2x40x5x5xf32>) -> (tensor<2x1x1x40xf32>, tensor<2x40x1x1xf32>) {
  %y = fused.reduction (%x) : (tensor<2x7x7x40xf32>) -> tensor<2x1x1x40xf32> {
  ^bb0(%xa: tensor<2x7x7x40xf32>):
    %r = graph.relu %xa : tensor<2x7x7x40xf32>
    %p = graph.global_average_pool %r {layout = "NHWC"} : tensor<2x7x7x40xf32> -> tensor<2x1x1x40xf32>
    fused.yield %p : tensor<2x1x1x40xf32>
  }
  %w = fused.reduction (%z) : (tensor<2x40x5x5xf32>) -> tensor<2x40x1x1xf32> {
  ^bb0(%za: tensor<2x40x5x5xf32>):
    %q = graph.global_max_pool %za : tensor<2x40x5x5xf32> -> tensor<2x40x1x1xf32>
    fused.yield %q : tensor<2x40x1x1xf32>
  }
  func.return %y, %w : tensor<2x1x1x40xf32>, tensor<2x40x1x1xf32>
}"""

MASKED_ROW_MAX = """
func.func @main(%m: tensor<4x6xi1>) -> tensor<4x1xi1> {
  %y = fused.reduction (%m) : (tensor<4x6xi1>) -> tensor<4x1xi1> {
  ^bb0(%ma: tensor<4x6xi1>):
    %z = graph.constant dense<0.0> : tensor<1xf32>
    %n = graph.constant dense<0xFF800000> : tensor<1xf32>
    %w = graph.where %ma, %z, %n : (tensor<4x6xi1>, tensor<1xf32>, tensor<1xf32>) -> tensor<4x6xf32>
    %r = graph.reduce_max %w {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<4x6xf32> -> tensor<4x1xf32>
    %e = graph.equal %r, %n : (tensor<4x1xf32>, tensor<1xf32>) -> tensor<4x1xi1>
    fused.yield %e : tensor<4x1xi1>
  }
  func.return %y : tensor<4x1xi1>
}"""
"""The attention node tests' fully-masked-row test: the epilogue reads a prologue constant."""

ELEMENT_EPILOGUE = """
func.func @main(%x: tensor<5x37xf32>) -> (tensor<5x37xi1>, tensor<5x1xf32>, tensor<5x37xf32>) {
  %e, %r, %d = fused.reduction (%x) : (tensor<5x37xf32>) -> (tensor<5x37xi1>, tensor<5x1xf32>, tensor<5x37xf32>) {
  ^bb0(%xa: tensor<5x37xf32>):
    %a = graph.abs %xa : tensor<5x37xf32>
    %m = graph.reduce_max %a {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<5x37xf32> -> tensor<5x1xf32>
    %q = graph.equal %a, %m : (tensor<5x37xf32>, tensor<5x1xf32>) -> tensor<5x37xi1>
    %d = graph.div %xa, %m : (tensor<5x37xf32>, tensor<5x1xf32>) -> tensor<5x37xf32>
    fused.yield %q, %m, %d : tensor<5x37xi1>, tensor<5x1xf32>, tensor<5x37xf32>
  }
  func.return %e, %r, %d : tensor<5x37xi1>, tensor<5x1xf32>, tensor<5x37xf32>
}"""
"""x == max(|x|) and x / max(|x|): full-shape results of a reduction, per element in a last
pass that recomputes the prologue (|x|) with the row maximum at hand."""

ELEMENT_EPILOGUE_COLUMN = """
func.func @main(%x: tensor<9x40xf16>) -> tensor<9x40xf16> {
  %y = fused.reduction (%x) : (tensor<9x40xf16>) -> tensor<9x40xf16> {
  ^bb0(%xa: tensor<9x40xf16>):
    %m = graph.reduce_mean %xa {axes = array<i64: 0>, keepdims = 0 : i64} : tensor<9x40xf16> -> tensor<40xf16>
    %d = graph.sub %xa, %m : (tensor<9x40xf16>, tensor<40xf16>) -> tensor<9x40xf16>
    fused.yield %d : tensor<9x40xf16>
  }
  func.return %y : tensor<9x40xf16>
}"""
"""Column mode with a full-shape epilogue (the mean over axis 0 without keepdims still
broadcasts along the columns)."""

ROW_PROLOGUE_VALUE = """
func.func @main(%x: tensor<6x50xf32>, %k: tensor<6x1xi1>) -> (tensor<6x1xf32>, tensor<6x50xf32>) {
  %y, %z = fused.reduction (%x, %k) : (tensor<6x50xf32>, tensor<6x1xi1>) -> (tensor<6x1xf32>, tensor<6x50xf32>) {
  ^bb0(%xa: tensor<6x50xf32>, %ka: tensor<6x1xi1>):
    %n = graph.not %ka : tensor<6x1xi1>
    %c = graph.constant dense<0.0> : tensor<f32>
    %w = graph.where %n, %xa, %c : (tensor<6x1xi1>, tensor<6x50xf32>, tensor<f32>) -> tensor<6x50xf32>
    %s = graph.reduce_sum %w {axes = array<i64: 1>, keepdims = 1 : i64} : tensor<6x50xf32> -> tensor<6x1xf32>
    %one = graph.constant dense<1.0> : tensor<f32>
    %o = graph.where %n, %s, %one : (tensor<6x1xi1>, tensor<6x1xf32>, tensor<f32>) -> tensor<6x1xf32>
    %p = graph.div %w, %o : (tensor<6x50xf32>, tensor<6x1xf32>) -> tensor<6x50xf32>
    fused.yield %o, %p : tensor<6x1xf32>, tensor<6x50xf32>
  }
  func.return %y, %z : tensor<6x1xf32>, tensor<6x50xf32>
}"""
"""A per-row prologue value (not mask) read again after the reduction, at the row and per
element."""


def batch_norm_ir(shape, dtype="f32", layout=None, relu=False, scale_const=False) -> str:
    c = shape[-1] if layout == "NHWC" else shape[1]
    x, v = _t(shape, dtype), _t([c], dtype)
    attrs = "epsilon = 1.0e-02 : f32" + (f', layout = "{layout}"' if layout else "")
    scale = "%k" if scale_const else "%sa"
    const = f"    %k = graph.constant dense<1.5> : {v}\n" if scale_const else ""
    tail = f"    %o = graph.relu %b : {x}\n    fused.yield %o : {x}" if relu else f"    fused.yield %b : {x}"
    return f"""
func.func @main(%x: {x}, %s: {v}, %bi: {v}, %mu: {v}, %va: {v}) -> {x} {{
  %y = fused.reduction (%x, %s, %bi, %mu, %va) : ({x}, {v}, {v}, {v}, {v}) -> {x} {{
  ^bb0(%xa: {x}, %sa: {v}, %ba: {v}, %ma: {v}, %vb: {v}):
{const}    %b = graph.batch_norm %xa, {scale}, %ba, %ma, %vb {{{attrs}}} : ({x}, {v}, {v}, {v}, {v}) -> {x}
{tail}
  }}
  func.return %y : {x}
}}"""


REDUCES = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod", "reduce_l2", "reduce_sum_square"]


def _cases() -> dict[str, tuple[str, float]]:
    cases: dict[str, tuple[str, float]] = {}
    for op in ("softmax", "log_softmax"):
        for n in (1, 7, 33, 1000, 4097):
            cases[f"{op}-row{n}"] = (softmax_ir(op, [3, n], -1), TOL["f32"])
        for dtype in ("f16", "bf16", "f64"):
            cases[f"{op}-{dtype}"] = (softmax_ir(op, [5, 768], 1, dtype), TOL[dtype])
        cases[f"{op}-axis1-of-4d"] = (softmax_ir(op, [2, 5, 3, 7], 1), TOL["f32"])
        cases[f"{op}-axis0"] = (softmax_ir(op, [9, 40], 0), TOL["f32"])
    cases["softmax-large-row"] = (softmax_ir("softmax", [2, 40000], 1), TOL["f32"])
    cases["softmax-f16-4096"] = (softmax_ir("softmax", [4, 4096], 1, "f16"), TOL["f16"])
    for n in (1, 7, 33, 768, 1000, 4097):
        cases[f"layer_norm-{n}"] = (layer_norm_ir([3, n], -1), TOL["f32"])
    for dtype in ("f16", "bf16", "f64"):
        cases[f"layer_norm-{dtype}"] = (layer_norm_ir([4, 768], -1, dtype), TOL[dtype])
    cases["layer_norm-two-axes"] = (layer_norm_ir([2, 3, 5, 4], 2), TOL["f32"])
    cases["layer_norm-no-bias"] = (layer_norm_ir([6, 64], 1, bias=False), TOL["f32"])
    cases["layer_norm-stats"] = (layer_norm_ir([2, 3, 20], -1, stats=True), TOL["f32"])
    cases["layer_norm-stats-f16"] = (layer_norm_ir([2, 3, 20], 1, "f16", stats=True), TOL["f16"])
    for op in REDUCES:
        cases[f"{op}-last"] = (reduce_ir(op, [4, 33], [1]), TOL["f32"])
        cases[f"{op}-first"] = (reduce_ir(op, [9, 40], [0], keepdims=0), TOL["f32"])
        cases[f"{op}-middle"] = (reduce_ir(op, [3, 5, 7], [1]), TOL["f32"])
        cases[f"{op}-gapped"] = (reduce_ir(op, [2, 3, 4, 5], [0, 2], keepdims=0), TOL["f32"])
        cases[f"{op}-all"] = (reduce_ir(op, [6, 1, 7], [0, 1, 2], keepdims=0), TOL["f32"])
        cases[f"{op}-empty-axes"] = (reduce_ir(op, [3, 4], []), TOL["f32"])
        cases[f"{op}-f16"] = (reduce_ir(op, [4, 100], [1], dtype="f16"), TOL["f16"])
        cases[f"{op}-f64"] = (reduce_ir(op, [4, 1000], [1], dtype="f64"), TOL["f64"])
        cases[f"{op}-i32"] = (reduce_ir(op, [4, 9], [1], dtype="i32"), 0)
        cases[f"{op}-i64-first"] = (reduce_ir(op, [5, 6], [0], dtype="i64"), 0)
        cases[f"{op}-i8"] = (reduce_ir(op, [3, 17], [1], keepdims=0, dtype="i8"), 0)
    cases["reduce_sum-bf16"] = (reduce_ir("reduce_sum", [4, 4097], [1], dtype="bf16"), TOL["bf16"])
    cases["reduce_mean-large"] = (reduce_ir("reduce_mean", [2, 100000], [1], keepdims=0), 1e-4)
    cases["reduce_max-spatial-nhwc"] = (reduce_ir("reduce_max", [2, 7, 7, 300], [1, 2]), TOL["f32"])
    for op in ("arg_max", "arg_min"):
        for last in (0, 1):
            cases[f"{op}-last{last}"] = (arg_ir(op, [4, 33], -1, 1, last), 0)
            cases[f"{op}-axis0-last{last}"] = (arg_ir(op, [9, 40], 0, 0, last), 0)
        cases[f"{op}-middle"] = (arg_ir(op, [3, 5, 7], 1, 0), 0)
        cases[f"{op}-i32"] = (arg_ir(op, [4, 1000], 1, 1, 0, "i32"), 0)
        cases[f"{op}-f16"] = (arg_ir(op, [4, 100], 1, 0, 1, "f16"), 0)
    cases["fused-layer-norm-residual"] = (FUSED_LAYER_NORM, TOL["f32"])
    cases["fused-softmax-scale-mask-f16"] = (FUSED_SOFTMAX, TOL["f16"])
    cases["fused-mean-square-epilogue"] = (FUSED_MEAN_EPILOGUE, TOL["f32"])
    cases["fused-instance-norm-nhwc"] = (FUSED_INSTANCE_NORM_NHWC, 1e-4)
    cases["fused-instance-norm-nchw-f16"] = (FUSED_INSTANCE_NORM_NCHW, TOL["f16"])
    cases["fused-global-pools"] = (FUSED_GLOBAL_POOLS, TOL["f32"])
    cases["fused-masked-row-max"] = (MASKED_ROW_MAX, 0)
    cases["fused-element-epilogue"] = (ELEMENT_EPILOGUE, TOL["f32"])
    cases["fused-element-epilogue-column-f16"] = (ELEMENT_EPILOGUE_COLUMN, TOL["f16"])
    cases["fused-row-prologue-value"] = (ROW_PROLOGUE_VALUE, TOL["f32"])
    cases["batch_norm-nchw"] = (batch_norm_ir([2, 3, 4, 5]), TOL["f32"])
    cases["batch_norm-nchw-large"] = (batch_norm_ir([2, 64, 56, 56]), TOL["f32"])
    cases["batch_norm-nhwc-f16-relu"] = (batch_norm_ir([2, 5, 7, 24], "f16", "NHWC", relu=True), TOL["f16"])
    cases["batch_norm-one-channel-const-scale"] = (batch_norm_ir([3, 1, 9], scale_const=True), TOL["f32"])
    cases["batch_norm-f64"] = (batch_norm_ir([2, 6, 33], "f64"), TOL["f64"])
    for op in ("reduce_max", "reduce_min", "reduce_sum", "reduce_prod"):
        cases[f"{op}-i1"] = (reduce_ir(op, [4, 2], [1], dtype="i1"), 0)
        cases[f"{op}-i1-long"] = (reduce_ir(op, [3, 100], [1], keepdims=0, dtype="i1"), 0)
        cases[f"{op}-i1-first"] = (reduce_ir(op, [7, 5], [0], dtype="i1"), 0)
    return cases


CASES = _cases()


@pytest.mark.parametrize("name", sorted(CASES))
def test_compiles(name):
    sources = compile_kernels(CASES[name][0], pipeline="outline-kernels,configure-kernels")
    assert sources


def _feeds(name: str, ir: str, seed: int = 0) -> dict[str, np.ndarray] | None:
    """Seeded random inputs, with batch norms' variances made positive (a negative one
    gives NaN on both sides, which would test nothing)."""
    if not name.startswith("batch_norm"):
        return None if seed == 0 else _random(ir, seed)
    feeds = _random(ir, seed)
    var = list(feeds)[4]
    feeds[var] = np.abs(feeds[var]) + np.asarray(0.25, feeds[var].dtype)
    return feeds


def _random(ir: str, seed: int) -> dict[str, np.ndarray]:
    from runtime.reference.inputs import random_inputs
    from tests.support import parse

    return random_inputs(parse(ir), seed=seed)


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_reference_on_gpu(name):
    ir, tol = CASES[name]
    assert_gpu_matches_reference(
        ir, pipeline="outline-kernels,configure-kernels,plan-memory", rtol=tol, atol=tol, inputs=_feeds(name, ir)
    )


# --- launches the generator chooses -------------------------------------------------------


def _kernel(ir: str) -> FuncOp:
    return kernels_of(lower(ir, "outline-kernels,configure-kernels"))[0]


def test_row_configurations():
    # hidden 768 f32: a warp per row, 16-byte loads, the row kept in registers
    tile = _kernel(layer_norm_ir([4096, 768], -1)).launch.tile_params
    assert tile == {"cache": 1, "rows_per_block": 4, "threads_per_row": 32, "vector": 4}
    # BERT/GPT-2's 128 rows (ViT's 197): one warp-sized block per row, to reach more SMs
    for rows in (128, 197):
        launch = _kernel(layer_norm_ir([rows, 768], -1)).launch
        assert launch.tile_params["rows_per_block"] == 1 and launch.grid_dims == (rows, 1, 1)
    # softmax rows of 128 (12 heads x 128 queries): a warp per row, one 16-byte load per lane
    launch = _kernel(softmax_ir("softmax", [12 * 128, 128], 1)).launch
    assert launch.tile_params == {"cache": 1, "rows_per_block": 4, "threads_per_row": 32, "vector": 4}
    # 4096 f16: a block per row, 8 halves per load
    launch = _kernel(softmax_ir("softmax", [16, 4096], 1, "f16")).launch
    assert launch.tile_params["vector"] == 8 and launch.tile_params["rows_per_block"] == 1
    assert launch.block_dims[0] == launch.tile_params["threads_per_row"] > 32
    # a row of 7: scalar loads, 8 threads per row
    assert _kernel(softmax_ir("softmax", [3, 7], 1)).launch.tile_params["vector"] == 1
    # very long rows are not cached
    assert _kernel(softmax_ir("softmax", [2, 400000], 1)).launch.tile_params["cache"] == 0


def test_column_configuration():
    launch = _kernel(reduce_ir("reduce_mean", [2, 7, 7, 300], [1, 2])).launch
    assert launch.tile_params == {"block_inner": 128, "block_reduce": 2}
    assert launch.grid_dims == (2 * 3, 1, 1)


def test_vector_loads_in_source():
    source = compile_kernels(layer_norm_ir([8, 768], -1, "f16"), pipeline="outline-kernels,configure-kernels")
    text = next(iter(source.values()))
    assert "reinterpret_cast<const uint4*>(in0" in text
    assert "__shfl_xor_sync" in text


def test_emit_honours_a_changed_tile():
    kernel = _kernel(softmax_ir("softmax", [8, 1024], 1))
    kernel.attributes["launch"] = LaunchAttr("row_per_block", [8], [256], 0, {"threads_per_row": 256, "rows_per_block": 1, "vector": 2, "cache": 0})
    text = emit_kernel(kernel)
    assert "__launch_bounds__(256)" in text and "__shared__" in text
    compile_clean(PRELUDE + text, "k.cu", "sm_90")


# --- models through the importer and the kernel pipeline ------------------------------


def _reduction_kernels(module) -> dict[str, str]:
    """Fuse and outline `module` (a graph-level module), then configure and compile (sm_80,
    sm_90) every kernel of this family; returns their sources by name. Other families'
    kernels are left alone: they are tested by their own files."""
    module = apply_pipeline(module, "fused,outline-kernels")  # in place: the weights stay attached
    sources = {}
    for kernel in kernels_of(module):
        if type(kernel.computation) not in GENERATORS:
            continue
        kernel.attributes["launch"] = GENERATORS[type(kernel.computation)].configure(kernel)
        source = kernel_source(kernel)
        for arch in ("sm_80", "sm_90"):
            compile_clean(source, f"{kernel.sym_name.data}.cu", arch)
        sources[kernel.sym_name.data] = source
    return sources


def test_onnx_transformer_block_kernels_compile():
    """BERT-like: LayerNorm(x + residual) (the sum also read by the next residual add), the
    attention scores' scale and mask before the softmax, a ReduceMean."""
    h, s = 64, 16
    rng = np.random.default_rng(0)
    nodes = [
        helper.make_node("Add", ["x", "res"], ["sum"]),
        helper.make_node("LayerNormalization", ["sum", "g", "b"], ["ln"], axis=-1, epsilon=1e-12),
        helper.make_node("MatMul", ["ln", "wq"], ["q"]),
        helper.make_node("MatMul", ["ln", "wk"], ["k"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["scores"]),
        helper.make_node("Mul", ["scores", "scale"], ["scaled"]),
        helper.make_node("Add", ["scaled", "mask"], ["masked"]),
        helper.make_node("Softmax", ["masked"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "ln"], ["ctx"]),
        helper.make_node("Add", ["ctx", "sum"], ["out"]),
        helper.make_node("ReduceMean", ["out", "axes"], ["mean"], keepdims=1),
    ]
    inits = {
        "g": rng.standard_normal(h).astype(np.float32),
        "b": rng.standard_normal(h).astype(np.float32),
        "wq": rng.standard_normal((h, h)).astype(np.float32),
        "wk": rng.standard_normal((h, h)).astype(np.float32),
        "scale": np.array(0.125, dtype=np.float32),
        "mask": rng.standard_normal((1, 1, s)).astype(np.float32),
        "axes": np.array([-1], dtype=np.int64),
    }
    model = make_model(
        nodes, {"x": ([2, s, h], TensorProto.FLOAT), "res": ([2, s, h], TensorProto.FLOAT)}, ["out", "mean"], inits, opset=18
    )
    sources = _reduction_kernels(import_onnx(model))
    assert len(sources) >= 2, sorted(sources)
    assert any("rstd" in text for text in sources.values())  # the layer norm


def test_onnx_softmax_and_layer_norm_f16():
    nodes = [
        helper.make_node("Add", ["x", "r"], ["s"]),
        helper.make_node("LayerNormalization", ["s", "g", "b"], ["ln"], axis=-1, epsilon=1e-5),
        helper.make_node("Softmax", ["ln"], ["p"], axis=1),
        helper.make_node("ArgMax", ["p"], ["am"], axis=-1, keepdims=0),
    ]
    inits = {"g": np.ones(40, np.float16), "b": np.zeros(40, np.float16)}
    model = make_model(
        nodes, {"x": ([3, 5, 40], TensorProto.FLOAT16), "r": ([3, 5, 40], TensorProto.FLOAT16)}, ["p", "am", "s"], inits
    )
    assert len(_reduction_kernels(import_onnx(model))) == 3


def test_examples_reductions_compile():
    root = Path(__file__).resolve().parents[1] / "examples"
    for name in ("transformer.onnx", "cnn.onnx"):
        assert _reduction_kernels(import_onnx(str(root / name))), name


# --- refusals ------------------------------------------------------------------------------

TWO_ANCHORS = """
func.func @main(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %y = fused.reduction (%x) : (tensor<4x8xf32>) -> tensor<4x8xf32> {
  ^bb0(%xa: tensor<4x8xf32>):
    %a = graph.softmax %xa {axis = 1 : i64} : tensor<4x8xf32>
    %b = graph.softmax %a {axis = 1 : i64} : tensor<4x8xf32>
    fused.yield %b : tensor<4x8xf32>
  }
  func.return %y : tensor<4x8xf32>
}"""

UNALIGNED_ELEMENT_EPILOGUE = """
func.func @main(%x: tensor<4x4xf32>) -> tensor<4x4xf32> {
  %y = fused.reduction (%x) : (tensor<4x4xf32>) -> tensor<4x4xf32> {
  ^bb0(%xa: tensor<4x4xf32>):
    %s = graph.reduce_sum %xa {axes = array<i64: 1>, keepdims = 0 : i64} : tensor<4x4xf32> -> tensor<4xf32>
    %d = graph.sub %xa, %s : (tensor<4x4xf32>, tensor<4xf32>) -> tensor<4x4xf32>
    fused.yield %d : tensor<4x4xf32>
  }
  func.return %y : tensor<4x4xf32>
}"""

BOOL_MEAN = reduce_ir("reduce_mean", [4, 8], [1], dtype="i1")


@pytest.mark.parametrize(
    "ir, message",
    [
        (TWO_ANCHORS, r"@k0_fused_reduction: a reduction kernel needs exactly one reduction op .*found graph.softmax, graph.softmax"),
        (UNALIGNED_ELEMENT_EPILOGUE, r"@k0_fused_reduction: the epilogue combines the reduction to \[4\] with values of the input's shape"),
        (BOOL_MEAN, r"'graph.reduce_mean' on i1 has no CUDA lowering \(max, min, sum and prod do\)"),
    ],
)
def test_refusals(ir, message):
    with pytest.raises(OptcError, match=message):
        compile_kernels(ir, pipeline="outline-kernels,configure-kernels")


def test_bad_tile_is_refused():
    kernel = _kernel(softmax_ir("softmax", [8, 30], 1))
    kernel.attributes["launch"] = LaunchAttr("row_per_warp", [8], [32], 0, {"threads_per_row": 32, "rows_per_block": 1, "vector": 4, "cache": 0})
    with pytest.raises(OptcError, match="vector 4 does not divide the row of 30"):
        emit_kernel(kernel)


# --- the emitted C++ on the CPU -------------------------------------------------------------
# g++ builds a kernel with the host prelude of tests/test_codegen_pool.py; blocks and threads
# run one after another, which is exact with one thread per row (row mode) or per column
# (column mode, block_reduce 1): no shuffle, barrier or shared memory is emitted then.

SERIAL_CASES = [
    "fused-masked-row-max",
    "fused-element-epilogue",
    "fused-element-epilogue-column-f16",
    "fused-row-prologue-value",
    "batch_norm-nchw",
    "batch_norm-nhwc-f16-relu",
    "batch_norm-one-channel-const-scale",
    "batch_norm-f64",
    "reduce_max-i1",
    "reduce_min-i1-long",
    "reduce_sum-i1-first",
    "reduce_prod-i1",
    "softmax-row33",
    "layer_norm-stats",
]


VECTOR_PRELUDE = "struct alignas(8) uint2 { unsigned x, y; };\nstruct alignas(16) uint4 { unsigned x, y, z, w; };\n"
"""CUDA's vector types, which the row loops use for 8- and 16-byte accesses."""


def serial_launch(kernel: FuncOp) -> LaunchAttr:
    """The kernel's launch with one thread per row (row mode) or per column (column mode)."""
    from passes.codegen.reduction.reduction import _planned

    tile = kernel.launch.tile_params
    if "threads_per_row" in tile:
        rows = _planned(kernel, cached=False).geo.outer
        return LaunchAttr("row_per_thread", [rows], [1], 0, {**tile, "threads_per_row": 1, "rows_per_block": 1})
    return LaunchAttr("columns_per_block", kernel.launch.grid_dims, [tile["block_inner"], 1], 0, {**tile, "block_reduce": 1})


@pytest.mark.skipif(__import__("shutil").which("g++") is None, reason="needs g++ to build the emitted C++ for the CPU")
@pytest.mark.parametrize("name", SERIAL_CASES)
def test_emitted_code_matches_reference_on_cpu(name):
    import ctypes
    import subprocess
    import tempfile

    from dialects.dtypes import numpy_dtype
    from runtime.reference.inputs import random_inputs
    from runtime.reference.interpreter import run
    from tests.support import parse
    from tests.host_emulation import HOST_PRELUDE, from_buffer, serial_launcher, to_buffer

    ir, tol = CASES[name]
    feeds = _feeds(name, ir, seed=3)
    want = list(run(parse(ir), feeds).values())
    (kernel,) = kernels_of(lower(ir, "outline-kernels,configure-kernels"))
    launch = serial_launch(kernel)
    kernel.attributes["launch"] = launch
    source = HOST_PRELUDE + VECTOR_PRELUDE + emit_kernel(kernel) + serial_launcher(kernel, launch)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "k.cpp").write_text(source)
        subprocess.run(["g++", "-O1", "-shared", "-fPIC", "-o", f"{tmp}/k.so", f"{tmp}/k.cpp"], check=True)
        lib = ctypes.CDLL(f"{tmp}/k.so")
        types = kernel.function_type
        inputs = [to_buffer(np.asarray(feeds[n]), t.element_type) for n, t in zip(feeds, types.inputs.data)]
        outputs = [
            np.zeros(t.get_shape(), to_buffer(np.zeros(0, numpy_dtype(t.element_type)), t.element_type).dtype)
            for t in types.outputs.data
        ]
        ptrs = (ctypes.c_void_p * (len(inputs) + len(outputs)))(*[a.ctypes.data for a in [*inputs, *outputs]])
        lib.optc_launch(ptrs)
    got = [from_buffer(o, t.element_type) for o, t in zip(outputs, types.outputs.data)]
    for g, w in zip(got, want):
        w = np.asarray(w)
        if w.dtype.kind in "biu":
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=tol, atol=tol)


# --- the ONNX node tests that needed this family's generalisations ------------------------

NODE_TESTS = [
    "test_attention_4d_attn_mask_bool_expanded",
    "test_attention_4d_attn_mask_bool_4d_expanded",
    "test_attention_23_boolmask_fullymasked_row_nan_robustness_expanded",
    "test_attention_causal_boolmask_nan_robustness_expanded",
    "test_attention_4d_gqa_causal_nonpad_decode_expanded",
    "test_attention_local_window_gqa_rank4_mask_expanded",
    "test_batchnorm_example",
    "test_batchnorm_epsilon",
    "test_reduce_max_bool_inputs",
    "test_reduce_min_bool_inputs",
]


def _node_case(name: str):
    from onnx.backend.test.loader import load_model_tests

    return next(c for c in load_model_tests(kind="node") if c.name == name)


def _node_module(case):
    """The node test's model imported as the GPU backend imports it (inputs it needs as
    constants, such as a ReduceMax's axes, bound to the test's values)."""
    from compiler.backend import OptcReferenceRep, _upgraded

    model = _upgraded(case.model)
    names = [i.name for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    inputs = dict(zip(names, case.data_sets[0][0])) if case.data_sets else {}
    return OptcReferenceRep(model, None)._find_constant_inputs(inputs)[1]


@pytest.mark.slow
@pytest.mark.parametrize("name", NODE_TESTS)
def test_node_test_kernels_compile(name):
    assert compile_kernels(_node_module(_node_case(name)), pipeline="kernel")


@pytest.mark.gpu
@pytest.mark.parametrize("name", NODE_TESTS)
def test_node_test_on_gpu(name):
    from compiler.backend import OptcCudaBackend

    case = _node_case(name)
    inputs, outputs = case.data_sets[0]
    got = OptcCudaBackend.run_model(case.model, list(inputs))
    for g, w in zip(got, outputs):
        if np.asarray(w).dtype.kind == "f":
            np.testing.assert_allclose(np.asarray(g, np.float64), np.asarray(w, np.float64), rtol=1e-4, atol=1e-5)
        else:
            np.testing.assert_array_equal(g, w)
