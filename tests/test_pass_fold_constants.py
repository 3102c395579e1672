"""graph-fold-constants: the differential tests, on the lit cases
(lit_tests/passes/graph-fold-constants.mlir), on weights from the store, and on an
imported ONNX model (which the importer has already folded: the pass must agree)."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.utils.exceptions import DiagnosticException

from compiler.onnx_import import import_onnx
from dialects.graph import ConstantOp, WeightOp
from dialects.weights import store_of
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, make_model, parse

LIT = "passes/graph-fold-constants.mlir"


def graph_ops(module) -> list[str]:
    return [op.name for op in module.walk() if op.name.startswith("graph.")]


@pytest.mark.parametrize("case", ["shape_guards", "arithmetic", "sizes"])
def test_known_computations_become_constants(case):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-fold-constants")
    assert all(isinstance(op, ConstantOp | WeightOp) for op in after.walk() if op.name.startswith("graph."))


def test_bf16_result_keeps_its_type():
    after = assert_pass_preserves(lit_function(LIT, "arithmetic"), "graph-fold-constants")
    (bf16,) = [op for op in after.walk() if isinstance(op, ConstantOp) and "bf16" in str(op.result.type)]
    assert bf16.to_array().tolist() == [2.0, 2.0]


def test_where_with_one_valued_condition_is_its_branch():
    after = assert_pass_preserves(lit_function(LIT, "where_guards"), "graph-fold-constants")
    assert graph_ops(after) == ["graph.expand"]


def test_unknown_values_stay():
    ir = lit_function(LIT, "unknown")
    after = assert_pass_preserves(ir, "graph-fold-constants")
    assert graph_ops(after) == graph_ops(parse(ir))


def test_max_elements_bounds_folds():
    after = assert_pass_preserves(lit_function(LIT, "sizes"), "graph-fold-constants{max-elements=4}")
    assert graph_ops(after).count("graph.constant_of_shape") == 1


WEIGHT_CHAIN = """
func.func @main(%x: tensor<3x8xf32>) -> tensor<3x6xf32> {
  %w = graph.weight "fc.weight" : tensor<6x8xf32>
  %t = graph.transpose %w {perm = array<i64: 1, 0>} : tensor<6x8xf32> -> tensor<8x6xf32>
  %two = graph.constant dense<2.0> : tensor<f32>
  %s = graph.mul %t, %two : (tensor<8x6xf32>, tensor<f32>) -> tensor<8x6xf32>
  %y = graph.matmul %x, %s : (tensor<3x8xf32>, tensor<8x6xf32>) -> tensor<3x6xf32>
  func.return %y : tensor<3x6xf32>
}
"""


def test_weight_chain_folds_to_one_new_weight():
    """transpose then scale of a stored weight: one new weight, named after the original;
    the intermediate transposed array does not linger in the store."""
    module = parse(WEIGHT_CHAIN)
    store = store_of(module)
    store.arrays["fc.weight"] = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    after = assert_pass_preserves(module, "graph-fold-constants")
    assert graph_ops(after) == ["graph.weight", "graph.matmul"]
    (weight,) = [op for op in after.walk() if isinstance(op, WeightOp)]
    assert weight.sym.data.startswith("fc.weight.transpose.mul.")
    np.testing.assert_array_equal(store[weight.sym.data], store["fc.weight"].T * 2)
    assert store.unsaved == {weight.sym.data}


def test_a_failing_fold_names_the_op():
    ir = """
func.func @main() -> tensor<i64> {
  %s = graph.constant dense<[1, 2]> : tensor<2xi64>
  %i = graph.constant dense<7> : tensor<i64>
  %n = graph.gather %s, %i {axis = 0 : i64} : (tensor<2xi64>, tensor<i64>) -> tensor<i64>
  func.return %n : tensor<i64>
}
"""
    with pytest.raises(DiagnosticException, match="cannot fold 'graph.gather'"):
        apply_pipeline(parse(ir), "graph-fold-constants")


def test_imported_model_is_already_a_fixpoint():
    """The importer folds with the same reference implementations; the pass finds nothing
    more to do on what it produced, and keeps what depends on the input."""
    i64 = lambda *v: np.array(v, np.int64)  # noqa: E731
    nodes = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "one"], ["d"], axis=0),
        helper.make_node("Unsqueeze", ["d", "zero"], ["d1"]),
        helper.make_node("Concat", ["minus_one", "d1"], ["shape"], axis=0),
        helper.make_node("Reshape", ["x", "shape"], ["r"]),
        helper.make_node("Relu", ["r"], ["y"]),
    ]
    inits = {"one": np.array(1, np.int64), "zero": i64(0), "minus_one": i64(-1)}
    module = import_onnx(make_model(nodes, {"x": ([2, 3, 4], TensorProto.FLOAT)}, ["y"], inits, opset=13))
    after = assert_pass_preserves(module, "graph-fold-constants")
    assert graph_ops(after) == graph_ops(module) == ["graph.reshape", "graph.relu"]
