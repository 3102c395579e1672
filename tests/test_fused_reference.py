"""Reference semantics of the fused dialect: each fused op equals the graph ops it stands for."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from runtime.reference import run
from runtime.reference.fused import attention
from tests.support import parse, random_inputs

# the lit round-trip file doubles as the IR these tests run
GROUPS_AND_CONTRACTIONS = (Path(__file__).parents[1] / "lit_tests" / "fused" / "ops.mlir").read_text()


def _run_function(name: str, inputs=None, seed: int = 0):
    text = GROUPS_AND_CONTRACTIONS.replace(f"func.func @{name}(", "func.func @main(")
    module = parse(text)
    inputs = inputs or random_inputs(module, seed)
    return inputs, run(module, inputs)


def test_elementwise_and_reduction_groups_run_their_bodies():
    inputs, out = _run_function("groups")
    x, y = inputs["input0"], inputs["input1"]
    relu = np.maximum(x + y, 0)
    np.testing.assert_allclose(out["output0"], relu)
    e = np.exp(relu - relu.max(axis=1, keepdims=True))
    np.testing.assert_allclose(out["output1"], e / e.sum(axis=1, keepdims=True), rtol=1e-6)


def test_contractions_hand_the_product_to_the_epilogue():
    inputs, out = _run_function("contractions")
    x, w, b, image, kernel = (inputs[f"input{i}"] for i in range(5))
    np.testing.assert_allclose(out["output0"], x @ w.T + b, rtol=1e-5, atol=1e-6)
    conv = np.zeros((1, 4, 6, 6), np.float32)
    for i in range(6):
        for j in range(6):
            conv[0, :, i, j] = np.tensordot(kernel, image[0, :, i : i + 3, j : j + 3], axes=3)
    np.testing.assert_allclose(out["output1"], np.maximum(conv, 0), rtol=1e-5, atol=1e-5)


def _naive_attention(q, k, v, mask, scale, causal):
    out = np.zeros(q.shape[:-1] + (v.shape[-1],), np.float64)
    for b, h in np.ndindex(*q.shape[:2]):
        s = q[b, h].astype(np.float64) @ k[b, h].T.astype(np.float64) * scale
        if mask is not None:
            s = s + np.broadcast_to(mask, q.shape[:2] + s.shape)[b, h]
        if causal:
            # aligned to the bottom-right corner: the last query sees every key
            s = np.where(np.tril(np.ones_like(s, dtype=bool), k=s.shape[1] - s.shape[0]), s, -np.inf)
        p = np.exp(s - s.max(-1, keepdims=True))
        out[b, h] = (p / p.sum(-1, keepdims=True)) @ v[b, h]
    return out


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
def test_attention_matches_the_naive_loop(causal, with_mask):
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((2, 3, 5, 8)).astype(np.float32) for _ in range(3))
    mask = rng.standard_normal((2, 1, 1, 5)).astype(np.float32) if with_mask else None
    got = attention(q, k, v, mask, 0.35, causal)
    np.testing.assert_allclose(got, _naive_attention(q, k, v, mask, 0.35, causal), rtol=1e-5, atol=1e-6)


def test_attention_op_in_ir():
    inputs, out = _run_function("attention")
    q, k, v, mask = (inputs[f"input{i}"] for i in range(4))
    np.testing.assert_allclose(out["output0"], _naive_attention(q, k, v, mask, 0.353553385, False), rtol=1e-5, atol=1e-6)


def test_attention_with_heads_merged_writes_batch_seq_heads_dim():
    inputs, out = _run_function("attention_heads_merged")
    q, k, v = (inputs[f"input{i}"] for i in range(3))
    want = _naive_attention(q, k, v, None, 0.125, True).transpose(0, 2, 1, 3)
    assert out["output0"].shape == (1, 4, 2, 8)
    np.testing.assert_allclose(out["output0"], want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("layout", [None, "bhsd", "bshd"])
def test_attention_verifier_checks_the_result_type_against_the_layout(layout):
    from xdsl.utils.exceptions import VerifyException

    prop = "" if layout is None else f', output_layout = "{layout}"'
    ok, bad = ("1x4x2x8", "1x2x4x8") if layout == "bshd" else ("1x2x4x8", "1x4x2x8")
    ir = (
        "func.func @main(%q: tensor<1x2x4x8xf32>, %k: tensor<1x2x6x8xf32>, %v: tensor<1x2x6x8xf32>) -> tensor<{t}xf32> {{\n"
        "  %y = fused.attention %q, %k, %v {{scale = 1.0 : f32, causal = 0 : i64{prop}}} : "
        "(tensor<1x2x4x8xf32>, tensor<1x2x6x8xf32>, tensor<1x2x6x8xf32>) -> tensor<{t}xf32>\n"
        "  func.return %y : tensor<{t}xf32>\n}}"
    )
    parse(ir.format(t=ok, prop=prop)).verify()
    with pytest.raises(VerifyException, match=f"expects result type tensor<{ok}xf32>"):
        parse(ir.format(t=bad, prop=prop)).verify()


def test_boolean_mask_masks_out_where_false():
    rng = np.random.default_rng(4)
    q, k, v = (rng.standard_normal((1, 1, 2, 4)).astype(np.float32) for _ in range(3))
    keep = np.array([True, False]).reshape(1, 1, 1, 2)
    got = attention(q, k, v, keep, 1.0, False)
    np.testing.assert_allclose(got, np.broadcast_to(v[..., :1, :], got.shape), rtol=1e-6)


def test_integer_contractions_accumulate_exactly_in_int32():
    # extreme operands: int8 or uint8 products summed in their own type would wrap at once
    x = np.full((2, 64), 255, np.uint8)
    x[1] = np.arange(64, dtype=np.uint8)
    w = np.full((16, 64), -128, np.int8)
    w[3] = 127
    scale = np.linspace(1e-5, 1e-4, 16).astype(np.float32)
    image = np.random.default_rng(0).integers(-128, 128, (1, 3, 8, 8)).astype(np.int8)
    kernel = np.random.default_rng(1).integers(-128, 128, (4, 3, 3, 3)).astype(np.int8)
    _, out = _run_function("integer_contractions", {"input0": x, "input1": w, "input2": scale, "input3": image, "input4": kernel})
    acc = x.astype(np.int64) @ w.astype(np.int64).T
    np.testing.assert_array_equal(out["output0"], np.clip(np.round(acc * scale), -128, 127).astype(np.int8))
    want = np.zeros((1, 4, 6, 6), np.int64)
    for i in range(6):
        for j in range(6):
            want[0, :, i, j] = np.einsum("chw,ochw->o", image[0, :, i : i + 3, j : j + 3].astype(np.int64), kernel.astype(np.int64))
    assert out["output1"].dtype == np.int32
    np.testing.assert_array_equal(out["output1"], want)
