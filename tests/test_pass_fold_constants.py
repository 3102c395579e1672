"""graph-fold-constants: the differential tests, on the lit cases
(lit_tests/passes/graph-fold-constants.mlir), on weights from the store, and on an
imported ONNX model (which the importer has already folded: the pass must agree)."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.utils.exceptions import DiagnosticException

from compiler.onnx_import import import_onnx
from dialects import fused
from dialects.graph import ConstantOp, GemmOp, WeightOp
from dialects.graph.base import float_of
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


@pytest.mark.parametrize("case", ["gemm_beta", "gemm_computed_c"])
def test_gemm_beta_times_known_c_is_computed_once(case):
    ir = lit_function(LIT, case)
    after = assert_pass_preserves(ir, "graph-fold-constants")
    gemms = [op for op in after.walk() if isinstance(op, GemmOp)]
    known = case == "gemm_beta"
    assert [float_of(g.beta) for g in gemms] == ([1.0] * 3 if known else [0.5])
    assert "graph.mul" not in graph_ops(after)


def test_max_growth_keeps_broadcasts():
    ir = lit_function(LIT, "broadcast")
    assert graph_ops(assert_pass_preserves(ir, "graph-fold-constants")) == ["graph.weight"]
    kept = assert_pass_preserves(ir, "graph-fold-constants{max-growth=16}")
    assert graph_ops(kept) == ["graph.constant", "graph.expand"]


SHARED_BIAS = """
func.func @main(%a: tensor<3x8xf32>, %b: tensor<8x24xf32>, %v: tensor<24xf32>) -> (tensor<3x24xf32>, tensor<3x24xf32>, tensor<3x24xf32>, tensor<24xf32>) {
  %c = graph.weight "fc.bias" : tensor<24xf32>
  %y = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 0.5 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x8xf32>, tensor<8x24xf32>, tensor<24xf32>) -> tensor<3x24xf32>
  %z = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = -3.0 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x8xf32>, tensor<8x24xf32>, tensor<24xf32>) -> tensor<3x24xf32>
  %u = graph.gemm %a, %b, %c {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x8xf32>, tensor<8x24xf32>, tensor<24xf32>) -> tensor<3x24xf32>
  %r = graph.add %c, %v : (tensor<24xf32>, tensor<24xf32>) -> tensor<24xf32>
  func.return %y, %z, %u, %r : tensor<3x24xf32>, tensor<3x24xf32>, tensor<3x24xf32>, tensor<24xf32>
}
"""


@pytest.mark.parametrize("dtype, tolerance", [("f32", 1e-6), ("f16", 1e-3)])
def test_shared_stored_bias_keeps_its_other_users(dtype, tolerance):
    """c in the store, read by gemms of beta 0.5, -3 and 1 and by an add: each scaled gemm
    gets its own scaled copy; the beta-1 gemm and the add still read the original."""
    module = parse(SHARED_BIAS.replace("f32>", f"{dtype}>"))
    store = store_of(module)
    bias = np.random.default_rng(0).standard_normal(24).astype(np.float16 if dtype == "f16" else np.float32)
    store.arrays["fc.bias"] = bias
    after = assert_pass_preserves(module, "graph-fold-constants", rtol=tolerance, atol=tolerance)
    cs = [g.c.owner.sym.data for g in after.walk() if isinstance(g, GemmOp)]
    assert cs[2] == "fc.bias" and cs[0] != cs[1] and {cs[0], cs[1]} == store.unsaved
    np.testing.assert_array_equal(store[cs[0]], bias * bias.dtype.type(0.5))
    np.testing.assert_array_equal(store[cs[1]], bias * bias.dtype.type(-3.0))
    np.testing.assert_array_equal(store["fc.bias"], bias)


def test_gemm_beta_leaves_no_multiply_in_the_epilogue():
    """ONNX Gemm with beta 0.5 and a bias: after `default`, the fused matmul's epilogue adds
    the folded bias and multiplies by nothing, and the outputs agree with the import."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Gemm", ["x", "w", "c"], ["g"], transB=1, beta=0.5), helper.make_node("Relu", ["g"], ["y"])]
    inits = {"w": rng.standard_normal((32, 16)).astype(np.float32), "c": rng.standard_normal(32).astype(np.float32)}
    module = import_onnx(make_model(nodes, {"x": ([4, 16], TensorProto.FLOAT)}, ["y"], inits))
    after = assert_pass_preserves(module, "default")
    (matmul,) = [op for op in after.walk() if isinstance(op, fused.MatmulOp)]
    assert [op.name for op in matmul.regions[0].walk()] == ["graph.add", "graph.relu", "fused.yield"]


def test_gemm_beta_then_batch_norm_still_folds_into_one_gemm():
    """graph-optimize folds beta into c first; graph-fold-batch-norm then folds the
    normalisation into that gemm's b and c, leaving the gemm alone, beta 1."""
    rng = np.random.default_rng(1)
    n = 24
    nodes = [
        helper.make_node("Gemm", ["x", "w", "c"], ["g"], transB=1, beta=-2.0),
        helper.make_node("BatchNormalization", ["g", "s", "t", "m", "v"], ["y"]),
    ]
    stats = {k: rng.standard_normal(n).astype(np.float32) for k in "stm"}
    inits = {"w": rng.standard_normal((n, 8)).astype(np.float32), "c": rng.standard_normal(n).astype(np.float32)}
    inits |= stats | {"v": rng.uniform(0.5, 2.0, n).astype(np.float32)}
    module = import_onnx(make_model(nodes, {"x": ([5, 8], TensorProto.FLOAT)}, ["y"], inits))
    after = assert_pass_preserves(module, "graph-optimize", rtol=1e-5, atol=1e-5)
    assert [name for name in graph_ops(after) if name not in ("graph.weight", "graph.constant")] == ["graph.gemm"]
    (gemm,) = [op for op in after.walk() if isinstance(op, GemmOp)]
    assert float_of(gemm.beta) == 1.0
