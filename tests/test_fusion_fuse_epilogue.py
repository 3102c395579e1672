"""fuse-epilogue: the differential tests, on the lit cases (lit_tests/fusion/fuse-epilogue.mlir),
on each option, on the gemm and failure corners, and on a small CNN imported from ONNX."""

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.utils.exceptions import PassFailedException

from compiler.onnx_import import import_onnx
from dialects.fused import ConvOp as FusedConv
from dialects.fused import MatmulOp as FusedMatmul
from tests.support import apply_pipeline, assert_pass_preserves, lit_function, make_model, parse

LIT = "fusion/fuse-epilogue.mlir"

FREE = {"graph.constant", "graph.weight", "graph.reshape", "graph.flatten", "graph.squeeze", "graph.unsqueeze", "func.return"}


def kernels(module) -> list[str]:
    """Top-level ops of each function that would launch a kernel, by name."""
    return [op.name for fn in module.ops for op in fn.body.block.ops if op.name not in FREE]


def epilogue_ops(module) -> list[str]:
    return [inner.name for op in module.walk() if isinstance(op, FusedMatmul | FusedConv) for inner in op.epilogue.block.ops]


@pytest.mark.parametrize(
    "case, expected",
    [
        ("linear_gelu", ["fused.matmul"]),
        ("conv_bias_residual_relu", ["fused.conv"]),
        ("gemm_normal_form", ["graph.transpose", "fused.matmul"]),
        ("scale_mask_cast", ["fused.matmul"]),
        ("head_split", ["fused.matmul"]),
        ("product_read_elsewhere", ["fused.matmul", "graph.relu"]),
        ("intermediate_yielded", ["fused.matmul", "graph.softmax"]),
        ("view_read_elsewhere", ["fused.matmul", "graph.transpose"]),
        ("not_convex", ["fused.matmul", "graph.softmax", "graph.add"]),
        ("reader_moves_after", ["fused.matmul", "graph.softmax"]),
        ("vector_times_matrix", ["fused.matmul"]),
    ],
)
def test_lit_cases(case, expected):
    after = assert_pass_preserves(lit_function(LIT, case), "fuse-epilogue")
    assert kernels(after) == expected


@pytest.mark.parametrize(
    "option, case, outside",
    [
        ("activations", "linear_gelu", "graph.gelu"),
        ("bias", "intermediate_yielded", "graph.add"),
        ("residual", "conv_bias_residual_relu", "graph.add"),
        ("scaling", "scale_mask_cast", "graph.mul"),
        ("casts", "scale_mask_cast", "graph.cast"),
        ("views", "head_split", "graph.transpose"),
    ],
)
def test_each_option_keeps_its_ops_outside(option, case, outside):
    after = assert_pass_preserves(lit_function(LIT, case), f"fuse-epilogue{{{option}=false}}")
    assert outside in kernels(after)
    on = assert_pass_preserves(lit_function(LIT, case), "fuse-epilogue")
    assert outside not in kernels(on)


def test_gemm_with_constant_a_transposes_the_constant():
    ir = """
    func.func @main(%b: tensor<3x4xf32>) -> tensor<2x4xf32> {
      %a = graph.constant dense<[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]> : tensor<3x2xf32>
      %y = graph.gemm %a, %b {alpha = 1.0 : f32, beta = 1.0 : f32, trans_a = 1 : i64, trans_b = 0 : i64} : (tensor<3x2xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
      func.return %y : tensor<2x4xf32>
    }
    """
    after = assert_pass_preserves(ir, "fuse-epilogue")
    assert kernels(after) == ["fused.matmul"]
    (fused,) = [op for op in after.walk() if isinstance(op, FusedMatmul)]
    assert fused.lhs.type.get_shape() == (2, 3)


def test_integer_gemm_with_exact_alpha():
    ir = """
    func.func @main(%a: tensor<2x3xi32>, %b: tensor<3x4xi32>, %c: tensor<1x4xi32>) -> tensor<2x4xi32> {
      %y = graph.gemm %a, %b, %c {alpha = 2.0 : f32, beta = 3.0 : f32, trans_a = 0 : i64, trans_b = 0 : i64} : (tensor<2x3xi32>, tensor<3x4xi32>, tensor<1x4xi32>) -> tensor<2x4xi32>
      func.return %y : tensor<2x4xi32>
    }
    """
    assert kernels(assert_pass_preserves(ir, "fuse-epilogue")) == ["fused.matmul"]
    with pytest.raises(PassFailedException, match="scale 0.5 is not exact in i32"):
        apply_pipeline(parse(ir.replace("alpha = 2.0", "alpha = 0.5")), "fuse-epilogue")


def test_rank_beyond_fused_matmul_fails():
    ir = """
    func.func @main(%a: tensor<1x1x1x1x1x2x3xf32>, %b: tensor<3x4xf32>) -> tensor<1x1x1x1x1x2x4xf32> {
      %y = graph.matmul %a, %b : (tensor<1x1x1x1x1x2x3xf32>, tensor<3x4xf32>) -> tensor<1x1x1x1x1x2x4xf32>
      func.return %y : tensor<1x1x1x1x1x2x4xf32>
    }
    """
    with pytest.raises(PassFailedException, match="rank 2 to 6"):
        apply_pipeline(parse(ir), "fuse-epilogue")


def test_f16_keeps_its_types():
    ir = """
    func.func @main(%x: tensor<3x8xf16>, %w: tensor<8x4xf16>, %b: tensor<4xf16>) -> tensor<3x4xf32> {
      %m = graph.matmul %x, %w, %b : (tensor<3x8xf16>, tensor<8x4xf16>, tensor<4xf16>) -> tensor<3x4xf16>
      %s = graph.sigmoid %m : tensor<3x4xf16>
      %y = graph.mul %m, %s : (tensor<3x4xf16>, tensor<3x4xf16>) -> tensor<3x4xf16>
      %c = graph.cast %y : tensor<3x4xf16> -> tensor<3x4xf32>
      func.return %c : tensor<3x4xf32>
    }
    """
    after = assert_pass_preserves(ir, "fuse-epilogue", rtol=2e-3, atol=2e-3)
    assert kernels(after) == ["fused.matmul"]
    assert epilogue_ops(after) == ["graph.add", "graph.sigmoid", "graph.mul", "graph.cast", "fused.yield"]


def test_splat_constant_read_outside_is_copied_in():
    ir = """
    func.func @main(%x: tensor<2x8xf32>, %w: tensor<8x4xf32>) -> (tensor<2x4xf32>, tensor<8x4xf32>) {
      %c = graph.constant dense<0.5> : tensor<f32>
      %m = graph.matmul %x, %w : (tensor<2x8xf32>, tensor<8x4xf32>) -> tensor<2x4xf32>
      %y = graph.mul %m, %c : (tensor<2x4xf32>, tensor<f32>) -> tensor<2x4xf32>
      %v = graph.mul %w, %c : (tensor<8x4xf32>, tensor<f32>) -> tensor<8x4xf32>
      func.return %y, %v : tensor<2x4xf32>, tensor<8x4xf32>
    }
    """
    after = assert_pass_preserves(ir, "fuse-epilogue")
    (fused,) = [op for op in after.walk() if isinstance(op, FusedMatmul)]
    assert not fused.extras and "graph.constant" in epilogue_ops(after)
    assert kernels(after) == ["fused.matmul", "graph.mul"]


def _resnet_block():
    """Conv (bias) → Relu → Conv (bias) → Add (shortcut) → Relu → GlobalAveragePool → Flatten → Gemm (transB)."""
    rng = np.random.default_rng(0)
    weights = {
        "w1": rng.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3,
        "b1": rng.standard_normal(4).astype(np.float32),
        "w2": rng.standard_normal((4, 4, 3, 3)).astype(np.float32) * 0.3,
        "b2": rng.standard_normal(4).astype(np.float32),
        "fc": rng.standard_normal((5, 4)).astype(np.float32),
        "fcb": rng.standard_normal(5).astype(np.float32),
    }
    conv = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], **conv),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], **conv),
        helper.make_node("Add", ["c2", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "fc", "fcb"], ["y"], transB=1),
    ]
    return import_onnx(make_model(nodes, {"x": ([1, 4, 6, 6], TensorProto.FLOAT)}, ["y"], weights))


def test_onnx_cnn_block():
    after = assert_pass_preserves(_resnet_block(), "fuse-epilogue", rtol=1e-4, atol=1e-5)
    assert kernels(after) == ["fused.conv", "fused.conv", "graph.global_average_pool", "fused.matmul"]
    assert epilogue_ops(after).count("graph.relu") == 2
