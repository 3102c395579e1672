"""The channels-last (`layout = "NHWC"`) forms of graph.conv, the pools and the norms: the
reference against a direct channels-last computation, fused.conv keeping the layout, and
the weight-folding passes on NHWC convolutions (lit_tests/graph/nn.mlir and
nn-invalid.mlir hold the round trip and the verifier's messages)."""

from __future__ import annotations

import numpy as np
import pytest

from dialects.graph import BatchNormOp, ConvOp, MulOp
from runtime.reference import run
from tests.support import assert_pass_preserves, parse

CONV_NHWC = """
func.func @main(%x: tensor<2x7x6x4xf32>, %w: tensor<6x3x2x2xf32>, %b: tensor<6xf32>) -> tensor<2x3x3x6xf32> {
  %y = graph.conv %x, %w, %b {strides = array<i64: 2, 2>, pads = array<i64: 1, 0, 0, 1>, dilations = array<i64: 1, 2>, group = 2 : i64, layout = "NHWC"} : (tensor<2x7x6x4xf32>, tensor<6x3x2x2xf32>, tensor<6xf32>) -> tensor<2x3x3x6xf32>
  func.return %y : tensor<2x3x3x6xf32>
}
"""


def naive_conv_nhwc(x, w, b, strides, pads, dilations, group):
    """A direct loop over an NHWC input and an OHWI weight, nothing moved to NCHW."""
    n, h, wd, c = x.shape
    m, kh, kw, cg = w.shape
    x = np.pad(x, [(0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)])
    oh = (x.shape[1] - dilations[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (x.shape[2] - dilations[1] * (kw - 1) - 1) // strides[1] + 1
    y = np.zeros((n, oh, ow, m), np.float64)
    per_group = m // group
    for o in range(m):
        g = o // per_group
        for i in range(oh):
            for j in range(ow):
                rows = i * strides[0] + dilations[0] * np.arange(kh)
                cols = j * strides[1] + dilations[1] * np.arange(kw)
                window = x[:, rows][:, :, cols][..., g * cg : (g + 1) * cg]
                y[:, i, j, o] = np.tensordot(window, w[o], axes=3) + b[o]
    return y


def test_nhwc_conv_reads_an_ohwi_weight():
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal((2, 7, 6, 4)), rng.standard_normal((6, 3, 2, 2)), rng.standard_normal(6)
    x, w, b = (a.astype(np.float32) for a in (x, w, b))
    (y,) = run(parse(CONV_NHWC), {"input0": x, "input1": w, "input2": b}).values()
    expected = naive_conv_nhwc(x, w, b, strides=(2, 2), pads=(1, 0, 0, 1), dilations=(1, 2), group=2)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)


def test_fused_conv_keeps_the_layout():
    after = assert_pass_preserves(CONV_NHWC, "fuse-epilogue")
    (conv,) = [op for op in after.walk() if op.name == "fused.conv"]
    assert conv.properties["layout"].data == "NHWC"


def nhwc_conv_then(tail: str, result: str = "tensor<1x4x4x4xf32>") -> str:
    """An NHWC conv with a constant weight whose result `%c` feeds `tail` (which ends in %y)."""
    weight = ", ".join(str(v) for v in np.arange(1, 17) / 8)
    return f"""
func.func @main(%x: tensor<1x4x4x4xf32>) -> {result} {{
  %w = graph.constant dense<[{weight}]> : tensor<16xf32>
  %w4 = graph.reshape %w : tensor<16xf32> -> tensor<4x1x1x4xf32>
  %c = graph.conv %x, %w4 {{strides = array<i64: 1, 1>, pads = array<i64: 0, 0, 0, 0>, dilations = array<i64: 1, 1>, group = 1 : i64, layout = "NHWC"}} : (tensor<1x4x4x4xf32>, tensor<4x1x1x4xf32>) -> tensor<1x4x4x4xf32>
  {tail}
  func.return %y : {result}
}}
"""


STATS = """
  %s = graph.constant dense<[1.0, 2.0, 0.5, 1.5]> : tensor<4xf32>
  %t = graph.constant dense<[0.1, -0.2, 0.3, 0.0]> : tensor<4xf32>
  %v = graph.constant dense<[1.0, 0.5, 2.0, 4.0]> : tensor<4xf32>
"""


@pytest.mark.parametrize("layout, folds", [(', layout = "NHWC"', True), ("", False)])
def test_batch_norm_folds_into_an_nhwc_conv_only_in_the_same_layout(layout, folds):
    """H = C = 4 here: an NCHW batch norm after an NHWC conv normalises H, not the conv's
    output channels, so folding it into the weight would be wrong."""
    tail = STATS + f"%y = graph.batch_norm %c, %s, %t, %t, %v {{epsilon = 1.0e-05 : f32{layout}}} : " + (
        "(tensor<1x4x4x4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> tensor<1x4x4x4xf32>"
    )
    after = assert_pass_preserves(parse(nhwc_conv_then(tail)), "graph-fold-constants,graph-fold-batch-norm{decompose=false}")
    assert any(isinstance(op, BatchNormOp) for op in after.walk()) != folds


def test_an_nhwc_batch_norm_decomposes_over_the_last_axis():
    x = "tensor<1x4x4x4xf32>"
    ir = f"""
func.func @main(%x: {x}) -> {x} {{
  {STATS}
  %y = graph.batch_norm %x, %s, %t, %t, %v {{epsilon = 1.0e-05 : f32, layout = "NHWC"}} : ({x}, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>, tensor<4xf32>) -> {x}
  func.return %y : {x}
}}
"""
    after = assert_pass_preserves(ir, "graph-fold-batch-norm")
    (mul,) = [op for op in after.walk() if isinstance(op, MulOp)]
    assert mul.rhs.type.get_shape() == (4,)


@pytest.mark.parametrize("shape, folds", [("4", True), ("1x1x4", True), ("4x1x1", False)])
def test_conv_affine_folds_a_vector_over_the_nhwc_channels(shape, folds):
    """A `[C]` or `[1, 1, C]` constant is per output channel of an NHWC conv; `[C, 1, 1]`
    varies along H there."""
    tail = (
        f"%k = graph.constant dense<[2.0, 3.0, 0.5, -1.0]> : tensor<4xf32>\n"
        f"  %kk = graph.reshape %k : tensor<4xf32> -> tensor<{shape}xf32>\n"
        f"  %y = graph.mul %c, %kk : (tensor<1x4x4x4xf32>, tensor<{shape}xf32>) -> tensor<1x4x4x4xf32>"
    )
    after = assert_pass_preserves(parse(nhwc_conv_then(tail)), "graph-fold-constants,graph-fold-conv-affine")
    assert any(isinstance(op, MulOp) for op in after.walk()) != folds
    assert all(op.properties["layout"].data == "NHWC" for op in after.walk() if isinstance(op, ConvOp))
