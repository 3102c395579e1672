"""optc-quantize: a float model calibrated and written as a QDQ ONNX model that onnxruntime
runs, close to the float model, and read back by optc as a QDQ model."""

from __future__ import annotations

import os
import re

import numpy as np
import onnx
import pytest

from compiler.onnx_import import import_onnx
from compiler.quantize import main
from dialects import quant
from tests.calibration_models import residual_cnn
from tests.support import run_onnxruntime


def _ops_of(module, cls) -> list:
    return [op for op in module.walk() if isinstance(op, cls)]


@pytest.fixture
def float_model(tmp_path) -> str:
    path = os.path.join(tmp_path, "model.onnx")
    onnx.save(residual_cnn(), path)  # wide enough (C_in, K, N >= 16) for the placement rules to quantize
    return path


def _samples(tmp_path, count: int = 16) -> str:
    path = os.path.join(tmp_path, "samples.npz")
    rng = np.random.default_rng(3)
    np.savez(path, x=rng.standard_normal((count, 3, 8, 8)).astype(np.float32))
    return path


def test_writes_a_qdq_model_onnxruntime_runs_close_to_the_float_one(tmp_path, float_model, capsys):
    out = os.path.join(tmp_path, "model.qdq.onnx")
    assert main([float_model, "--calibration-data", _samples(tmp_path), "--calibration-method", "minmax", "-o", out]) == 0
    assert "activations quantized" in capsys.readouterr().err
    qdq = onnx.load(out)
    onnx.checker.check_model(qdq, full_check=True)
    kinds = [node.op_type for node in qdq.graph.node]
    assert "QuantizeLinear" in kinds and "DequantizeLinear" in kinds
    x = np.random.default_rng(4).standard_normal((1, 3, 8, 8)).astype(np.float32)
    ours, theirs = run_onnxruntime(qdq, {"x": x})["y"], run_onnxruntime(onnx.load(float_model), {"x": x})["y"]
    assert np.abs(ours - theirs).max() <= 0.1 * np.abs(theirs).max()  # int8's error, not a different model
    back = import_onnx(out)  # interop both ways: optc reads what it wrote as a QDQ model
    assert _ops_of(back, quant.QuantizeOp) and _ops_of(back, quant.DequantizeOp)


def test_the_cache_written_then_read_gives_the_same_model(tmp_path, float_model):
    cache, first, second = (os.path.join(tmp_path, name) for name in ("cal.json", "a.onnx", "b.onnx"))
    assert main([float_model, "--calibration-data", _samples(tmp_path), "--calibration-cache", cache, "-o", first]) == 0
    assert main([float_model, "--calibration-cache", cache, "-o", second]) == 0
    assert open(first, "rb").read() == open(second, "rb").read()


@pytest.mark.parametrize(
    "args, message",
    [
        ([], r"--precision int8 needs --calibration-data DATA or an existing --calibration-cache FILE"),
        (["--calibration-data", "missing.npz"], r"missing\.npz"),
    ],
)
def test_refusals_name_the_cause(tmp_path, float_model, capsys, args, message):
    assert main([float_model, *args, "-o", os.path.join(tmp_path, "out.onnx")]) == 1
    assert re.search(message, capsys.readouterr().err)


def test_a_qdq_model_is_refused(tmp_path, float_model, capsys):
    out = os.path.join(tmp_path, "model.qdq.onnx")
    assert main([float_model, "--calibration-data", _samples(tmp_path), "-o", out]) == 0
    assert main([out, "--calibration-data", _samples(tmp_path), "-o", os.path.join(tmp_path, "again.onnx")]) == 1
    assert "is quantized already" in capsys.readouterr().err
