"""Outlining graph ops into fused ops: operands, results, rewiring, convexity."""

import numpy as np
import pytest

from dialects.fused import ElementwiseOp
from passes.fusion.outline import outline
from runtime.reference import run
from tests.support import parse, random_inputs

IR = """
func.func @main(%x: tensor<4xf32>, %y: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>) {
  %a = graph.add %x, %y : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %b = graph.relu %a : tensor<4xf32>
  %c = graph.mul %b, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  %d = graph.neg %a : tensor<4xf32>
  func.return %c, %d : tensor<4xf32>, tensor<4xf32>
}
"""


def _ops(module):
    fn = next(iter(module.ops))
    return list(fn.body.block.ops)


def _make(inputs, types, region):
    return ElementwiseOp(operands=[inputs], result_types=[types], regions=[region])


def test_outlined_group_computes_the_same():
    before = parse(IR)
    after = parse(IR)
    a, b, c, d, _ = _ops(after)
    fused = outline([a, b, c], _make)
    after.verify()
    assert [o.name for o in _ops(after)] == ["fused.elementwise", "graph.neg", "func.return"]
    # %a escapes to graph.neg, %c to the return: two results, inputs x and y
    assert len(fused.results) == 2 and len(fused.operands) == 2
    inputs = random_inputs(before)
    for name, value in run(before, inputs).items():
        np.testing.assert_array_equal(run(after, inputs)[name], value)


def test_non_convex_group_is_refused():
    module = parse(IR.replace("%c = graph.mul %b, %x", "%c = graph.mul %d, %x").replace(
        "%d = graph.neg %a : tensor<4xf32>\n", ""
    ).replace("%b = graph.relu %a : tensor<4xf32>", "%b = graph.relu %a : tensor<4xf32>\n  %d = graph.neg %a : tensor<4xf32>"))
    a, b, d, c, _ = _ops(module)
    with pytest.raises(ValueError, match="between the grouped ops"):
        outline([a, c], _make)
