"""graph-dce: the differential test (lit_tests/passes/graph-dce.mlir shows the rewrite)."""

from dialects.graph import AddOp, ReluOp
from tests.support import assert_pass_preserves

IR = """
func.func @main(%x: tensor<4x5xf32>, %y: tensor<5xf32>) -> tensor<4x5xf32> {
  %dead = graph.relu %x : tensor<4x5xf32>
  %dead2 = graph.add %dead, %y : (tensor<4x5xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  %a = graph.add %x, %y : (tensor<4x5xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  %r = graph.relu %a : tensor<4x5xf32>
  func.return %r : tensor<4x5xf32>
}
"""


def test_dce_preserves_results_and_removes_dead_chain():
    after = assert_pass_preserves(IR, "graph-dce")
    ops = [type(op) for op in after.walk()]
    assert ops.count(ReluOp) == 1 and ops.count(AddOp) == 1
