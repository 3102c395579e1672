"""quant-insert-qdq: where Q/DQ go (the placement rules), the scales against the cache
exactly, the i8 weights, the error bound the scales imply (reference before/after), and the
cache's checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
from onnx import TensorProto, helper
from xdsl.utils.exceptions import PassFailedException

from compiler.calibration import CalibrationOptions, calibrate
from compiler.onnx_import import import_onnx
from dialects.graph import ConvOp, GemmOp, MatMulOp, WeightOp
from dialects.quant import DequantizeOp, QuantizeOp
from dialects.weights import clone_with_weights, store_of
from passes.graph.constants import known_value
from passes.quant.insert_qdq import activation_scale, main_function, quantize_weight, value_keys
from runtime.reference import run
from runtime.reference.inputs import random_inputs
from tests.calibration_models import cnn_data, cnn_module, qdq_module  # noqa: F401  (fixtures)
from tests.support import apply_pipeline, make_model


def _calibrated(module, data: str, tmp_path, method: str = "minmax") -> tuple[object, str, dict]:
    """`module` through graph-optimize, its cache written; returns (the optimized module, the
    cache's path, its amax table)."""
    cache = str(tmp_path / "cache.json")
    amax = calibrate(module, "graph-optimize", CalibrationOptions(data=data, method=method), cache)
    return apply_pipeline(module, "graph-optimize"), cache, amax


def _insert(module, cache: str):
    after = clone_with_weights(module)
    return apply_pipeline(after, f'quant-insert-qdq{{cache="{cache}"}}')


def _ops(module, kind):
    return [op for op in main_function(module).body.block.ops if isinstance(op, kind)]


def test_placement_on_a_residual_cnn(cnn_module, cnn_data, tmp_path):
    before, cache, amax = _calibrated(cnn_module, cnn_data, tmp_path)
    after = _insert(before, cache)
    quantized = [op.input.owner.name for op in _ops(after, QuantizeOp)]
    # relu -> conv2, relu -> conv3 (and the residual), conv3 -> the residual add, the pooled
    # features -> the 32->16 gemm; the RGB stem (C_in 3) and the 32->10 gemm (N 10) stay float
    assert quantized == ["graph.relu", "graph.relu", "graph.conv", "graph.reshape"]
    assert len(amax) == 4
    stem, conv2, conv3 = _ops(after, ConvOp)
    assert not isinstance(stem.input.owner, DequantizeOp)
    assert isinstance(stem.weight.owner, WeightOp)
    for conv in (conv2, conv3):
        assert isinstance(conv.input.owner, DequantizeOp) and conv.weight.owner.axis.value.data == 0
    add = next(op for op in main_function(after).body.block.ops if op.name == "graph.add")
    assert all(isinstance(v.owner, DequantizeOp) for v in add.operands)
    assert add.operands[1] is conv3.input  # one pair per value, shared by its quantized readers
    fc10, fc16 = _ops(after, GemmOp)
    assert not isinstance(fc10.a.owner, DequantizeOp) and isinstance(fc10.b.owner, WeightOp)
    assert isinstance(fc16.a.owner, DequantizeOp) and fc16.b.owner.axis.value.data == 0  # trans_b: N is axis 0


def test_scales_are_the_caches_amax_over_127(cnn_module, cnn_data, tmp_path):
    module, cache, amax = _calibrated(cnn_module, cnn_data, tmp_path, method="entropy")
    keys = value_keys(main_function(module))  # the pass keeps the values, inserting after them
    apply_pipeline(module, f'quant-insert-qdq{{cache="{cache}"}}')
    store = store_of(module)
    quantizes = _ops(module, QuantizeOp)
    assert sorted(keys[q.input] for q in quantizes) == sorted(amax)
    for q in quantizes:
        scale = known_value(q.scale, store)
        assert scale.dtype == np.float32 and scale.shape == ()
        assert scale == np.float32(amax[keys[q.input]] / 127)
        dq = next(iter(q.result.uses)).operation
        assert isinstance(dq, DequantizeOp) and dq.scale is q.scale and q.zero_point is None and dq.zero_point is None
        assert str(q.result.type.element_type) == "i8"
    assert json.load(open(cache))["amax"] == amax


def test_weights_are_i8_per_output_channel(cnn_module, cnn_data, tmp_path):
    before, cache, _ = _calibrated(cnn_module, cnn_data, tmp_path)
    originals = [known_value(op.weight, store_of(before)) for op in _ops(before, ConvOp)[1:]]
    after = _insert(before, cache)
    store = store_of(after)
    for original, conv in zip(originals, _ops(after, ConvOp)[1:]):
        dq = conv.weight.owner
        q, scales = known_value(dq.input, store), known_value(dq.scale, store)
        assert q.dtype == np.int8 and scales.dtype == np.float32 and scales.shape == (original.shape[0],)
        per_channel_max = np.abs(q.reshape(q.shape[0], -1)).max(axis=1)
        assert np.all(per_channel_max == 127)  # each channel's amax maps to 127
        np.testing.assert_array_equal(scales, np.float32(np.abs(original.reshape(len(scales), -1)).max(axis=1) / 127))
        error = np.abs(q * scales[:, None, None, None] - original)
        assert np.all(error <= scales[:, None, None, None] / 2 * (1 + 1e-6))


def test_quantize_weight_rounds_as_quant_quantize():
    w = np.array([[1.0, -0.5, 0.25, 0.0], [0.0, 0.0, 0.0, 0.0]], np.float32)
    q, scales = quantize_weight(w, 0)
    assert scales.tolist() == [np.float32(1 / 127), np.float32(1 / 127)]  # an all-zero channel: 1/127
    assert q.tolist() == [[127, -64, 32, 0], [0, 0, 0, 0]]  # -63.5 rounds half to even: -64


def test_activation_scale_of_zero_is_one_over_127():
    assert activation_scale(0.0) == np.float32(1 / 127) and activation_scale(2.54) == np.float32(0.02)


def _linear(k: int = 64, n: int = 32) -> object:
    rng = np.random.default_rng(3)
    w = rng.standard_normal((k, n)).astype(np.float32)
    model = make_model(
        [helper.make_node("Gemm", ["x", "w"], ["y"])], {"x": ([4, k], TensorProto.FLOAT)}, ["y"], {"w": w}
    )
    return import_onnx(model)


def test_the_output_error_stays_within_the_bound_the_scales_imply(tmp_path):
    """y = x·w; with minmax scales over the very inputs, nothing clips and each factor moves
    by at most half its step: |Δy| <= Σ_k |x_k|·s_w/2 + |w_k|·s_x/2 + s_x·s_w/4."""
    module = _linear()
    inputs = [random_inputs(module, seed) for seed in range(3)]
    data = str(tmp_path / "d.npz")
    np.savez(data, x=np.stack([i["x"] for i in inputs]).reshape(-1, 64))  # 3 samples of 4 rows, on the batch axis
    before, cache, amax = _calibrated(module, data, tmp_path)
    after = _insert(before, cache)
    w = known_value(main_function(before).body.block.ops.first.results[0], store_of(before))
    s_x = activation_scale(next(iter(amax.values())))
    s_w = np.float32(np.abs(w).max(axis=0) / 127)
    for given in inputs:
        exact, quantized = run(before, given)["y"], run(after, given)["y"]
        x = given["x"]
        bound = np.abs(x) @ np.broadcast_to(s_w / 2, w.shape) + (s_x / 2) * np.abs(w).sum(axis=0) + w.shape[0] * s_x * s_w / 4
        assert np.all(np.abs(quantized - exact) <= bound * (1 + 1e-4) + 1e-6)
        assert np.any(quantized != exact)  # it did quantize


def test_the_attention_path_layer_norm_and_softmax_stay_float(tmp_path):
    rng = np.random.default_rng(0)
    d = 32
    weights = {n: rng.standard_normal((d, d)).astype(np.float32) * 0.2 for n in ("wq", "wk", "wv", "wo")}
    weights |= {"g": np.ones(d, np.float32), "b": np.zeros(d, np.float32), "scale": np.array(d**-0.5, np.float32)}
    nodes = [
        helper.make_node("MatMul", ["x", "wq"], ["q"]),
        helper.make_node("MatMul", ["x", "wk"], ["k"]),
        helper.make_node("MatMul", ["x", "wv"], ["v"]),
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 2, 1]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
        helper.make_node("Softmax", ["ss"], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["a"]),
        helper.make_node("MatMul", ["a", "wo"], ["o"]),
        helper.make_node("LayerNormalization", ["o", "g", "b"], ["y"], axis=-1),
    ]
    module = import_onnx(make_model(nodes, {"x": ([1, 16, d], TensorProto.FLOAT)}, ["y"], weights))
    data = str(tmp_path / "d.npz")
    np.savez(data, x=rng.standard_normal((4, 1, 16, d)).astype(np.float32))
    before, cache, _ = _calibrated(module, data, tmp_path)
    after = _insert(before, cache)
    matmuls = _ops(after, MatMulOp)
    with_weights = [m for m in matmuls if isinstance(m.rhs.owner, DequantizeOp) and m.rhs.owner.axis is not None]
    assert len(with_weights) == 4  # the projections (q, k, v, out) run in int8
    between = [m for m in matmuls if m not in with_weights]
    assert len(between) == 2 and not any(isinstance(v.owner, DequantizeOp) for m in between for v in m.operands[:2])
    assert all(not isinstance(op.operands[0].owner, DequantizeOp) for op in main_function(after).body.block.ops
               if op.name in ("graph.softmax", "graph.layer_norm"))


def test_a_cache_from_another_model_names_both(cnn_module, cnn_data, tmp_path):
    _, cache, _ = _calibrated(cnn_module, cnn_data, tmp_path)
    other = apply_pipeline(_linear(), "graph-optimize")
    with pytest.raises(PassFailedException, match=r"was made for another model \(22 ops, inputs x tensor<1x3x8x8xf32>, "
                       r"fingerprint \w+\) than this one \(\d+ ops, inputs x tensor<4x64xf32>, fingerprint \w+\)"):
        _insert(other, cache)


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda c: c.update(version=0), "has version 0, optc reads version 1"),
        (lambda c: c["amax"].popitem(), "has no amax for value"),
        (lambda c: c["amax"].update({k: -1.0 for k in c["amax"]}), "it must be a finite number >= 0"),
        (lambda c: c.update(amax="x"), "has no 'amax' table of numbers"),
    ],
)
def test_a_damaged_cache_is_an_error(cnn_module, cnn_data, tmp_path, edit, message):
    before, cache, _ = _calibrated(cnn_module, cnn_data, tmp_path)
    content = json.load(open(cache))
    edit(content)
    json.dump(content, open(cache, "w"))
    with pytest.raises(PassFailedException, match=message):
        _insert(before, cache)


def test_missing_or_unreadable_caches_are_errors(cnn_module, tmp_path):
    module = apply_pipeline(cnn_module, "graph-optimize")
    with pytest.raises(PassFailedException, match="does not exist"):
        _insert(module, str(tmp_path / "none.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(PassFailedException, match="cannot be read as JSON"):
        _insert(module, str(tmp_path / "bad.json"))
    with pytest.raises(PassFailedException, match="needs a calibration cache"):
        apply_pipeline(module, "quant-insert-qdq")


def test_a_qdq_model_is_left_as_it_is(qdq_module, tmp_path):
    text = str(qdq_module)
    apply_pipeline(qdq_module, "quant-insert-qdq")
    assert str(qdq_module) == text
    (tmp_path / "c.json").write_text("{}")
    with pytest.raises(PassFailedException, match="holds quant ops already"):
        _insert(qdq_module, str(tmp_path / "c.json"))
