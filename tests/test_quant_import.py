"""Import of ONNX's quantization ops into the quant dialect: what each becomes, what is
refused (by node, attribute or input), and models matching onnxruntime on the reference
interpreter: single ops, a QDQ chain built with onnx.helper, and a model quantized by
onnxruntime's own `quantize_static` (QDQ format, per-channel weights)."""

from __future__ import annotations

import os

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from compiler.onnx_import import import_onnx
from dialects import fused, quant
from dialects.errors import OptcError
from dialects.graph import AddOp, CastOp, ConstantOp, ReshapeOp, WeightOp
from dialects.weights import store_of
from runtime.reference import run
from tests.support import apply_pipeline, make_model, run_onnxruntime

F, I8, U8, I32 = TensorProto.FLOAT, TensorProto.INT8, TensorProto.UINT8, TensorProto.INT32
RNG = np.random.default_rng(0)


def ops_of(module, kind):
    return [op for op in module.walk() if isinstance(op, kind)]


def assert_quantized_close(ours: np.ndarray, theirs: np.ndarray, step: float, name: str = "y") -> None:
    """Equal but for values on the other side of a rounding tie, where the two float
    computations before the rounding differ in their last bit: at most one quantization
    `step` apart, and in at most 1% of the elements."""
    assert ours.dtype == theirs.dtype, f"{name}: dtype {ours.dtype} != {theirs.dtype}"
    diff = np.abs(ours.astype(np.float64) - theirs.astype(np.float64))
    assert diff.max() <= step * 1.0001, f"{name}: differs by {diff.max()} (one step is {step})"
    assert np.mean(diff > 0) <= 0.01, f"{name}: {np.mean(diff > 0):.1%} of the values differ"


def compare_with_onnxruntime(model: onnx.ModelProto, inputs: dict[str, np.ndarray], steps: dict[str, float]):
    module = import_onnx(model)
    ours, theirs = run(module, inputs), run_onnxruntime(model, inputs)
    for name, expected in theirs.items():
        assert_quantized_close(ours[name], expected, steps.get(name, 0.0), name)
    return module


# --- what each op becomes ------------------------------------------------------------------


def test_int8_weight_is_dequantized_at_run_time_not_at_import():
    """DQ of an int8 initializer stays a quant.dequantize of an i8 weight: the quantization is
    what the quant level works on. There the conv's input is float, so the conv stays float
    and the dequantize becomes a kernel reading the i8 weight (tests/test_pass_fold_qdq.py)."""
    w = RNG.integers(-128, 128, (8, 3, 3, 3)).astype(np.int8)
    nodes = [
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w"], axis=0, name="dq_w"),
        helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),
    ]
    scale = RNG.uniform(0.01, 0.1, 8).astype(np.float32)
    model = make_model(nodes, {"x": ([1, 3, 8, 8], F)}, ["y"], {"w_q": w, "w_scale": scale, "w_zero": np.zeros(8, np.int8)})
    module = import_onnx(model)
    (dq,) = ops_of(module, quant.DequantizeOp)
    assert isinstance(dq.input.owner, WeightOp) and dq.input.type.element_type == quant.QUANTIZED[0]
    assert dq.axis.value.data == 0 and dq.result.type.get_shape() == (8, 3, 3, 3)
    x = RNG.standard_normal((1, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(run(module, {"x": x})["y"], run_onnxruntime(model, {"x": x})["y"], rtol=1e-4, atol=1e-5)
    compiled = apply_pipeline(module, "quant")
    assert not ops_of(compiled, quant.DequantizeOp)
    (kernel,) = [op for op in ops_of(compiled, fused.ElementwiseOp) if isinstance(op.inputs[0].owner, WeightOp)]
    assert str(kernel.inputs[0].type) == "tensor<8x3x3x3xi8>"
    assert store_of(compiled)["w_q"].dtype == np.int8


def test_one_element_scales_and_zero_points_are_per_tensor():
    """ONNX reads any one-element scale as per tensor (its node tests mix [] and [1])."""
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"])
    model = make_model([node], {"x": ([2, 3], F), "s": ([1], F), "z": ([1], U8)}, ["y"])
    module = import_onnx(model)
    (q,) = ops_of(module, quant.QuantizeOp)
    assert q.scale.type.get_shape() == () and q.zero_point.type.get_shape() == () and q.axis is None
    assert len(ops_of(module, ReshapeOp)) == 2
    inputs = {"x": RNG.standard_normal((2, 3)).astype(np.float32) * 10, "s": np.array([0.3], np.float32), "z": np.array([7], np.uint8)}
    compare_with_onnxruntime(model, inputs, {"y": 1})


def test_scales_and_zero_points_may_be_graph_inputs_per_axis():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=-1),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=-1)]
    model = make_model(nodes, {"x": ([4, 5], F), "s": ([5], F), "z": ([5], I8)}, ["q", "y"], opset=13)
    inputs = {"x": RNG.standard_normal((4, 5)).astype(np.float32), "s": RNG.uniform(0.01, 0.1, 5).astype(np.float32),
              "z": RNG.integers(-10, 10, 5).astype(np.int8)}
    module = compare_with_onnxruntime(model, inputs, {"q": 0, "y": 0})
    (q,) = ops_of(module, quant.QuantizeOp)
    assert q.axis.value.data == 1  # -1 resolved


def test_quantize_without_zero_point_is_uint8_unless_output_dtype_says():
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"])
    (q,) = ops_of(import_onnx(make_model([node], {"x": ([3], F)}, ["y"], {"s": np.float32(0.5)})), quant.QuantizeOp)
    assert str(q.result.type) == "tensor<3xui8>"
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], output_dtype=TensorProto.INT4)
    (q,) = ops_of(import_onnx(make_model([node], {"x": ([3], F)}, ["y"], {"s": np.float32(0.5)}, opset=21)), quant.QuantizeOp)
    assert str(q.result.type) == "tensor<3xi4>"


@pytest.mark.parametrize("saturate", [0, 1])
def test_float8_quantize_carries_saturate(saturate):
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], saturate=saturate)
    zero = numpy_helper.from_array(np.zeros((), ml_dtypes.float8_e5m2), "z")
    model = make_model([node], {"x": ([4], F)}, ["y"], {"s": np.float32(2.0)}, opset=19)
    model.graph.initializer.append(zero)
    (q,) = ops_of(import_onnx(model), quant.QuantizeOp)
    assert q.saturate.value.data == saturate and str(q.result.type) == "tensor<4xf8E5M2>"
    x = np.array([1.0, 1e6, -1e6, 0.1], np.float32)
    ours = run(import_onnx(model), {"x": x})["y"]
    (theirs,) = ReferenceEvaluator(model).run(None, {"x": x})
    np.testing.assert_array_equal(ours.view(np.uint8), theirs.view(np.uint8))


def test_precision_casts_x_and_the_scale_before_the_division():
    node = helper.make_node("QuantizeLinear", ["x", "s"], ["y"], precision=TensorProto.FLOAT16, output_dtype=I8)
    model = make_model([node], {"x": ([2], F), "s": ([], F)}, ["y"], opset=23)
    module = import_onnx(model)
    (q,) = ops_of(module, quant.QuantizeOp)
    assert len(ops_of(module, CastOp)) == 2 and str(q.scale.type) == "tensor<f16>"
    x, s = np.array([4.0, 5.0], np.float32), np.float32(1.6)
    np.testing.assert_array_equal(run(module, {"x": x, "s": s})["y"], ReferenceEvaluator(model).run(None, {"x": x, "s": s})[0])


def test_dequantize_output_dtype():
    node = helper.make_node("DequantizeLinear", ["q", "s"], ["y"], output_dtype=TensorProto.FLOAT16)
    model = make_model([node], {"q": ([3], I8)}, ["y"], {"s": np.float32(0.25)}, opset=23)
    (dq,) = ops_of(import_onnx(model), quant.DequantizeOp)
    assert str(dq.result.type) == "tensor<3xf16>"


def test_blocked_quantization():
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], axis=0, block_size=3),
             helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=0, block_size=3)]
    s, z = RNG.uniform(0.1, 1, (3, 4)).astype(np.float32), RNG.integers(0, 5, (3, 4)).astype(np.uint8)
    model = make_model(nodes, {"x": ([7, 4], F)}, ["q", "y"], {"s": s, "z": z}, opset=21)
    module = import_onnx(model)
    (q,) = ops_of(module, quant.QuantizeOp)
    assert q.block_size.value.data == 3 and q.axis.value.data == 0
    x = RNG.standard_normal((7, 4)).astype(np.float32)
    ours, theirs = run(module, {"x": x}), ReferenceEvaluator(model).run(None, {"x": x})
    np.testing.assert_array_equal(ours["q"], theirs[0])
    np.testing.assert_array_equal(ours["y"], theirs[1])


def test_dynamic_quantize_linear_matches_onnxruntime():
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zero"])
    model = make_model([node], {"x": ([3, 5], F)}, ["y", "scale", "zero"])
    for x in (RNG.standard_normal((3, 5)), np.abs(RNG.standard_normal((3, 5))), -np.abs(RNG.standard_normal((3, 5)))):
        module = compare_with_onnxruntime(model, {"x": x.astype(np.float32)}, {"y": 1})
    assert len(ops_of(module, quant.QuantizeOp)) == 1


def test_dynamic_quantize_linear_of_zeros_follows_onnx_reference():
    """max == min (x all zeros) divides by zero in the spec's formula: onnx's reference
    takes the scale 1/255, onnxruntime 1.0; optc follows onnx's reference (y and the zero
    point are 0 either way)."""
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "scale", "zero"])
    model = make_model([node], {"x": ([4], F)}, ["y", "scale", "zero"])
    x = np.zeros(4, np.float32)
    ours = run(import_onnx(model), {"x": x})
    for name, want in zip(("y", "scale", "zero"), ReferenceEvaluator(model).run(None, {"x": x})):
        np.testing.assert_array_equal(ours[name], want)
    assert ours["scale"] == np.float32(1 / 255)


def test_matmul_integer_and_conv_integer_match_onnxruntime():
    nodes = [helper.make_node("MatMulInteger", ["a", "b", "za", "zb"], ["y"])]
    model = make_model(nodes, {"a": ([2, 3, 4], U8), "b": ([4, 5], I8)}, ["y"],
                       {"za": np.uint8(12), "zb": RNG.integers(-3, 3, 5).astype(np.int8)})
    inputs = {"a": RNG.integers(0, 256, (2, 3, 4)).astype(np.uint8), "b": RNG.integers(-128, 128, (4, 5)).astype(np.int8)}
    module = compare_with_onnxruntime(model, inputs, {})
    (m,) = ops_of(module, quant.MatmulOp)
    assert str(m.result.type) == "tensor<2x3x5xi32>"
    nodes = [helper.make_node("ConvInteger", ["x", "w", "zx", "zw"], ["y"], pads=[1, 0, 1, 0], strides=[1, 2])]
    model = make_model(nodes, {"x": ([1, 2, 5, 6], U8), "w": ([3, 2, 3, 3], U8)}, ["y"], {"zx": np.uint8(128), "zw": np.uint8(3)})
    inputs = {"x": RNG.integers(0, 256, (1, 2, 5, 6)).astype(np.uint8), "w": RNG.integers(0, 256, (3, 2, 3, 3)).astype(np.uint8)}
    compare_with_onnxruntime(model, inputs, {})


def test_qlinear_matmul_is_a_contraction_then_requantize():
    nodes = [helper.make_node("QLinearMatMul", ["a", "sa", "za", "b", "sb", "zb", "sy", "zy"], ["y"])]
    inits = {"sa": np.float32(0.02), "za": np.uint8(120), "b": RNG.integers(-128, 128, (6, 4)).astype(np.int8),
             "sb": RNG.uniform(0.001, 0.01, 4).astype(np.float32), "zb": np.zeros(4, np.int8), "sy": np.float32(0.05),
             "zy": np.uint8(128)}
    model = make_model(nodes, {"a": ([3, 6], U8)}, ["y"], inits)
    module = compare_with_onnxruntime(model, {"a": RNG.integers(0, 256, (3, 6)).astype(np.uint8)}, {"y": 1})
    (requantize,) = ops_of(module, quant.RequantizeOp)
    assert isinstance(requantize.input.owner, quant.MatmulOp)
    assert isinstance(requantize.scale.owner, ConstantOp), "sa * sb / sy folds to one per-column multiplier"
    assert requantize.axis.value.data == 1 and str(requantize.result.type) == "tensor<3x4xui8>"


def test_qlinear_conv_adds_its_bias_in_int32_then_requantizes():
    w = RNG.integers(-128, 128, (4, 3, 3, 3)).astype(np.int8)
    nodes = [helper.make_node("QLinearConv", ["x", "sx", "zx", "w", "sw", "zw", "sy", "zy", "b"], ["y"], pads=[1, 1, 1, 1])]
    inits = {"sx": np.float32(0.03), "zx": np.uint8(100), "w": w, "sw": RNG.uniform(0.001, 0.01, 4).astype(np.float32),
             "zw": np.zeros(4, np.int8), "sy": np.float32(0.07), "zy": np.uint8(90), "b": RNG.integers(-500, 500, 4).astype(np.int32)}
    model = make_model(nodes, {"x": ([1, 3, 6, 6], U8)}, ["y"], inits)
    module = compare_with_onnxruntime(model, {"x": RNG.integers(0, 256, (1, 3, 6, 6)).astype(np.uint8)}, {"y": 1})
    (add,) = ops_of(module, AddOp)
    assert isinstance(add.lhs.owner, quant.ConvOp) and str(add.result.type) == "tensor<1x4x6x6xi32>"
    (requantize,) = ops_of(module, quant.RequantizeOp)
    assert requantize.input is add.result and requantize.axis.value.data == 1


# --- what is refused --------------------------------------------------------------------------


def _node_model(op_type: str, inputs: dict, initializers: dict | None = None, opset: int = 21, outputs=("y",), **attrs):
    node = helper.make_node(op_type, list(inputs) + list(initializers or {}), list(outputs), name="n", **attrs)
    return make_model([node], inputs, list(outputs), initializers, opset=opset)


REFUSED = {
    "int32 input": (
        _node_model("QuantizeLinear", {"x": ([4], I32)}, {"s": np.float32(1)}),
        r"QuantizeLinear node 'n': input x of type tensor<4xi32> is not supported \(QuantizeLinear's inputs may be: f32, f16, bf16\)",
    ),
    "output_dtype against the zero point": (
        _node_model("QuantizeLinear", {"x": ([4], F)}, {"s": np.float32(1), "z": np.int8(0)}, output_dtype=U8),
        r"QuantizeLinear node 'n': attribute 'output_dtype' \(ui8\) differs from the zero point's type \(i8\)",
    ),
    "axis out of range": (
        _node_model("QuantizeLinear", {"x": ([2, 3], F)}, {"s": np.ones(3, np.float32)}, axis=2),
        r"QuantizeLinear node 'n': attribute 'axis' 2 is out of range for an input of rank 2",
    ),
    "per-axis scale of the wrong length": (
        _node_model("DequantizeLinear", {"x": ([2, 3], I8)}, {"s": np.ones(2, np.float32)}),
        r"DequantizeLinear node 'n': 'quant.dequantize' op expects a per-axis scale of shape \[3\] \(axis 1 of tensor<2x3xi8>\), got tensor<2xf32>",
    ),
    "2-D scale without block_size": (
        _node_model("QuantizeLinear", {"x": ([2, 4], F)}, {"s": np.ones((2, 2), np.float32)}),
        r"QuantizeLinear node 'n': a scale of shape \[2, 2\] needs 'block_size' \(blocked quantization\); per axis it is 1-D",
    ),
    "zero point shape": (
        _node_model("QuantizeLinear", {"x": ([2, 3], F)}, {"s": np.ones(3, np.float32), "z": np.zeros((2,), np.int8)}),
        r"QuantizeLinear node 'n': the zero point's shape \[2\] differs from the scale's \[3\]",
    ),
    "saturate": (
        _node_model("QuantizeLinear", {"x": ([4], F)}, {"s": np.float32(1)}, saturate=2),
        r"QuantizeLinear node 'n': attribute 'saturate' must be 0 or 1, got 2",
    ),
    "integer scale": (
        _node_model("DequantizeLinear", {"x": ([4], I8)}, {"s": np.int32(1)}),
        r"DequantizeLinear node 'n': x_scale of type tensor<i32> is not supported \(scales are: f32, f16, bf16\)",
    ),
    "zero point type": (
        _node_model("DequantizeLinear", {"x": ([4], I8)}, {"s": np.float32(1), "z": np.uint8(0)}),
        r"DequantizeLinear node 'n': the zero point's type ui8 differs from x's i8",
    ),
    "float8 QLinearMatMul": (
        _node_model(
            "QLinearMatMul", {"a": ([2, 3], TensorProto.FLOAT8E4M3FN)},
            {"sa": np.float32(1), "za": np.zeros((), ml_dtypes.float8_e4m3fn), "b": np.zeros((3, 2), np.int8),
             "sb": np.float32(1), "zb": np.int8(0), "sy": np.float32(1), "zy": np.int8(0)},
        ),
        r"QLinearMatMul node 'n': input A of type tensor<2x3xf8E4M3FN> is not supported \(QLinearMatMul multiplies: i8, ui8\)",
    ),
    "a vector operand": (
        _node_model("MatMulInteger", {"a": ([3], U8), "b": ([3, 2], U8)}),
        r"MatMulInteger node 'n': input A of rank 1 is not supported: optc multiplies matrices \(rank 2 or more\)",
    ),
    "N-D zero point of A": (
        _node_model("MatMulInteger", {"a": ([2, 3, 4], U8), "b": ([4, 2], U8)}, {"za": np.zeros((2, 3, 1), np.uint8)}),
        r"MatMulInteger node 'n': a_zero_point of shape \[2, 3, 1\] is not supported: optc takes a scalar or 1-D \[3\] \(one per row of A\)",
    ),
    "per-channel input zero point of a conv": (
        _node_model("ConvInteger", {"x": ([1, 2, 4, 4], U8), "w": ([3, 2, 1, 1], U8)}, {"zx": np.zeros(2, np.uint8)}),
        r"ConvInteger node 'n': x_zero_point of shape \[2\] is not supported: optc takes a scalar \(per tensor\)",
    ),
    "bias of QLinearConv": (
        _node_model(
            "QLinearConv", {"x": ([1, 2, 4, 4], U8)},
            {"sx": np.float32(1), "zx": np.uint8(0), "w": np.zeros((3, 2, 1, 1), np.uint8), "sw": np.float32(1),
             "zw": np.uint8(0), "sy": np.float32(1), "zy": np.uint8(0), "b": np.zeros(3, np.float32)},
        ),
        r"QLinearConv node 'n': bias B of type tensor<3xf32> is not supported \(ONNX gives it as i32 of shape \[3\]\)",
    ),
    "per-channel output scale": (
        _node_model(
            "QLinearMatMul", {"a": ([2, 3], U8)},
            {"sa": np.float32(1), "za": np.uint8(0), "b": np.zeros((3, 2), np.uint8), "sb": np.float32(1),
             "zb": np.uint8(0), "sy": np.ones(2, np.float32), "zy": np.uint8(0)},
        ),
        r"QLinearMatMul node 'n': y_scale of shape \[2\] is not supported: optc takes a scalar \(per tensor\)",
    ),
}


@pytest.mark.parametrize("case", REFUSED)
def test_refused_with_the_node_and_the_cause(case):
    model, message = REFUSED[case]
    with pytest.raises(OptcError, match=f"^{message}"):
        import_onnx(model)


# --- whole models against onnxruntime ------------------------------------------------------


def qdq_conv_model() -> onnx.ModelProto:
    """Q -> DQ -> Conv (int8 weights per output channel, an int32 bias) -> Q -> DQ, the
    form QDQ exporters write."""
    w = RNG.integers(-127, 128, (8, 4, 3, 3)).astype(np.int8)
    w_scale = RNG.uniform(0.002, 0.01, 8).astype(np.float32)
    x_scale = np.float32(0.02)
    bias = RNG.integers(-2000, 2000, 8).astype(np.int32)
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "x_scale", "x_zero"], ["x_q"]),
        helper.make_node("DequantizeLinear", ["x_q", "x_scale", "x_zero"], ["x_dq"]),
        helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zero"], ["w_dq"], axis=0),
        helper.make_node("DequantizeLinear", ["b_q", "b_scale"], ["b_dq"], axis=0),
        helper.make_node("Conv", ["x_dq", "w_dq", "b_dq"], ["c"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("QuantizeLinear", ["c", "y_scale", "y_zero"], ["y_q"]),
        helper.make_node("DequantizeLinear", ["y_q", "y_scale", "y_zero"], ["y"]),
    ]
    inits = {
        "x_scale": x_scale, "x_zero": np.int8(-3), "w_q": w, "w_scale": w_scale, "w_zero": np.zeros(8, np.int8),
        "b_q": bias, "b_scale": x_scale * w_scale, "y_scale": np.float32(0.05), "y_zero": np.int8(5),
    }
    return make_model(nodes, {"x": ([2, 4, 9, 9], F)}, ["y"], inits, opset=13)


def test_qdq_conv_chain_matches_onnxruntime():
    model = qdq_conv_model()
    x = RNG.standard_normal((2, 4, 9, 9)).astype(np.float32)
    module = compare_with_onnxruntime(model, {"x": x}, {"y": 0.05})
    assert len(ops_of(module, quant.QuantizeOp)) == 2 and len(ops_of(module, quant.DequantizeOp)) == 4
    compiled = apply_pipeline(module, "quant")  # the quant level leaves no Q or DQ (tests/test_pass_fold_qdq.py)
    assert not ops_of(compiled, quant.QuantizeOp) and not ops_of(compiled, quant.DequantizeOp)
    assert_quantized_close(run(compiled, {"x": x})["y"], run(module, {"x": x})["y"], 0.05)


def _float_model() -> onnx.ModelProto:
    """A small fp32 CNN with a classifier: what quantize_static quantizes below."""
    rng = np.random.default_rng(1)
    inits = {
        "w1": (rng.standard_normal((8, 3, 3, 3)) * 0.3).astype(np.float32), "b1": (rng.standard_normal(8) * 0.1).astype(np.float32),
        "w2": (rng.standard_normal((8, 8, 3, 3)) * 0.2).astype(np.float32), "b2": (rng.standard_normal(8) * 0.1).astype(np.float32),
        "w3": (rng.standard_normal((10, 8 * 8 * 8)) * 0.05).astype(np.float32), "b3": np.zeros(10, np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["c2", "r1"], ["s"]),
        helper.make_node("MaxPool", ["s"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"]),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], transB=1),
    ]
    return make_model(nodes, {"x": ([1, 3, 16, 16], F)}, ["y"], inits, opset=17)


def test_model_quantized_by_onnxruntime_quantize_static_matches_onnxruntime(tmp_path):
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(2)

    class RandomImages(CalibrationDataReader):
        def __init__(self):
            self.samples = iter([{"x": rng.standard_normal((1, 3, 16, 16)).astype(np.float32)} for _ in range(8)])

        def get_next(self):
            return next(self.samples, None)

    source, quantized = os.path.join(tmp_path, "model.onnx"), os.path.join(tmp_path, "model.qdq.onnx")
    onnx.save(_float_model(), source)
    quantize_static(source, quantized, RandomImages(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8)
    model = onnx.load(quantized)
    module = import_onnx(quantized)
    per_channel = [op for op in ops_of(module, quant.DequantizeOp) if op.axis is not None]
    assert len(per_channel) >= 3, "the weights are quantized per output channel"
    y_scale = max(float(numpy_helper.to_array(i)) for i in model.graph.initializer if i.name.startswith("y") and i.name.endswith("scale"))
    for seed in range(3):
        x = np.random.default_rng(10 + seed).standard_normal((1, 3, 16, 16)).astype(np.float32)
        ours, theirs = run(module, {"x": x})["y"], run_onnxruntime(model, {"x": x})["y"]
        assert_quantized_close(ours, theirs, y_scale)
