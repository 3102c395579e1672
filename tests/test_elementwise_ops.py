"""Elementwise ops: every ONNX op, its attribute variants, element types and opset forms,
imported and run by the reference interpreter against onnxruntime; then bf16 (which
onnxruntime's CPU kernels mostly lack) against numpy, the IR shapes the importer chooses,
and the importer's errors."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from compiler.onnx_import import import_onnx
from dialects.dtypes import round_to_bf16
from dialects.errors import OptcError
from dialects.graph import AddOp, ClipOp, DivOp, MaxOp
from runtime.reference import run
from tests.support import assert_matches_onnxruntime, make_model

F32, F16, F64, BF16 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.BFLOAT16
I8, I16, I32, I64 = TensorProto.INT8, TensorProto.INT16, TensorProto.INT32, TensorProto.INT64
U8, U16, U32, U64, BOOL = TensorProto.UINT8, TensorProto.UINT16, TensorProto.UINT32, TensorProto.UINT64, TensorProto.BOOL
NUMPY = {F32: np.float32, F16: np.float16, F64: np.float64, I8: np.int8, I16: np.int16, I32: np.int32, I64: np.int64,
         U8: np.uint8, U16: np.uint16, U32: np.uint32, U64: np.uint64, BOOL: np.bool_}  # fmt: skip
SHAPE = [3, 4]


def node_model(op, inputs, opset=17, consts=None, **attrs):
    """One node `op` reading the graph inputs `inputs` (name → (shape, type)), then the
    initializers `consts` (name → array; "" skips an optional input), writing `y`."""
    consts = consts or {}
    names = [*inputs, *consts]
    node = helper.make_node(op, names, ["y"], **attrs)
    return make_model([node], inputs, ["y"], {n: v for n, v in consts.items() if n}, opset)


def data(shape, elem, seed=0, nonzero=False, scale=3.0):
    """Values that exercise an op: floats spread over [-3, 3], integers in [-9, 9]
    ([0, 9] unsigned), never zero where a divisor needs that."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(NUMPY[elem])
    if dtype == np.bool_:
        return np.asarray(rng.random(shape) < 0.5)
    if np.issubdtype(dtype, np.integer):
        low = 0 if np.issubdtype(dtype, np.unsignedinteger) else -9
        values = np.asarray(rng.integers(low, 10, shape))
        return np.where(values == 0, 1, values).astype(dtype) if nonzero else values.astype(dtype)
    return np.asarray(rng.standard_normal(shape) * scale, dtype=dtype)


def check(model, feeds=None, **tolerance):
    """Compare with onnxruntime on `feeds` (input name → array), or on `data` per input."""
    if feeds is None:
        feeds = {i.name: data(_shape(i), i.type.tensor_type.elem_type, seed) for seed, i in enumerate(model.graph.input)}
    return assert_matches_onnxruntime(model, inputs=feeds, **tolerance)


def _shape(value_info):
    return [d.dim_value for d in value_info.type.tensor_type.shape.dim]


# --- unary --------------------------------------------------------------------------------

FLOAT_UNARY = ["Sigmoid", "Tanh", "Exp", "Log", "Sqrt", "Reciprocal", "Sin", "Cos", "Floor", "Ceil", "Round",
               "Relu", "Abs", "Neg", "Sign", "LeakyRelu", "IsNaN", "Erf", "HardSwish", "Softplus", "Elu", "Selu",
               "Celu", "ThresholdedRelu", "HardSigmoid", "IsInf"]  # fmt: skip
NO_F16 = {"Celu", "IsInf"}
"""onnxruntime has no float16 kernel for these (IsInf's float16 is opset 20+)."""
F64_UNARY = FLOAT_UNARY[: FLOAT_UNARY.index("IsNaN") + 1] + ["IsInf"]
"""The ops onnxruntime implements for double."""


@pytest.mark.parametrize("op", FLOAT_UNARY)
def test_unary_f32(op):
    check(node_model(op, {"x": (SHAPE, F32)}))


@pytest.mark.parametrize("op", [op for op in FLOAT_UNARY if op not in NO_F16])
def test_unary_f16(op):
    check(node_model(op, {"x": (SHAPE, F16)}), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("op", F64_UNARY)
def test_unary_f64(op):
    check(node_model(op, {"x": (SHAPE, F64)}))


@pytest.mark.parametrize("op,elem", [("Relu", I8), ("Relu", I32), ("Abs", I32), ("Abs", I64), ("Abs", U8),
                                     ("Neg", I8), ("Neg", I64), ("Sign", I32), ("Sign", U8)])  # fmt: skip
def test_unary_integer(op, elem):
    check(node_model(op, {"x": (SHAPE, elem)}))


def test_erf_over_its_whole_range():
    """Both halves of the reference erf (series below 2.5, continued fraction above) and
    the saturated tails."""
    x = np.concatenate([np.linspace(-7, 7, 281), [2.5, -2.5, 1e-30, -0.0, np.inf, -np.inf]]).astype(np.float32)
    check(node_model("Erf", {"x": (list(x.shape), F32)}), {"x": x}, rtol=1e-6, atol=1e-7)


def test_round_halves_to_even():
    x = np.asarray([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999997, 3.7], dtype=np.float32)
    check(node_model("Round", {"x": ([8], F32)}), {"x": x})


@pytest.mark.parametrize("op", ["IsNaN", "IsInf"])
def test_float_predicates_on_special_values(op):
    x = np.asarray([np.inf, -np.inf, np.nan, 1.0, -2.0, 0.0], dtype=np.float32)
    check(node_model(op, {"x": ([6], F32)}), {"x": x})


@pytest.mark.parametrize("negative,positive", [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_is_inf_detect_flags(negative, positive):
    x = np.asarray([np.inf, -np.inf, np.nan, 1.0], dtype=np.float32)
    model = node_model("IsInf", {"x": ([4], F32)}, detect_negative=negative, detect_positive=positive)
    check(model, {"x": x})


@pytest.mark.parametrize(
    "op,attrs",
    [
        ("LeakyRelu", {"alpha": 0.2}),
        ("Elu", {"alpha": 0.5}),
        ("Selu", {"alpha": 1.5, "gamma": 2.0}),
        ("Celu", {"alpha": 2.0}),
        ("ThresholdedRelu", {"alpha": 0.3}),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}),
    ],
)
def test_activation_attributes(op, attrs):
    check(node_model(op, {"x": (SHAPE, F32)}, **attrs))


@pytest.mark.parametrize("opset", [20, 22])
@pytest.mark.parametrize("approximate", [None, "none", "tanh"])
@pytest.mark.parametrize("elem", [F32, F16])
def test_gelu(approximate, opset, elem):
    attrs = {} if approximate is None else {"approximate": approximate}
    tolerance = {"rtol": 1e-3, "atol": 1e-3} if elem == F16 else {}
    check(node_model("Gelu", {"x": (SHAPE, elem)}, opset=opset, **attrs), **tolerance)


# --- binary ---------------------------------------------------------------------------------

ARITHMETIC = ["Add", "Sub", "Mul", "Div", "Min", "Max"]
COMPARISONS = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]
BROADCASTS = [([3, 4], [4]), ([2, 1, 4], [3, 1]), ([], [2, 3])]


def binary(op, a_shape, b_shape, a_elem, b_elem=None, opset=17, **attrs):
    inputs = {"a": (a_shape, a_elem), "b": (b_shape, a_elem if b_elem is None else b_elem)}
    return node_model(op, inputs, opset, **attrs)


def binary_feeds(model, nonzero_divisor=True, positive_base=False):
    (a_shape, a_elem), (b_shape, b_elem) = [(_shape(i), i.type.tensor_type.elem_type) for i in model.graph.input]
    a, b = data(a_shape, a_elem, 0), data(b_shape, b_elem, 1, nonzero=nonzero_divisor)
    return {"a": np.abs(a) if positive_base else a, "b": b}


@pytest.mark.parametrize("op", ARITHMETIC + COMPARISONS)
@pytest.mark.parametrize("elem", [F32, F16, F64, I8, I32, I64, U8])
def test_binary_element_types(op, elem):
    model = binary(op, [3, 4], [4], elem, opset=14)
    check(model, binary_feeds(model), rtol=1e-3 if elem == F16 else 1e-4)


@pytest.mark.parametrize("op", ARITHMETIC + COMPARISONS)
@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
def test_binary_broadcasting(op, shapes):
    check(binary(op, *shapes, F32))


@pytest.mark.parametrize("op", ["Add", "Div", "Equal", "Less"])
def test_binary_opset_11(op):
    check(binary(op, [3, 4], [4], F32, opset=11))


def test_integer_division_truncates_toward_zero():
    a = np.asarray([7, -7, 7, -7, 9, -1, 0, 5], dtype=np.int32)
    b = np.asarray([2, 2, -2, -2, 3, 4, 3, -6], dtype=np.int32)
    check(binary("Div", [8], [8], I32), {"a": a, "b": b})


def test_equal_on_booleans():
    check(binary("Equal", [2, 3], [3], BOOL, opset=11))


@pytest.mark.parametrize("op", ["And", "Or", "Xor"])
def test_logic(op):
    check(binary(op, [2, 3, 4], [3, 1], BOOL))


def test_not():
    check(node_model("Not", {"x": ([2, 3], BOOL)}))


@pytest.mark.parametrize(
    "elem,fmod",
    [(I32, 0), (I64, 0), (I8, 0), (U8, 0), (I32, 1), (I64, 1), (F32, 1), (F64, 1), (F16, 1)],
)
def test_mod(elem, fmod):
    """fmod 0 takes the divisor's sign, fmod 1 the dividend's (C's fmod)."""
    model = binary("Mod", [3, 4], [4], elem, fmod=fmod)
    check(model, binary_feeds(model))


@pytest.mark.parametrize("fmod", [0, 1])
def test_mod_float_special_values_follow_mod_28(fmod):
    """Mod-28 defines float Mod with fmod = 0 too (onnxruntime rejects it), with signed
    zeros and infinities spelled out; onnx's reference evaluator is the oracle here."""
    inf, nan = np.inf, np.nan
    a = np.asarray([5.5, -5.5, 5.5, -5.5, 0.0, -0.0, inf, 3.0, 3.0, -3.0, nan, 1.0], dtype=np.float32)
    b = np.asarray([2.0, 2.0, -2.0, -2.0, -3.0, 3.0, 2.0, 0.0, inf, inf, 1.0, -inf], dtype=np.float32)
    model = binary("Mod", [12], [12], F32, opset=28, fmod=fmod)
    with np.errstate(invalid="ignore"):
        expected = ReferenceEvaluator(model).run(None, {"a": a, "b": b})[0]
    ours = run(import_onnx(model), {"a": a, "b": b})["y"]
    np.testing.assert_array_equal(ours, expected)
    np.testing.assert_array_equal(np.signbit(ours), np.signbit(expected))


@pytest.mark.parametrize(
    "base,exponent,positive_base",
    [(F32, F32, True), (F32, I64, False), (F32, F64, True), (F64, I32, False), (I32, I32, False),
     (I64, I64, False), (I64, F32, True), (I32, F64, True), (F16, F16, True)],  # fmt: skip
)
def test_pow_element_types(base, exponent, positive_base):
    """The exponent's type may differ from the base's; the result has the base's.
    Integer bases with negative exponents truncate (2 ** -1 = 0), as onnxruntime does."""
    model = binary("Pow", [3, 4], [4], base, exponent, opset=15)
    check(model, binary_feeds(model, positive_base=positive_base), rtol=1e-3)


@pytest.mark.parametrize("slope_shape", [[4], [3, 1], [1], []])
def test_prelu_slope_broadcasts(slope_shape):
    check(binary("PRelu", [2, 3, 4], slope_shape, F32))


def test_prelu_integer_and_initializer_slope():
    check(binary("PRelu", [2, 3, 4], [4], I32, opset=16))
    slope = np.asarray([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    check(node_model("PRelu", {"x": ([2, 3, 4], F32)}, consts={"slope": slope}))


# --- variadic, where ------------------------------------------------------------------------

VARIADIC_SHAPES = [[3, 4], [4], [1, 1]]


@pytest.mark.parametrize("op", ["Sum", "Mean", "Min", "Max"])
@pytest.mark.parametrize("count", [1, 2, 3])
@pytest.mark.parametrize("opset", [11, 13])
def test_variadic(op, count, opset):
    inputs = {f"x{i}": (VARIADIC_SHAPES[i], F32) for i in range(count)}
    check(node_model(op, inputs, opset=opset))


@pytest.mark.parametrize("op", ["Min", "Max"])
def test_variadic_integers(op):
    check(node_model(op, {"a": ([3, 4], I32), "b": ([4], I32), "c": ([], I32)}, opset=13))


@pytest.mark.parametrize("elem", [F32, I32, I64])
@pytest.mark.parametrize("opset", [11, 16])
def test_where_broadcasts_all_three(elem, opset):
    inputs = {"c": ([3, 1], BOOL), "a": ([1, 4], elem), "b": ([2, 1, 1], elem)}
    check(node_model("Where", inputs, opset=opset))


# --- clip -----------------------------------------------------------------------------------


def f32(value):
    return np.asarray(value, dtype=np.float32)


@pytest.mark.parametrize("opset", [11, 12, 13])
@pytest.mark.parametrize(
    "consts",
    [{"lo": f32(-0.5), "hi": f32(0.7)}, {"lo": f32(-0.5)}, {"": None, "hi": f32(0.7)}, {}, {"lo": f32(1.0), "hi": f32(-1.0)}],
    ids=["both", "min", "max", "neither", "min-above-max"],
)
def test_clip_constant_bounds(opset, consts):
    check(node_model("Clip", {"x": (SHAPE, F32)}, opset=opset, consts=consts))


@pytest.mark.parametrize("opset", [11, 13])
def test_clip_run_time_bounds_stay_operands(opset):
    model = node_model("Clip", {"x": (SHAPE, F32), "lo": ([], F32), "hi": ([1], F32)}, opset=opset)
    module = check(model, {"x": data(SHAPE, F32), "lo": f32(-1.0), "hi": f32([0.5])})
    clip = next(op for op in module.walk() if isinstance(op, ClipOp))
    assert clip.min_value is not None and clip.max_value is not None and not clip.properties.keys() & {"min", "max"}


def test_clip_mixed_bounds_and_integers():
    node = helper.make_node("Clip", ["x", "lo", "hi"], ["y"])
    model = make_model([node], {"x": (SHAPE, I32), "hi": ([], I32)}, ["y"], {"lo": np.asarray(-2, np.int32)}, 13)
    module = check(model, {"x": data(SHAPE, I32), "hi": np.asarray(4, dtype=np.int32)})
    assert "max(%" in str(module) and "{min = -2 : i32}" in str(module)
    lo_hi = {"lo": np.asarray(-2, dtype=np.int64), "hi": np.asarray(3, dtype=np.int64)}
    module = check(node_model("Clip", {"x": (SHAPE, I64)}, opset=13, consts=lo_hi))
    assert "{min = -2 : i64, max = 3 : i64}" in str(module)


@pytest.mark.parametrize("elem", [F32, F16, F64])
@pytest.mark.parametrize("consts", [{}, {"lo": 0.0}, {"": None, "hi": 1.0}], ids=["neither", "min", "max"])
def test_clip_default_bounds_clamp_infinities(elem, consts):
    """ONNX's default bounds are the type's finite limits, so onnxruntime clamps ±inf to them."""
    consts = {n: None if v is None else np.asarray(v, NUMPY[elem]) for n, v in consts.items()}
    x = np.asarray([-np.inf, np.inf, np.nan, 1.5, -2.0], dtype=NUMPY[elem])
    check(node_model("Clip", {"x": ([5], elem)}, opset=13, consts=consts), {"x": x})


@pytest.mark.parametrize("elem", [I8, U8, I64, U64])
def test_clip_integer_default_bounds(elem):
    check(node_model("Clip", {"x": (SHAPE, elem)}, opset=13))


def test_clip_float16_bounds():
    bounds = {"lo": np.asarray(-0.5, np.float16), "hi": np.asarray(0.7, np.float16)}
    check(node_model("Clip", {"x": (SHAPE, F16)}, opset=13, consts=bounds))


def test_clip_bounds_as_attributes():
    """Clip before opset 11 gave min/max as attributes; optc reads them where present."""
    model = node_model("Clip", {"x": (SHAPE, F32)}, opset=11, min=-0.5, max=0.25)
    x = data(SHAPE, F32)
    np.testing.assert_array_equal(run(import_onnx(model), {"x": x})["y"], np.clip(x, -0.5, 0.25))


# --- casts ----------------------------------------------------------------------------------

CAST_TYPES = [F32, F64, F16, I8, I16, I32, I64, U8, U16, U32, U64, BOOL]
CAST_VALUES = np.asarray([0, 1.5, -1.5, 2.5, -2.7, 100.9, -100.9, 0.1, 65519.0, 1e-8, 3.0, -0.0])
"""Truncation, halves, f16's largest finite value's neighbourhood, denormals and -0."""


def cast_source(src, dst):
    """CAST_VALUES in `src`, kept inside both types' ranges (out-of-range is undefined)."""
    dtype, values = NUMPY[src], CAST_VALUES
    if dtype == np.bool_:
        return np.asarray([True, False] * 6)
    if np.issubdtype(dtype, np.unsignedinteger) or np.issubdtype(NUMPY[dst], np.unsignedinteger):
        values = np.abs(values)
    if np.issubdtype(dtype, np.integer):
        values = values.astype(np.int64).clip(-100, 100)
    return values.astype(dtype)


@pytest.mark.parametrize("dst", CAST_TYPES, ids=lambda t: TensorProto.DataType.Name(t))
@pytest.mark.parametrize("src", CAST_TYPES, ids=lambda t: TensorProto.DataType.Name(t))
def test_cast_every_pair(src, dst):
    check(node_model("Cast", {"x": ([12], src)}, opset=13, to=dst), {"x": cast_source(src, dst)})


@pytest.mark.parametrize("dst", [I8, U8, I16, U16, I32, U32, I64, U64], ids=lambda t: TensorProto.DataType.Name(t))
def test_cast_float_out_of_integer_range(dst):
    """Undefined in ONNX; onnxruntime does what the C conversion does on the machine (wrap
    through int32 for narrow types, INT_MIN for NaN and overflow), and so does numpy."""
    x = np.asarray([300.7, -300.7, 1e10, -1e10, np.nan, np.inf, -np.inf, 128.5, -129.5, 65536.5, 4e9, -1.5])
    check(node_model("Cast", {"x": ([12], F32)}, opset=13, to=dst), {"x": x.astype(np.float32)})


@pytest.mark.parametrize("opset", [19, 21])
@pytest.mark.parametrize("src,dst", [(F32, F16), (F32, I32), (F64, BOOL), (I64, F32)])
def test_cast_later_opsets(opset, src, dst):
    check(node_model("Cast", {"x": ([12], src)}, opset=opset, to=dst), {"x": cast_source(src, dst)})


def test_cast_to_f16_rounds_to_nearest_even_through_f32():
    """onnxruntime converts double to half through float, so a value just above a tie in
    double can round twice; the reference does the same."""
    x = np.asarray([1 + 2**-11 + 2**-40, 1 + 3 * 2**-11, 65520.0, 70000.0, 6e-8, 2049.0, 1 / 3, -(1 + 2**-11)])
    check(node_model("Cast", {"x": ([8], F64)}, to=F16), {"x": x})
    check(node_model("Cast", {"x": ([8], F32)}, to=F16), {"x": x.astype(np.float32)})


BF16_VALUES = np.asarray(
    [1.0, 1.00390625, 1.01171875, 1.0078125, -3.3, 1e38, 3.4e38, np.inf, np.nan, 1e-40, 65504.0, -0.0],
    dtype=np.float32,
)
"""Ties to even (1 + 2^-8 rounds down, 1 + 3 * 2^-8 up), overflow to inf, NaN, denormals."""


@pytest.mark.parametrize("src", [F32, F64, I64])
@pytest.mark.parametrize("back", [F32, I32, BOOL])
def test_cast_through_bf16(src, back):
    nodes = [helper.make_node("Cast", ["x"], ["b"], to=BF16), helper.make_node("Cast", ["b"], ["y"], to=back)]
    x = BF16_VALUES if src != I64 else np.asarray([1, 255, 257, 511, -513, 1000001, 3, 4, 5, 6, 7, 8])
    if back != F32:
        x = np.nan_to_num(x, posinf=0, neginf=0).clip(-1e6, 1e6)
    model = make_model(nodes, {"x": ([12], src)}, ["y"], opset=13)
    check(model, {"x": x.astype(NUMPY[src])})


@pytest.mark.parametrize("opset", [15, 19, 21])
@pytest.mark.parametrize("like", [I8, F16, BOOL])
def test_cast_like(opset, like):
    model = node_model("CastLike", {"x": ([12], F32), "like": ([1], like)}, opset=opset)
    check(model, {"x": CAST_VALUES.astype(np.float32), "like": data([1], like)})


# --- bf16 and folding: onnxruntime's CPU kernels lack bf16, so numpy is the oracle -----------


def test_bf16_arithmetic_rounds_every_result():
    """A bf16 initializer keeps its type through import, and each op's result is rounded."""
    weight = helper.make_tensor("w", BF16, [4], [1.0, 2.5, 3.01, -0.3])
    nodes = [
        helper.make_node("Cast", ["x"], ["xb"], to=BF16),
        helper.make_node("Mul", ["xb", "w"], ["p"]),
        helper.make_node("Add", ["p", "xb"], ["s"]),
        helper.make_node("Cast", ["s"], ["y"], to=F32),
    ]
    model = make_model(nodes, {"x": ([3, 4], F32)}, ["y"], opset=13)
    model.graph.initializer.append(weight)
    x = data([3, 4], F32)
    xb, w = round_to_bf16(x), round_to_bf16(np.asarray([1.0, 2.5, 3.01, -0.3], dtype=np.float32))
    expected = round_to_bf16(round_to_bf16(xb * w) + xb)
    np.testing.assert_array_equal(run(import_onnx(model), {"x": x})["y"], expected)


def test_folded_bf16_cast_becomes_a_typed_clip_bound():
    """Cast(constant) folds to a bf16 constant, which Clip then takes as a bf16 property."""
    nodes = [
        helper.make_node("Cast", ["lo32"], ["lo"], to=BF16),
        helper.make_node("Cast", ["x"], ["xb"], to=BF16),
        helper.make_node("Clip", ["xb", "lo"], ["c"]),
        helper.make_node("Cast", ["c"], ["y"], to=F32),
    ]
    module = import_onnx(make_model(nodes, {"x": (SHAPE, F32)}, ["y"], {"lo32": f32(-0.3)}, opset=13))
    assert "{min = -3.007810e-01 : bf16, max = 3.389530e+38 : bf16}" in str(module)
    x = data(SHAPE, F32)
    np.testing.assert_array_equal(run(module, {"x": x})["y"], np.maximum(round_to_bf16(x), round_to_bf16(f32(-0.3))))


def test_importer_shapes():
    """Sum of one input is that input; Mean is a chain of adds and one division; a
    constant input folds away."""
    one = import_onnx(node_model("Sum", {"a": (SHAPE, F32)}))
    assert not [op for op in one.walk() if isinstance(op, AddOp)]
    mean = import_onnx(node_model("Mean", {"a": (SHAPE, F32), "b": ([4], F32), "c": ([1], F32)}))
    ops = [type(op) for op in mean.walk()]
    assert ops.count(AddOp) == 2 and ops.count(DivOp) == 1
    node = helper.make_node("Max", ["b", "c", "a"], ["y"])
    consts = {"b": f32([1, 2, 3, 4]), "c": f32([4, 3, 2, 1])}
    folded = import_onnx(make_model([node], {"a": (SHAPE, F32)}, ["y"], consts))
    assert [type(op) for op in folded.walk()].count(MaxOp) == 1


# --- importer errors --------------------------------------------------------------------------

ERRORS = {
    "mod-fmod-2": (binary("Mod", [4], [4], I32, fmod=2), "expects fmod to be 0 or 1, got 2"),
    "gelu-approximate": (node_model("Gelu", {"x": ([4], F32)}, opset=20, approximate="erf"), "approximate to be one of none, tanh"),
    "clip-vector-bound": (node_model("Clip", {"x": ([4], F32)}, opset=13, consts={"lo": f32([0, 1])}), "min must be a single value"),
    "clip-run-time-vector": (node_model("Clip", {"x": ([4], F32), "lo": ([2], F32)}, opset=13), "run-time bounds to be one f32 value"),
    "clip-bool": (node_model("Clip", {"x": ([4], BOOL)}, opset=13), "numeric type"),
    "cast-string": (node_model("Cast", {"x": ([4], F32)}, to=TensorProto.STRING), "element type STRING is not supported"),
    "sum-no-inputs": (make_model([helper.make_node("Sum", [], ["y"])], {}, ["y"]), "expects at least one input"),
    "exp-integer": (node_model("Exp", {"x": ([4], I32)}), "expects operands of floating-point type"),
    "and-float": (binary("And", [4], [4], F32), r"expects operands of boolean \(i1\) type"),
    "where-float-condition": (node_model("Where", {"c": ([4], F32), "a": ([4], F32), "b": ([4], F32)}), "expects condition of boolean"),
    "where-mixed": (node_model("Where", {"c": ([4], BOOL), "a": ([4], F32), "b": ([4], I32)}), "one element type"),
    "add-mixed": (binary("Add", [4], [4], F32, I32), "one element type"),
    "add-broadcast": (binary("Add", [3], [4], F32), "cannot broadcast shapes 3 and 4"),
    "prelu-slope-larger": (binary("PRelu", [4], [3, 4], F32), "expects slope tensor<3x4xf32> to broadcast to the input"),
    "neg-unsigned": (node_model("Neg", {"x": ([4], U8)}), "signed numeric type"),
}  # fmt: skip


@pytest.mark.parametrize("model,message", ERRORS.values(), ids=ERRORS.keys())
def test_importer_errors(model, message):
    with pytest.raises(OptcError, match=message):
        import_onnx(model)
