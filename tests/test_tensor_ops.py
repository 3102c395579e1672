"""Data-movement and shape ops: every ONNX op, its attribute variants and opset forms,
imported and run by the reference interpreter against onnxruntime; then the importer's
errors, and the folding of an exporter's shape subgraph."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.graph import ConcatOp, ConstantOp, GatherOp, ReshapeOp, ShapeOp
from runtime.reference import run
from tests.support import assert_matches_onnxruntime, make_model, random_inputs

F32, F16, I32, I64 = TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.INT32, TensorProto.INT64
BIG = 2**63 - 1


def i64(*values) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def f32(*values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)


def model(op, shape, dtype=F32, consts=None, opset=17, outputs=1, extra_inputs=None, **attrs):
    """One node: input `x` of `shape`, then the named initializers `consts` (None values
    stand for omitted optional inputs), outputs y0, y1, ..."""
    consts = consts or {}
    names = ["x", *(n if v is not None else "" for n, v in consts.items())]
    inputs = {"x": (shape, dtype), **(extra_inputs or {})}
    names += [n for n in (extra_inputs or {})]
    outs = [f"y{i}" for i in range(outputs)]
    inits = {n: v for n, v in consts.items() if v is not None}
    return make_model([helper.make_node(op, names, outs, **attrs)], inputs, outs, inits, opset)


# id -> model
CASES = {
    # Reshape, Flatten, Squeeze, Unsqueeze
    "reshape-minus1-zero": model("Reshape", [2, 3, 4], consts={"s": i64(0, -1)}),
    "reshape-allowzero": model("Reshape", [2, 3, 4], consts={"s": i64(4, 6)}, opset=14, allowzero=1),
    "reshape-int64": model("Reshape", [6], I64, consts={"s": i64(3, 2)}, opset=11),
    "flatten-default": model("Flatten", [2, 3, 4], opset=11),
    "flatten-axis0": model("Flatten", [2, 3, 4], axis=0),
    "flatten-axis-neg": model("Flatten", [2, 3, 4], axis=-1),
    "flatten-axis-rank": model("Flatten", [2, 3, 4], axis=3),
    "squeeze-attr-11": model("Squeeze", [1, 3, 1], opset=11, axes=[-1]),
    "squeeze-input-13": model("Squeeze", [1, 3, 1, 2], consts={"a": i64(0, -2)}, opset=13),
    "squeeze-all": model("Squeeze", [1, 3, 1], opset=13),
    "unsqueeze-attr-11": model("Unsqueeze", [3, 4], opset=11, axes=[0, 3]),
    "unsqueeze-input-13": model("Unsqueeze", [3, 4], consts={"a": i64(-1, 1)}, opset=13),
    # Transpose, Expand, Tile
    "transpose-default": model("Transpose", [2, 3, 4]),
    "transpose-perm": model("Transpose", [2, 3, 4], perm=[1, 2, 0]),
    "expand-bidirectional": model("Expand", [3, 1], consts={"s": i64(2, 1, 4)}),
    "expand-smaller-shape": model("Expand", [2, 3, 4], consts={"s": i64(3, 1)}),
    "tile": model("Tile", [2, 3], consts={"r": i64(2, 3)}),
    "tile-int64": model("Tile", [2], I64, consts={"r": i64(3)}),
    # Concat, Split
    "concat-neg-axis": make_model(
        [helper.make_node("Concat", ["a", "b", "c"], ["y"], axis=-1)],
        {"a": ([2, 1], F32), "b": ([2, 3], F32), "c": ([2, 2], F32)},
        ["y"],
    ),
    "concat-int64-const": model("Concat", [2], I64, consts={"c": i64(7, 8, 9)}, axis=0),
    "split-attr-11": model("Split", [6, 2], opset=11, outputs=2, split=[2, 4]),
    "split-even-11": model("Split", [2, 6], opset=11, outputs=3, axis=1),
    "split-input-13": model("Split", [2, 7], consts={"s": i64(3, 4)}, opset=13, outputs=2, axis=-1),
    "split-even-13": model("Split", [4, 2], opset=13, outputs=2),
    "split-num-outputs-18": model("Split", [7, 2], opset=18, outputs=3, num_outputs=3),
    # Slice (inputs form, opset 10+)
    "slice-basic": model("Slice", [5, 7], consts={"s": i64(1, 2), "e": i64(4, 6)}, opset=11),
    "slice-axes-steps": model("Slice", [5, 7], consts={"s": i64(1), "e": i64(BIG), "a": i64(-1), "st": i64(2)}),
    "slice-negative-steps": model("Slice", [5, 7], consts={"s": i64(-1, 5), "e": i64(-BIG - 1, 1), "a": i64(0, 1), "st": i64(-2, -1)}),
    "slice-clamped-start": model("Slice", [5, 7], consts={"s": i64(-100, 100), "e": i64(100, -100), "a": i64(0, 1), "st": i64(1, -3)}),
    "slice-empty": model("Slice", [5, 7], consts={"s": i64(3), "e": i64(1), "a": i64(0)}),
    "slice-no-axes-with-steps": model("Slice", [5, 7], consts={"s": i64(0), "e": i64(4), "a": None, "st": i64(3)}),
    # Gather, GatherElements
    "gather-scalar-index": model("Gather", [5, 7], consts={"i": np.asarray(-2, dtype=np.int64)}),
    "gather-axis1-2d": model("Gather", [3, 5, 2], consts={"i": i64(-1, 0, 4, 2).reshape(2, 2)}, axis=1),
    "gather-int32-axis-neg": model("Gather", [3, 5], consts={"i": np.asarray([4, -5, 1], np.int32)}, axis=-1),
    "gather-elements-axis0": model("GatherElements", [3, 4], consts={"i": i64(0, -1, 2, 1, 2, 0, -3, 1).reshape(2, 4)}),
    "gather-elements-axis-neg": model("GatherElements", [3, 4], consts={"i": i64(3, -4, 0, 1, 1, 2).reshape(3, 2)}, axis=-1),
    # Pad
    "pad-constant-value-11": model("Pad", [3, 4], consts={"p": i64(1, 0, 2, 3), "v": f32(1.5).reshape(())}, opset=11),
    "pad-constant-default": model("Pad", [3, 4], consts={"p": i64(0, 1, 1, 0)}, opset=13),
    "pad-negative": model("Pad", [3, 4], consts={"p": i64(1, -1, -1, 2)}, opset=13),
    "pad-reflect": model("Pad", [3, 4], consts={"p": i64(2, 1, 1, 3)}, opset=13, mode="reflect"),
    "pad-edge": model("Pad", [3, 4], consts={"p": i64(2, 0, 1, 3)}, opset=13, mode="edge"),
    "pad-wrap-19": model("Pad", [3, 4], consts={"p": i64(1, 2, 2, 1)}, opset=19, mode="wrap"),
    "pad-axes-18": model("Pad", [2, 3, 4], consts={"p": i64(1, 2, 0, 1), "v": None, "a": i64(-1, 0)}, opset=18),
    "pad-int64": model("Pad", [3], I64, consts={"p": i64(1, 2), "v": i64(7).reshape(())}, opset=13),
    # ReduceSum: axes input from 13
    "reduce-sum-attr-11": model("ReduceSum", [2, 3, 4], opset=11, axes=[0, -1]),
    "reduce-sum-input-13": model("ReduceSum", [2, 3, 4], consts={"a": i64(1)}, opset=13, keepdims=0),
    "reduce-sum-all-13": model("ReduceSum", [2, 3, 4], opset=13),
    "reduce-sum-noop-13": model("ReduceSum", [2, 3], opset=13, noop_with_empty_axes=1),
    "reduce-sum-int32": model("ReduceSum", [2, 3, 4], I32, opset=11, axes=[1]),
    "reduce-sum-f16": model("ReduceSum", [4, 8], F16, opset=11, axes=[1]),
    # the others: axes input from 18
    "reduce-max-int64": model("ReduceMax", [3, 4], I64, opset=13, axes=[1], keepdims=0),
    "reduce-mean-int32": model("ReduceMean", [3, 4], I32, opset=13, axes=[1]),
    "reduce-prod-int64": model("ReduceProd", [3, 4], I64, opset=13, axes=[0]),
    "reduce-l2-int32": model("ReduceL2", [3, 4], I32, opset=13, axes=[1]),
    # max/min over an empty set: the type's lowest/highest value (-inf/+inf for floats)
    "reduce-max-empty-set-18": model("ReduceMax", [2, 0, 4], consts={"a": i64(1)}, opset=18),
    "reduce-min-empty-set-18": model("ReduceMin", [2, 0, 4], consts={"a": i64(-2)}, opset=18, keepdims=0),
    "reduce-max-empty-set-int32-13": model("ReduceMax", [0, 3], I32, opset=13, axes=[0]),
    "reduce-min-empty-set-int64-20": model("ReduceMin", [3, 0], I64, consts={"a": i64(1)}, opset=20),
    "reduce-max-bool-20": model("ReduceMax", [3, 4], TensorProto.BOOL, consts={"a": i64(1)}, opset=20),
    **{
        f"{op.lower()}-{form}": model(op, [2, 3, 4], **kwargs)
        for op in ("ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL2", "ReduceSumSquare")
        for form, kwargs in {
            "attr-13": {"opset": 13, "axes": [-1, 1], "keepdims": 0},
            "input-18": {"opset": 18, "consts": {"a": i64(0, 2)}},
            "all-18": {"opset": 18, "keepdims": 0},
            "noop-18": {"opset": 18, "consts": {"a": i64()}, "noop_with_empty_axes": 1},
        }.items()
    },
    # ArgMax, ArgMin (int inputs so that ties occur)
    "argmax-default": model("ArgMax", [3, 4], I32, opset=11),
    "argmax-last-index": model("ArgMax", [3, 8], I32, opset=12, axis=-1, keepdims=0, select_last_index=1),
    "argmin-first-index": model("ArgMin", [8, 3], I64, opset=13, axis=0, keepdims=0),
    "argmin-last-index": model("ArgMin", [4, 8], I32, opset=13, axis=1, select_last_index=1),
    "argmax-float": model("ArgMax", [2, 3, 4], opset=13, axis=1),
    # Shape, Size, Range, ConstantOfShape (all fold at import)
    "shape": model("Shape", [2, 3, 4], opset=13),
    "shape-start-end-15": model("Shape", [2, 3, 4, 5], opset=15, start=-3, end=-1),
    "shape-clamped-15": model("Shape", [2, 3, 4], opset=15, start=-10, end=10),
    "size": model("Size", [2, 3, 4]),
    "range-int": make_model(
        [helper.make_node("Range", ["a", "b", "c"], ["y"])], {}, ["y"], {"a": i64(10)[0], "b": i64(-3)[0], "c": i64(-4)[0]}, 11
    ),
    "range-float-long": make_model(
        [helper.make_node("Range", ["a", "b", "c"], ["y"])], {}, ["y"], {"a": f32(0.3)[0], "b": f32(900.0)[0], "c": f32(0.1)[0]}, 11
    ),
    "range-float": make_model(
        [helper.make_node("Range", ["a", "b", "c"], ["y"])], {}, ["y"], {"a": f32(0.5)[0], "b": f32(2.0)[0], "c": f32(0.25)[0]}, 11
    ),
    "constant-of-shape-default": make_model([helper.make_node("ConstantOfShape", ["s"], ["y"])], {}, ["y"], {"s": i64(2, 3)}, 11),
    "constant-of-shape-int32": make_model(
        [helper.make_node("ConstantOfShape", ["s"], ["y"], value=helper.make_tensor("v", I32, [1], [7]))],
        {},
        ["y"],
        {"s": i64(4)},
        13,
    ),
}


# Tolerances other than 1e-4: float16 sums round differently; Range must match exactly
# (onnxruntime accumulates delta step by step, and so does the reference).
TOLERANCE = {"reduce-sum-f16": 1e-2, "range-float-long": 0.0}


@pytest.mark.parametrize("name", list(CASES))
def test_matches_onnxruntime(name):
    tolerance = TOLERANCE.get(name, 1e-4)
    assert_matches_onnxruntime(CASES[name], rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize(("op", "identity"), [("ReduceMax", False), ("ReduceMin", True)])
def test_bool_reduction_over_an_empty_set(op, identity):
    """onnxruntime refuses bool max/min over an empty set; the spec (and onnx's reference)
    gives the identity: False for max, True for min."""
    m = model(op, [2, 0, 3], TensorProto.BOOL, consts={"a": i64(1)}, opset=20)
    x = np.zeros((2, 0, 3), dtype=bool)
    expected = ReferenceEvaluator(m).run(None, {"x": x})[0]
    actual = run(import_onnx(m), {"x": x})["y0"]
    np.testing.assert_array_equal(actual, expected)
    np.testing.assert_array_equal(actual, np.full((2, 1, 3), identity))
    assert actual.dtype == np.bool_


# --- Resize ----------------------------------------------------------------------------

COORDINATE_MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]
SCALES = {"up": f32(1, 1, 2, 1.5), "down": f32(1, 1, 0.5, 0.6), "mixed": f32(1, 1, 1.7, 0.4)}


def resize(shape, opset=13, scales=None, sizes=None, dtype=F32, roi=None, **attrs):
    """Opset 11-12 need roi and scales inputs (scales empty when sizes are given);
    13+ leave them out by name."""
    consts = {"roi": roi if roi is not None else (f32() if opset < 13 else None)}
    consts["scales"] = scales if scales is not None else (f32() if opset < 13 else None)
    if sizes is not None:
        consts["sizes"] = sizes
    return model("Resize", shape, dtype, consts=consts, opset=opset, **attrs)


@pytest.mark.parametrize("coordinates", COORDINATE_MODES)
@pytest.mark.parametrize("nearest", NEAREST_MODES)
@pytest.mark.parametrize("scales", list(SCALES))
def test_resize_nearest(coordinates, nearest, scales):
    m = resize([1, 2, 5, 7], scales=SCALES[scales], coordinate_transformation_mode=coordinates, nearest_mode=nearest)
    assert_matches_onnxruntime(m)


@pytest.mark.parametrize("coordinates", [*COORDINATE_MODES[:-1], "half_pixel_symmetric"])
@pytest.mark.parametrize("scales", list(SCALES))
def test_resize_linear(coordinates, scales):
    m = resize([1, 2, 5, 7], opset=19, scales=SCALES[scales], mode="linear", coordinate_transformation_mode=coordinates)
    assert_matches_onnxruntime(m)


RESIZE_FORMS = {
    "sizes-11": resize([1, 1, 4, 6], opset=11, sizes=i64(1, 1, 7, 3), mode="linear"),
    "scales-11": resize([1, 1, 4, 6], opset=11, scales=f32(1, 1, 1.5, 0.5)),
    "sizes-13": resize([1, 1, 4, 6], sizes=i64(1, 1, 9, 4), coordinate_transformation_mode="asymmetric"),
    "trilinear-5d": resize([1, 1, 3, 4, 5], scales=f32(1, 1, 2, 0.5, 1.5), mode="linear"),
    "axes-18": resize([1, 2, 4, 6], opset=18, sizes=i64(5, 3), axes=[3, 2], mode="linear"),
    "not-larger-18": resize([1, 1, 4, 6], opset=18, sizes=i64(7, 7), axes=[2, 3], keep_aspect_ratio_policy="not_larger"),
    "not-smaller-18": resize([1, 1, 4, 6], opset=18, sizes=i64(7, 7), axes=[2, 3], keep_aspect_ratio_policy="not_smaller"),
    "int8-nearest": resize([1, 1, 3, 3], scales=f32(1, 1, 2, 2), dtype=TensorProto.INT8),
    "uint8-linear": resize([1, 1, 3, 5], scales=f32(1, 1, 1.7, 0.6), dtype=TensorProto.UINT8, mode="linear"),
    "f16-linear": resize([1, 1, 3, 5], scales=f32(1, 1, 2, 0.6), dtype=F16, mode="linear"),
    "bilinear-2d": resize([5, 7], scales=f32(1.5, 0.5), mode="linear"),
    "linear-3d": resize([2, 5, 7], scales=f32(1, 1.5, 0.5), mode="linear"),
}


@pytest.mark.parametrize("name", list(RESIZE_FORMS))
def test_resize_forms(name):
    tolerance = 1e-3 if "f16" in name else 1e-5
    assert_matches_onnxruntime(RESIZE_FORMS[name], rtol=tolerance, atol=tolerance)


def assert_matches_onnx_reference(m, rtol=1e-4, atol=1e-4):
    """For what onnxruntime does not run: compare with onnx's ReferenceEvaluator."""
    module = import_onnx(m)
    inputs = random_inputs(module)
    (expected,) = ReferenceEvaluator(m).run(None, inputs)
    actual = run(module, inputs)["y0"]
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)
    assert actual.dtype == expected.dtype


@pytest.mark.parametrize("coordinates", [*COORDINATE_MODES, "half_pixel_symmetric"])
@pytest.mark.parametrize("scales", list(SCALES))
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_cubic(coordinates, scales, exclude_outside):
    m = resize(
        [1, 2, 5, 7],
        opset=19,
        scales=SCALES[scales],
        mode="cubic",
        coordinate_transformation_mode=coordinates,
        exclude_outside=exclude_outside,
    )
    assert_matches_onnxruntime(m)


@pytest.mark.parametrize("mode", ["linear", "cubic"])
@pytest.mark.parametrize("coordinates", [*COORDINATE_MODES[:-1], "half_pixel_symmetric"])
@pytest.mark.parametrize("exclude_outside", [0, 1])
def test_resize_antialias(mode, coordinates, exclude_outside):
    """The filter widens by 1 / scale (2.5 and about 1.4 here)."""
    m = resize(
        [1, 3, 9, 11],
        opset=18,
        scales=f32(1, 1, 0.4, 0.7),
        mode=mode,
        antialias=1,
        coordinate_transformation_mode=coordinates,
        exclude_outside=exclude_outside,
    )
    assert_matches_onnxruntime(m)


CROP, CROP_ROI = "tf_crop_and_resize", f32(0, 0, -0.2, 0.1, 1, 1, 0.9, 1.3)


@pytest.mark.parametrize("mode", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("extrapolation_value", [0.0, -2.5])
def test_resize_tf_crop_and_resize(mode, extrapolation_value):
    """The roi reaches outside the input on two sides: those samples are the
    extrapolation value."""
    m = resize(
        [1, 2, 5, 7],
        roi=CROP_ROI,
        sizes=i64(1, 2, 6, 5),
        mode=mode,
        coordinate_transformation_mode=CROP,
        extrapolation_value=extrapolation_value,
    )
    assert_matches_onnxruntime(m)


RESIZE_MORE_FORMS = {
    "cubic-a-half": resize([1, 1, 5, 7], scales=f32(1, 1, 1.6, 0.6), mode="cubic", cubic_coeff_a=-0.5),
    "cubic-sizes-11": resize([1, 1, 4, 6], opset=11, sizes=i64(1, 1, 7, 3), mode="cubic"),
    "cubic-axes-18": resize([1, 2, 4, 6], opset=18, sizes=i64(5, 3), axes=[3, 2], mode="cubic"),
    "cubic-2d": resize([5, 7], scales=f32(1.5, 0.5), mode="cubic"),
    "cubic-f16": resize([1, 1, 3, 5], scales=f32(1, 1, 2, 0.6), dtype=F16, mode="cubic"),
    "antialias-sizes-cubic-18": resize([1, 1, 8, 9], opset=18, sizes=i64(1, 1, 3, 4), mode="cubic", antialias=1),
    "antialias-linear-upscaled-axis-5d-18": resize(
        [1, 2, 9, 4, 6], opset=18, scales=f32(1, 1, 0.4, 1.6, 0.7), mode="linear", antialias=1
    ),
    # tf_crop_and_resize from scales: the size is floor(in * scale), as onnxruntime has it
    "crop-scales": resize(
        [1, 1, 5, 7], roi=f32(0, 0, 0.2, 0.1, 1, 1, 0.9, 0.8), scales=f32(1, 1, 1.6, 0.6), mode="linear",
        coordinate_transformation_mode=CROP,
    ),
    "crop-axes-18": resize(
        [1, 1, 5, 7], opset=18, roi=f32(0.1, -0.2, 1.2, 0.8), sizes=i64(4, 4), axes=[3, 2], mode="linear",
        coordinate_transformation_mode=CROP, extrapolation_value=7.0,
    ),
    "crop-one-sample-11": resize(
        [1, 1, 5, 7], opset=11, roi=CROP_ROI, sizes=i64(1, 1, 1, 3), mode="cubic", coordinate_transformation_mode=CROP
    ),
    "crop-int8-nearest": resize(
        [1, 1, 5, 7], roi=CROP_ROI, sizes=i64(1, 1, 6, 5), dtype=TensorProto.INT8, coordinate_transformation_mode=CROP,
        extrapolation_value=3.0,
    ),
}


@pytest.mark.parametrize("name", list(RESIZE_MORE_FORMS))
def test_resize_filters_and_crops(name):
    tolerance = 1e-3 if "f16" in name else 1e-4
    assert_matches_onnxruntime(RESIZE_MORE_FORMS[name], rtol=tolerance, atol=tolerance)


ONNX_REFERENCE_ONLY = {
    # onnxruntime has no integer cubic resize, and cubic only on the last two axes
    "cubic-int8": resize([1, 1, 5, 7], scales=f32(1, 1, 1.6, 0.6), dtype=TensorProto.INT8, mode="cubic"),
    "cubic-uint8-exclude-outside": resize(
        [1, 1, 5, 7], scales=f32(1, 1, 0.6, 1.6), dtype=TensorProto.UINT8, mode="cubic", exclude_outside=1
    ),
    "tricubic-5d": resize([1, 1, 3, 4, 5], scales=f32(1, 1, 2, 0.5, 1.5), mode="cubic"),
    # ... nor exclude_outside for linear without antialias; its integer antialias uses
    # fixed-point weights (off by one at times), optc the spec's, rounded as onnx's reference
    "antialias-uint8-linear-18": resize(
        [1, 1, 8, 9], opset=18, scales=f32(1, 1, 0.5, 0.3), dtype=TensorProto.UINT8, mode="linear", antialias=1
    ),
    "linear-exclude-outside": resize([1, 1, 5, 7], scales=f32(1, 1, 1.6, 0.6), mode="linear", exclude_outside=1),
}


@pytest.mark.parametrize("name", list(ONNX_REFERENCE_ONLY))
def test_resize_against_onnx_reference(name):
    assert_matches_onnx_reference(ONNX_REFERENCE_ONLY[name])


# --- importer errors -----------------------------------------------------------------

ERRORS = {
    "Resize node 'y0': mode 'bicubic' is not one of nearest, linear, cubic": resize(
        [1, 1, 4, 4], scales=f32(1, 1, 2, 2), mode="bicubic"
    ),
    "coordinate_transformation_mode 'crop' is not one of": resize(
        [1, 1, 4, 4], scales=f32(1, 1, 2, 2), coordinate_transformation_mode="crop"
    ),
    "nearest_mode 'round' is not one of": resize([1, 1, 4, 4], scales=f32(1, 1, 2, 2), nearest_mode="round"),
    "antialias=1 needs mode 'linear' or 'cubic', not 'nearest'": resize(
        [1, 1, 4, 4], opset=18, scales=f32(1, 1, 0.5, 0.5), antialias=1
    ),
    "exclude_outside must be 0 or 1, got 2": resize([1, 1, 4, 4], scales=f32(1, 1, 2, 2), mode="cubic", exclude_outside=2),
    "tf_crop_and_resize needs a roi of 8 values \\(starts, then ends\\), got 4": resize(
        [1, 1, 4, 4], roi=f32(0, 0, 1, 1), sizes=i64(1, 1, 3, 3), coordinate_transformation_mode="tf_crop_and_resize"
    ),
    "tf_crop_and_resize needs a roi of 4 values": resize(
        [1, 1, 4, 4], opset=18, sizes=i64(3, 3), axes=[2, 3], coordinate_transformation_mode="tf_crop_and_resize"
    ),
    "expects exactly one of scales and sizes": resize([1, 1, 4, 4], opset=13),
    "keep_aspect_ratio_policy 'fit' is not one of": resize([1, 1, 4, 4], opset=18, sizes=i64(1, 1, 2, 2), keep_aspect_ratio_policy="fit"),
    "expects 4 scales or sizes, got 2": resize([1, 1, 4, 4], scales=f32(2, 2)),
    "cannot squeeze axes \\[1\\]": model("Squeeze", [1, 3], opset=11, axes=[1]),
    "Unsqueeze node 'y0': has no axes": model("Unsqueeze", [3], opset=13),
    "cannot split dimension 0 of tensor<5xf32> evenly into 2 outputs": model("Split", [5], opset=13, outputs=2),
    "split sizes \\[2, 3\\] do not give its 3 outputs": model("Split", [5], opset=11, outputs=3, split=[2, 3]),
    "mode 'wrap' is not supported at opset 18": model("Pad", [3], consts={"p": i64(1, 1)}, opset=18, mode="wrap"),
    "mode 'mirror' is not supported": model("Pad", [3], consts={"p": i64(1, 1)}, opset=13, mode="mirror"),
    "expects 2 pads, got \\[1\\]": model("Pad", [3], consts={"p": i64(1)}, opset=13),
    "steps must not be 0": model("Slice", [5], consts={"s": i64(0), "e": i64(3), "a": i64(0), "st": i64(0)}),
    "starts, ends, axes and steps differ in length": model("Slice", [5, 2], consts={"s": i64(0, 0), "e": i64(3)}),
    "axis 2 is out of range for rank 2": model("Concat", [2, 3], axis=2),
    "axes \\[1, -1\\] repeat an axis": model("ReduceSum", [2, 3], opset=11, axes=[1, -1]),
    "Flatten node 'y0': axis 4 is out of range for rank 3": model("Flatten", [2, 3, 4], axis=4),
    "shape \\[-1, -1\\] has more than one -1": model("Reshape", [2, 3], consts={"s": i64(-1, -1)}),
    "'graph.expand' op cannot broadcast shapes 2x3 and 4": model("Expand", [2, 3], consts={"s": i64(4)}),
    "Range node 'y0': delta must not be 0": make_model(
        [helper.make_node("Range", ["a", "b", "c"], ["y0"])], {}, ["y0"], {"a": i64(0)[0], "b": i64(3)[0], "c": i64(0)[0]}, 11
    ),
    "Range node 'y0': input 0 \\('start'\\) must be a compile-time constant": model(
        "Range", [], I64, consts={"b": i64(3)[0], "c": i64(1)[0]}, opset=11
    ),
    "ConstantOfShape node 'y0': input 0 \\('shape'\\) must be a compile-time constant": model("ConstantOfShape", [2], I64),
    "ConstantOfShape node 'y0': value: numpy dtype": make_model(
        [helper.make_node("ConstantOfShape", ["s"], ["y0"], value=helper.make_tensor("v", TensorProto.STRING, [1], [b"a"]))],
        {},
        ["y0"],
        {"s": i64(2)},
        11,
    ),
}


@pytest.mark.parametrize("message", list(ERRORS))
def test_importer_errors(message):
    with pytest.raises(OptcError, match=message):
        import_onnx(ERRORS[message])


# --- shape subgraphs fold away --------------------------------------------------------


def test_exporter_shape_subgraph_folds_to_one_reshape():
    """PyTorch's `x.view(x.size(0), -1)`: Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    on a symbolic batch. With the batch fixed (--shape), only the reshape is left."""
    nodes = [
        helper.make_node("Shape", ["x"], ["shape"]),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes"], ["batch1"]),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["y"]),
    ]
    consts = {"zero": np.asarray(0, np.int64), "axes": i64(0), "minus_one": i64(-1)}
    onnx_model = make_model(nodes, {"x": (["N", 3, 4], F32)}, ["y"], consts, opset=13)
    module = assert_matches_onnxruntime(onnx_model, shapes={"x": (2, 3, 4)})
    ops = [type(op) for op in module.walk()]
    assert ops.count(ReshapeOp) == 1
    assert not {ShapeOp, GatherOp, ConcatOp, ConstantOp} & set(ops)
    assert str(module).count("tensor<2x12xf32>") >= 2


def test_free_views_are_a_trait_of_exactly_the_four_view_ops():
    """Whether an op is a free view (no kernel, aliases its operand) is one trait of the op,
    which plan-memory, the engine, fusion and codegen all ask."""
    from dialects import graph
    from dialects.graph.base import FreeView, is_free_view
    from dialects.registry import DIALECTS

    ops = DIALECTS["graph"]().operations
    views = {op.name for op in ops if op.has_trait(FreeView)}
    assert views == {"graph.reshape", "graph.flatten", "graph.squeeze", "graph.unsqueeze"}
    assert not is_free_view(None) and graph.TransposeOp.has_trait(FreeView) is False
