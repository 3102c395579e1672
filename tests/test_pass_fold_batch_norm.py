"""graph-fold-batch-norm: the differential tests, on the lit cases
(lit_tests/passes/graph-fold-batch-norm.mlir), on element types narrower than f32, and on
small ONNX CNNs whose batch norms have statistics far from the identity."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import AddOp, BatchNormOp, ConvOp, ConvTransposeOp, GemmOp, MatMulOp, MulOp, WeightOp
from dialects.weights import store_of
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "passes/graph-fold-batch-norm.mlir"


def op_types(module) -> list[type]:
    return [type(op) for op in module.walk()]


@pytest.mark.parametrize(
    "case, producer",
    [("conv", ConvOp), ("conv_transpose", ConvTransposeOp), ("gemm", GemmOp), ("matmul", GemmOp)],
)
def test_lit_cases_fold_into_the_producer(case, producer):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-fold-batch-norm")
    types = op_types(after)
    assert BatchNormOp not in types and MulOp not in types and AddOp not in types and MatMulOp not in types
    assert types.count(producer) == 1


def test_shared_conv_keeps_the_conv_and_decomposes():
    after = assert_pass_preserves(lit_function(LIT, "shared_conv"), "graph-fold-batch-norm")
    types = op_types(after)
    assert BatchNormOp not in types and types.count(ConvOp) == 1
    assert types.count(MulOp) == 1 and types.count(AddOp) == 1


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt")  # random variances < 0
def test_runtime_statistics_stay():
    after = assert_pass_preserves(lit_function(LIT, "runtime_stats"), "graph-fold-batch-norm")
    assert op_types(after).count(BatchNormOp) == 1


def test_options_turn_parts_off():
    after = assert_pass_preserves(lit_function(LIT, "shared_conv"), "graph-fold-batch-norm{decompose=false}")
    assert op_types(after).count(BatchNormOp) == 1
    after = assert_pass_preserves(lit_function(LIT, "conv"), "graph-fold-batch-norm{conv=false}")
    assert BatchNormOp not in op_types(after) and MulOp in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "gemm"), "graph-fold-batch-norm{gemm=false decompose=false}")
    assert op_types(after).count(BatchNormOp) == 1


def test_bf16_conv_folds_in_its_own_type():
    ir = lit_function(LIT, "conv").replace("f32", "bf16")
    after = assert_pass_preserves(ir, "graph-fold-batch-norm", rtol=2e-2, atol=2e-2)
    (conv,) = [op for op in after.walk() if isinstance(op, ConvOp)]
    assert str(conv.weight.type.element_type) == "bf16" and str(conv.bias.type.element_type) == "bf16"


GEMM_WITH_C = """
func.func @main(%a: tensor<3x4xf32>) -> tensor<3x2xf32> {
  %b = graph.constant dense<[[1.0, -2.0], [0.5, 3.0], [2.0, 1.0], [-1.0, 0.25]]> : tensor<4x2xf32>
  %c = graph.constant dense<[[1.0], [-2.0], [0.5]]> : tensor<3x1xf32>
  %gamma = graph.constant dense<[3.0, -0.5]> : tensor<2xf32>
  %beta = graph.constant dense<[1.5, -4.0]> : tensor<2xf32>
  %mean = graph.constant dense<[-2.0, 7.0]> : tensor<2xf32>
  %var = graph.constant dense<[0.3, 9.0]> : tensor<2xf32>
  %g = graph.gemm %a, %b, %c {alpha = 2.0 : f32, beta = 0.5 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<3x4xf32>, tensor<4x2xf32>, tensor<3x1xf32>) -> tensor<3x2xf32>
  %y = graph.batch_norm %g, %gamma, %beta, %mean, %var {epsilon = 1.0e-05 : f32} : (tensor<3x2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>, tensor<2xf32>) -> tensor<3x2xf32>
  func.return %y : tensor<3x2xf32>
}
"""


def test_gemm_with_alpha_beta_and_a_column_c():
    after = assert_pass_preserves(GEMM_WITH_C, "graph-fold-batch-norm")
    (gemm,) = [op for op in after.walk() if isinstance(op, GemmOp)]
    assert BatchNormOp not in op_types(after) and gemm.c.type.get_shape() == (3, 2)


@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt")
def test_negative_variance_is_left_alone():
    ir = lit_function(LIT, "conv").replace("dense<[4.0, 0.25]>", "dense<[4.0, -1.0]>")
    after = assert_pass_preserves(ir, "graph-fold-batch-norm")
    assert op_types(after).count(BatchNormOp) == 1


# --- ONNX models -------------------------------------------------------------


def _bn_stats(rng, channels: int, prefix: str, dtype) -> dict[str, np.ndarray]:
    """Statistics far from the identity: scales of both signs, large means, spread variances."""
    return {
        f"{prefix}.gamma": (rng.uniform(0.5, 3.0, channels) * rng.choice([-1.0, 1.0], channels)).astype(dtype),
        f"{prefix}.beta": (3 * rng.standard_normal(channels)).astype(dtype),
        f"{prefix}.mean": (5 * rng.standard_normal(channels)).astype(dtype),
        f"{prefix}.var": rng.uniform(0.05, 10.0, channels).astype(dtype),
    }


def _bn(x: str, y: str, prefix: str):
    return helper.make_node("BatchNormalization", [x, *(f"{prefix}.{p}" for p in ("gamma", "beta", "mean", "var"))], [y])


def cnn(dtype=np.float32, elem=TensorProto.FLOAT):
    """Conv → BN → Relu → depthwise Conv → BN → Relu → ConvTranspose → BN, and a BN on
    the input (after no conv), as torchvision-style blocks export."""
    rng = np.random.default_rng(7)
    weights = {
        "conv1.weight": rng.standard_normal((8, 3, 3, 3)).astype(dtype) * 0.3,
        "conv1.bias": rng.standard_normal(8).astype(dtype),
        "dw.weight": rng.standard_normal((8, 1, 3, 3)).astype(dtype) * 0.3,
        "up.weight": rng.standard_normal((8, 4, 2, 2)).astype(dtype) * 0.3,
        **_bn_stats(rng, 3, "bn0", dtype),
        **_bn_stats(rng, 8, "bn1", dtype),
        **_bn_stats(rng, 8, "bn2", dtype),
        **_bn_stats(rng, 4, "bn3", dtype),
    }
    nodes = [
        _bn("x", "x0", "bn0"),
        helper.make_node("Conv", ["x0", "conv1.weight", "conv1.bias"], ["c1"], pads=[1, 1, 1, 1], strides=[2, 2]),
        _bn("c1", "b1", "bn1"),
        helper.make_node("Relu", ["b1"], ["r1"]),
        helper.make_node("Conv", ["r1", "dw.weight"], ["c2"], pads=[1, 1, 1, 1], group=8),
        _bn("c2", "b2", "bn2"),
        helper.make_node("Relu", ["b2"], ["r2"]),
        helper.make_node("ConvTranspose", ["r2", "up.weight"], ["c3"], strides=[2, 2]),
        _bn("c3", "y", "bn3"),
    ]
    return make_model(nodes, {"x": ([2, 3, 16, 16], elem)}, ["y"], weights)


def test_onnx_cnn_loses_every_batch_norm():
    module = import_onnx(cnn())
    before = op_types(module)
    assert before.count(BatchNormOp) == 4
    after = assert_pass_preserves(module, "graph-fold-batch-norm", rtol=1e-5, atol=1e-5)
    types = op_types(after)
    assert BatchNormOp not in types
    assert types.count(ConvOp) == 2 and types.count(ConvTransposeOp) == 1
    assert types.count(MulOp) == 1 and types.count(AddOp) == 1  # the BN on the input
    store = store_of(after)
    names = [op.sym.data for op in after.walk() if isinstance(op, WeightOp)]
    assert all(".folded." in n for n in names) and all(n in store for n in names)


def test_onnx_cnn_in_f16_keeps_f16_weights():
    module = import_onnx(cnn(np.float16, TensorProto.FLOAT16))
    after = assert_pass_preserves(module, "graph-fold-batch-norm", rtol=1e-2, atol=3e-2)  # a few f16 ulps at |y| ~ 10
    assert BatchNormOp not in op_types(after)
    convs = [op for op in after.walk() if isinstance(op, ConvOp | ConvTransposeOp)]
    assert all(str(op.weight.type.element_type) == "f16" for op in convs)
    store = store_of(after)
    assert all(store[op.sym.data].dtype == np.float16 for op in after.walk() if isinstance(op, WeightOp))


@pytest.mark.parametrize(
    "op_type, x_shape, w_shape, group",
    [
        ("Conv", [1, 4, 9], [6, 2, 3], 2),  # 1-D, grouped
        ("Conv", [1, 2, 4, 5, 3], [4, 2, 2, 2, 2], 1),  # 3-D
        ("ConvTranspose", [1, 4, 3, 3], [4, 3, 2, 2], 2),  # grouped: weight (C, M/group, ...)
    ],
)
def test_onnx_conv_shapes_and_groups(op_type, x_shape, w_shape, group):
    rng = np.random.default_rng(1)
    channels = w_shape[0] if op_type == "Conv" else w_shape[1] * group
    weights = {"w": rng.standard_normal(w_shape).astype(np.float32), **_bn_stats(rng, channels, "bn", np.float32)}
    nodes = [helper.make_node(op_type, ["x", "w"], ["c"], group=group), _bn("c", "y", "bn")]
    module = import_onnx(make_model(nodes, {"x": (x_shape, TensorProto.FLOAT)}, ["y"], weights))
    after = assert_pass_preserves(module, "graph-fold-batch-norm", rtol=1e-5, atol=1e-5)
    assert op_types(after).count(ConvOp) + op_types(after).count(ConvTransposeOp) == 1
    assert BatchNormOp not in op_types(after) and MulOp not in op_types(after)
