"""quant-cancel-qdq: the differential tests on the lit cases (lit_tests/passes/quant-cancel-qdq.mlir),
and the claim it rests on, checked exhaustively on the reference: with the same invertible
scale and zero point, quantize(dequantize(q)) is q for every 8-bit value through f32."""

from __future__ import annotations

import numpy as np
import pytest

from dialects.quant import QuantizeOp
from runtime.reference.interpreter import run
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, parse

LIT = "passes/quant-cancel-qdq.mlir"


def quantizes(module) -> int:
    return sum(isinstance(op, QuantizeOp) for op in module.walk())


@pytest.mark.parametrize("case, left", [("per_tensor", 0), ("per_axis_equal_constants", 0), ("near_misses", 5)])
def test_lit_cases(case, left):
    after = assert_pass_preserves(lit_function(LIT, case), "quant-cancel-qdq", rtol=0, atol=0)
    assert quantizes(after) == left


ROUND_TRIP = """
func.func @main(%q: tensor<256x{t}>) -> tensor<256x{t}> {{
  %s = graph.constant dense<{scale}> : tensor<f32>
  %z = graph.constant dense<{zero}> : tensor<{t}>
  %f = quant.dequantize %q scale(%s : tensor<f32>) zero_point(%z : tensor<{t}>) : tensor<256x{t}> -> tensor<256xf32>
  %r = quant.quantize %f scale(%s : tensor<f32>) zero_point(%z : tensor<{t}>) : tensor<256xf32> -> tensor<256x{t}>
  func.return %r : tensor<256x{t}>
}}
"""


@pytest.mark.parametrize("scale", [2.0**-60, 1e-3, 0.0375, 1 / 3, 3.0, 1e7, 2.0**60])
@pytest.mark.parametrize("storage, zero", [("i8", -128), ("i8", 3), ("i8", 127), ("ui8", 0), ("ui8", 128), ("ui8", 255)])
def test_every_8_bit_value_survives_the_round_trip(storage, zero, scale):
    ir = ROUND_TRIP.format(t=storage, scale=repr(float(np.float32(scale))), zero=zero)
    dtype = np.int8 if storage == "i8" else np.uint8
    every = np.arange(256).astype(np.uint8).view(dtype)
    (before,) = run(parse(ir), {"input0": every}).values()
    np.testing.assert_array_equal(np.asarray(before), every)
    assert quantizes(apply_pipeline(parse(ir), "quant-cancel-qdq")) == 0
