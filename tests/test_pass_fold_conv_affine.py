"""graph-fold-conv-affine: the differential tests, on the lit cases
(lit_tests/passes/graph-fold-conv-affine.mlir), in f16, and on ONNX models with the
Mul/Add/Div/Sub chains exporters leave after convolutions."""

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.onnx_import import import_onnx
from dialects.graph import AddOp, BatchNormOp, ConvOp, ConvTransposeOp, DivOp, MulOp, SubOp
from tests.support import assert_pass_preserves, lit_function, make_model

LIT = "passes/graph-fold-conv-affine.mlir"
AFFINE_OPS = (MulOp, DivOp, AddOp, SubOp)


def op_types(module) -> list[type]:
    return [type(op) for op in module.walk()]


@pytest.mark.parametrize("case", ["mul_add", "div_sub", "constant_minus_conv", "conv_transpose"])
def test_lit_cases_fold_into_one_conv(case):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-fold-conv-affine")
    types = op_types(after)
    assert not any(t in types for t in AFFINE_OPS)
    assert types.count(ConvOp) + types.count(ConvTransposeOp) == 1


@pytest.mark.parametrize(
    "case, kept",
    [("not_per_channel", MulOp), ("shared_conv", MulOp), ("constant_over_conv", DivOp), ("runtime_weight", MulOp)],
)
def test_near_misses_stay(case, kept):
    after = assert_pass_preserves(lit_function(LIT, case), "graph-fold-conv-affine")
    assert op_types(after).count(kept) == 1


def test_options_turn_parts_off():
    after = assert_pass_preserves(lit_function(LIT, "mul_add"), "graph-fold-conv-affine{scale=false}")
    assert MulOp in op_types(after) and AddOp in op_types(after)
    after = assert_pass_preserves(lit_function(LIT, "mul_add"), "graph-fold-conv-affine{shift=false}")
    assert MulOp not in op_types(after) and AddOp in op_types(after)


def test_f16_folds_in_its_own_type():
    ir = lit_function(LIT, "div_sub").replace("f32", "f16")
    after = assert_pass_preserves(ir, "graph-fold-conv-affine", rtol=2e-3, atol=2e-3)
    (conv,) = [op for op in after.walk() if isinstance(op, ConvOp)]
    assert str(conv.weight.type.element_type) == "f16" and str(conv.bias.type.element_type) == "f16"


def test_a_zero_divisor_is_left_alone():
    ir = lit_function(LIT, "div_sub").replace("dense<2.0> : tensor<f32>", "dense<0.0> : tensor<f32>")
    after = assert_pass_preserves(ir, "graph-fold-conv-affine")
    assert DivOp in op_types(after)


# --- ONNX models -------------------------------------------------------------


def chain_model():
    """Conv → Mul [C,1,1] → Add [1,C,1,1] → Relu → Conv → Div scalar → Sub [C,1,1] → Mul
    scalar, the second conv grouped: two convs and a Relu should remain."""
    rng = np.random.default_rng(3)
    f32 = np.float32
    weights = {
        "c1.weight": rng.standard_normal((6, 3, 3, 3)).astype(f32),
        "c1.bias": rng.standard_normal(6).astype(f32),
        "c2.weight": rng.standard_normal((6, 2, 3, 3)).astype(f32),
        "scale": rng.uniform(-3, 3, (6, 1, 1)).astype(f32),
        "shift": rng.standard_normal((1, 6, 1, 1)).astype(f32) * 4,
        "divisor": np.array(0.7, f32),
        "offset": rng.standard_normal((6, 1, 1)).astype(f32),
        "gain": np.array([-1.5], f32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "c1.weight", "c1.bias"], ["a"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["a", "scale"], ["b"]),
        helper.make_node("Add", ["shift", "b"], ["c"]),
        helper.make_node("Relu", ["c"], ["d"]),
        helper.make_node("Conv", ["d", "c2.weight"], ["e"], group=3, strides=[2, 2]),
        helper.make_node("Div", ["e", "divisor"], ["f"]),
        helper.make_node("Sub", ["f", "offset"], ["g"]),
        helper.make_node("Mul", ["gain", "g"], ["y"]),
    ]
    return make_model(nodes, {"x": ([2, 3, 10, 10], TensorProto.FLOAT)}, ["y"], weights)


def test_onnx_chains_fold_to_a_fixpoint():
    # outputs reach ~200: f32 rounding of sums that cancel is ~1e-5 absolute
    after = assert_pass_preserves(import_onnx(chain_model()), "graph-fold-conv-affine", atol=1e-4)
    types = op_types(after)
    assert not any(t in types for t in AFFINE_OPS)
    assert types.count(ConvOp) == 2


def test_decomposed_batch_norm_folds_like_the_batch_norm_pass():
    """`graph-fold-batch-norm{conv=false}` leaves mul + add, which this pass then folds."""
    rng = np.random.default_rng(5)
    f32 = np.float32
    weights = {
        "w": rng.standard_normal((4, 3, 3, 3)).astype(f32),
        "gamma": rng.uniform(-3, 3, 4).astype(f32),
        "beta": rng.standard_normal(4).astype(f32) * 3,
        "mean": rng.standard_normal(4).astype(f32) * 5,
        "var": rng.uniform(0.05, 10, 4).astype(f32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"]),
        helper.make_node("BatchNormalization", ["c", "gamma", "beta", "mean", "var"], ["b"]),
        helper.make_node("Relu", ["b"], ["y"]),
    ]
    module = import_onnx(make_model(nodes, {"x": ([1, 3, 8, 8], TensorProto.FLOAT)}, ["y"], weights))
    after = assert_pass_preserves(module, "graph-fold-batch-norm{conv=false},graph-fold-conv-affine")
    types = op_types(after)
    assert BatchNormOp not in types and MulOp not in types and AddOp not in types
    assert types.count(ConvOp) == 1
