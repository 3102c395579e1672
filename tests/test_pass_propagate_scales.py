"""quant-propagate-scales: the differential tests on the lit cases
(lit_tests/passes/quant-propagate-scales.mlir). Moving a dequantize below data movement, or a
quantize above it, moves the same values: the results are equal bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from dialects.graph import ConcatOp, FlattenOp, MaxPoolOp, ReshapeOp, SliceOp, SqueezeOp, TransposeOp, UnsqueezeOp
from runtime.reference.interpreter import run
from tests.cuda_support import compile_kernels
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, parse

LIT = "passes/quant-propagate-scales.mlir"
MOVEMENT = (ReshapeOp, FlattenOp, TransposeOp, SqueezeOp, UnsqueezeOp, SliceOp, MaxPoolOp, ConcatOp)


def moved_types(module) -> list[str]:
    """The element type of each movement op's result, in order."""
    return [str(op.results[0].type.element_type) for op in module.walk() if isinstance(op, MOVEMENT)]


@pytest.mark.parametrize(
    "case, types",
    [
        ("reshape_between_dq_and_q", ["i8"]),
        ("max_pool_positive_scale", ["ui8", "ui8"]),
        ("max_pool_negative_scale", ["f32"]),
        ("concat", ["i8", "f32"]),
        ("quantize_above_movement", ["i8"]),
        ("per_axis_stays", ["f32"]),
        ("view_chain", ["i8", "i8", "i8", "i8"]),
    ],
)
def test_lit_cases(case, types):
    after = assert_pass_preserves(lit_function(LIT, case), "quant-propagate-scales", rtol=0, atol=0)
    assert moved_types(after) == types


POOL_WITH_PADDING = """
func.func @main(%q: tensor<1x1x5x5xi8>) -> tensor<1x1x3x3xf32> {
  %s = graph.constant dense<0.25> : tensor<f32>
  %f = quant.dequantize %q scale(%s : tensor<f32>) : tensor<1x1x5x5xi8> -> tensor<1x1x5x5xf32>
  %p = graph.max_pool %f {kernel_shape = array<i64: 3, 3>, strides = array<i64: 2, 2>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, ceil_mode = 0 : i64} : tensor<1x1x5x5xf32> -> tensor<1x1x3x3xf32>
  func.return %p : tensor<1x1x3x3xf32>
}
"""


def test_padding_never_wins_on_integers():
    """All -128 (the lowest i8) in a padded window: the integer pool's answer is still -128."""
    after = apply_pipeline(parse(POOL_WITH_PADDING), "quant-propagate-scales")
    assert moved_types(after) == ["i8"]
    for q in (np.full((1, 1, 5, 5), -128, np.int8), np.random.default_rng(0).integers(-128, 128, (1, 1, 5, 5)).astype(np.int8)):
        (got,) = run(after, {"input0": q}).values()
        (want,) = run(parse(POOL_WITH_PADDING), {"input0": q}).values()
        np.testing.assert_array_equal(got, want)


def test_only_8_bit_integers_move():
    ir = lit_function(LIT, "reshape_between_dq_and_q").replace("i8>", "i16>")
    assert moved_types(apply_pipeline(parse(ir), "quant-propagate-scales")) == ["f32"]


@pytest.mark.slow
@pytest.mark.parametrize("case", ["max_pool_positive_scale", "concat", "quantize_above_movement", "view_chain"])
def test_int8_movement_kernels_compile_with_nvrtc(case):
    """The pool, transpose, concat and slice kernels on i8/ui8 emit and compile."""
    sources = compile_kernels(lit_function(LIT, case), pipeline="quant-propagate-scales,quant-fold-qdq,lower-to-kernels")
    assert any("_graph_" in name for name in sources), "a movement kernel on integers"
