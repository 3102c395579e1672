"""`--precision int8` and the `--calibration-*` flags on optc and optc-run: the QDQ graph at
`--compile-to graph`, the cache written then read alone, and the flags' errors (one line)."""

from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from compiler.optc import main as optc_main
from compiler.optc_run import main as optc_run_main
from tests.calibration_models import calibration_samples, qdq_relu, residual_cnn


@pytest.fixture
def files(tmp_path):
    model, data = tmp_path / "cnn.onnx", tmp_path / "samples.npz"
    onnx.save(residual_cnn(), model)
    np.savez(data, x=calibration_samples())
    return str(model), str(data), str(tmp_path / "cnn.calibration.json")


def test_optc_prints_the_qdq_graph_and_the_cache_compiles_again(files, capsys):
    model, data, cache = files
    args = [model, "--precision", "int8", "--compile-to", "graph", "--calibration-cache", cache]
    assert optc_main([*args, "--calibration-data", data, "--calibration-method", "percentile", "--calibration-percentile", "99.9"]) == 0
    first = capsys.readouterr().out
    assert first.count("quant.quantize") == 4 and first.count("{axis = 0 : i64}") == 3
    assert json.load(open(cache))["method"] == "percentile" and json.load(open(cache))["percentile"] == 99.9
    assert optc_main(args) == 0  # the cache alone
    assert capsys.readouterr().out == first


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--precision", "int8"], "--precision int8 needs --calibration-data DATA or an existing --calibration-cache FILE"),
        (["--calibration-data", "DATA"], "--calibration-data goes with --precision int8 (got --precision fp32)"),
        (["--precision", "int8", "--int8-fallback", "auto", "--calibration-cache", "c.json"], "--int8-fallback auto measures"),
        (["--precision", "int8", "--calibration-data", "nowhere.npz"], "calibration data 'nowhere.npz' does not exist"),
    ],
)
def test_optc_flag_errors(files, capsys, extra, message):
    model, data, _ = files
    assert optc_main([model, "--compile-to", "graph", *[data if a == "DATA" else a for a in extra]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("optc: error: ") and message in err


def test_a_qdq_model_refuses_data_and_compiles_without(tmp_path, files, capsys):
    _, data, _ = files
    qdq = str(tmp_path / "relu.qdq.onnx")
    onnx.save(qdq_relu(), qdq)
    assert optc_main([qdq, "--precision", "int8", "--calibration-data", data, "--compile-to", "graph"]) == 1
    assert "a QDQ model" in capsys.readouterr().err
    assert optc_main([qdq, "--precision", "int8", "--compile-to", "graph"]) == 0
    assert "tensor<1x3x8x8xf16> -> tensor<1x3x8x8xi8>" in capsys.readouterr().out


def test_optc_run_compares_int8_with_the_reference(files, capsys):
    model, data, _ = files
    assert optc_run_main([model, "--precision", "int8", "--calibration-data", data, "--int8-fallback", "auto", "--compare", "reference"]) == 0
    out = capsys.readouterr().out
    assert "quant-insert-qdq{cache=" in out and "graph-convert-precision{precision=fp16}" in out
    assert "PASS: every output matches the reference interpreter" in out


@pytest.mark.parametrize("flag", [["--calibration-method", "mse"], ["--calibration-percentile", "99"], ["--int8-fallback", "none"]])
def test_a_calibration_flag_without_int8_is_an_error(files, capsys, flag):
    model, _, _ = files
    assert optc_run_main([model, *flag]) == 1
    assert f"{flag[0]} goes with --precision int8 (got --precision fp32)" in capsys.readouterr().err


def test_check_each_pass_holds_quant_insert_qdq_to_int8s_tolerance(files, capsys):
    model, data, _ = files
    args = [model, "--precision", "int8", "--calibration-data", data, "--compile-to", "fused", "--check-each-pass"]
    assert optc_main(args) == 0
    err = capsys.readouterr().err
    assert "check: quant-insert-qdq: max abs err" in err and "(ok)" in err
    # the same pipeline held to fp32's tolerance fails at the pass that quantizes
    assert optc_main([*args, "--check-tolerance", "1e-3"]) == 1
    assert "pass 'quant-insert-qdq' changed output" in capsys.readouterr().err
