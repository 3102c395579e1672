"""Storage-only element types (float8, E8M0, float4, int4/uint4, int2/uint2): Cast and
CastLike into and out of them, data movement on them, their constants and weights.

onnxruntime runs few of these casts, so the oracle is onnx's reference evaluator, bit
for bit, except where `runtime.reference.low_precision` documents a correction: there the
expected values come from ONNX's spec tables, written out below.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from compiler.backend import OptcReferenceBackend
from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.weights import WeightStore
from runtime.reference import run
from runtime.reference.low_precision import cast_to, round_to_grid
from tests.support import make_model

T = TensorProto
F8 = ["FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ"]
SMALL_INTS = ["INT4", "UINT4", "INT2", "UINT2"]
STORAGE = [*F8, "FLOAT8E8M0", "FLOAT4E2M1", *SMALL_INTS]
DTYPE = {
    "FLOAT8E4M3FN": ml_dtypes.float8_e4m3fn,
    "FLOAT8E4M3FNUZ": ml_dtypes.float8_e4m3fnuz,
    "FLOAT8E5M2": ml_dtypes.float8_e5m2,
    "FLOAT8E5M2FNUZ": ml_dtypes.float8_e5m2fnuz,
    "FLOAT8E8M0": ml_dtypes.float8_e8m0fnu,
    "FLOAT4E2M1": ml_dtypes.float4_e2m1fn,
    "INT4": ml_dtypes.int4,
    "UINT4": ml_dtypes.uint4,
    "INT2": ml_dtypes.int2,
    "UINT2": ml_dtypes.uint2,
}
NUMPY = {"FLOAT": np.float32, "FLOAT16": np.float16, "DOUBLE": np.float64, "INT32": np.int32, "INT8": np.int8,
         "UINT8": np.uint8, "INT64": np.int64, "BOOL": np.bool_}


def _optc(model, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
    outputs = run(import_onnx(model), inputs)
    return [outputs[o.name] for o in model.graph.output]


def _assert_same_bits(got: np.ndarray, want: np.ndarray) -> None:
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape, want.dtype, want.shape)
    if want.dtype.itemsize == 1:
        np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))
    else:
        np.testing.assert_array_equal(got, want)


def _cast_model(src: str, dst: str, shape, opset: int = 25, **attrs):
    node = helper.make_node("Cast", ["x"], ["y"], to=getattr(T, dst), **attrs)
    return make_model([node], {"x": (shape, getattr(T, src))}, ["y"], opset=opset)


def _check_cast(src: str, dst: str, x: np.ndarray, **attrs) -> np.ndarray:
    """Cast `x` in optc and in onnx's reference evaluator; same bits. Returns optc's."""
    model = _cast_model(src, dst, x.shape, **attrs)
    (got,) = _optc(model, {"x": x})
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    _assert_same_bits(got, want)
    return got


def _float_inputs(dtype) -> np.ndarray:
    """Specials, each type's midpoints and neighbours (ties to even), and random values."""
    specials = [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-7, -1e-7, 1e6, -1e6, 0.5, 1.0, 448, 464, 465, 240, 248, 57344,
                61440, 61441, 6.0, 5.0, 2.5, 0.25, 0.75]
    rng = np.random.default_rng(0)
    values = [np.array(specials), rng.standard_normal(200) * 10, np.exp(rng.uniform(-20, 12, 200))]
    for name in F8:
        grid = np.unique(np.arange(256, dtype=np.uint8).view(DTYPE[name]).astype(np.float64))
        grid = grid[np.isfinite(grid)]
        mids = (grid[1:] + grid[:-1]) / 2
        values += [mids, -mids]
    with np.errstate(over="ignore"):  # float16 holds 1e6 as inf
        x = np.concatenate(values).astype(dtype)
    return np.concatenate([x, np.nextafter(x, dtype(np.inf)), np.nextafter(x, dtype(-np.inf))])


# --- casts to float8 ---------------------------------------------------------------------


@pytest.mark.parametrize("saturate", [1, 0])
@pytest.mark.parametrize("src", ["FLOAT", "FLOAT16"])
@pytest.mark.parametrize("dst", F8)
def test_cast_to_float8_matches_reference(dst, src, saturate):
    _check_cast(src, dst, _float_inputs(NUMPY[src]), saturate=saturate)


def test_float8_saturation_follows_the_spec_table():
    """Cast's tables: saturating, inf and [x] > max become ±max; otherwise inf or NaN by
    type, -NaN keeps its sign where the type has signed NaNs, FNUZ has no -0."""
    x = np.array([np.inf, -np.inf, 1e6, -1e6, -0.0, -np.nan], np.float32)
    sat = {n: cast_to(x, DTYPE[n], saturate=True).astype(np.float32) for n in F8}
    for name in F8:
        big = float(ml_dtypes.finfo(DTYPE[name]).max)
        np.testing.assert_array_equal(sat[name][:4], [big, -big, big, -big])
    no_sat = {n: cast_to(x, DTYPE[n], saturate=False) for n in F8}
    assert no_sat["FLOAT8E4M3FN"].view(np.uint8).tolist() == [0x7F, 0xFF, 0x7F, 0xFF, 0x80, 0xFF]
    assert no_sat["FLOAT8E5M2"].astype(np.float32)[:4].tolist() == [np.inf, -np.inf, np.inf, -np.inf]
    assert no_sat["FLOAT8E5M2"].view(np.uint8)[4:].tolist() == [0x80, 0xFE]
    for name in ("FLOAT8E4M3FNUZ", "FLOAT8E5M2FNUZ"):
        assert no_sat[name].view(np.uint8).tolist() == [0x80, 0x80, 0x80, 0x80, 0x00, 0x80]


def test_float64_rounds_once():
    """optc rounds the exact value, never through float32 (as ml_dtypes did before 0.7).
    Just below the midpoint 1.5 * 2^-9 of E4M3FN's two smallest subnormals float32 rounds up
    to the midpoint, whose tie goes to 2^-8: the exact answer is 2^-9."""
    below_tie = np.nextafter(1.5 * 2.0**-9, 0)
    (got,) = _optc(_cast_model("DOUBLE", "FLOAT8E4M3FN", [2]), {"x": np.array([below_tie, -below_tie])})
    np.testing.assert_array_equal(got.astype(np.float64), [2.0**-9, -(2.0**-9)])


def test_round_to_grid_is_round_half_even_on_each_type():
    for name in F8:
        grid = np.unique(np.arange(256, dtype=np.uint8).view(DTYPE[name]).astype(np.float64))
        grid = grid[np.isfinite(grid)]
        np.testing.assert_array_equal(round_to_grid(grid, DTYPE[name]), grid)
    ties = np.array([0.25, 0.75, 1.25, 2.5, 3.5, 5.0, 7.0])
    np.testing.assert_array_equal(round_to_grid(ties, ml_dtypes.float4_e2m1fn), [0.0, 1.0, 1.0, 2.0, 4.0, 4.0, 8.0])


# --- float4 and E8M0 ---------------------------------------------------------------------


@pytest.mark.parametrize("src", ["FLOAT", "FLOAT16"])
def test_cast_to_float4_matches_reference_except_nan(src):
    """ONNX's float4 spec maps NaN to +6 (onnxruntime too); onnx's reference gives -0."""
    x = _float_inputs(NUMPY[src])
    model = _cast_model(src, "FLOAT4E2M1", x.shape)
    (got,) = _optc(model, {"x": x})
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    nan = np.isnan(x)
    _assert_same_bits(got[~nan], want[~nan])
    assert (got[nan].astype(np.float32) == 6.0).all()
    np.testing.assert_array_equal(got[np.isinf(x)].astype(np.float32), np.sign(x[np.isinf(x)]) * 6)


def _normal_float32() -> np.ndarray:
    rng = np.random.default_rng(1)
    x = np.exp2(rng.uniform(-125, 127, 300)).astype(np.float32)
    powers = np.exp2(np.arange(-126, 128, dtype=np.float32))
    return np.concatenate([x, powers, powers * np.float32(1.5), powers * np.float32(1.25), powers * np.float32(1.75)])


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [1, 0])
def test_cast_to_e8m0_matches_reference_on_normal_floats(round_mode, saturate):
    x = _normal_float32()
    x = x[np.isfinite(x) & (x >= 2.0**-126)]
    _check_cast("FLOAT", "FLOAT8E8M0", x, saturate=saturate, round_mode=round_mode)


def test_cast_to_e8m0_follows_the_spec_table():
    """Cast's E8M0 table, where onnx's reference differs (infinities, zero, tiny values).
    As in the float8 tables, x is rounded first and the power of two it rounds to is
    checked against the range: 2^-130 rounds up to itself, below 2^-127."""
    x = np.array([0.0, np.nan, np.inf, 2.0**128, 2.0**-130, 2.0**-127, 3 * 2.0**-128], np.float64)
    table = {
        (True, "up"): [2.0**-127, np.nan, 2.0**127, 2.0**127, 2.0**-127, 2.0**-127, 2.0**-126],
        (False, "nearest"): [np.nan, np.nan, np.nan, np.nan, np.nan, 2.0**-127, 2.0**-126],
        (False, "up"): [np.nan, np.nan, np.nan, np.nan, np.nan, 2.0**-127, 2.0**-126],
        (True, "down"): [2.0**-127, np.nan, 2.0**127, 2.0**127, 2.0**-127, 2.0**-127, 2.0**-127],
    }
    for (saturate, mode), want in table.items():
        got = cast_to(x, ml_dtypes.float8_e8m0fnu, saturate, mode).astype(np.float64)
        np.testing.assert_array_equal(got, want, err_msg=f"saturate={saturate} round_mode={mode}")


# --- small integers ----------------------------------------------------------------------


SMALL_INT_SPEC = {
    # onnx docs/technical/int4.md and int2.md: "Cast to a 4 bit type is done by rounding to the
    # nearest-integer (with ties to even) nearest-even integer and truncating" (clamping to the
    # range, as onnx's reference did: rint, then clip); NaN is undefined there, optc gives 0.
    "x":     [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.7, -2.7, 7.5, -8.5, 100.0, -100.0, np.inf, -np.inf, np.nan],
    "INT4":  [0,   2,   2,    0,   -2,   -2,   3,   -3,   7,   -8,    7,     -8,    7,      -8,     0],
    "UINT4": [0,   2,   2,    0,    0,    0,   3,    0,   8,    0,    15,     0,    15,      0,     0],
    "INT2":  [0,   1,   1,    0,   -2,   -2,   1,   -2,   1,   -2,    1,     -2,    1,      -2,     0],
    "UINT2": [0,   2,   2,    0,    0,    0,   3,    0,   3,    0,    3,      0,    3,       0,     0],
}
"""Floats cast to the small integers, written out from ONNX's text (not from ml_dtypes, whose
conversions moved between releases: 0.6 wrapped -9 to 7 in int4, 0.7 gives 0)."""


def wrap_to_small_int(x: np.ndarray, name: str) -> np.ndarray:
    """Cast's "fixed point to fixed point" rule: keep the low bits, two's complement."""
    info = ml_dtypes.iinfo(DTYPE[name])
    low = np.asarray(x).astype(np.int64) & ((1 << info.bits) - 1)
    return np.where(low > info.max, low - (1 << info.bits), low)


@pytest.mark.parametrize("dst", SMALL_INTS)
@pytest.mark.parametrize("src", ["FLOAT", "FLOAT16", "DOUBLE"])
def test_float_to_small_int_follows_the_spec(src, dst):
    x = np.array(SMALL_INT_SPEC["x"], NUMPY[src])
    (got,) = _optc(_cast_model(src, dst, x.shape), {"x": x})
    np.testing.assert_array_equal(got.astype(np.int8), SMALL_INT_SPEC[dst])


@pytest.mark.parametrize("dst", SMALL_INTS)
@pytest.mark.parametrize("src", ["INT32", "INT8", "UINT8", "INT64", "BOOL"])
def test_integer_to_small_int_wraps(src, dst):
    x = np.arange(-20, 21).astype(NUMPY[src])
    (got,) = _optc(_cast_model(src, dst, x.shape), {"x": x})
    np.testing.assert_array_equal(got.astype(np.int8), wrap_to_small_int(x, dst))


@pytest.mark.parametrize("dst", SMALL_INTS)
def test_float_to_small_int_matches_onnx_reference_in_range(dst):
    """On whole numbers in range onnx's reference evaluator agrees, whatever ml_dtypes it
    runs on (between whole numbers ml_dtypes truncates where the spec rounds)."""
    info = ml_dtypes.iinfo(DTYPE[dst])
    _check_cast("FLOAT", dst, np.arange(info.min, info.max + 1).astype(np.float32))


# --- casts out of the storage types ------------------------------------------------------


def _all_values(name: str) -> np.ndarray:
    if name == "FLOAT4E2M1":
        return np.arange(16, dtype=np.uint8).view(ml_dtypes.uint4).astype(np.uint8).view(ml_dtypes.float4_e2m1fn)
    if name in SMALL_INTS:
        info = ml_dtypes.iinfo(DTYPE[name])
        return np.arange(info.min, info.max + 1).astype(DTYPE[name])
    return np.arange(256, dtype=np.uint8).view(DTYPE[name])


@pytest.mark.parametrize("dst", ["FLOAT", "FLOAT16", "DOUBLE", "INT32", "BOOL"])
@pytest.mark.parametrize("src", STORAGE)
def test_cast_from_storage_type_matches_reference(src, dst):
    x = _all_values(src)
    if dst in ("INT32", "BOOL") and src in F8 + ["FLOAT8E8M0", "FLOAT4E2M1"]:
        x = x[np.isfinite(x.astype(np.float32)) & (np.abs(x.astype(np.float32)) < 2**31)]  # undefined out of range
    _check_cast(src, dst, x)


@pytest.mark.parametrize(("src", "dst"), [("FLOAT8E5M2", "FLOAT8E4M3FN"), ("FLOAT8E4M3FN", "FLOAT8E5M2FNUZ"),
                                          ("INT4", "INT2"), ("UINT4", "INT4"), ("INT4", "FLOAT8E4M3FN")])
def test_cast_between_storage_types(src, dst):
    x = _all_values(src)
    model = _cast_model(src, dst, x.shape)
    (got,) = _optc(model, {"x": x})
    if src in SMALL_INTS and dst in SMALL_INTS:  # fixed point to fixed point
        np.testing.assert_array_equal(got.astype(np.int8), wrap_to_small_int(x.astype(np.int8), dst))
        return
    want = ReferenceEvaluator(_cast_model("FLOAT", dst, x.shape)).run(None, {"x": x.astype(np.float32)})[0]
    _assert_same_bits(got, want)


# --- CastLike and the importer -----------------------------------------------------------


@pytest.mark.parametrize("opset", [15, 19, 25])
@pytest.mark.parametrize("dst", [*F8, "INT4", "FLOAT4E2M1"])
def test_cast_like(dst, opset):
    attrs = {"saturate": 0} if opset >= 19 and dst in F8 else {}
    node = helper.make_node("CastLike", ["x", "like"], ["y"], **attrs)
    model = make_model([node], {"x": ([6], T.FLOAT), "like": ([0], getattr(T, dst))}, ["y"], opset=opset)
    x = np.array([0.3, -2.5, 3.0, 1e6, -0.0, 7.0], np.float32)
    like = np.zeros(0, DTYPE[dst])
    (got,) = _optc(model, {"x": x, "like": like})
    if dst == "INT4":  # the spec rounds ties to even and clamps (see SMALL_INT_SPEC)
        np.testing.assert_array_equal(got.astype(np.int8), [0, -2, 3, 7, 0, 7])
        return
    (want,) = ReferenceEvaluator(model).run(None, {"x": x, "like": like})
    _assert_same_bits(got, want)


def test_cast_ir_carries_saturate_and_round_mode_only_where_they_apply():
    nodes = [
        helper.make_node("Cast", ["x"], ["a"], to=T.FLOAT8E5M2, saturate=0),
        helper.make_node("Cast", ["x"], ["b"], to=T.FLOAT8E8M0, round_mode="nearest"),
        helper.make_node("Cast", ["x"], ["c"], to=T.FLOAT16, saturate=0),
        helper.make_node("Cast", ["x"], ["d"], to=T.INT4),
    ]
    text = str(import_onnx(make_model(nodes, {"x": ([2], T.FLOAT)}, ["a", "b", "c", "d"], opset=25)))
    casts = [line.split("graph.cast %0 ")[1] for line in text.splitlines() if "graph.cast" in line]
    assert casts == [
        "{saturate = 0 : i64} : tensor<2xf32> -> tensor<2xf8E5M2>",
        '{saturate = 1 : i64, round_mode = "nearest"} : tensor<2xf32> -> tensor<2xf8E8M0FNU>',
        ": tensor<2xf32> -> tensor<2xf16>",
        ": tensor<2xf32> -> tensor<2xi4>",
    ]


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"saturate": 2}, "saturate must be 0 or 1, got 2"),
        ({"round_mode": "even"}, "round_mode must be one of up, down, nearest, got 'even'"),
    ],
)
def test_cast_attribute_errors(attrs, message):
    model = _cast_model("FLOAT", "FLOAT8E8M0", [2], **attrs)
    with pytest.raises(OptcError, match=rf"Cast node 'y': {message}"):
        import_onnx(model)


# --- what else touches them: data movement, arithmetic, constants, weights --------------

_MOVES = [
    ("Identity", {}, []),
    ("Reshape", {}, [np.array([4, 2])]),
    ("Transpose", {"perm": [1, 0]}, []),
    ("Flatten", {"axis": 0}, []),
    ("Unsqueeze", {}, [np.array([0])]),
    ("Slice", {}, [np.array([1]), np.array([2]), np.array([0])]),
    ("Gather", {"axis": 1}, [np.array([3, 0, 3])]),
    ("Expand", {}, [np.array([3, 2, 4])]),
    ("Tile", {}, [np.array([2, 1])]),
]


@pytest.mark.parametrize(("op", "attrs", "consts"), _MOVES, ids=[m[0] for m in _MOVES])
@pytest.mark.parametrize("elem", ["FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"])
def test_data_movement_accepts_storage_types(elem, op, attrs, consts):
    names = [f"c{i}" for i in range(len(consts))]
    node = helper.make_node(op, ["x", *names], ["y"], **attrs)
    model = make_model([node], {"x": ([2, 4], getattr(T, elem))}, ["y"], dict(zip(names, consts)))
    x = np.array([[1, -2, 3, 0.5], [6, -1, 0, 2]], np.float32).astype(DTYPE[elem])
    (got,) = _optc(model, {"x": x})
    (want,) = ReferenceEvaluator(model).run(None, {"x": x})
    _assert_same_bits(got, want)


def test_concat_and_split_accept_storage_types():
    nodes = [
        helper.make_node("Concat", ["x", "x"], ["c"], axis=0),
        helper.make_node("Split", ["c"], ["a", "b"], axis=1, num_outputs=2),
    ]
    model = make_model(nodes, {"x": ([2, 4], T.FLOAT8E5M2)}, ["a", "b"], opset=18)
    x = np.arange(8, dtype=np.float32).reshape(2, 4).astype(ml_dtypes.float8_e5m2)
    for got, want in zip(_optc(model, {"x": x}), ReferenceEvaluator(model).run(None, {"x": x})):
        _assert_same_bits(got, want)


@pytest.mark.parametrize(("op", "graph_op"), [("Add", "graph.add"), ("Relu", "graph.relu"), ("MatMul", "graph.matmul")])
def test_computing_ops_refuse_storage_types(op, graph_op):
    node = helper.make_node(op, ["x", "x"] if op != "Relu" else ["x"], ["y"])
    model = make_model([node], {"x": ([2, 2], T.FLOAT8E4M3FN)}, ["y"])
    message = rf"'{graph_op}' op does not compute on f8E4M3FN \(tensor<2x2xf8E4M3FN>\), a storage-only element type"
    with pytest.raises(OptcError, match=message):
        import_onnx(model)


@pytest.mark.parametrize("elem", ["FLOAT8E4M3FN", "INT4", "FLOAT4E2M1"])
def test_constant_of_shape_fills_with_a_storage_type_value(elem):
    value = helper.make_tensor("v", getattr(T, elem), [1], np.array([-1.5], np.float32).astype(DTYPE[elem]))
    node = helper.make_node("ConstantOfShape", ["shape"], ["y"], value=value)
    model = make_model([node], {}, ["y"], {"shape": np.array([2, 3])}, opset=21)
    (got,) = _optc(model, {})
    (want,) = ReferenceEvaluator(model).run(None, {})
    _assert_same_bits(got, want)


def test_initializers_and_folded_constants():
    """A small initializer stays inline, a large one is a weight; a cast of a known value
    folds to a constant of the storage type."""
    rng = np.random.default_rng(0)
    table = rng.standard_normal((32, 4)).astype(np.float32).astype(ml_dtypes.float8_e4m3fn)
    nodes = [
        helper.make_node("Gather", ["table", "ids"], ["rows"]),
        helper.make_node("Cast", ["rows"], ["y"], to=T.FLOAT),
        helper.make_node("Cast", ["scale"], ["s8"], to=T.FLOAT8E5M2),
        helper.make_node("Concat", ["s8", "small"], ["z"], axis=0),
    ]
    inits = {
        "table": table,
        "scale": np.array([0.3, 1e6], np.float32),
        "small": np.array([3, -1], np.float32).astype(ml_dtypes.float8_e5m2),
    }
    model = make_model(nodes, {"ids": ([3], T.INT64)}, ["y", "z"], inits)
    module = import_onnx(model)
    text = str(module)
    assert 'graph.weight "table" : tensor<32x4xf8E4M3FN>' in text
    assert "graph.constant dense<[3.125000e-01, 5.734400e+04, 3.000000e+00, -1.000000e+00]> : tensor<4xf8E5M2>" in text
    ids = np.array([5, 0, 31])
    got = [run(module, {"ids": ids})[n] for n in ("y", "z")]
    want = ReferenceEvaluator(model).run(None, {"ids": ids})
    for g, w in zip(got, want):
        _assert_same_bits(g, w)


def test_weights_file_keeps_storage_dtypes(tmp_path):
    arrays = {name: _all_values(name) for name in STORAGE}
    store = WeightStore(arrays=dict(arrays))
    store.save(str(tmp_path / "w.weights.npz"))
    loaded = WeightStore.load(str(tmp_path / "w.weights.npz"))
    assert set(loaded.arrays) == set(arrays)
    for name, array in arrays.items():
        _assert_same_bits(loaded[name], array)


def test_backend_exchanges_ml_dtypes_arrays():
    node = helper.make_node("Cast", ["x"], ["y"], to=T.FLOAT)
    x = np.array([1.5, -448, 0.0625], np.float32).astype(ml_dtypes.float8_e4m3fn)
    (y,) = OptcReferenceBackend.run_node(node, [x])
    np.testing.assert_array_equal(y, x.astype(np.float32))
