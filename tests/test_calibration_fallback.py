"""--int8-fallback auto: a layer whose int8 error (its output against fp32, in isolation, on
the calibration samples) is over budget stays float, and is named; the others quantize."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from onnx import TensorProto, helper

from compiler.calibration import CalibrationOptions, int8_pipeline
from compiler.calibration.fallback import BUDGET, fake_quantize
from compiler.onnx_import import import_onnx
from dialects.errors import OptcError
from dialects.graph import GemmOp
from dialects.quant import DequantizeOp
from tests.support import apply_pipeline, make_model


def _two_layers():
    """x[4, 64] -> gemm 64->32 -> relu -> gemm 32->16. The first weight's row 0 is zero, so
    an outlier in x's column 0 spoils the first layer's input scale and nothing after it."""
    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((64, 32)).astype(np.float32) * 0.2
    w1[0] = 0
    w2 = rng.standard_normal((32, 16)).astype(np.float32) * 0.2
    nodes = [
        helper.make_node("Gemm", ["x", "w1"], ["h"]),
        helper.make_node("Relu", ["h"], ["r"]),
        helper.make_node("Gemm", ["r", "w2"], ["y"]),
    ]
    return make_model(nodes, {"x": ([4, 64], TensorProto.FLOAT)}, ["y"], {"w1": w1, "w2": w2})


@pytest.fixture
def outlier_data(tmp_path) -> str:
    x = np.random.default_rng(1).standard_normal((8, 4, 64)).astype(np.float32)
    x[0, 0, 0] = 1e4  # one value in 2048
    path = str(tmp_path / "d.npz")
    np.savez(path, x=x)
    return path


def _compile(tmp_path, data: str, method: str, fallback: str):
    module = import_onnx(_two_layers())
    cache = str(tmp_path / f"{method}.json")
    options = CalibrationOptions(data=data, method=method, percentile=99.9, cache=cache, fallback=fallback)
    spec = int8_pipeline(module, "graph", options)
    return apply_pipeline(module, spec), json.load(open(cache))


def _quantized_gemms(module) -> list[bool]:
    return [isinstance(op.a.owner, DequantizeOp) for op in module.walk() if isinstance(op, GemmOp)]


def test_the_layer_an_outlier_spoils_stays_float(tmp_path, outlier_data, caplog):
    with caplog.at_level(logging.WARNING, logger="compiler.calibration"):
        module, cache = _compile(tmp_path, outlier_data, "minmax", "auto")
    (layer, reason), = cache["fallback"].items()
    assert layer.endswith(":graph.gemm:0") and reason.startswith("relative error ") and f"> budget {BUDGET:g}" in reason
    assert f"int8 fallback: {layer} stays float" in caplog.text
    assert _quantized_gemms(module) == [False, True]


def test_without_fallback_or_with_a_clipping_method_both_layers_quantize(tmp_path, outlier_data):
    module, cache = _compile(tmp_path, outlier_data, "minmax", "none")
    assert cache["fallback"] == {} and _quantized_gemms(module) == [True, True]
    # the 99.9th percentile clips the outlier (1 of 2048 values) and keeps the bulk: small errors
    module, cache = _compile(tmp_path, outlier_data, "percentile", "auto")
    assert cache["fallback"] == {} and _quantized_gemms(module) == [True, True]


def test_the_cache_keeps_the_fallback(tmp_path, outlier_data):
    _compile(tmp_path, outlier_data, "minmax", "auto")
    module = import_onnx(_two_layers())
    spec = int8_pipeline(module, "graph", CalibrationOptions(cache=str(tmp_path / "minmax.json")))
    assert _quantized_gemms(apply_pipeline(module, spec)) == [False, True]


def test_fallback_auto_needs_data_and_int8():
    with pytest.raises(OptcError, match="--int8-fallback auto measures each layer's error on --calibration-data"):
        CalibrationOptions(cache="c.json", fallback="auto").check("int8")
    with pytest.raises(OptcError, match="--int8-fallback auto goes with --precision int8"):
        CalibrationOptions(fallback="auto").check("fp16")
    with pytest.raises(OptcError, match="unknown --int8-fallback 'always'"):
        CalibrationOptions(data="d.npz", fallback="always").check("int8")


def test_fake_quantize_is_quantize_then_dequantize():
    scale = np.float32(0.5)
    x = np.array([0.25, 0.75, -0.25, 100.0, -100.0, 63.4], np.float32)
    # halves to even (0.5 -> 0, 1.5 -> 2), saturating to [-128, 127] steps
    np.testing.assert_array_equal(fake_quantize(x, scale), [0.0, 1.0, -0.0, 63.5, -64.0, 63.5])
