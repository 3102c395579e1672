"""The quant level's expansions (passes/quant/expand.py): quantize, dequantize and requantize
written as graph ops give what the quant reference gives, bit for bit, on random data with
rounding ties, saturation and infinities in it: per tensor, per axis (the parameters as run-time
values, reshaped to broadcast), float8, f16."""

from __future__ import annotations

import numpy as np
import pytest
from xdsl.dialects.builtin import TensorType
from xdsl.rewriter import InsertPoint, Rewriter

from dialects import quant
from dialects.dtypes import numpy_dtype
from dialects.graph import ReshapeOp
from dialects.graph.base import int_of
from passes.quant.expand import broadcast_shape, dequantize_ops, quantize_ops, requantize_ops
from runtime.reference.interpreter import run
from tests.support import parse

RNG = np.random.default_rng(0)
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # infinities on purpose


def _view(value, axis, rank, before):
    """A per-axis parameter reshaped to broadcast along `axis`, inserted before `before`."""
    if axis is None or value is None:
        return value
    shape = broadcast_shape(rank, axis, value.type.get_shape()[0])
    view = ReshapeOp(operands=[value], result_types=[TensorType(value.type.element_type, shape)])
    Rewriter.insert_op(view, InsertPoint.before(before))
    return view.results[0]


def _expansion(op):
    rank = op.input.type.get_num_dims()
    axis = int_of(op.axis) if op.axis is not None else None
    scale = _view(op.scale, axis, rank, op)
    zero_axis = axis if op.zero_point is not None and op.zero_point.type.get_num_dims() else None
    zero = _view(op.zero_point, zero_axis, rank, op)
    element = op.result.type.element_type
    if isinstance(op, quant.QuantizeOp):
        return quantize_ops(op.input, scale, zero, element, int_of(op.saturate, 1) == 1)
    if isinstance(op, quant.DequantizeOp):
        return dequantize_ops(op.input, scale, zero, element)
    return requantize_ops(op.input, scale, zero, element)


def expanded(ir: str):
    """`ir` with its quant op replaced by the expansion, in place in the function body."""
    module = parse(ir)
    (op,) = [o for o in module.walk() if isinstance(o, (quant.QuantizeOp, quant.DequantizeOp, quant.RequantizeOp))]
    ops = _expansion(op)
    for o in ops:
        Rewriter.insert_op(o, InsertPoint.before(op))
    op.result.replace_all_uses_with(ops[-1].results[0])
    Rewriter.erase_op(op)
    module.verify()
    return module, ops


def assert_expansion_exact(ir: str, inputs: dict[str, np.ndarray]) -> list:
    want = run(parse(ir), inputs)
    module, ops = expanded(ir)
    got = run(module, inputs)
    for name in want:
        assert got[name].dtype == want[name].dtype
        np.testing.assert_array_equal(got[name].view(np.uint8), want[name].view(np.uint8), err_msg=name)
    return ops


def _floats(n: int, scale: float, dtype=np.float32) -> np.ndarray:
    """Random values around the quantized range, exact ties (k + 0.5) * scale, values far
    beyond the range, and infinities."""
    normal = RNG.standard_normal(n) * 60 * scale
    ties = (RNG.integers(-140, 140, n) + 0.5) * scale
    far = RNG.choice([-1.0, 1.0], n) * RNG.uniform(200, 1e6, n) * scale
    return np.concatenate([normal, ties, far, [np.inf, -np.inf, 0.0, -0.0]]).astype(dtype)


QUANTIZE = """
func.func @main(%x: tensor<{n}x{ft}>, %s: tensor<{st}>{zp_arg}) -> tensor<{n}x{qt}> {{
  %q = quant.quantize %x scale(%s : tensor<{st}>){zp_use}{props} : tensor<{n}x{ft}> -> tensor<{n}x{qt}>
  func.return %q : tensor<{n}x{qt}>
}}
"""


def _quantize_ir(n, ft, qt, st="f32", zero=False, props=""):
    zp_arg = f", %z: tensor<{qt}>" if zero else ""
    zp_use = f" zero_point(%z : tensor<{qt}>)" if zero else ""
    return QUANTIZE.format(n=n, ft=ft, qt=qt, st=st, zp_arg=zp_arg, zp_use=zp_use, props=props)


@pytest.mark.parametrize("scale", [0.125, 0.0375, 3.0])
@pytest.mark.parametrize("qt, zero", [("i8", None), ("i8", -3), ("ui8", 128), ("ui8", None), ("i16", 1000), ("ui16", 7)])
def test_quantize_per_tensor_to_integers(qt, zero, scale):
    x = _floats(200, scale)
    ir = _quantize_ir(x.size, "f32", qt, zero=zero is not None)
    inputs = {"input0": x, "input1": np.float32(scale)}
    if zero is not None:
        inputs["input2"] = np.asarray(zero, numpy_dtype(parse(ir).body.block.first_op.args[2].type.element_type))
    ops = assert_expansion_exact(ir, inputs)
    names = [o.name for o in ops if o.name != "graph.cast"]  # casts of the zero point and the result
    assert names == ["graph.div", "graph.round", *(["graph.add"] if zero is not None else []), "graph.clip"]


def test_quantize_f16_by_an_f16_scale_divides_in_f16():
    x = _floats(200, 0.25, np.float16)
    ir = _quantize_ir(x.size, "f16", "i8", st="f16")
    ops = assert_expansion_exact(ir, {"input0": x, "input1": np.float16(0.25)})
    assert str(ops[0].result.type) == f"tensor<{x.size}xf16>"
    x = _floats(200, 0.1, np.float16)
    assert_expansion_exact(_quantize_ir(x.size, "f16", "ui8", st="f32", zero=True),
                           {"input0": x, "input1": np.float32(0.1), "input2": np.uint8(100)})


@pytest.mark.parametrize("qt", ["f8E4M3FN", "f8E5M2"])
@pytest.mark.parametrize("saturate", [0, 1])
def test_quantize_to_float8(qt, saturate):
    x = _floats(100, 2.0)
    ir = _quantize_ir(x.size, "f32", qt, props=f" {{saturate = {saturate} : i64}}")
    ops = assert_expansion_exact(ir, {"input0": x, "input1": np.float32(2.0)})
    assert ops[-1].name == "graph.cast" and int_of(ops[-1].saturate) == saturate


PER_AXIS = """
func.func @main(%x: tensor<3x4x5xf32>, %s: tensor<4xf32>, %z: tensor<4x{qt}>) -> (tensor<3x4x5x{qt}>, tensor<3x4x5xf32>) {{
  %q = quant.quantize %x scale(%s : tensor<4xf32>) zero_point(%z : tensor<4x{qt}>) {{axis = 1 : i64}} : tensor<3x4x5xf32> -> tensor<3x4x5x{qt}>
  func.return %q, %x : tensor<3x4x5x{qt}>, tensor<3x4x5xf32>
}}
"""


@pytest.mark.parametrize("qt", ["i8", "ui8"])
def test_quantize_per_axis(qt):
    s = np.array([0.25, 0.02, 1.5, 0.125], np.float32)
    ties = (RNG.integers(-150, 150, (3, 4, 5)) + 0.5) * s.reshape(1, 4, 1)
    x = np.where(RNG.random((3, 4, 5)) < 0.5, ties, RNG.standard_normal((3, 4, 5)) * 50 * s.reshape(1, 4, 1)).astype(np.float32)
    z = RNG.integers(0, 20, 4).astype(numpy_dtype(parse(PER_AXIS.format(qt=qt)).body.block.first_op.args[2].type.element_type))
    assert_expansion_exact(PER_AXIS.format(qt=qt), {"input0": x, "input1": s, "input2": z})


DEQUANTIZE = """
func.func @main(%q: tensor<{shape}x{qt}>, %s: tensor<{sshape}f32>{zp_arg}) -> tensor<{shape}x{ft}> {{
  %x = quant.dequantize %q scale(%s : tensor<{sshape}f32>){zp_use}{props} : tensor<{shape}x{qt}> -> tensor<{shape}x{ft}>
  func.return %x : tensor<{shape}x{ft}>
}}
"""


def _stored(qt: str, shape) -> np.ndarray:
    dtype = {"i8": np.int8, "ui8": np.uint8, "i32": np.int32}[qt]
    if qt == "i32":
        return RNG.integers(-(2**31), 2**31 - 1, shape, dtype=np.int64).astype(np.int32)
    return RNG.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, shape).astype(dtype)


@pytest.mark.parametrize("ft", ["f32", "f16"])
@pytest.mark.parametrize("qt, zero", [("i8", None), ("i8", 5), ("ui8", 128), ("i32", None), ("i32", -7)])
def test_dequantize_per_tensor(qt, zero, ft):
    zp_arg = f", %z: tensor<{qt}>" if zero is not None else ""
    zp_use = f" zero_point(%z : tensor<{qt}>)" if zero is not None else ""
    ir = DEQUANTIZE.format(shape="64", qt=qt, sshape="", ft=ft, zp_arg=zp_arg, zp_use=zp_use, props="")
    inputs = {"input0": _stored(qt, (64,)), "input1": np.float32(0.0173)}
    if zero is not None:
        inputs["input2"] = np.asarray(zero).astype(inputs["input0"].dtype)
    assert_expansion_exact(ir, inputs)


def test_dequantize_per_axis_with_zero_points():
    ir = DEQUANTIZE.format(shape="2x3x4", qt="ui8", sshape="4x", ft="f32", zp_arg=", %z: tensor<4xui8>",
                           zp_use=" zero_point(%z : tensor<4xui8>)", props=" {axis = 2 : i64}")
    inputs = {"input0": _stored("ui8", (2, 3, 4)), "input1": RNG.uniform(0.001, 1, 4).astype(np.float32),
              "input2": RNG.integers(0, 256, 4).astype(np.uint8)}
    assert_expansion_exact(ir, inputs)


def test_dequantize_float8():
    ir = DEQUANTIZE.format(shape="64", qt="f8E4M3FN", sshape="", ft="f32", zp_arg="", zp_use="", props="")
    stored = RNG.integers(0, 256, 64).astype(np.uint8)
    stored[(stored & 0x7F) == 0x7F] = 0  # NaN encodings
    import ml_dtypes

    assert_expansion_exact(ir, {"input0": stored.view(ml_dtypes.float8_e4m3fn), "input1": np.float32(0.5)})


REQUANTIZE = """
func.func @main(%acc: tensor<6x4xi32>, %s: tensor<4xf32>{zp_arg}) -> tensor<6x4x{t}> {{
  %y = quant.requantize %acc scale(%s : tensor<4xf32>){zp_use} {{axis = 1 : i64}} : tensor<6x4xi32> -> tensor<6x4x{t}>
  func.return %y : tensor<6x4x{t}>
}}
"""


@pytest.mark.parametrize("t, zero", [("i8", None), ("ui8", 128), ("f32", None)])
def test_requantize_in_double(t, zero):
    zp_arg = f", %z: tensor<{t}>" if zero is not None else ""
    zp_use = f" zero_point(%z : tensor<{t}>)" if zero is not None else ""
    s = np.array([2.0**-10, 0.003, 1 / 3, 2.0**-4], np.float32)
    acc = RNG.integers(-50000, 50000, (6, 4)).astype(np.int32)
    acc[0] = [512 + 512, 1, 3, 8]  # 1024 * 2^-10 exact; 8 * 2^-4 = 0.5, a tie that rounds to even
    inputs = {"input0": acc, "input1": s}
    if zero is not None:
        inputs["input2"] = np.uint8(zero)
    assert_expansion_exact(REQUANTIZE.format(t=t, zp_arg=zp_arg, zp_use=zp_use), inputs)
