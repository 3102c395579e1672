"""Reference semantics of the quant ops on hand-computed cases: rounding half to even,
saturation at both ends, zero points, per-axis and blocked scales, float8 with and without
`saturate`, exact int32 accumulation with zero points; and QuantizeLinear/DequantizeLinear
against onnx's reference evaluator on random data, every quantized type."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from runtime.reference import run
from tests.support import make_model, parse


def run_op(op: str, types: list[str], result: str, *arrays: np.ndarray) -> np.ndarray:
    """Run one quant op, `%y = <op> : ...` written with `%a0`, `%a1`, ... for the arrays."""
    args = ", ".join(f"%a{i}: {t}" for i, t in enumerate(types))
    ir = f"func.func @main({args}) -> {result} {{\n  %y = {op}\n  func.return %y : {result}\n}}"
    return run(parse(ir), {f"input{i}": a for i, a in enumerate(arrays)})["output0"]


def quantize(x, scale, zero_point=None, to="i8", props="", shape=None) -> np.ndarray:
    shape = shape or "x".join(map(str, np.shape(x)))
    x_t, s_t = f"tensor<{shape}xf32>", _type(scale, "f32")
    zp = f" zero_point(%a2 : {_type(zero_point, to)})" if zero_point is not None else ""
    op = f"quant.quantize %a0 scale(%a1 : {s_t}){zp} {props} : {x_t} -> tensor<{shape}x{to}>"
    arrays = [np.asarray(x, np.float32), np.asarray(scale, np.float32)] + ([zero_point] if zero_point is not None else [])
    return run_op(op, [x_t, s_t] + ([_type(zero_point, to)] if zero_point is not None else []), f"tensor<{shape}x{to}>", *arrays)


def _type(array, element: str) -> str:
    shape = np.shape(array)
    return f"tensor<{'x'.join(map(str, shape))}{'x' if shape else ''}{element}>"


INF = np.inf


# --- quantize ---------------------------------------------------------------------------


def test_quantize_rounds_half_to_even():
    x = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.5, 0.49999997]
    np.testing.assert_array_equal(quantize(x, np.float32(1)), [0, 2, 2, 0, -2, -2, 4, 0])


def test_quantize_rounds_the_quotient_half_to_even():
    np.testing.assert_array_equal(quantize([1.0, 3.0, 5.0, -1.0], np.float32(2)), [0, 2, 2, 0])


def test_quantize_adds_the_zero_point_after_rounding():
    got = quantize([0.5, 1.5, 2.5, -0.5], np.float32(1), np.uint8(128), to="ui8")
    np.testing.assert_array_equal(got, [128, 130, 130, 128])


def test_quantize_saturates_at_both_ends():
    x = [-1000, -129, -128.4, 127.4, 128, 1000, INF, -INF]
    np.testing.assert_array_equal(quantize(x, np.float32(1)), [-128, -128, -128, 127, 127, 127, 127, -128])
    got = quantize([-100, 300, 120], np.float32(1), np.uint8(10), to="ui8")
    np.testing.assert_array_equal(got, [0, 255, 130])
    np.testing.assert_array_equal(quantize([120.0], np.float32(1), np.int8(10)), [127])  # the sum saturates


def test_quantize_saturates_beyond_int32_and_nan_is_the_zero_point():
    """onnx's reference converts the rounded quotient to int32 before clamping, so 1e12
    wraps there; the spec saturates, and so does optc. NaN (undefined) counts as 0."""
    got = quantize([1e12, -1e12, np.nan], np.float32(1), np.int8(3))
    np.testing.assert_array_equal(got, [127, -128, 3])


def test_quantize_per_axis():
    x = np.array([[1, 2, 4], [-1, -2, -4]], np.float32)
    got = quantize(x, np.array([1, 2, 4], np.float32), np.array([0, 1, -1], np.int8), props="{axis = 1 : i64}")
    np.testing.assert_array_equal(got, [[1, 2, 0], [-1, 0, -2]])


def test_quantize_blocked_with_a_short_last_block():
    x = np.array([[1, 2, 3, 4, 5]], np.float32)
    scale = np.array([[1, 2, 4]], np.float32)  # blocks of 2 along axis 1: [1, 2], [3, 4], [5]
    got = quantize(x, scale, props="{axis = 1 : i64, block_size = 2 : i64}")
    np.testing.assert_array_equal(got, [[1, 2, 2, 2, 1]])


@pytest.mark.parametrize(
    "to, want",
    [("i4", [-8, 7, 2, -2]), ("ui4", [0, 15, 2, 0]), ("i2", [-2, 1, 1, -2]), ("ui2", [0, 3, 2, 0])],
)
def test_quantize_to_small_integers_saturates_to_their_range(to, want):
    got = quantize([-9.0, 20.0, 2.5, -2.5], np.float32(1), to=to)
    np.testing.assert_array_equal(got.astype(np.int8), want)


def test_quantize_to_float8_saturates_or_overflows():
    x = [500.0, -500.0, 1.0625, 1.1875, 0.3]
    sat = quantize(x, np.float32(1), to="f8E4M3FN", props="{saturate = 1 : i64}")
    np.testing.assert_array_equal(sat.astype(np.float32), [448, -448, 1.0, 1.25, 0.3125])  # ties to even on the grid
    wrap = quantize(x, np.float32(1), to="f8E4M3FN", props="{saturate = 0 : i64}")
    assert np.isnan(wrap.astype(np.float32)[:2]).all()  # E4M3FN has no infinity
    e5m2 = quantize([1e5, -1e5], np.float32(1), to="f8E5M2", props="{saturate = 0 : i64}")
    np.testing.assert_array_equal(e5m2.astype(np.float32), [INF, -INF])
    e5m2 = quantize([1e5, -1e5], np.float32(1), to="f8E5M2", props="{saturate = 1 : i64}")
    np.testing.assert_array_equal(e5m2.astype(np.float32), [57344, -57344])


def test_quantize_to_float4_clamps():
    got = quantize([7.0, -100.0, 2.5, 0.25], np.float32(1), to="f4E2M1FN")
    np.testing.assert_array_equal(got.astype(np.float32), [6, -6, 2, 0])


def test_float8_zero_point_must_be_zero():
    one = np.array(1, ml_dtypes.float8_e4m3fn)
    with pytest.raises(OptcError, match=r"'quant.quantize': the zero point of a float8_e4m3fn quantization must be 0"):
        quantize([1.0], np.float32(1), one, to="f8E4M3FN", props="{saturate = 1 : i64}")
    zero = np.array(0, ml_dtypes.float8_e4m3fn)
    got = quantize([-0.0, 1.0], np.float32(1), zero, to="f8E4M3FN", props="{saturate = 1 : i64}")
    assert np.signbit(got.astype(np.float32)[0]), "-0 stays -0: the zero point is not added"


def test_quantize_divides_in_f16_when_both_are_f16():
    """4 / 1.599609375 (the f16 nearest 1.6) is 2.50061 in f32, which rounds to 3; the
    quotient in f16 is 2.5, which rounds to 2 (ties to even): f16 by f16 divides in f16."""
    op = "quant.quantize %a0 scale(%a1 : tensor<f16>) : tensor<2xf16> -> tensor<2xi8>"
    got = run_op(op, ["tensor<2xf16>", "tensor<f16>"], "tensor<2xi8>", np.array([4.0, 5.0], np.float16), np.float16(1.6))
    np.testing.assert_array_equal(got, [2, 3])
    np.testing.assert_array_equal(quantize([4.0, 5.0], np.float32(np.float16(1.6))), [3, 3])


# --- dequantize ----------------------------------------------------------------------------


def test_dequantize_per_axis_with_zero_points():
    op = "quant.dequantize %a0 scale(%a1 : tensor<2xf32>) zero_point(%a2 : tensor<2xui8>) {axis = 0 : i64} : tensor<2x3xui8> -> tensor<2x3xf32>"
    q = np.array([[0, 128, 255], [10, 20, 30]], np.uint8)
    got = run_op(op, ["tensor<2x3xui8>", "tensor<2xf32>", "tensor<2xui8>"], "tensor<2x3xf32>", q,
                 np.array([0.5, 2], np.float32), np.array([128, 20], np.uint8))
    np.testing.assert_array_equal(got, [[-64, 0, 63.5], [-20, 0, 20]])


def test_dequantize_int32_bias_and_float8_and_rounding_to_f16():
    op = "quant.dequantize %a0 scale(%a1 : tensor<f32>) : tensor<3xi32> -> tensor<3xf16>"
    got = run_op(op, ["tensor<3xi32>", "tensor<f32>"], "tensor<3xf16>", np.array([1, -3, 2049], np.int32), np.float32(1))
    assert got.dtype == np.float16
    np.testing.assert_array_equal(got, [1, -3, 2048])  # 2049 is not an f16: ties to even
    op = "quant.dequantize %a0 scale(%a1 : tensor<f32>) : tensor<2xf8E5M2> -> tensor<2xf32>"
    e5m2 = np.array([1.5, -448], ml_dtypes.float8_e5m2)
    np.testing.assert_array_equal(run_op(op, ["tensor<2xf8E5M2>", "tensor<f32>"], "tensor<2xf32>", e5m2, np.float32(0.5)), [0.75, -224])


def test_dequantize_blocked_small_integers():
    op = ("quant.dequantize %a0 scale(%a1 : tensor<2x1xf32>) zero_point(%a2 : tensor<2x1xi4>) "
          "{axis = 1 : i64, block_size = 3 : i64} : tensor<2x3xi4> -> tensor<2x3xf32>")
    q = np.array([[-8, 0, 7], [1, 2, 3]], ml_dtypes.int4)
    got = run_op(op, ["tensor<2x3xi4>", "tensor<2x1xf32>", "tensor<2x1xi4>"], "tensor<2x3xf32>", q,
                 np.array([[1], [0.5]], np.float32), np.array([[-1], [1]], ml_dtypes.int4))
    np.testing.assert_array_equal(got, [[-7, 1, 8], [0, 0.5, 1]])


# --- requantize ----------------------------------------------------------------------------


def requantize(acc, scale, zero_point=None, to="i8", props="") -> np.ndarray:
    acc = np.asarray(acc, np.int32)
    a_t, s_t = _type(acc, "i32"), _type(scale, "f32")
    zp = f" zero_point(%a2 : {_type(zero_point, to)})" if zero_point is not None else ""
    result = _type(acc, to)
    op = f"quant.requantize %a0 scale(%a1 : {s_t}){zp} {props} : {a_t} -> {result}"
    arrays = [acc, np.asarray(scale, np.float32)] + ([zero_point] if zero_point is not None else [])
    return run_op(op, [a_t, s_t] + ([_type(zero_point, to)] if zero_point is not None else []), result, *arrays)


def test_requantize_rounds_half_to_even_adds_the_zero_point_and_saturates():
    np.testing.assert_array_equal(requantize([2, 6, 10, -2, -6], np.float32(0.25)), [0, 2, 2, 0, -2])
    got = requantize([2, 6, 4000, -4000], np.float32(0.25), np.uint8(100), to="ui8")
    np.testing.assert_array_equal(got, [100, 102, 255, 0])


def test_requantize_per_channel_with_one_zero_point():
    acc = np.array([[10, 10, 10], [-10, -10, -10]], np.int32)
    got = requantize(acc, np.array([0.1, 0.25, 1], np.float32), np.int8(-3), props="{axis = 1 : i64}")
    np.testing.assert_array_equal(got, [[-2, -1, 7], [-4, -5, -13]])  # 2.5 -> 2


def test_requantize_to_float():
    got = requantize([3, -7], np.float32(0.5), to="f32")
    np.testing.assert_array_equal(got, [1.5, -3.5])


# --- contractions ------------------------------------------------------------------------


def test_matmul_subtracts_zero_points_per_tensor_and_per_column():
    op = ("quant.matmul %a0, %a1 lhs_zero_point(%a2 : tensor<ui8>) rhs_zero_point(%a3 : tensor<2xi8>) "
          ": (tensor<2x2xui8>, tensor<2x2xi8>) -> tensor<2x2xi32>")
    a, b = np.array([[1, 2], [3, 4]], np.uint8), np.array([[5, 6], [7, 8]], np.int8)
    got = run_op(op, ["tensor<2x2xui8>", "tensor<2x2xi8>", "tensor<ui8>", "tensor<2xi8>"], "tensor<2x2xi32>",
                 a, b, np.uint8(1), np.array([1, 2], np.int8))
    np.testing.assert_array_equal(got, [[6, 6], [26, 26]])  # [[0, 1], [2, 3]] @ [[4, 4], [6, 6]]
    assert got.dtype == np.int32


def test_matmul_per_row_zero_point_of_lhs():
    op = "quant.matmul %a0, %a1 lhs_zero_point(%a2 : tensor<2xi8>) : (tensor<2x2xi8>, tensor<2x1xi8>) -> tensor<2x1xi32>"
    a, b = np.array([[1, 2], [3, 4]], np.int8), np.array([[1], [1]], np.int8)
    got = run_op(op, ["tensor<2x2xi8>", "tensor<2x1xi8>", "tensor<2xi8>"], "tensor<2x1xi32>", a, b, np.array([1, 3], np.int8))
    np.testing.assert_array_equal(got, [[1], [1]])


def test_matmul_accumulates_exactly_and_wraps_like_int32():
    """255 * -128 summed 65800 times is -2,147,712,000, below int32's range: exact in the
    sum, then wrapped as an int32 accumulator would (onnx's reference wraps too)."""
    k = 65800
    op = f"quant.matmul %a0, %a1 : (tensor<1x{k}xui8>, tensor<{k}x1xi8>) -> tensor<1x1xi32>"
    a, b = np.full((1, k), 255, np.uint8), np.full((k, 1), -128, np.int8)
    got = run_op(op, [f"tensor<1x{k}xui8>", f"tensor<{k}x1xi8>"], "tensor<1x1xi32>", a, b)
    assert int(got[0, 0]) == -2_147_712_000 + 2**32
    small = run_op(op.replace(str(k), "1000"), ["tensor<1x1000xui8>", "tensor<1000x1xi8>"], "tensor<1x1xi32>",
                   a[:, :1000], b[:1000])
    assert int(small[0, 0]) == -32_640_000


def test_conv_pads_with_the_input_zero_point_and_subtracts_weight_zero_points_per_channel():
    op = ("quant.conv %a0, %a1 input_zero_point(%a2 : tensor<ui8>) weight_zero_point(%a3 : tensor<2xi8>) "
          "{strides = array<i64: 1, 1>, pads = array<i64: 1, 1, 1, 1>, dilations = array<i64: 1, 1>, group = 1 : i64} "
          ": (tensor<1x1x2x2xui8>, tensor<2x1x2x2xi8>) -> tensor<1x2x3x3xi32>")
    x = np.array([[[[1, 2], [3, 4]]]], np.uint8)
    w = np.stack([np.full((1, 2, 2), 1, np.int8), np.full((1, 2, 2), 3, np.int8)])
    got = run_op(op, ["tensor<1x1x2x2xui8>", "tensor<2x1x2x2xi8>", "tensor<ui8>", "tensor<2xi8>"], "tensor<1x2x3x3xi32>",
                 x, w, np.uint8(1), np.array([0, 1], np.int8))
    windows = [[0, 1, 1], [2, 6, 4], [2, 5, 3]]  # 2x2 window sums of x - 1, padded with 0
    np.testing.assert_array_equal(got[0], [windows, np.multiply(windows, 2)])


# --- against onnx's reference evaluator -----------------------------------------------------

QUANTIZED = {
    "INT8": np.int8, "UINT8": np.uint8, "INT16": np.int16, "UINT16": np.uint16, "INT4": ml_dtypes.int4,
    "UINT4": ml_dtypes.uint4, "INT2": ml_dtypes.int2, "UINT2": ml_dtypes.uint2,
    "FLOAT8E4M3FN": ml_dtypes.float8_e4m3fn, "FLOAT8E5M2": ml_dtypes.float8_e5m2,
    "FLOAT8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz, "FLOAT8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
}


def _qdq_model(name: str, granularity: str):
    """x -> QuantizeLinear -> y, and y -> DequantizeLinear -> z, with constant scales and zero points."""
    rng = np.random.default_rng(0)
    shape, kwargs = (4, 6), {}
    if granularity == "tensor":
        scale = np.float32(0.37)
    elif granularity == "axis":
        scale, kwargs = rng.uniform(0.05, 1, 6).astype(np.float32), {"axis": -1}
    else:
        scale, kwargs = rng.uniform(0.05, 1, (4, 2)).astype(np.float32), {"axis": 1, "block_size": 4}
    dtype = QUANTIZED[name]
    zero = np.zeros(np.shape(scale), dtype) if name.startswith("FLOAT") else rng.integers(0, 2, np.shape(scale)).astype(dtype)
    nodes = [helper.make_node("QuantizeLinear", ["x", "scale", "zero"], ["y"], **kwargs),
             helper.make_node("DequantizeLinear", ["y", "scale", "zero"], ["z"], **kwargs)]
    return make_model(nodes, {"x": (shape, TensorProto.FLOAT)}, ["y", "z"], {"scale": scale, "zero": zero}, opset=25)


@pytest.mark.parametrize("granularity", ["tensor", "axis", "blocked"])
@pytest.mark.parametrize("name", QUANTIZED)
def test_quantize_and_dequantize_match_onnx_reference(name, granularity):
    model = _qdq_model(name, granularity)
    x = (np.random.default_rng(1).standard_normal((4, 6)) * 3).astype(np.float32)
    x[0, :3] = [0.5 * 0.37, 1.5 * 0.37, -2.5 * 0.37]  # ties, per tensor
    ours = run(import_onnx(model), {"x": x})
    y, z = ReferenceEvaluator(model).run(None, {"x": x})
    assert ours["y"].dtype == y.dtype
    np.testing.assert_array_equal(ours["y"].view(np.uint8) if y.itemsize == 1 else ours["y"], y.view(np.uint8) if y.itemsize == 1 else y)
    np.testing.assert_array_equal(ours["z"], z)
