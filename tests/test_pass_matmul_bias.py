"""graph-matmul-bias: the differential tests, on the lit cases
(lit_tests/passes/graph-matmul-bias.mlir), in f16, and on ONNX models with the
MatMul → Add linear layers PyTorch exports."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import AddOp, GemmOp, MatMulOp, SubOp
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "passes/graph-matmul-bias.mlir"


def op_types(module) -> list[type]:
    return [type(op) for op in module.walk()]


def biased_matmuls(module) -> list[MatMulOp]:
    return [op for op in module.walk() if isinstance(op, MatMulOp) and op.bias is not None]


@pytest.mark.parametrize(
    "case, product",
    [
        ("linear_2d", GemmOp),
        ("linear_3d", MatMulOp),
        ("chain", MatMulOp),
        ("activations", MatMulOp),
        ("gemm", GemmOp),
        ("gemm_with_c", GemmOp),
    ],
)
def test_lit_cases_fold_into_the_product(case, product):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-matmul-bias")
    types = op_types(after)
    assert AddOp not in types and SubOp not in types
    assert types.count(GemmOp) + types.count(MatMulOp) == 1 and types.count(product) == 1


@pytest.mark.parametrize("case", ["not_last_axis", "shared_matmul", "constant_minus_matmul", "runtime_bias", "vector_rhs"])
def test_near_misses_stay(case):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-matmul-bias")
    assert not biased_matmuls(after) and GemmOp not in op_types(after)


def test_options_turn_parts_off():
    after = assert_pass_preserves(lit_function(LIT, "linear_2d"), "graph-matmul-bias{to-gemm=false}")
    assert len(biased_matmuls(after)) == 1 and GemmOp not in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "linear_2d"), "graph-matmul-bias{matmul=false}")
    assert AddOp in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "gemm"), "graph-matmul-bias{gemm=false}")
    assert AddOp in op_types(after)


def test_f16_bias_keeps_its_type():
    ir = lit_function(LIT, "chain").replace("f32", "f16")
    after = assert_pass_preserves(ir, "graph-matmul-bias", rtol=2e-3, atol=2e-2)
    (matmul,) = biased_matmuls(after)
    assert str(matmul.bias.type.element_type) == "f16"


# --- ONNX models -------------------------------------------------------------


def mlp():
    """Two Linear layers as the PyTorch exporter writes them on (batch, sequence, features):
    MatMul by a transposed weight, then Add of the bias (once as bias + product), and a
    2-D head: Flatten → MatMul → Add."""
    rng = np.random.default_rng(11)
    f32 = np.float32
    weights = {
        "fc1.weight": rng.standard_normal((16, 32)).astype(f32) * 0.3,
        "fc1.bias": rng.standard_normal(32).astype(f32),
        "fc2.weight": rng.standard_normal((32, 8)).astype(f32) * 0.3,
        "fc2.bias": rng.standard_normal(8).astype(f32),
        "head.weight": rng.standard_normal((40, 3)).astype(f32) * 0.3,
        "head.bias": rng.standard_normal(3).astype(f32),
    }
    nodes = [
        helper.make_node("MatMul", ["x", "fc1.weight"], ["h"]),
        helper.make_node("Add", ["h", "fc1.bias"], ["hb"]),
        helper.make_node("Relu", ["hb"], ["r"]),
        helper.make_node("MatMul", ["r", "fc2.weight"], ["o"]),
        helper.make_node("Add", ["fc2.bias", "o"], ["ob"]),
        helper.make_node("Flatten", ["ob"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "head.weight"], ["g"]),
        helper.make_node("Add", ["g", "head.bias"], ["y"]),
    ]
    return make_model(nodes, {"x": ([2, 5, 16], TensorProto.FLOAT)}, ["y"], weights)


def test_onnx_linear_layers_take_their_biases():
    after = assert_pass_preserves(import_onnx(mlp()), "graph-matmul-bias")
    types = op_types(after)
    assert AddOp not in types
    assert len(biased_matmuls(after)) == 2 and types.count(GemmOp) == 1


def test_onnx_gemm_without_c_takes_the_add():
    rng = np.random.default_rng(2)
    weights = {"w": rng.standard_normal((6, 4)).astype(np.float32), "b": rng.standard_normal((1, 6)).astype(np.float32)}
    nodes = [
        helper.make_node("Gemm", ["x", "w"], ["g"], transB=1, alpha=0.5),
        helper.make_node("Add", ["g", "b"], ["y"]),
    ]
    model = make_model(nodes, {"x": ([3, 4], TensorProto.FLOAT)}, ["y"], weights)
    after = assert_pass_preserves(import_onnx(model), "graph-matmul-bias")
    (gemm,) = [op for op in after.walk() if isinstance(op, GemmOp)]
    assert AddOp not in op_types(after) and gemm.c is not None
