"""Fusion on the zoo: the kernel-count targets of issue 3, and the fused IR still computing
what the imported IR computes (reference interpreter, rtol 1e-4).

Per-layer counts are measured between consecutive `fused.attention` ops: everything from
one attention to the next is exactly one encoder layer / decoder block.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from compiler.onnx_import import import_onnx
from compiler.report import kernel_counts, kernel_ops
from dialects.fused import AttentionOp
from dialects.weights import attach, store_of
from runtime.reference import run
from tests.support import apply_pipeline
from tests.test_zoo import MANIFEST, ZOO, zoo_inputs

pytestmark = [pytest.mark.zoo, pytest.mark.slow]

TOTAL_TARGETS = {"resnet50": 60, "mobilenet_v2": 56}
# issue 3 asks for <= 8; every layer measures 7 (QKV, attention writing the merged heads,
# out-projection + residual, two LayerNorms, FFN x2)
PER_LAYER_TARGETS = {"bert": 7, "gpt2": 7, "vit": 7}


def _entries():
    manifest = json.loads(MANIFEST.read_text())
    return [pytest.param(e, id=f"{e['model']}-{e['exporter']}") for e in manifest["entries"]]


def _fused(entry):
    shapes = {i["name"]: i["shape"] for i in entry["inputs"]}
    try:
        imported = import_onnx(str(ZOO / entry["file"]), shapes)
    except Exception as e:  # a model optc cannot import yet is reported by test_zoo.py
        pytest.skip(f"does not import: {e}")
    fused = imported.clone()
    attach(fused, store_of(imported))
    return imported, apply_pipeline(fused, "fused")


def _per_layer(module) -> list[int]:
    """Kernels from each fused.attention up to the next one."""
    counts, current = [], None
    for op in kernel_ops(module):
        if isinstance(op, AttentionOp):
            if current is not None:
                counts.append(current)
            current = 0
        if current is not None:
            current += 1
    return counts


@pytest.mark.parametrize("entry", _entries())
def test_fusion_meets_the_kernel_targets_and_keeps_the_outputs(entry):
    imported, fused = _fused(entry)
    model = entry["model"]
    total = sum(kernel_counts(fused).values())
    print(f"{model}-{entry['exporter']}: {total} kernels {dict(kernel_counts(fused))}")
    if model in TOTAL_TARGETS:
        assert total <= TOTAL_TARGETS[model]
    if model in PER_LAYER_TARGETS:
        layers = _per_layer(fused)
        assert len(layers) == 11, f"expected 12 attention layers, saw {len(layers) + 1}"
        assert max(layers) <= PER_LAYER_TARGETS[model], layers

    inputs = zoo_inputs(entry["inputs"])
    expected = run(imported, inputs)
    actual = run(fused, inputs, store_of(imported))
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-4, atol=1e-4, err_msg=name)


def test_left_padding_keeps_gpt2_exact():
    """Query rows whose every key is masked (left padding) are where a causal flag would
    part from the export; the fused pipeline must still compute what the model does."""
    manifest = json.loads(MANIFEST.read_text())
    entry = next(e for e in manifest["entries"] if e["model"] == "gpt2")
    imported, fused = _fused(entry)
    inputs = zoo_inputs(entry["inputs"])
    mask = inputs["attention_mask"]
    mask[...] = 1
    mask[..., : mask.shape[-1] // 3] = 0
    expected = run(imported, inputs)
    actual = run(fused, inputs, store_of(imported))
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-4, atol=1e-4, err_msg=name)
